/**
 * pmbench's latency histogram layout and the statistics taken from it: 24 bands
 * ([0,2^8) ns, 2^8..2^30 by powers of two, [2^30,2^32)); bands 2^8..2^23 carry 16 equal
 * sub-buckets. Percentiles interpolate linearly inside the finest bucket that holds them.
 */
import type { HistogramBand, HistogramBucket, Percentiles, PmbenchHistogram } from './types.js';

/** [loExp, hiExp] of the 24 rows, in report order. */
export const BAND_EXPONENTS: ReadonlyArray<readonly [number, number]> = [
  [0, 8],
  ...Array.from({ length: 22 }, (_, i) => [i + 8, i + 9] as const),
  [30, 32],
];

/** Bands whose row carries 16 sub-counts: 2^(08,09) .. 2^(22,23). */
export function bandHasSub(loExp: number): boolean {
  return loExp >= 8 && loExp <= 22;
}

export function bandBounds(loExp: number, hiExp: number): { loNs: number; hiNs: number } {
  return { loNs: loExp === 0 ? 0 : 2 ** loExp, hiNs: 2 ** hiExp };
}

export function subBuckets(loNs: number, hiNs: number, counts: number[]): HistogramBucket[] {
  const width = (hiNs - loNs) / counts.length;
  return counts.map((count, i) => ({ loNs: loNs + i * width, hiNs: loNs + (i + 1) * width, count }));
}

/** The finest buckets of a histogram, in ascending order. */
export function finestBuckets(h: PmbenchHistogram): HistogramBucket[] {
  return h.bands.flatMap((b) => b.sub ?? [{ loNs: b.loNs, hiNs: b.hiNs, count: b.count }]);
}

/** Value (ns) below which fraction q of the samples fall; null for an empty histogram. */
export function percentile(buckets: HistogramBucket[], q: number): number | null {
  const total = buckets.reduce((s, b) => s + b.count, 0);
  if (total === 0) return null;
  const target = q * total;
  let cum = 0;
  for (const b of buckets) {
    if (b.count > 0 && cum + b.count >= target) {
      return b.loNs + ((target - cum) / b.count) * (b.hiNs - b.loNs);
    }
    cum += b.count;
  }
  const last = buckets[buckets.length - 1];
  return last ? last.hiNs : null;
}

export function percentiles(buckets: HistogramBucket[]): Percentiles | null {
  const p50 = percentile(buckets, 0.5);
  const p90 = percentile(buckets, 0.9);
  const p99 = percentile(buckets, 0.99);
  return p50 === null || p90 === null || p99 === null ? null : { p50, p90, p99 };
}

/** Bucket-wise sum of histograms with the same layout (read + write, or per-thread blocks). */
export function mergeHistograms(hs: PmbenchHistogram[]): PmbenchHistogram | null {
  const [first, ...rest] = hs;
  if (!first) return null;
  const bands: HistogramBand[] = first.bands.map((b, i) => ({
    loNs: b.loNs,
    hiNs: b.hiNs,
    count: b.count + rest.reduce((s, h) => s + (h.bands[i]?.count ?? 0), 0),
    sub:
      b.sub?.map((s, j) => ({
        ...s,
        count: s.count + rest.reduce((acc, h) => acc + (h.bands[i]?.sub?.[j]?.count ?? 0), 0),
      })) ?? null,
  }));
  return { bands, total: hs.reduce((s, h) => s + h.total, 0) };
}
