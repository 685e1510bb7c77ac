/**
 * Published figures beside ours: the config's `reference:` block names a value per arm
 * (e.g. the seed's pmbench latencies) and ratios a / b; this module sets each variant's
 * mean beside its arm's figure, in the figure's unit, and computes every ratio twice: from
 * this run's means and from the published values ("-" / null when a side is missing).
 */
import type { ReferenceConfig } from '../config/schema.js';
import type { ReferenceComparison, ReferenceRatio, ReferenceRow, VariantSummary } from './types.js';

const TIME_UNITS: Record<string, number> = { ns: 1, us: 1e-3, ms: 1e-6, s: 1e-9 };

/** Factor from the metric's own unit to `unit`: a metric in ns (name contains "ns") is
 * converted to ns, us, ms or s; anything else is taken as already in `unit`. */
export function unitScale(metric: string, unit: string): number {
  return /(^|[._])ns([._]|$)/.test(metric) && unit in TIME_UNITS ? TIME_UNITS[unit]! : 1;
}

/** The part of a variant name after its arm ("" for a single-variant arm). */
function suffix(v: VariantSummary): string {
  return v.variant.startsWith(v.arm) ? v.variant.slice(v.arm.length).trim() : v.variant;
}

export function compareReference(variants: VariantSummary[], ref: ReferenceConfig): ReferenceComparison {
  const scale = unitScale(ref.metric, ref.unit);
  const rows: ReferenceRow[] = variants.map((v) => {
    const s = v.metrics[ref.metric];
    const r = ref.values[v.arm];
    return {
      variant: v.variant, arm: v.arm,
      ours: s ? s.mean * scale : null, oursStdev: s ? s.stdev * scale : null,
      reference: r?.value ?? null, label: r ? r.label ?? null : null,
    };
  });
  const ratios: ReferenceRatio[] = ref.ratios.flatMap(([a, b]) => {
    const ra = ref.values[a]?.value;
    const rb = ref.values[b]?.value;
    const reference = ra !== undefined && rb !== undefined ? ra / rb : null;
    const va = variants.filter((v) => v.arm === a);
    const vb = variants.filter((v) => v.arm === b);
    // Pair variants with the same parameters; an arm without results still shows its row.
    const pairs = va.length === 0 || vb.length === 0
      ? [{ variantA: va[0]?.variant ?? a, variantB: vb[0]?.variant ?? b, A: va[0], B: vb[0] }]
      : va.flatMap((x) => vb.filter((y) => suffix(y) === suffix(x)).map((y) => ({ variantA: x.variant, variantB: y.variant, A: x, B: y })));
    return pairs.map(({ variantA, variantB, A, B }) => {
      const ma = A?.metrics[ref.metric]?.mean;
      const mb = B?.metrics[ref.metric]?.mean;
      return { a, b, variantA, variantB, ours: ma !== undefined && mb !== undefined && mb !== 0 ? ma / mb : null, reference };
    });
  });
  return { name: ref.name, metric: ref.metric, unit: ref.unit, rows, ratios };
}

function num(x: number | null, digits: number): string {
  return x === null ? '-' : x.toFixed(digits);
}

function table(header: string[], rows: string[][], leftCols: number[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (leftCols.includes(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** The terminal block: our mean beside the published value per variant, then each ratio
 * from our means and from the published values. */
export function formatReference(c: ReferenceComparison): string[] {
  const u = c.unit;
  const out = [`reference: ${c.name} (${c.metric}, in ${u})`];
  out.push(...table(['variant', `ours ${u}`, `reference ${u}`, 'reference label'],
    c.rows.map((r) => [r.variant, r.ours === null ? '-' : `${num(r.ours, 2)}${r.oursStdev ? ` ±${num(r.oursStdev, 2)}` : ''}`, num(r.reference, 2), r.label ?? '']), [0, 3]));
  if (c.ratios.length) {
    out.push('');
    out.push(...table(['ratio', 'ours', 'reference'],
      c.ratios.map((r) => [`${r.variantA} / ${r.variantB}`, num(r.ours, 2), num(r.reference, 2)]), [0]));
  }
  return out;
}
