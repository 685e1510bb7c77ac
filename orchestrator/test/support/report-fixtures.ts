/**
 * Synthetic results directories for the report/compare/nightly tests: real RunRecord and
 * Summary files (written with the results store and summarized with its summarizer), with
 * per-repetition metric values chosen by the test and pmbench-layout latency histograms.
 */
import { BAND_EXPONENTS, bandBounds, bandHasSub, subBuckets } from '../../src/pmbench/histogram.js';
import { ResultsDir } from '../../src/results/store.js';
import { summarizeVariants } from '../../src/results/summarize.js';
import { RUN_SCHEMA, type HistogramBand, type RunRecord, type Summary } from '../../src/results/types.js';
import type { HostFacts } from '../../src/host/facts.js';

export const HOST: HostFacts = {
  kernel: '6.1.0-test', cpuModel: 'Test CPU', cpus: 2, memoryMiB: 4096,
  qemuVersion: '7.2.0', redisVersion: '7.0.15', gitRevision: 'abc123', gitDirty: false, node: process.version,
};

export interface FixtureVariant {
  variant: string;
  arm: string;
  kind: RunRecord['arm']['kind'];
  /** metric name -> one value per repetition. */
  metrics: Record<string, number[]>;
  /** Median read latency (ns) of the synthetic histogram; none when absent. */
  medianNs?: number;
  /** Repetitions (1-based) that failed. */
  failedReps?: number[];
}

export interface FixtureRun {
  root: string;
  runId: string;
  experiment?: string;
  startedAt?: string;
  variants: FixtureVariant[];
}

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26, enough for plausible-looking synthetic counts.
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

/** pmbench finest-bucket layout filled from a log-normal latency distribution. */
export function lognormalBands(medianNs: number, total: number, sigma = 0.6): HistogramBand[] {
  const cdf = (ns: number) => (ns <= 0 ? 0 : 0.5 * (1 + erf((Math.log(ns) - Math.log(medianNs)) / (sigma * Math.SQRT2))));
  return BAND_EXPONENTS.flatMap(([lo, hi]) => {
    const { loNs, hiNs } = bandBounds(lo, hi);
    const buckets = bandHasSub(lo) ? subBuckets(loNs, hiNs, new Array(16).fill(0)) : [{ loNs, hiNs, count: 0 }];
    return buckets.map((b) => ({ loNs: b.loNs, hiNs: b.hiNs, count: Math.round(total * (cdf(b.hiNs) - cdf(b.loNs))) }));
  });
}

export function writeFixtureRun(f: FixtureRun): { dir: string; summary: Summary } {
  const experiment = f.experiment ?? 'synthetic';
  const startedAt = f.startedAt ?? new Date().toISOString();
  const results = new ResultsDir(f.root, f.runId);
  results.writeConfig(`# synthetic fixture\nname: ${experiment}\nvms:\n  - name: vm0\n    memory: 256M\nworkload:\n  pmbench: { duration: 1s }\n`);
  const records: RunRecord[] = [];
  const index: Summary['runs'] = [];
  let n = 0;
  for (const v of f.variants) {
    const reps = Math.max(...Object.values(v.metrics).map((vals) => vals.length), 1);
    for (let rep = 1; rep <= reps; rep++) {
      n++;
      const id = `${String(n).padStart(3, '0')}-${v.arm}-r${rep}`;
      const failed = v.failedReps?.includes(rep) ?? false;
      const metrics: Record<string, number> = {};
      for (const [name, vals] of Object.entries(v.metrics)) if (vals[rep - 1] !== undefined) metrics[name] = vals[rep - 1]!;
      const record: RunRecord = {
        schema: RUN_SCHEMA, runId: f.runId, id, experiment, variant: v.variant,
        arm: { name: v.arm, kind: v.kind, ...(v.kind === 'fluidmem' ? { backend: 'dram', residentMiB: 64 } : {}) },
        repetition: rep, params: {}, status: failed ? 'failed' : 'ok', ...(failed ? { error: 'guest did not boot (synthetic)' } : {}),
        startedAt, durationMs: 1500, accelerator: 'tcg',
        vms: [{ name: 'vm0', memoryMiB: 256, metrics }], metrics: failed ? {} : metrics,
        ...(v.medianNs && !failed ? { histograms: { read: lognormalBands(v.medianNs * (1 + 0.02 * rep), 200_000), write: lognormalBands(v.medianNs * 1.5, 80_000) } } : {}),
        host: HOST,
      };
      records.push(record);
      const file = results.writeRun(record);
      index.push({ id, variant: v.variant, repetition: rep, status: record.status, error: record.error, file });
    }
  }
  const summary = results.writeSummary({
    runId: f.runId, experiment, configFile: 'configs/synthetic.yaml', startedAt, finishedAt: startedAt,
    gitRevision: HOST.gitRevision, host: HOST, accelerator: 'tcg', runs: index,
    variants: summarizeVariants(records), failed: records.filter((r) => r.status === 'failed').length,
  });
  return { dir: results.dir, summary };
}

/** Deterministic "noisy" repetitions: base * (1 + spread * u), u from a fixed sequence in [-1, 1]. */
export function noisy(base: number, reps: number, spread = 0.02, phase = 0): number[] {
  return Array.from({ length: reps }, (_, i) => base * (1 + spread * Math.sin(1.7 * (i + phase) + 0.3)));
}
