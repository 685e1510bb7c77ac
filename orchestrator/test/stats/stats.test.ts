/**
 * Bootstrap statistics (pure logic): the Monte-Carlo percentile interval against the exact
 * bootstrap distribution enumerated independently, degenerate cases with known answers,
 * repeatability of the seeded PRNG, and the verdict rules.
 */
import { describe, expect, it } from 'vitest';
import { bootstrapRelativeChange } from '../../src/stats/bootstrap.js';
import { mean, quantileSorted, stdev } from '../../src/stats/describe.js';
import { metricDirection } from '../../src/stats/direction.js';
import { seededRandom } from '../../src/stats/prng.js';
import { verdictFor } from '../../src/stats/verdict.js';

/** Every ordered resample of `values` (n^n of them, equally likely) -> its mean. */
function allResampleMeans(values: number[]): number[] {
  const n = values.length;
  const out: number[] = [];
  const idx = new Array<number>(n).fill(0);
  for (;;) {
    out.push(idx.reduce((s, i) => s + values[i]!, 0) / n);
    let k = 0;
    while (k < n && ++idx[k]! === n) idx[k++] = 0;
    if (k === n) return out;
  }
}

/** Exact bootstrap distribution of mean(B*)/mean(A*) - 1, and its quantile by inverting the CDF. */
function exactQuantiles(a: number[], b: number[], qs: number[]): number[] {
  const ma = allResampleMeans(a);
  const mb = allResampleMeans(b);
  const ratios: number[] = [];
  for (const x of ma) for (const y of mb) ratios.push(y / x - 1);
  ratios.sort((p, q) => p - q);
  return qs.map((q) => ratios[Math.min(ratios.length - 1, Math.max(0, Math.ceil(q * ratios.length) - 1))]!);
}

describe('bootstrap interval of the relative change', () => {
  const a = [100, 104, 97, 110];
  const b = [121, 118, 130, 115];

  it('matches the exact bootstrap distribution (all 4^4 x 4^4 resamples enumerated)', () => {
    const [lo, hi] = exactQuantiles(a, b, [0.025, 0.975]);
    const ci = bootstrapRelativeChange(a, b, { resamples: 40_000, seed: 7 });
    expect(ci.change).toBeCloseTo(mean(b) / mean(a) - 1, 12);
    // Monte-Carlo error of a 2.5% quantile with 40k draws is well under 0.5 percentage points here.
    expect(Math.abs(ci.low! - lo!)).toBeLessThan(0.005);
    expect(Math.abs(ci.high! - hi!)).toBeLessThan(0.005);
    expect(ci.low!).toBeGreaterThan(0);
  });

  it('is degenerate when every repetition has the same value (analytic: [r-1, r-1])', () => {
    const ci = bootstrapRelativeChange([200, 200, 200], [150, 150], { resamples: 500 });
    expect(ci).toMatchObject({ change: -0.25, low: -0.25, high: -0.25 });
  });

  it('is repeatable for a seed and differs for another seed', () => {
    // Enough distinct repetitions that the bootstrap distribution is nearly continuous.
    const a8 = [101.3, 97.2, 104.9, 99.1, 102.6, 95.8, 100.4, 103.7];
    const b8 = [108.1, 111.9, 104.2, 109.5, 113.3, 106.6, 110.8, 107.4];
    const x = bootstrapRelativeChange(a8, b8, { seed: 3 });
    expect(bootstrapRelativeChange(a8, b8, { seed: 3 })).toEqual(x);
    const y = bootstrapRelativeChange(a8, b8, { seed: 4 });
    expect(y.low).not.toBe(x.low);
    expect(y.change).toBe(x.change);
  });

  it('has a null change when A averages 0, and rejects empty groups', () => {
    expect(bootstrapRelativeChange([0, 0], [1, 2]).change).toBeNull();
    expect(() => bootstrapRelativeChange([], [1])).toThrow(/at least one repetition/);
  });
});

describe('seeded PRNG', () => {
  it('is uniform enough on [0,1) (mean and variance of 100k draws)', () => {
    const r = seededRandom(42);
    const xs = Array.from({ length: 100_000 }, r);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(mean(xs)).toBeCloseTo(0.5, 2);
    expect(stdev(xs) ** 2).toBeCloseTo(1 / 12, 2);
  });
});

describe('descriptive statistics', () => {
  it('quantiles interpolate like R type 7', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBe(1.75);
    expect(quantileSorted([5], 0.9)).toBe(5);
  });
});

describe('verdicts', () => {
  const sig = { change: 0.2, low: 0.1, high: 0.3, confidence: 0.95, resamples: 2000 };
  const opts = { threshold: 0.05 };
  const n = { a: 3, b: 3 };

  it('knows which way is better', () => {
    expect(metricDirection('read.latency.ns.p99')).toBe('lower-is-better');
    expect(metricDirection('handler.fault_latency_ns.p50')).toBe('lower-is-better');
    expect(metricDirection('throughput.aps')).toBe('higher-is-better');
    expect(metricDirection('handler.evictions')).toBe('informational');
    expect(metricDirection('read.latency.ns.256-512%')).toBe('informational');
  });

  it('calls a significant rise worse for latency, better for throughput, changed otherwise', () => {
    expect(verdictFor('latency.ns.average', sig, n, opts)).toBe('worse');
    expect(verdictFor('throughput.aps', sig, n, opts)).toBe('better');
    expect(verdictFor('vmstat.pswpin', sig, n, opts)).toBe('changed');
    const drop = { ...sig, change: -0.2, low: -0.3, high: -0.1 };
    expect(verdictFor('latency.ns.average', drop, n, opts)).toBe('better');
    expect(verdictFor('throughput.aps', drop, n, opts)).toBe('worse');
  });

  it('needs the CI to exclude 0 and the change to exceed the threshold', () => {
    expect(verdictFor('latency.ns.average', { ...sig, low: -0.01 }, n, opts)).toBe('no-change');
    expect(verdictFor('latency.ns.average', { ...sig, change: 0.04, low: 0.03, high: 0.05 }, n, opts)).toBe('no-change');
    expect(verdictFor('latency.ns.average', { ...sig, change: 0.04, low: 0.03, high: 0.05 }, n, { threshold: 0.01 })).toBe('worse');
  });

  it('gives no verdict from a single repetition', () => {
    expect(verdictFor('latency.ns.average', sig, { a: 1, b: 3 }, opts)).toBe('insufficient-data');
  });
});
