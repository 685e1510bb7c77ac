/**
 * Compares two run summaries: for each variant present in both and each metric present in
 * both, the relative change B vs A with a bootstrap interval over repetitions and a verdict.
 */
import type { Summary, VariantSummary } from '../results/types.js';
import { bootstrapRelativeChange, type BootstrapOptions } from './bootstrap.js';
import { metricDirection, type Direction } from './direction.js';
import { mean } from './describe.js';
import { seedFromString } from './prng.js';
import { verdictFor, type Verdict } from './verdict.js';

export interface CompareOptions extends BootstrapOptions {
  /** Noise threshold as a fraction (default 0.05). */
  threshold?: number;
  minRepetitions?: number;
}

export interface MetricComparison {
  variant: string;
  arm: string;
  metric: string;
  direction: Direction;
  meanA: number;
  meanB: number;
  nA: number;
  nB: number;
  change: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  verdict: Verdict;
}

export interface Comparison {
  a: { runId: string; experiment: string };
  b: { runId: string; experiment: string };
  threshold: number;
  confidence: number;
  resamples: number;
  seed: number;
  rows: MetricComparison[];
  /** Variants only one side has (not compared). */
  onlyInA: string[];
  onlyInB: string[];
  regressions: MetricComparison[];
}

function byVariant(s: Summary): Map<string, VariantSummary> {
  return new Map(s.variants.map((v) => [v.variant, v]));
}

export function compareSummaries(a: Summary, b: Summary, opts: CompareOptions = {}): Comparison {
  const threshold = opts.threshold ?? 0.05;
  const confidence = opts.confidence ?? 0.95;
  const resamples = opts.resamples ?? 2000;
  const seed = opts.seed ?? 1;
  const va = byVariant(a);
  const vb = byVariant(b);
  const rows: MetricComparison[] = [];
  for (const [name, sa] of va) {
    const sb = vb.get(name);
    if (!sb) continue;
    const metrics = Object.keys(sa.metrics).filter((m) => m in sb.metrics).sort();
    for (const metric of metrics) {
      const xa = sa.metrics[metric]!.values.filter(Number.isFinite);
      const xb = sb.metrics[metric]!.values.filter(Number.isFinite);
      if (xa.length === 0 || xb.length === 0) continue;
      // Each variant x metric gets its own PRNG stream, so adding a metric changes no other CI.
      const ci = bootstrapRelativeChange(xa, xb, { resamples, confidence, seed: seedFromString(`${name}\u0000${metric}`, seed) });
      const allZero = xa.every((v) => v === 0) && xb.every((v) => v === 0);
      rows.push({
        variant: name, arm: sa.arm, metric, direction: metricDirection(metric),
        meanA: mean(xa), meanB: mean(xb), nA: xa.length, nB: xb.length,
        change: ci.change, ciLow: ci.low, ciHigh: ci.high,
        verdict: verdictFor(metric, ci, { a: xa.length, b: xb.length, allZero }, { threshold, minRepetitions: opts.minRepetitions }),
      });
    }
  }
  return {
    a: { runId: a.runId, experiment: a.experiment },
    b: { runId: b.runId, experiment: b.experiment },
    threshold, confidence, resamples, seed, rows,
    onlyInA: [...va.keys()].filter((k) => !vb.has(k)),
    onlyInB: [...vb.keys()].filter((k) => !va.has(k)),
    regressions: rows.filter((r) => r.verdict === 'worse'),
  };
}
