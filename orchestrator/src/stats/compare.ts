/**
 * Compares two run summaries: for each variant present in both and each metric present in
 * both, the relative change B vs A with a Welch interval over repetitions (stats/welch.ts)
 * and a verdict (stats/verdict.ts).
 *
 * Verdicts come only from the headline metrics (stats/headline.ts; default average latency
 * and throughput) with at least `minRepetitions` values per side. Testing several of them at
 * once is corrected by Bonferroni: with m such tests (headline metrics x variants that have
 * enough runs), each headline interval is at level 1 - (1 - confidence)/m, so the chance
 * that any of them flags a change that is not there stays below 1 - confidence. The default
 * confidence is 99%, not 95%: a nightly compares every night, and at 95% one night in ~40
 * would fail for nothing (simulated with Welch's intervals: ~2% of A/A comparisons at 95%,
 * ~0.5% at 99%). The price is power at few repetitions: a +20% shift under 3% noise is found
 * ~60% of the time with 3 repetitions a side and 2 tests, ~99% with 5 repetitions and 8
 * tests (test/stats/stats.test.ts). A quantized metric's resolution is part of its noise
 * (stats/resolution.ts). Other metrics get the plain interval at `confidence` and the
 * verdict 'informational'.
 */
import type { Summary, VariantSummary } from '../results/types.js';
import { mean } from './describe.js';
import { metricDirection, type Direction } from './direction.js';
import { DEFAULT_HEADLINE, type HeadlineSpec } from './headline.js';
import { metricResolution } from './resolution.js';
import { effectiveThreshold, verdictFor, type Verdict } from './verdict.js';
import { welchRelativeChange } from './welch.js';

export interface CompareOptions {
  /** Noise threshold as a fraction (default 0.05). */
  threshold?: number;
  /** Family-wise confidence of the headline verdicts (default 0.99). */
  confidence?: number;
  /** Headline metrics and the fewest repetitions for a verdict (default: DEFAULT_HEADLINE). */
  headline?: Pick<HeadlineSpec, 'metrics' | 'minRepetitions'>;
}

export interface MetricComparison {
  variant: string;
  arm: string;
  metric: string;
  direction: Direction;
  /** True for a headline metric (the only kind with a verdict). */
  headline: boolean;
  meanA: number;
  meanB: number;
  nA: number;
  nB: number;
  change: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  /** Level of this row's interval (Bonferroni-adjusted for headline rows). */
  level: number;
  /** Relative resolution of the metric (0: continuous). */
  resolution: number;
  /** The smallest change that counts: max(threshold, resolution). */
  threshold: number;
  verdict: Verdict;
}

export interface Comparison {
  a: { runId: string; experiment: string };
  b: { runId: string; experiment: string };
  threshold: number;
  /** Family-wise confidence of the headline verdicts. */
  confidence: number;
  method: string;
  headline: {
    metrics: string[];
    minRepetitions: number;
    /** Headline rows with enough runs: the m of the Bonferroni correction. */
    tests: number;
    /** Level of each headline interval: 1 - (1 - confidence)/tests. */
    level: number;
  };
  rows: MetricComparison[];
  /** Variants only one side has (not compared). */
  onlyInA: string[];
  onlyInB: string[];
  /** Headline rows whose verdict is 'worse'. */
  regressions: MetricComparison[];
}

/** Family-wise confidence of the verdicts of one comparison (see the design comment). */
export const DEFAULT_CONFIDENCE = 0.99;

export const METHOD = 'Welch interval of ln(mean B / mean A) over repetitions (Student t at Welch-Satterthwaite df), ' +
  'quantized metrics with one step of resolution added to the noise, Bonferroni-adjusted across the headline tests';

function byVariant(s: Summary): Map<string, VariantSummary> {
  return new Map(s.variants.map((v) => [v.variant, v]));
}

/** The comparison of B against A (see the design comment). */
export function compareSummaries(a: Summary, b: Summary, opts: CompareOptions = {}): Comparison {
  const threshold = opts.threshold ?? 0.05;
  const confidence = opts.confidence ?? DEFAULT_CONFIDENCE;
  const headline = opts.headline ?? DEFAULT_HEADLINE;
  const minRepetitions = headline.minRepetitions;
  const va = byVariant(a);
  const vb = byVariant(b);
  const pairs: { name: string; sa: VariantSummary; metric: string; xa: number[]; xb: number[] }[] = [];
  for (const [name, sa] of va) {
    const sb = vb.get(name);
    if (!sb) continue;
    for (const metric of Object.keys(sa.metrics).filter((m) => m in sb.metrics).sort()) {
      const xa = sa.metrics[metric]!.values.filter(Number.isFinite);
      const xb = sb.metrics[metric]!.values.filter(Number.isFinite);
      if (xa.length && xb.length) pairs.push({ name, sa, metric, xa, xb });
    }
  }
  const isHeadline = (m: string) => headline.metrics.includes(m);
  const tests = pairs.filter((p) => isHeadline(p.metric) && Math.min(p.xa.length, p.xb.length) >= minRepetitions).length;
  const level = 1 - (1 - confidence) / Math.max(1, tests);
  const rows: MetricComparison[] = pairs.map(({ name, sa, metric, xa, xb }) => {
    const head = isHeadline(metric);
    const resolution = metricResolution(metric);
    const rowLevel = head ? level : confidence;
    const ci = welchRelativeChange(xa, xb, { confidence: rowLevel, resolution });
    return {
      variant: name, arm: sa.arm, metric, direction: metricDirection(metric), headline: head,
      meanA: mean(xa), meanB: mean(xb), nA: xa.length, nB: xb.length,
      change: ci.change, ciLow: ci.low, ciHigh: ci.high, level: rowLevel, resolution,
      threshold: effectiveThreshold(threshold, resolution),
      verdict: verdictFor(metric, ci, { a: xa.length, b: xb.length }, { threshold, minRepetitions, resolution, headline: head }),
    };
  });
  // Headline rows first, in the headline's order (variants in summary order); then the rest
  // as they came (variant, then metric name): the sort is stable.
  const rank = (r: MetricComparison) => (r.headline ? headline.metrics.indexOf(r.metric) : headline.metrics.length);
  rows.sort((x, y) => rank(x) - rank(y));
  return {
    a: { runId: a.runId, experiment: a.experiment },
    b: { runId: b.runId, experiment: b.experiment },
    threshold, confidence, method: METHOD,
    headline: { metrics: headline.metrics, minRepetitions, tests, level },
    rows,
    onlyInA: [...va.keys()].filter((k) => !vb.has(k)),
    onlyInB: [...vb.keys()].filter((k) => !va.has(k)),
    regressions: rows.filter((r) => r.verdict === 'worse'),
  };
}
