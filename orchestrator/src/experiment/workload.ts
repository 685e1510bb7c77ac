/**
 * The workload of a run on one target: pmbench (ours, or a real binary), memverify (data
 * integrity), or a plain command. Builds the command line from the run's parameters,
 * streams output (reporting warm-up/run phases), and turns the result into flat metrics.
 * A target says how to run a command and where the workload programs are: a guest (over
 * SSH, see guestTarget) or the host (experiment/host-run.ts); this module knows neither.
 */
import { readFileSync } from 'node:fs';
import type { WorkloadConfig } from '../config/schema.js';
import type { ExecOptions, ExecResult } from '../guest/ssh.js';
import { finestBuckets, parsePmbenchReport, pmbenchArgs, type PmbenchReport } from '../pmbench/index.js';
import type { ScalarParams } from './expand.js';
import type { HistogramBand } from '../results/types.js';
import type { MicroVM } from '../vm/microvm.js';

/** Where a workload runs. */
export interface WorkloadTarget {
  /** Runs argv to completion (argv[0] as returned by `program`). */
  exec(argv: readonly string[], opts: ExecOptions): Promise<ExecResult>;
  /** The command that runs our build of `name` on this target. */
  program(name: 'pmbench' | 'memverify'): string;
  /** Makes a user-supplied binary (workload.pmbench.binary) runnable; returns its path. */
  install(localPath: string): Promise<string>;
  /** Says where a killed workload's cause is likely logged. */
  killHint: string;
}

const REAL_PMBENCH_PATH = '/tmp/pmbench';

/** A guest: commands over SSH, our workloads on its PATH, user binaries copied to /tmp. */
export function guestTarget(vm: MicroVM): WorkloadTarget {
  return {
    exec: (argv, opts) => vm.exec(argv, opts),
    program: (name) => name,
    install: async (localPath) => {
      const shell = await vm.waitForSsh();
      await shell.writeFile(REAL_PMBENCH_PATH, readFileSync(localPath));
      return REAL_PMBENCH_PATH;
    },
    killHint: "out of guest memory? see the serial log",
  };
}

export type WorkloadPhase = 'warm-up' | 'run';

export interface WorkloadOutcome {
  ok: boolean;
  error?: string;
  exitCode: number;
  output: string;
  metrics: Record<string, number>;
  histograms?: { read?: HistogramBand[]; write?: HistogramBand[] };
}

export interface WorkloadRunOptions {
  timeoutMs: number;
  onOutput?: (chunk: string) => void;
  onPhase?: (phase: WorkloadPhase) => void;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** pmbench's command line for the run's parameters; `program` is argv[0]. */
export function pmbenchCommand(program: string, params: ScalarParams): string[] {
  const setsize = num(params.setsize);
  const args = pmbenchArgs({
    durationSec: num(params.duration) ?? 10,
    setsizeMib: setsize,
    mapsizeMib: num(params.mapsize) ?? setsize,
    pattern: params.pattern as 'uniform' | undefined,
    shape: num(params.shape),
    jobs: num(params.jobs),
    ratio: num(params.ratio),
    cold: params.cold === true,
    initialize: params.initialize === true,
    timestamp: params.timestamp as 'rdtsc' | 'rdtscp' | undefined,
  });
  return [program, ...args];
}

/** "status N", or the signal with the usual cause (the guest's OOM killer). */
function describeExit(r: { code: number; signal?: string }, hint: string): string {
  return r.signal ? `was killed by SIG${r.signal} (${hint})` : `exited with status ${r.code}`;
}

function bands(h: PmbenchReport['histograms']['read']): HistogramBand[] | undefined {
  return h ? finestBuckets(h).map((b) => ({ loNs: b.loNs, hiNs: b.hiNs, count: b.count })) : undefined;
}

/** Streams stdout and reports phase changes from pmbench's progress lines. */
function phaseWatcher(opts: WorkloadRunOptions): (chunk: string) => void {
  let seen = '';
  return (chunk) => {
    opts.onOutput?.(chunk);
    const before = seen;
    seen += chunk;
    if (!before.includes('for warmup') && seen.includes('for warmup')) opts.onPhase?.('warm-up');
    if (!before.includes('Starting main benchmark') && seen.includes('Starting main benchmark')) opts.onPhase?.('run');
  };
}

async function runPmbench(t: WorkloadTarget, workload: WorkloadConfig, params: ScalarParams, opts: WorkloadRunOptions): Promise<WorkloadOutcome> {
  const program = workload.pmbench?.binary ? await t.install(workload.pmbench.binary) : t.program('pmbench');
  const argv = pmbenchCommand(program, params);
  const r = await t.exec(argv, { timeoutMs: opts.timeoutMs, onStdout: phaseWatcher(opts), onStderr: opts.onOutput });
  const output = r.stdout + (r.stderr ? `\n--- stderr ---\n${r.stderr}` : '');
  if (r.code !== 0) return { ok: false, exitCode: r.code, output, metrics: {}, error: `pmbench ${describeExit(r, t.killHint)}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  const report = parsePmbenchReport(r.stdout);
  return {
    ok: true,
    exitCode: r.code,
    output,
    metrics: report.metrics,
    histograms: { read: bands(report.histograms.read), write: bands(report.histograms.write) },
  };
}

async function runMemverify(t: WorkloadTarget, params: ScalarParams, opts: WorkloadRunOptions): Promise<WorkloadOutcome> {
  opts.onPhase?.('run');
  const argv = [t.program('memverify'), '--mib', String(params.size), '--passes', String(params.passes ?? 2)];
  const r = await t.exec(argv, { timeoutMs: opts.timeoutMs, onStdout: opts.onOutput, onStderr: opts.onOutput });
  const output = r.stdout + (r.stderr ? `\n--- stderr ---\n${r.stderr}` : '');
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let result: { mismatches?: number; pages?: number; seconds?: number } = {};
  try { result = JSON.parse(last) as typeof result; } catch { /* reported below */ }
  if (result.mismatches === undefined) {
    return { ok: false, exitCode: r.code, output, metrics: {}, error: `memverify printed no result: it ${describeExit(r, t.killHint)}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}` };
  }
  const metrics = { 'memverify.mismatches': result.mismatches, 'memverify.pages': result.pages ?? 0, 'memverify.seconds': result.seconds ?? 0 };
  const ok = r.code === 0 && result.mismatches === 0;
  return { ok, exitCode: r.code, output, metrics, error: ok ? undefined : `memverify found ${result.mismatches} mismatching words (status ${r.code})` };
}

async function runCommand(t: WorkloadTarget, argv: string[], opts: WorkloadRunOptions): Promise<WorkloadOutcome> {
  opts.onPhase?.('run');
  const r = await t.exec(argv, { timeoutMs: opts.timeoutMs, onStdout: opts.onOutput, onStderr: opts.onOutput });
  return { ok: r.code === 0, exitCode: r.code, output: r.stdout + r.stderr, metrics: { 'command.exit_code': r.code }, error: r.code === 0 ? undefined : `command ${describeExit(r, t.killHint)}` };
}

/** Runs the configured workload on `target` and returns its outcome (never throws for a
 * workload that fails: `ok` is false and `error` says why). */
export function runWorkload(target: WorkloadTarget, workload: WorkloadConfig, params: ScalarParams, opts: WorkloadRunOptions): Promise<WorkloadOutcome> {
  if (workload.pmbench) return runPmbench(target, workload, params, opts);
  if (workload.memverify) return runMemverify(target, params, opts);
  return runCommand(target, workload.command!, opts);
}
