/**
 * Welch interval of the relative change between two groups of repetitions:
 * change = mean(B)/mean(A) - 1, interval = exp(L ± t·se) - 1 with L = ln(mean(B)/mean(A)),
 * se² = sA²/(nA·mA²) + sB²/(nB·mB²) (the delta method for the log of each mean) plus the
 * quantization variance of each side, and t Student's quantile at the Welch–Satterthwaite
 * degrees of freedom.
 *
 * Why not the bootstrap percentile interval (stats/bootstrap.ts): with 2-3 repetitions a
 * side it has almost no spread: when B's values all lie above A's (one chance in 20 per
 * metric for 3 vs 3 runs of the same commit) the whole bootstrap distribution lies above 0
 * and the interval excludes 0 at every level, so no multiple-testing correction can fix it;
 * and a rank or permutation test cannot reach 5% at 3 vs 3 at all (its smallest p is 0.1).
 * Student's t at 2-4 degrees of freedom widens the interval by what so few runs really know.
 *
 * Quantization (stats/resolution.ts): a metric with relative resolution r gets r²/12 added
 * to each side's variance of the mean (a uniform rounding error of one step, shared by all
 * repetitions, so not divided by n); that part counts as known (infinite degrees of freedom).
 */
import { mean, stdev } from './describe.js';
import { studentTQuantile } from './student-t.js';

export interface WelchOptions {
  /** Two-sided confidence level of the interval (default 0.95). */
  confidence?: number;
  /** Relative resolution of the metric (stats/resolution.ts); 0 when continuous. */
  resolution?: number;
}

export interface RelativeChangeInterval {
  /** mean(B)/mean(A) - 1; null when a mean is not positive (no ratio of positive means). */
  change: number | null;
  /** The interval; null when undefined (a side with fewer than 2 values and no resolution). */
  low: number | null;
  high: number | null;
  confidence: number;
  /** Welch–Satterthwaite degrees of freedom (Infinity when only the quantization is known). */
  df: number | null;
}

/** The change of B vs A with its Welch interval (see the design comment). Both groups need
 * at least one value; the interval needs 2 per side (or a resolution to stand for the noise). */
export function welchRelativeChange(a: readonly number[], b: readonly number[], opts: WelchOptions = {}): RelativeChangeInterval {
  const confidence = opts.confidence ?? 0.95;
  const r = opts.resolution ?? 0;
  if (a.length === 0 || b.length === 0) throw new Error('welchRelativeChange: both groups need at least one repetition');
  if (!(confidence > 0 && confidence < 1)) throw new Error(`welchRelativeChange: confidence must be in (0,1), got ${confidence}`);
  const ma = mean(a);
  const mb = mean(b);
  const none = { low: null, high: null, confidence, df: null };
  if (!(ma > 0) || !(mb > 0)) return { change: ma > 0 && mb === 0 ? -1 : null, ...none };
  const change = mb / ma - 1;
  if ((a.length < 2 || b.length < 2) && r === 0) return { change, ...none };
  // Variance of ln(mean) per side: sampling part (s²/(n m²)) and quantization part (r²/12).
  const va = a.length > 1 ? stdev(a) ** 2 / (a.length * ma * ma) : 0;
  const vb = b.length > 1 ? stdev(b) ** 2 / (b.length * mb * mb) : 0;
  const q = 2 * (r * r) / 12;
  const se = Math.sqrt(va + vb + q);
  const sampling = (a.length > 1 ? va * va / (a.length - 1) : 0) + (b.length > 1 ? vb * vb / (b.length - 1) : 0);
  const df = sampling > 0 ? (va + vb + q) ** 2 / sampling : Infinity;
  const L = Math.log(mb / ma);
  if (se === 0) return { change, low: change, high: change, confidence, df };
  const t = studentTQuantile(1 - (1 - confidence) / 2, df);
  return { change, low: Math.expm1(L - t * se), high: Math.expm1(L + t * se), confidence, df };
}
