/**
 * Statistics (pure logic): Student's t against published table values, the Welch interval's
 * coverage and power by simulation (a seeded generator in this file), the quantization
 * rule, and the verdict rules (headline only, enough runs, threshold, resolution).
 */
import { describe, expect, it } from 'vitest';
import { quantileSorted } from '../../src/stats/describe.js';
import { metricDirection } from '../../src/stats/direction.js';
import { metricResolution } from '../../src/stats/resolution.js';
import { studentTCdf, studentTQuantile } from '../../src/stats/student-t.js';
import { verdictFor } from '../../src/stats/verdict.js';
import { welchRelativeChange } from '../../src/stats/welch.js';

/** Seeded normal draws (mulberry32 + Box-Muller), independent of the code under test. */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

describe("Student's t", () => {
  it('matches table quantiles (two-sided 95%, 99%, 99.8%) and the normal limit', () => {
    const table: [number, number, number][] = [
      [0.975, 1, 12.7062], [0.975, 2, 4.3027], [0.975, 4, 2.7764], [0.975, 10, 2.2281], [0.975, 30, 2.0423],
      [0.995, 3, 5.8409], [0.999, 5, 5.8934], [0.975, Infinity, 1.96],
    ];
    for (const [p, df, t] of table) expect(studentTQuantile(p, df)).toBeCloseTo(t, 3);
    expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.7764, 3);
    expect(studentTCdf(0, 3)).toBeCloseTo(0.5, 12);
    expect(studentTCdf(2.7764, 4)).toBeCloseTo(0.975, 4);
    // Non-integer degrees of freedom (Welch): between its neighbours.
    const q = studentTQuantile(0.975, 3.5);
    expect(q).toBeLessThan(studentTQuantile(0.975, 3));
    expect(q).toBeGreaterThan(studentTQuantile(0.975, 4));
  });
});

describe('Welch interval of the relative change', () => {
  it('has the nominal coverage for 3 vs 3 repetitions of the same thing (5000 simulated A/A pairs)', () => {
    const z = normals(11);
    let covered = 0;
    const N = 5000;
    for (let i = 0; i < N; i++) {
      const a = [0, 0, 0].map(() => 1000 * (1 + 0.05 * z()));
      const b = [0, 0, 0].map(() => 1000 * (1 + 0.05 * z()));
      const ci = welchRelativeChange(a, b, { confidence: 0.95 });
      if (ci.low! <= 0 && ci.high! >= 0) covered++;
    }
    // Welch is slightly conservative at so few degrees of freedom: 95-97.5%.
    expect(covered / N).toBeGreaterThan(0.94);
    expect(covered / N).toBeLessThan(0.985);
  });

  /** Share of simulated +20% shifts (noise `cv`, `n` runs a side) whose interval at the
   * Bonferroni level for `tests` tests (99% family-wise, the default) lies above 0. */
  function power(n: number, cv: number, tests: number, seed: number): number {
    const z = normals(seed);
    let found = 0;
    const N = 1000;
    for (let i = 0; i < N; i++) {
      const a = Array.from({ length: n }, () => 1000 * (1 + cv * z()));
      const b = Array.from({ length: n }, () => 1200 * (1 + cv * z()));
      if (welchRelativeChange(a, b, { confidence: 1 - 0.01 / tests }).low! > 0) found++;
    }
    return found / N;
  }

  it('finds a +20% shift: 5 runs a side with 3% noise and 8 tests; 3 runs with 2% noise and the 2 default tests (most of the time)', () => {
    expect(power(5, 0.03, 8, 6)).toBeGreaterThan(0.95);
    expect(power(3, 0.02, 2, 5)).toBeGreaterThan(0.8);
    // What Bonferroni and few runs cost: at 3 runs with 3% noise, 8 tests find it less often than 2.
    expect(power(3, 0.03, 8, 5)).toBeLessThan(power(3, 0.03, 2, 5));
  });

  it('is the ratio of means with an interval around it, wider at a higher level', () => {
    const a = [100, 110, 90];
    const b = [120, 130, 110];
    const ci95 = welchRelativeChange(a, b);
    expect(ci95.change).toBeCloseTo(0.2, 12);
    expect(ci95.low!).toBeLessThan(0.2);
    expect(ci95.high!).toBeGreaterThan(0.2);
    // Welch-Satterthwaite df for these two: between 2 and 4.
    expect(ci95.df!).toBeGreaterThan(2);
    expect(ci95.df!).toBeLessThan(4);
    const ci99 = welchRelativeChange(a, b, { confidence: 0.99 });
    expect(ci99.low!).toBeLessThan(ci95.low!);
    expect(ci99.high!).toBeGreaterThan(ci95.high!);
  });

  it('has no interval from one repetition, and adds a quantized metric resolution as noise', () => {
    expect(welchRelativeChange([100], [120, 121])).toMatchObject({ change: expect.closeTo(0.2048, 3), low: null, high: null });
    // Each side's values in one bucket: without the resolution the interval would be a point
    // ([+25%, +25%], what the percentile bootstrap gave); with it, it has the width of the
    // rounding (and a one-step change is no verdict: see 'verdicts' below).
    const q = welchRelativeChange([16384, 16384], [20480, 20480], { resolution: 0.25 });
    expect(q.change).toBeCloseTo(0.25, 12);
    expect(q.high! - q.low!).toBeGreaterThan(0.35);
    expect(q.df).toBe(Infinity);
    expect(welchRelativeChange([16384, 16384], [20480, 20480]).low).toBeCloseTo(0.25, 12);
    expect(() => welchRelativeChange([], [1])).toThrow(/at least one repetition/);
  });
});

