/**
 * The report's "Over time" section, for runs with a timeline (results/series.ts): one
 * panel per arm (its first repetition) with the footprint (handler resident MiB, or the
 * balloon's guest size), the fault rate (handler faults/s; guest major faults and swap-ins
 * per second), the handler's fault latency p50/p99 per 100 ms, and the guest's free
 * memory, each with the timeline's actions marked where they fired; then a table of how
 * long each footprint change took to be reached (resize vs balloon), and the commands the
 * guests answered while shrunk. Pure over the records and series; charts render in svg.ts.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ActionRecord, GuestSample, HandlerSample, SeriesRow } from '../results/series.js';
import type { RunRecord } from '../results/types.js';
import { escapeHtml as e, formatNumber } from './format.js';
import { renderSvg } from './svg.js';

export interface SeriesPoint {
  t: number;
  value: number;
  series: string;
}

export interface ActionMark {
  t: number;
  label: string;
}

export interface Panel {
  title: string;
  unit: string;
  points: SeriesPoint[];
  /** a log scale (latencies span microseconds to seconds) */
  log?: boolean;
}

const s = (ms: number) => +(ms / 1000).toFixed(3);

/** A short label for an action: "resize 1 MiB", "balloon 128 MiB", "pause 2 s", "exec". */
export function actionLabel(a: ActionRecord): string {
  if (a.kind === 'resize' || a.kind === 'balloon') return `${a.kind} ${formatNumber(a.target_mib ?? 0)} MiB`;
  if (a.kind === 'store') return `store pause ${formatNumber((a.for_ms ?? 0) / 1000)} s`;
  return 'exec';
}

/** The marks of the actions that fired. */
export function actionMarks(actions: ActionRecord[]): ActionMark[] {
  return actions.filter((a) => a.fired_ms !== undefined).map((a) => ({ t: s(a.fired_ms!), label: actionLabel(a) }));
}

/** Per-second rates of a guest counter between consecutive samples of one VM. */
function guestRates(rows: GuestSample[], key: string, name: string): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1]!;
    const b = rows[i]!;
    const dt = (b.t_ms - a.t_ms) / 1000;
    const va = a.vmstat[key];
    const vb = b.vmstat[key];
    if (dt > 0 && va !== undefined && vb !== undefined) out.push({ t: s(b.t_ms), value: Math.round((vb - va) / dt), series: name });
  }
  return out;
}

/** The four panels of one run's series (a panel without data is left out). Several VMs
 * are told apart by a "vmN: " prefix. */
export function seriesPanels(rows: SeriesRow[]): Panel[] {
  const handler = rows.filter((r): r is HandlerSample => r.type === 'handler');
  const guest = rows.filter((r): r is GuestSample => r.type === 'guest');
  const vms = [...new Set([...handler, ...guest].map((r) => r.vm))];
  const name = (vm: string, what: string) => (vms.length > 1 ? `${vm}: ${what}` : what);
  const byVm = (vm: string) => guest.filter((g) => g.vm === vm);
  const footprint: SeriesPoint[] = [
    ...handler.map((h) => ({ t: s(h.t_ms), value: h.resident_mib, series: name(h.vm, 'handler resident') })),
    ...handler.map((h) => ({ t: s(h.t_ms), value: +(h.capacity_pages / 256 / Math.max(1, vms.length)).toFixed(3), series: name(h.vm, 'handler limit') })),
    // the balloon matters where there is no handler: the guest's size is its footprint
    ...(handler.length ? [] : guest.filter((g) => g.balloon_mib !== undefined).map((g) => ({ t: s(g.t_ms), value: g.balloon_mib!, series: name(g.vm, 'guest size (balloon)') }))),
  ];
  const faults: SeriesPoint[] = [
    ...handler.filter((h, i) => i > 0 || h.fault_rate > 0).map((h) => ({ t: s(h.t_ms), value: h.fault_rate, series: name(h.vm, 'handler faults/s') })),
    ...vms.flatMap((vm) => [...guestRates(byVm(vm), 'pgmajfault', name(vm, 'guest major faults/s')), ...guestRates(byVm(vm), 'pswpin', name(vm, 'guest swap-ins/s'))]),
  ];
  const latency: SeriesPoint[] = handler.filter((h) => h.p50_ns > 0).flatMap((h) => [
    { t: s(h.t_ms), value: h.p50_ns / 1000, series: name(h.vm, 'p50') },
    { t: s(h.t_ms), value: h.p99_ns / 1000, series: name(h.vm, 'p99') },
  ]);
  const free: SeriesPoint[] = guest.flatMap((g) => [
    ...(g.mem_free_kib !== undefined ? [{ t: s(g.t_ms), value: +(g.mem_free_kib / 1024).toFixed(2), series: name(g.vm, 'MemFree') }] : []),
    ...(g.mem_available_kib !== undefined ? [{ t: s(g.t_ms), value: +(g.mem_available_kib / 1024).toFixed(2), series: name(g.vm, 'MemAvailable') }] : []),
  ]);
  return [
    { title: 'footprint', unit: 'MiB', points: footprint },
    { title: 'fault rate', unit: 'per second', points: faults },
    { title: 'handler fault latency (per 100 ms, log scale)', unit: 'us', points: latency, log: true },
    { title: 'guest free memory', unit: 'MiB', points: free },
  ].filter((p) => p.points.length > 0);
}

