/** Aggregates run records into per-variant statistics (repetitions are the unit) and
 * formats the arm x metric table; adds the summary's caveats (arms as run, emulation
 * warnings for the comparisons shown) and the reference block's comparison. */
import type { ReferenceConfig } from '../config/schema.js';
import { armPlacements, emulationWarnings } from './emulation.js';
import { compareReference } from './reference.js';
import type { ArmPlacement, EmulationSummary, MetricStats, RunRecord, Summary, VariantSummary } from './types.js';

export function metricStats(values: number[]): MetricStats {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, stdev: Math.sqrt(variance), min: Math.min(...values), max: Math.max(...values), n, values };
}

export function summarizeVariants(records: RunRecord[]): VariantSummary[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) groups.set(r.variant, [...(groups.get(r.variant) ?? []), r]);
  return [...groups.entries()].map(([variant, runs]) => {
    const ok = runs.filter((r) => r.status === 'ok').sort((a, b) => a.repetition - b.repetition);
    const names = [...new Set(ok.flatMap((r) => Object.keys(r.metrics)))];
    const metrics: Record<string, MetricStats> = {};
    for (const name of names) {
      const values = ok.map((r) => r.metrics[name]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (values.length) metrics[name] = metricStats(values);
    }
    return { variant, arm: runs[0]!.arm.name, runs: runs.length, failed: runs.length - ok.length, metrics };
  });
}

/** The columns of the printed table: [metric (or alternatives, the first present), header,
 * scale, digits]. Swap-ins are the guest's for guest runs, the host's for host runs. */
const TABLE_COLUMNS: [string | string[], string, number, number][] = [
  ['latency.ns.average', 'avg lat us', 1e-3, 2],
  ['latency.ns.p50', 'p50 us', 1e-3, 2],
  ['latency.ns.p99', 'p99 us', 1e-3, 1],
  ['throughput.aps', 'Kacc/s', 1e-3, 1],
  ['handler.faults', 'faults', 1, 0],
  ['handler.evictions', 'evictions', 1, 0],
  ['handler.remote_fetches', 'fetches', 1, 0],
  [['guest.vmstat.pswpin', 'host.vmstat.pswpin'], 'swap-ins', 1, 0],
  ['memverify.mismatches', 'mismatches', 1, 0],
  ['command.exit_code', 'exit', 1, 0],
];

function cell(s: MetricStats | undefined, scale: number, digits: number): string {
  if (!s) return '-';
  const mean = (s.mean * scale).toFixed(digits);
  return s.n > 1 ? `${mean} ±${(s.stdev * scale).toFixed(digits)}` : mean;
}

/** A plain-text table: one row per variant, mean ±stdev over repetitions. */
export function formatTable(variants: VariantSummary[]): string {
  const pick = (v: VariantSummary, m: string | string[]) => (Array.isArray(m) ? m : [m]).map((k) => v.metrics[k]).find((x) => x);
  const cols = TABLE_COLUMNS.filter(([m]) => variants.some((v) => pick(v, m)));
  const header = ['variant', 'runs', ...cols.map(([, h]) => h)];
  const rows = variants.map((v) => [v.variant, `${v.runs - v.failed}/${v.runs}`, ...cols.map(([m, , scale, digits]) => cell(pick(v, m), scale, digits))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Ratios the lab cares about, e.g. fluidmem-redis / swap-tmpfs average latency. */
export function latencyRatios(variants: VariantSummary[], metric = 'latency.ns.average'): { a: string; b: string; ratio: number }[] {
  const out: { a: string; b: string; ratio: number }[] = [];
  const fm = variants.filter((v) => v.metrics[metric] && /fluidmem/.test(v.arm));
  const base = variants.filter((v) => v.metrics[metric] && /swap/.test(v.arm));
  for (const a of fm) for (const b of base) out.push({ a: a.variant, b: b.variant, ratio: a.metrics[metric]!.mean / b.metrics[metric]!.mean });
  return out;
}

/** The arm pairs (a, b) the summary shows a ratio for: fluidmem x swap latency ratios
 * (latencyRatios) and the reference block's ratios. */
export function comparedArmPairs(variants: VariantSummary[], reference?: ReferenceConfig): [string, string][] {
  const armOf = new Map(variants.map((v) => [v.variant, v.arm]));
  const shown = latencyRatios(variants).map((r): [string, string] => [armOf.get(r.a)!, armOf.get(r.b)!]);
  return [...shown, ...(reference?.ratios ?? [])];
}

/**
 * The summary fields beyond the statistics: the arms as run, the emulation probe with a
 * warning per distorted comparison (also when the probe was skipped), and the reference
 * comparison when the config has a `reference:` block.
 */
export function summaryAnnotations(
  config: { arms: { name: string; kind: ArmPlacement['kind']; placement?: string }[]; reference?: ReferenceConfig },
  variants: VariantSummary[], accelerator: string, emulation: EmulationSummary | undefined,
): Pick<Summary, 'arms' | 'emulation' | 'reference'> {
  const arms = armPlacements(config.arms);
  const warnings = emulationWarnings(arms, comparedArmPairs(variants, config.reference), accelerator, emulation);
  return {
    arms,
    ...(emulation ? { emulation: { ...emulation, warnings } } : {}),
    ...(config.reference ? { reference: compareReference(variants, config.reference) } : {}),
  };
}
