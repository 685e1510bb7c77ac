/**
 * Bootstrap confidence interval of the relative change between two groups of repetitions:
 * change = mean(B) / mean(A) - 1. Each resample draws the repetitions of A and of B with
 * replacement (repetitions are the unit, not individual samples inside a run); the interval
 * is the percentile interval of the resampled changes.
 */
import { mean, quantileSorted } from './describe.js';
import { seededRandom, type Random } from './prng.js';

export interface BootstrapOptions {
  /** Number of resamples (default 2000). */
  resamples?: number;
  /** Confidence level (default 0.95). */
  confidence?: number;
  /** PRNG seed (default 1): same inputs and seed give the same interval. */
  seed?: number;
}

export interface RelativeChangeCI {
  /** mean(B)/mean(A) - 1; null when mean(A) is 0 (undefined ratio). */
  change: number | null;
  /** Percentile interval of the resampled changes; null when undefined. */
  low: number | null;
  high: number | null;
  confidence: number;
  resamples: number;
}

function resampleMean(values: readonly number[], random: Random): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[Math.floor(random() * values.length)]!;
  return s / values.length;
}

export function bootstrapRelativeChange(a: readonly number[], b: readonly number[], opts: BootstrapOptions = {}): RelativeChangeCI {
  const resamples = opts.resamples ?? 2000;
  const confidence = opts.confidence ?? 0.95;
  if (a.length === 0 || b.length === 0) throw new Error('bootstrapRelativeChange: both groups need at least one repetition');
  if (!(confidence > 0 && confidence < 1)) throw new Error(`bootstrapRelativeChange: confidence must be in (0,1), got ${confidence}`);
  const meanA = mean(a);
  const base = { confidence, resamples };
  if (meanA === 0) return { change: null, low: null, high: null, ...base };
  const random = seededRandom(opts.seed ?? 1);
  const changes = new Float64Array(resamples);
  for (let i = 0; i < resamples; i++) {
    const ma = resampleMean(a, random);
    const mb = resampleMean(b, random);
    // A resample of A can have mean 0 when some repetitions are 0: treat as unbounded.
    changes[i] = ma === 0 ? (mb === 0 ? 0 : Math.sign(mb) * Infinity) : mb / ma - 1;
  }
  changes.sort();
  const sorted = Array.from(changes);
  const tail = (1 - confidence) / 2;
  return { change: mean(b) / meanA - 1, low: quantileSorted(sorted, tail), high: quantileSorted(sorted, 1 - tail), ...base };
}