/** One arm's panels stacked on a shared time axis, the actions as labelled rules. */
export function timelineSpec(title: string, panels: Panel[], marks: ActionMark[], endS: number): TopLevelSpec {
  const x = { field: 't', type: 'quantitative', title: 'seconds since the workload started', scale: { domain: [0, endS] } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    vconcat: panels.map((p) => ({
      width: 620,
      height: 120,
      title: `${p.title} (${p.unit})`,
      layer: [
        {
          data: { values: p.points },
          mark: { type: 'line', interpolate: 'step-after', tooltip: true, strokeWidth: 1.5 },
          encoding: { x, y: { field: 'value', type: 'quantitative', title: null, ...(p.log ? { scale: { type: 'log' } } : {}) }, color: { field: 'series', type: 'nominal', title: null } },
        },
        {
          data: { values: marks },
          mark: { type: 'rule', strokeDash: [4, 3], color: '#cf222e' },
          encoding: { x: { field: 't', type: 'quantitative' } },
        },
        {
          data: { values: marks },
          mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 2, y: 0, fontSize: 10, color: '#cf222e' },
          encoding: { x: { field: 't', type: 'quantitative' }, text: { field: 'label' } },
        },
      ],
    })),
    resolve: { scale: { color: 'independent' } },
  } as TopLevelSpec;
}

function reachedText(a: ActionRecord): string {
  if (a.fired_ms === undefined) return 'not fired (the workload ended first)';
  if (!a.ok) return `failed: ${a.error ?? 'unknown'}`;
  if (a.reached_ms === undefined) return '-';
  if (a.reached_ms === null) return `not reached before the next change or the end of the workload${a.closest_mib !== undefined ? ` (closest: ${formatNumber(a.closest_mib)} MiB)` : ''}`;
  return `${formatNumber(a.reached_ms)} ms`;
}

/** The footprint changes of every run: resize vs balloon, how long each took. */
export function reachTable(runs: RunRecord[]): string {
  const rows = runs.flatMap((r) => (r.timeline?.actions ?? []).filter((a) => a.kind === 'resize' || a.kind === 'balloon').map((a) =>
    `<tr><td class="metric">${e(r.variant)}</td><td class="metric">${e(a.kind === 'resize' ? 'handler resize' : 'balloon')}</td><td>${formatNumber(a.target_mib)} MiB</td><td>${formatNumber((a.at_ms) / 1000)} s</td><td>${a.fired_ms === undefined ? '-' : `${formatNumber(a.fired_ms / 1000)} s`}</td><td class="metric">${e(reachedText(a))}</td></tr>`));
  if (rows.length === 0) return '';
  return `<h3>Time to reach the new footprint</h3><table><tr><th>variant</th><th>how</th><th>target per guest</th><th>scheduled</th><th>fired</th><th>reached after</th></tr>${rows.join('')}</table>`;
}

/** The commands guests answered during the timeline, with the handler's state then. */
export function answersTable(runs: RunRecord[]): string {
  const rows = runs.flatMap((r) => (r.timeline?.actions ?? []).filter((a) => a.kind === 'exec').flatMap((a) => (a.answers ?? []).map((x) =>
    `<tr class="${x.code === 0 ? 'good' : 'bad'}"><td class="metric">${e(r.variant)}</td><td class="metric">${e(x.vm)}</td><td>${a.fired_ms === undefined ? '-' : `${formatNumber(a.fired_ms / 1000)} s`}</td><td>${x.code === null ? e(x.error ?? 'no answer') : x.code}</td><td>${formatNumber(x.ms)} ms</td><td>${x.capacity_pages === undefined ? '-' : formatNumber(x.capacity_pages)}</td><td>${x.resident_pages === undefined ? '-' : formatNumber(x.resident_pages)}</td></tr>`)));
  if (rows.length === 0) return '';
  const at1 = runs.filter((r) => r.timeline?.answered_at_1mib !== undefined)
    .map((r) => `<p class="${r.timeline!.answered_at_1mib ? 'good' : 'bad'}">${e(r.variant)}: the guest ${r.timeline!.answered_at_1mib ? 'answered' : 'did not answer'} over SSH while the handler held at most 1 MiB (256 pages) per guest.</p>`);
  return `<h3>Commands answered during the timeline</h3><table><tr><th>variant</th><th>VM</th><th>fired</th><th>exit</th><th>round trip</th><th>handler capacity (pages)</th><th>VM resident (pages)</th></tr>${rows.join('')}</table>${at1.join('')}`;
}

/** The section's HTML, or undefined when no run has a timeline. `series` maps run id to
 * its rows. */
export async function timelineSection(runs: RunRecord[], series: Map<string, SeriesRow[]>): Promise<string | undefined> {
  const withTimeline = runs.filter((r) => r.timeline);
  if (withTimeline.length === 0) return undefined;
  const seen = new Set<string>();
  const panels: string[] = [];
  for (const r of withTimeline) {
    if (seen.has(r.variant)) continue;
    seen.add(r.variant);
    const rows = series.get(r.id) ?? [];
    const p = seriesPanels(rows);
    if (p.length === 0) {
      panels.push(`<p class="muted">${e(r.variant)}: no samples (${e(r.timeline!.series)} missing or empty).</p>`);
      continue;
    }
    const endS = Math.max(1, ...rows.map((x) => x.t_ms / 1000));
    const svg = await renderSvg(timelineSpec(`${r.variant} (${r.id})`, p, actionMarks(r.timeline!.actions), endS));
    panels.push(`<figure>${svg}<figcaption class="muted">${e(r.variant)}: handler counters every ${r.timeline!.samples.handler_interval_ms} ms, guest /proc/meminfo and vmstat every ${r.timeline!.samples.guest_interval_ms} ms (${r.timeline!.samples.skipped} ticks skipped while a sample was slow); dashed lines are the timeline's actions as they fired. Series: runs/${e(r.timeline!.series)}.</figcaption></figure>`);
  }
  return [reachTable(withTimeline), answersTable(withTimeline), ...panels].filter(Boolean).join('\n');
}
