/**
 * Runs an experiment for the nightly job in a child process: `orchestrate up CONFIG --json
 * --verbose --results-dir ROOT`. The child's stdout is the summary JSON; its stderr (set-up messages and
 * per-run phase lines) goes to a log file and is parsed into progress events. A crash of the
 * experiment therefore never takes the nightly bookkeeping down with it.
 */
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { onSignalExit } from '../process/cleanup.js';
import { LineSplitter } from '../protocol/json-lines.js';
import type { Summary } from '../results/types.js';
import { parseProgressLine, type ProgressPhase } from '../ui/progress.js';

/** orchestrator/bin/orchestrate.js, from src/nightly/ or dist/nightly/ alike. */
export const CLI_PATH = fileURLToPath(new URL('../../bin/orchestrate.js', import.meta.url));

export interface LaunchOptions {
  config: string;
  resultsRoot: string;
  /** Where the child's stderr goes. */
  logFile: string;
  onPhase?: (index: number, total: number, runId: string, phase: ProgressPhase) => void;
  onRunDone?: (index: number, total: number, runId: string, status: 'ok' | 'failed', note?: string) => void;
}

export interface LaunchResult {
  exitCode: number;
  summary?: Summary;
  dir?: string;
  /** Why there is no summary (the child's last stderr lines), when there is none. */
  error?: string;
}

/** Feeds one stderr line of `up --verbose` (its progress in plain lines) to the callbacks. */
export function parseUpLine(line: string, opts: Pick<LaunchOptions, 'onPhase' | 'onRunDone'>): void {
  const ev = parseProgressLine(line);
  if (ev?.kind === 'phase') opts.onPhase?.(ev.index, ev.total, ev.runId, ev.phase);
  else if (ev?.kind === 'done') opts.onRunDone?.(ev.index, ev.total, ev.runId, ev.status, ev.note);
}

function lastJsonObject(stdout: string): (Summary & { resultsDir?: string }) | undefined {
  const start = stdout.indexOf('{');
  if (start < 0) return undefined;
  try {
    const parsed = JSON.parse(stdout.slice(start)) as Summary & { resultsDir?: string };
    return typeof parsed.runId === 'string' && Array.isArray(parsed.variants) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export async function launchExperiment(opts: LaunchOptions): Promise<LaunchResult> {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const tail: string[] = [];
  // --verbose: progress as plain lines and the workload's output, for the log and the parser.
  const child = execa(process.execPath, [CLI_PATH, 'up', opts.config, '--json', '--verbose', '--results-dir', opts.resultsRoot], {
    reject: false, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', all: false, cleanup: true,
  });
  // Ctrl-C / SIGTERM of the nightly job: the child tears its guests down on SIGTERM.
  const unregister = onSignalExit(async () => {
    child.kill('SIGTERM');
    await child.catch(() => undefined);
  });
  const lines = new LineSplitter();
  child.stderr?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    for (const line of lines.push(chunk.toString('utf8'))) {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      parseUpLine(line, opts);
    }
  });
  try {
    const result = await child;
    const summary = lastJsonObject(String(result.stdout ?? ''));
    const exitCode = typeof result.exitCode === 'number' ? result.exitCode : 1;
    if (!summary) {
      const why = result.signal ? `killed by ${result.signal}` : `exit code ${exitCode}`;
      return { exitCode, error: `orchestrate up ${opts.config} produced no summary (${why}):\n${[...tail, lines.partial].filter(Boolean).slice(-10).join('\n')}` };
    }
    return { exitCode, summary, dir: summary.resultsDir };
  } finally {
    unregister();
    await new Promise<void>((resolve) => log.end(resolve));
  }
}
