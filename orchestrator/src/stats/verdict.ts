/**
 * The verdict for one metric of a comparison. Only headline metrics (stats/headline.ts) get
 * one; the rest are 'informational' (shown, never a regression). A headline metric needs
 * `minRepetitions` values per side ('not-enough-runs' below it, never 'worse'); then a change
 * is significant only when its interval (Welch, at the Bonferroni-adjusted level: see
 * stats/compare.ts) excludes 0 AND the change is larger than the noise threshold and than
 * one step of the metric's resolution (stats/resolution.ts). Significant changes of a
 * latency or throughput are 'better' or 'worse'; of a headline metric without a direction,
 * 'changed'.
 */
import { metricDirection } from './direction.js';
import type { RelativeChangeInterval } from './welch.js';

export type Verdict = 'better' | 'worse' | 'no-change' | 'changed' | 'not-enough-runs' | 'informational';

export interface VerdictOptions {
  /** Noise threshold as a fraction (0.05 = 5%). */
  threshold: number;
  /** Fewest repetitions per side for a verdict (default 3). */
  minRepetitions?: number;
  /** Relative resolution of the metric (0: continuous). */
  resolution?: number;
  /** False for a metric outside the headline: 'informational'. Default true. */
  headline?: boolean;
}

/** The smallest change that can be a verdict: the threshold, or one resolution step. */
export function effectiveThreshold(threshold: number, resolution = 0): number {
  return Math.max(threshold, resolution);
}

/** True when the interval excludes 0 and |change| exceeds the effective threshold. */
export function isSignificant(ci: RelativeChangeInterval, threshold: number, resolution = 0): boolean {
  if (ci.change === null || ci.low === null || ci.high === null) return false;
  const excludesZero = ci.low > 0 || ci.high < 0;
  return excludesZero && Math.abs(ci.change) > effectiveThreshold(threshold, resolution);
}

/** The verdict of one metric (see the design comment). */
export function verdictFor(metric: string, ci: RelativeChangeInterval, counts: { a: number; b: number }, opts: VerdictOptions): Verdict {
  if (opts.headline === false) return 'informational';
  if (Math.min(counts.a, counts.b) < (opts.minRepetitions ?? 3)) return 'not-enough-runs';
  if (!isSignificant(ci, opts.threshold, opts.resolution)) return 'no-change';
  const direction = metricDirection(metric);
  if (direction === 'informational') return 'changed';
  const up = ci.change! > 0;
  return (direction === 'lower-is-better') === up ? 'worse' : 'better';
}

export function verdictLabel(v: Verdict): string {
  return v === 'no-change' ? 'no significant change' : v === 'not-enough-runs' ? 'not enough runs' : v;
}
