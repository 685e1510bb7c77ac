/**
 * Latency distributions per variant from the pmbench sub-count bands of its runs: the
 * bands of all ok repetitions are summed, then turned into a histogram (fraction of
 * accesses per octave, which is the right density on a log-latency axis) and a CDF.
 */
import type { HistogramBand, RunRecord } from '../results/types.js';

export type Op = 'read' | 'write';

export interface HistogramRow {
  variant: string;
  op: Op;
  loNs: number;
  hiNs: number;
  /** Fraction of the variant's accesses in this band. */
  fraction: number;
  /** fraction / width in octaves (log2(hi/lo)). */
  perOctave: number;
}

export interface CdfRow {
  variant: string;
  op: Op;
  ns: number;
  cumulative: number;
}

/** Band-wise sum (bands keyed by their bounds; the layout is the same for every run). */
export function sumBands(lists: HistogramBand[][]): HistogramBand[] {
  const byKey = new Map<string, HistogramBand>();
  for (const list of lists) {
    for (const b of list) {
      const key = `${b.loNs}:${b.hiNs}`;
      const cur = byKey.get(key);
      if (cur) cur.count += b.count;
      else byKey.set(key, { ...b });
    }
  }
  return [...byKey.values()].sort((x, y) => x.loNs - y.loNs || x.hiNs - y.hiNs);
}

/** The first band starts at 0 ns, which a log axis cannot show: draw it as one octave below its top. */
function displayLo(b: HistogramBand): number {
  return b.loNs > 0 ? b.loNs : b.hiNs / 2;
}

/** Bands from the first to the last non-empty one (the empty tails carry no information). */
function trimmed(bands: HistogramBand[]): HistogramBand[] {
  const first = bands.findIndex((b) => b.count > 0);
  if (first < 0) return [];
  let last = bands.length - 1;
  while (last > first && bands[last]!.count === 0) last--;
  return bands.slice(first, last + 1);
}

export function variantBands(records: RunRecord[], op: Op): Map<string, HistogramBand[]> {
  const groups = new Map<string, HistogramBand[][]>();
  for (const r of records) {
    const bands = r.status === 'ok' ? r.histograms?.[op] : undefined;
    if (!bands?.length) continue;
    groups.set(r.variant, [...(groups.get(r.variant) ?? []), bands]);
  }
  return new Map([...groups].map(([variant, lists]) => [variant, trimmed(sumBands(lists))]));
}

export function histogramRows(variant: string, op: Op, bands: HistogramBand[]): HistogramRow[] {
  const total = bands.reduce((s, b) => s + b.count, 0);
  if (total === 0) return [];
  return bands.map((b) => {
    const lo = displayLo(b);
    const fraction = b.count / total;
    return { variant, op, loNs: lo, hiNs: b.hiNs, fraction, perOctave: fraction / Math.log2(b.hiNs / lo) };
  });
}

export function cdfRows(variant: string, op: Op, bands: HistogramBand[]): CdfRow[] {
  const total = bands.reduce((s, b) => s + b.count, 0);
  if (total === 0 || bands.length === 0) return [];
  const rows: CdfRow[] = [{ variant, op, ns: displayLo(bands[0]!), cumulative: 0 }];
  let cum = 0;
  for (const b of bands) {
    cum += b.count;
    rows.push({ variant, op, ns: b.hiNs, cumulative: cum / total });
  }
  return rows;
}
