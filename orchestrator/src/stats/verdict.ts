/**
 * The verdict for one metric: a change is significant only when the bootstrap interval
 * excludes 0 AND the point change is larger than the noise threshold. Significant changes of
 * latency/throughput are 'better' or 'worse'; of informational metrics, 'changed'.
 */
import type { RelativeChangeCI } from './bootstrap.js';
import { metricDirection, type Direction } from './direction.js';

export type Verdict = 'better' | 'worse' | 'no-change' | 'changed' | 'insufficient-data';

export interface VerdictOptions {
  /** Noise threshold as a fraction (0.05 = 5%). */
  threshold: number;
  /** Fewest repetitions per side for a verdict (default 2: one value has no spread). */
  minRepetitions?: number;
}

export function isSignificant(ci: RelativeChangeCI, threshold: number): boolean {
  if (ci.change === null || ci.low === null || ci.high === null) return false;
  const excludesZero = ci.low > 0 || ci.high < 0;
  return excludesZero && Math.abs(ci.change) > threshold;
}

export function verdictFor(metric: string, ci: RelativeChangeCI, counts: { a: number; b: number; allZero?: boolean }, opts: VerdictOptions): Verdict {
  const direction: Direction = metricDirection(metric);
  if (ci.change === null) return counts.allZero ? 'no-change' : direction === 'informational' ? 'changed' : 'insufficient-data';
  if (Math.min(counts.a, counts.b) < (opts.minRepetitions ?? 2)) return 'insufficient-data';
  if (!isSignificant(ci, opts.threshold)) return 'no-change';
  if (direction === 'informational') return 'changed';
  const up = ci.change > 0;
  return (direction === 'lower-is-better') === up ? 'worse' : 'better';
}

export function verdictLabel(v: Verdict): string {
  return v === 'no-change' ? 'no significant change' : v === 'insufficient-data' ? 'too few repetitions' : v;
}
