/** The report's "Over time" section from a synthetic run with a timeline: panels per
 * arm with the actions marked, the time-to-footprint table (resize vs balloon, reached or
 * not), the SSH answers at 1 MiB; and no section for results without a timeline. */
import { describe, expect, it } from 'vitest';
import { buildReportHtml } from '../../src/report/build.js';
import { actionMarks, reachTable, seriesPanels, timelineSection } from '../../src/report/timeseries.js';
import type { ActionRecord, SeriesRow, TimelineRecord } from '../../src/results/series.js';
import type { RunRecord, Summary } from '../../src/results/types.js';

function handlerRows(): SeriesRow[] {
  return Array.from({ length: 50 }, (_, i) => ({
    type: 'handler' as const, t_ms: i * 100, vm: 'vm0', capacity_pages: i < 20 ? 32768 : 256,
    resident_pages: i < 20 ? 20000 : 250, resident_mib: i < 20 ? 78.125 : 0.977, faults: i * 100, remote_fetches: i * 50, evictions: i * 40,
    fault_rate: i === 0 ? 0 : 1000, fetch_rate: 500, eviction_rate: 400, p50_ns: 24576, p99_ns: 655360,
  }));
}

function guestRows(withBalloon: boolean): SeriesRow[] {
  return Array.from({ length: 5 }, (_, i) => ({
    type: 'guest' as const, t_ms: i * 1000, vm: 'vm0', mem_free_kib: 100_000 - i * 1000, mem_available_kib: 120_000,
    vmstat: { pgmajfault: i * 10, pswpin: i * 5 }, latency_ms: 40, ...(withBalloon ? { balloon_mib: 128 - i * 20 } : {}),
  }));
}

const resize: ActionRecord = { index: 0, kind: 'resize', at_ms: 2000, fired_ms: 2003, ok: true, target_mib: 1, target_pages: 256, reached_ms: 4718 };
const exec: ActionRecord = { index: 1, kind: 'exec', at_ms: 3000, fired_ms: 3001, ok: true, answers: [{ vm: 'vm0', code: 0, ms: 2534, capacity_pages: 256, resident_pages: 235 }] };
const balloon: ActionRecord = { index: 0, kind: 'balloon', at_ms: 2000, fired_ms: 2001, ok: true, target_mib: 1, reached_ms: null, closest_mib: 61.5 };

function run(id: string, variant: string, actions: ActionRecord[], extra: Partial<TimelineRecord> = {}): RunRecord {
  const timeline: TimelineRecord = {
    t0: '2026-11-26T00:00:00Z', series: `${id}.series.jsonl`, actions, workload_progress: 'phases only',
    samples: { handler: 50, guest: 5, handler_interval_ms: 100, guest_interval_ms: 1000, skipped: 3 }, ...extra,
  };
  return {
    schema: 'fluidlab.run/1', runId: 'x', id, experiment: 'elastic', variant, arm: { name: variant, kind: 'fluidmem' }, repetition: 1, params: {},
    status: 'ok', startedAt: '', durationMs: 1, accelerator: 'tcg', vms: [], metrics: {}, host: {} as RunRecord['host'], timeline,
  };
}

describe('report over time', () => {
  it('builds the footprint, fault-rate, latency and free-memory panels of a handler run', () => {
    const panels = seriesPanels([...handlerRows(), ...guestRows(false)]);
    expect(panels.map((p) => p.title)).toEqual(['footprint', 'fault rate', 'handler fault latency (per 100 ms, log scale)', 'guest free memory']);
    const footprint = panels[0]!.points;
    expect(new Set(footprint.map((p) => p.series))).toEqual(new Set(['handler resident', 'handler limit']));
    expect(footprint.find((p) => p.series === 'handler limit' && p.t === 4)!.value).toBe(1); // 256 pages = 1 MiB
    // guest rates from consecutive vmstat samples: 10 major faults and 5 swap-ins per second
    expect(panels[1]!.points.filter((p) => p.series === 'guest major faults/s').map((p) => p.value)).toEqual([10, 10, 10, 10]);
    expect(panels[2]!.points.find((p) => p.series === 'p99')!.value).toBe(655.36);
  });

  it('shows the balloon as the footprint where there is no handler', () => {
    const panels = seriesPanels(guestRows(true));
    expect(panels[0]!.points.map((p) => p.value)).toEqual([128, 108, 88, 68, 48]);
    expect(panels[0]!.points[0]!.series).toBe('guest size (balloon)');
  });

  it('marks the actions that fired, and only those', () => {
    expect(actionMarks([resize, exec, { index: 2, kind: 'resize', at_ms: 99_000, ok: false, target_mib: 128 }])).toEqual([
      { t: 2.003, label: 'resize 1 MiB' }, { t: 3.001, label: 'exec' },
    ]);
  });

  it('tabulates time to the new footprint: resize reached, balloon not', () => {
    const html = reachTable([run('001-fm', 'fluidmem-redis', [resize]), run('002-sw', 'swap-balloon', [balloon])]);
    expect(html).toContain('<td class="metric">handler resize</td><td>1 MiB</td><td>2 s</td><td>2.003 s</td><td class="metric">4,718 ms</td>');
    expect(html).toContain("not reached before the next change or the end of the workload (closest: 61.5 MiB)");
  });

  it('renders one panel per arm with the action labels and the SSH answer at 1 MiB', async () => {
    const runs = [run('001-fm', 'fluidmem-redis', [resize, exec], { answered_at_1mib: true }), run('002-sw', 'swap-balloon', [balloon])];
    const series = new Map<string, SeriesRow[]>([['001-fm', [...handlerRows(), ...guestRows(false)]], ['002-sw', guestRows(true)]]);
    const html = (await timelineSection(runs, series))!;
    expect(html.match(/<svg/g)).toHaveLength(2);
    expect(html).toContain('resize 1 MiB</text>');
    expect(html).toContain('balloon 1 MiB</text>');
    expect(html).toContain('fluidmem-redis: the guest answered over SSH while the handler held at most 1 MiB (256 pages) per guest.');
    expect(html).toContain('<td>256</td><td>235</td>');
  });

  it('adds the section to the report only when a run has a timeline', async () => {
    const summary = { schema: 'fluidlab.summary/1', runId: 'x', experiment: 'elastic', startedAt: '', finishedAt: '', accelerator: 'tcg', variants: [], runs: [], failed: 0, host: {} } as unknown as Summary;
    const withIt = await buildReportHtml({ summary, runs: [run('001-fm', 'fluidmem-redis', [resize])], series: new Map([['001-fm', handlerRows()]]) });
    expect(withIt).toContain('<section id="timeline"><h2>Over time</h2>');
    const plain = { ...run('001-fm', 'fluidmem-redis', []), timeline: undefined };
    expect(await buildReportHtml({ summary, runs: [plain] })).not.toContain('id="timeline"');
  });
});
