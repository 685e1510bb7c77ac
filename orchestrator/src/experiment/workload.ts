/**
 * The workload of a run inside one guest: pmbench (ours, or a real binary copied in),
 * memverify (data integrity), or a plain command. Builds the guest command line from the
 * run's parameters, streams output (reporting warm-up/run phases), and turns the result
 * into flat metrics.
 */
import { readFileSync } from 'node:fs';
import type { WorkloadConfig } from '../config/schema.js';
import { finestBuckets, parsePmbenchReport, pmbenchArgs, type PmbenchReport } from '../pmbench/index.js';
import type { ScalarParams } from './expand.js';
import type { HistogramBand } from '../results/types.js';
import type { MicroVM } from '../vm/microvm.js';

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

const REAL_PMBENCH_PATH = '/tmp/pmbench';

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

export function pmbenchCommand(workload: WorkloadConfig, params: ScalarParams): string[] {
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
  return [workload.pmbench?.binary ? REAL_PMBENCH_PATH : 'pmbench', ...args];
}

/** "status N", or the signal with the usual cause (the guest's OOM killer). */
function describeExit(r: { code: number; signal?: string }): string {
  return r.signal ? `was killed by SIG${r.signal} (out of guest memory? see the serial log)` : `exited with status ${r.code}`;
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

async function runPmbench(vm: MicroVM, workload: WorkloadConfig, params: ScalarParams, opts: WorkloadRunOptions): Promise<WorkloadOutcome> {
  if (workload.pmbench?.binary) {
    const shell = await vm.waitForSsh();
    await shell.writeFile(REAL_PMBENCH_PATH, readFileSync(workload.pmbench.binary));
  }
  const argv = pmbenchCommand(workload, params);
  const r = await vm.exec(argv, { timeoutMs: opts.timeoutMs, onStdout: phaseWatcher(opts), onStderr: opts.onOutput });
  const output = r.stdout + (r.stderr ? `\n--- stderr ---\n${r.stderr}` : '');
  if (r.code !== 0) return { ok: false, exitCode: r.code, output, metrics: {}, error: `pmbench ${describeExit(r)}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  const report = parsePmbenchReport(r.stdout);
  return {
    ok: true,
    exitCode: r.code,
    output,
    metrics: report.metrics,
    histograms: { read: bands(report.histograms.read), write: bands(report.histograms.write) },
  };
}

async function runMemverify(vm: MicroVM, params: ScalarParams, opts: WorkloadRunOptions): Promise<WorkloadOutcome> {
  opts.onPhase?.('run');
  const argv = ['memverify', '--mib', String(params.size), '--passes', String(params.passes ?? 2)];
  const r = await vm.exec(argv, { timeoutMs: opts.timeoutMs, onStdout: opts.onOutput, onStderr: opts.onOutput });
  const output = r.stdout + (r.stderr ? `\n--- stderr ---\n${r.stderr}` : '');
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let result: { mismatches?: number; pages?: number; seconds?: number } = {};
  try { result = JSON.parse(last) as typeof result; } catch { /* reported below */ }
  if (result.mismatches === undefined) {
    return { ok: false, exitCode: r.code, output, metrics: {}, error: `memverify printed no result: it ${describeExit(r)}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}` };
  }
  const metrics = { 'memverify.mismatches': result.mismatches, 'memverify.pages': result.pages ?? 0, 'memverify.seconds': result.seconds ?? 0 };
  const ok = r.code === 0 && result.mismatches === 0;
  return { ok, exitCode: r.code, output, metrics, error: ok ? undefined : `memverify found ${result.mismatches} mismatching words (status ${r.code})` };
}

async function runCommand(vm: MicroVM, argv: string[], opts: WorkloadRunOptions): Promise<WorkloadOutcome> {
  opts.onPhase?.('run');
  const r = await vm.exec(argv, { timeoutMs: opts.timeoutMs, onStdout: opts.onOutput, onStderr: opts.onOutput });
  return { ok: r.code === 0, exitCode: r.code, output: r.stdout + r.stderr, metrics: { 'command.exit_code': r.code }, error: r.code === 0 ? undefined : `command ${describeExit(r)}` };
}

export function runWorkload(vm: MicroVM, workload: WorkloadConfig, params: ScalarParams, opts: WorkloadRunOptions): Promise<WorkloadOutcome> {
  if (workload.pmbench) return runPmbench(vm, workload, params, opts);
  if (workload.memverify) return runMemverify(vm, params, opts);
  return runCommand(vm, workload.command!, opts);
}