describe('metric resolution', () => {
  it('knows the handler histogram (4 buckets per power of two) and LKP bucket percentiles', () => {
    expect(metricResolution('handler.fault_latency_ns.p99')).toBe(0.25);
    expect(metricResolution('read.latency.99%.ns')).toBe(1 / 16);
    expect(metricResolution('latency.ns.average')).toBe(0);
    expect(metricResolution('latency.ns.p99')).toBe(0);
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
  const sig = { change: 0.2, low: 0.1, high: 0.3, confidence: 0.95, df: 4 };
  const opts = { threshold: 0.05 };
  const n = { a: 3, b: 3 };

  it('knows which way is better', () => {
    expect(metricDirection('read.latency.ns.p99')).toBe('lower-is-better');
    expect(metricDirection('handler.fault_latency_ns.p50')).toBe('lower-is-better');
    expect(metricDirection('throughput.aps')).toBe('higher-is-better');
    expect(metricDirection('handler.evictions')).toBe('informational');
    expect(metricDirection('read.latency.ns.256-512%')).toBe('informational');
  });

  it('calls a significant rise worse for latency, better for throughput, changed for a metric without direction', () => {
    expect(verdictFor('latency.ns.average', sig, n, opts)).toBe('worse');
    expect(verdictFor('throughput.aps', sig, n, opts)).toBe('better');
    expect(verdictFor('vmstat.pswpin', sig, n, opts)).toBe('changed');
    const drop = { ...sig, change: -0.2, low: -0.3, high: -0.1 };
    expect(verdictFor('latency.ns.average', drop, n, opts)).toBe('better');
    expect(verdictFor('throughput.aps', drop, n, opts)).toBe('worse');
  });

  it('gives no verdict outside the headline: informational', () => {
    expect(verdictFor('latency.ns.p99', sig, n, { ...opts, headline: false })).toBe('informational');
  });

  it('needs the interval to exclude 0 and the change to exceed the threshold and one resolution step', () => {
    expect(verdictFor('latency.ns.average', { ...sig, low: -0.01 }, n, opts)).toBe('no-change');
    expect(verdictFor('latency.ns.average', { ...sig, change: 0.04, low: 0.03, high: 0.05 }, n, opts)).toBe('no-change');
    expect(verdictFor('latency.ns.average', { ...sig, change: 0.04, low: 0.03, high: 0.05 }, n, { threshold: 0.01 })).toBe('worse');
    expect(verdictFor('handler.fault_latency_ns.p99', sig, n, { ...opts, resolution: 0.25 })).toBe('no-change');
    expect(verdictFor('handler.fault_latency_ns.p99', { ...sig, change: 0.5, high: 0.9 }, n, { ...opts, resolution: 0.25 })).toBe('worse');
  });

  it('says "not enough runs" below the minimum repetitions (default 3), never worse', () => {
    expect(verdictFor('latency.ns.average', sig, { a: 2, b: 3 }, opts)).toBe('not-enough-runs');
    expect(verdictFor('latency.ns.average', sig, { a: 2, b: 2 }, { ...opts, minRepetitions: 2 })).toBe('worse');
  });
});
