/**
 * Progress of long work (an experiment's runs): one status line with the run, its phase,
 * the elapsed time and an estimate of the time left, redrawn in place when the stream is a
 * TTY. When it is not a TTY (piped, logged, CI) it is quiet by default, prints one plain
 * line as each run starts and one as it ends with the elapsed time and the time left
 * (`nonTty: 'runs'`, what `up` uses), or one plain line per phase change (`nonTty: 'lines'`,
 * what nightly's parser reads). Plain lines never carry escape codes.
 *
 *   const p = new Progress({ total: runs.length, stream: process.stderr });
 *   p.phase(1, '001-dram-r1', 'boot');  ...  p.done(1, '001-dram-r1', 'ok');  p.finish();
 */

export type ProgressPhase = 'boot' | 'attach' | 'warm-up' | 'run' | 'collect';

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Number of runs. */
  total: number;
  stream?: ProgressStream;
  /** Overrides stream.isTTY. */
  tty?: boolean;
  /** Without a TTY: print nothing (default), a line as each run starts and ends, or one
   * line per phase change. */
  nonTty?: 'quiet' | 'runs' | 'lines';
  /** Redraw interval on a TTY, so the clocks tick between phase changes (default 1000 ms; 0 = only on changes). */
  tickMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly lines: boolean;
  private readonly runLines: boolean;
  private readonly now: () => number;
  private readonly startedAt: number;
  private readonly finishedDurations: number[] = [];
  private current?: { index: number; runId: string; phase?: ProgressPhase; runStartedAt: number; phaseEtaMs?: number; phaseAt: number };
  private timer?: NodeJS.Timeout;
  private drawn = false;
  private finished = false;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? this.stream.isTTY === true;
    this.lines = !this.tty && opts.nonTty === 'lines';
    this.runLines = !this.tty && opts.nonTty === 'runs';
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    const tick = opts.tickMs ?? 1000;
    if (this.tty && tick > 0) {
      this.timer = setInterval(() => this.draw(), tick);
      this.timer.unref();
    }
  }

  /** Run `runIndex` (from 1) started (before its first phase): its clock starts here, and
   * without a TTY in 'runs' mode one line says so, with the experiment's elapsed time and
   * the time left. */
  start(runIndex: number, runId: string): void {
    if (this.finished) return;
    const t = this.now();
    this.current = { index: runIndex, runId, runStartedAt: t, phaseAt: t };
    if (this.tty) this.draw();
    else if (this.runLines) this.stream.write(`${this.prefix(runIndex)} ${runId}: started · ${this.clocks()}\n`);
  }

  /** Run `runIndex` (from 1) entered `phase`; `etaMs` estimates the time left in this run, if known. */
  phase(runIndex: number, runId: string, phase: ProgressPhase, etaMs?: number): void {
    if (this.finished) return;
    const t = this.now();
    const sameRun = this.current?.index === runIndex && this.current.runId === runId;
    const changed = !sameRun || this.current?.phase !== phase;
    this.current = { index: runIndex, runId, phase, runStartedAt: sameRun ? this.current!.runStartedAt : t, phaseEtaMs: etaMs, phaseAt: t };
    if (this.tty) this.draw();
    else if (this.lines && changed) this.stream.write(`${this.prefix(runIndex)} ${runId}: ${phase}\n`);
  }

  /** Run `runIndex` finished; its duration feeds the estimate for the runs left. */
  done(runIndex: number, runId: string, status: 'ok' | 'failed' = 'ok', note?: string): void {
    if (this.finished) return;
    const t = this.now();
    const started = this.current?.index === runIndex ? this.current.runStartedAt : t;
    this.finishedDurations.push(t - started);
    this.current = undefined;
    const line = `${this.prefix(runIndex)} ${runId}: ${status} in ${formatDuration(t - started)}${note ? ` (${note})` : ''}`;
    if (this.tty) {
      this.clear();
      this.stream.write(`${line}\n`);
    } else if (this.lines) this.stream.write(`${line}\n`);
    else if (this.runLines) this.stream.write(`${line} · ${this.clocks()}\n`);
  }

  /** Stops redrawing and clears the status line. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearInterval(this.timer);
    if (this.tty) this.clear();
  }

  /** Estimated ms left for all runs, or undefined before anything is known. */
  estimateLeftMs(): number | undefined {
    const t = this.now();
    const avg = this.finishedDurations.length ? this.finishedDurations.reduce((a, b) => a + b, 0) / this.finishedDurations.length : undefined;
    const cur = this.current;
    let currentLeft: number | undefined;
    if (cur?.phaseEtaMs !== undefined) currentLeft = Math.max(0, cur.phaseEtaMs - (t - cur.phaseAt));
    else if (cur && avg !== undefined) currentLeft = Math.max(0, avg - (t - cur.runStartedAt));
    else if (!cur) currentLeft = 0;
    const notStarted = this.opts.total - this.finishedDurations.length - (cur ? 1 : 0);
    if (notStarted > 0 && avg === undefined) return undefined;
    if (currentLeft === undefined) return undefined;
    return currentLeft + Math.max(0, notStarted) * (avg ?? 0);
  }

  /** The status line as drawn on a TTY. */
  statusLine(): string {
    const t = this.now();
    const cur = this.current;
    const left = this.estimateLeftMs();
    const parts = [
      cur ? `${this.prefix(cur.index)} ${cur.runId} · ${cur.phase ?? 'starting'} ${formatDuration(t - cur.phaseAt)}` : `${this.prefix(this.finishedDurations.length)} waiting`,
      `${formatDuration(t - this.startedAt)} elapsed`,
      left === undefined ? 'time left unknown' : `~${formatDuration(left)} left`,
    ];
    return parts.join(' · ');
  }

  /** "4m10s elapsed · ~6m left" for the whole experiment. */
  private clocks(): string {
    const left = this.estimateLeftMs();
    return `${formatDuration(this.now() - this.startedAt)} elapsed · ${left === undefined ? 'time left unknown' : `~${formatDuration(left)} left`}`;
  }

  private prefix(index: number): string {
    return `[${index}/${this.opts.total}]`;
  }

  private draw(): void {
    if (this.finished || !this.current) return;
    let line = this.statusLine();
    const cols = this.stream.columns;
    if (cols && line.length > cols - 1) line = `${line.slice(0, Math.max(0, cols - 2))}…`;
    this.stream.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}

export type ProgressEvent =
  | { kind: 'phase'; index: number; total: number; runId: string; phase: ProgressPhase }
  | { kind: 'done'; index: number; total: number; runId: string; status: 'ok' | 'failed'; note?: string };

const PHASES: readonly string[] = ['boot', 'attach', 'warm-up', 'run', 'collect'];
const PLAIN_LINE = /^\[(\d+)\/(\d+)\] (\S+): (?:(boot|attach|warm-up|run|collect)|(ok|failed) in \S+(?: \((.*)\))?(?: · \S+ elapsed · [^()]*)?)$/;

/** Parses one plain line (`nonTty: 'lines'`, or an end line of 'runs') back into its event,
 * e.g. for a parent process that reads a child's stderr; undefined for any other line. */
export function parseProgressLine(line: string): ProgressEvent | undefined {
  const m = PLAIN_LINE.exec(line.trim());
  if (!m) return undefined;
  const [, i, n, runId, phase, status, note] = m;
  const base = { index: Number(i), total: Number(n), runId: runId! };
  if (phase && PHASES.includes(phase)) return { kind: 'phase', ...base, phase: phase as ProgressPhase };
  return { kind: 'done', ...base, status: status as 'ok' | 'failed', ...(note ? { note } : {}) };
}
