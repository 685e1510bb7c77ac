/**
 * The timeline window of one guest run: from the workload command's start to its end,
 * the config's timeline actions fire on their schedule (timeline/schedule.ts,
 * timeline/actions.ts) while samplers record the handler's counters every 100 ms and each
 * guest's /proc/meminfo, /proc/vmstat and balloon size every second. stop() writes the
 * series next to the run JSON (results/series.ts) and returns the TimelineRecord for the
 * run. Only configs with a `timeline:` open a window (sampling over SSH perturbs the
 * guest a little; experiments without a timeline stay as they were). The window's own
 * connections (control socket, Redis) are owned by the run context, so every exit path
 * closes them.
 */
import { armsOfAction, timelineArms, type TimelineAction } from '../config/timeline.js';
import type { ExperimentConfig } from '../config/schema.js';
import { MonitorControl, type VmStats } from '../handler/control.js';
import type { RunContext } from '../run/context.js';
import { seriesFileFor, writeSeries, type ActionRecord, type HandlerSample, type SeriesRow, type TimelineRecord } from '../results/series.js';
import { runAction, resizePages, PAGES_PER_MIB } from '../timeline/actions.js';
import { GUEST_SAMPLE_ARGV, parseGuestSample } from '../timeline/guest-sample.js';
import { Sampler } from '../timeline/sampler.js';
import { Schedule } from '../timeline/schedule.js';
import type { MicroVM } from '../vm/microvm.js';
import type { RunSpec } from './expand.js';
import { histogramDelta, histogramQuantile } from './guest-stats.js';
import type { MemoryArm } from './memory-arm.js';

export const HANDLER_INTERVAL_MS = 100;
export const GUEST_INTERVAL_MS = 1000;

/** One handler sample of a VM: counters now, rates and latency quantiles of the interval
 * since `prev` (the first sample has no interval: rates 0, quantiles of all faults). */
export function handlerRow(vm: string, capacity: number, cur: VmStats, prev: VmStats | undefined, tMs: number, dtMs: number): HandlerSample {
  const per = (k: 'faults' | 'remote_fetches' | 'evictions') => (prev && dtMs > 0 ? ((cur[k] - prev[k]) * 1000) / dtMs : 0);
  const window = histogramDelta(cur.fault_latency_ns.histogram, prev?.fault_latency_ns.histogram);
  return {
    type: 'handler', t_ms: Math.round(tMs), vm, capacity_pages: capacity,
    resident_pages: cur.resident_pages, resident_mib: +(cur.resident_pages / PAGES_PER_MIB).toFixed(3),
    faults: cur.faults, remote_fetches: cur.remote_fetches, evictions: cur.evictions,
    fault_rate: Math.round(per('faults')), fetch_rate: Math.round(per('remote_fetches')), eviction_rate: Math.round(per('evictions')),
    p50_ns: histogramQuantile(window, 0.5), p99_ns: histogramQuantile(window, 0.99),
  };
}

/** Whether an exec answered while the handler held at most 1 MiB (256 pages) per guest:
 * true if one did, false if execs ran there and none answered, undefined if none ran. */
export function answeredAt1MiB(actions: ActionRecord[], guests: number): boolean | undefined {
  const there = actions.flatMap((a) => a.answers ?? []).filter((x) => x.capacity_pages !== undefined && x.capacity_pages <= PAGES_PER_MIB * guests);
  if (there.length === 0) return undefined;
  return there.some((x) => x.code === 0);
}

export class TimelineWindow {
  private readonly rows: SeriesRow[] = [];
  private schedule: Schedule<TimelineAction, Awaited<ReturnType<typeof runAction>>> | undefined;
  private samplers: Sampler[] = [];
  private t0 = 0;
  private t0Wall = '';
  private stopping: Promise<TimelineRecord> | undefined;

  private constructor(
    private readonly actions: TimelineAction[],
    private readonly vms: MicroVM[],
    private readonly arm: MemoryArm,
    private readonly logDir: string,
    private readonly control: MonitorControl | undefined,
    private readonly sampleControl: MonitorControl | undefined,
  ) {}

  /** A window for this run, or undefined when the config has no timeline. Opens the
   * control connections now (before the workload), owned by `ctx`. */
  static async open(ctx: RunContext, o: { config: ExperimentConfig; spec: RunSpec; arm: MemoryArm; vms: MicroVM[]; logDir: string }): Promise<TimelineWindow | undefined> {
    if (o.config.timeline.length === 0) return undefined;
    const arms = timelineArms(o.config.arms, o.config.vms);
    const actions = o.config.timeline.filter((a) => armsOfAction(a, arms).some((x) => x.name === o.spec.arm.name));
    let control: MonitorControl | undefined;
    let sampleControl: MonitorControl | undefined;
    if (o.arm.monitor) {
      const path = o.arm.monitor.control.path;
      control = await MonitorControl.connect(path);
      ctx.own({ dispose: async () => control?.close() });
      sampleControl = await MonitorControl.connect(path);
      ctx.own({ dispose: async () => sampleControl?.close() });
    }
    const w = new TimelineWindow(actions, o.vms, o.arm, o.logDir, control, sampleControl);
    ctx.own({ dispose: async () => { await w.stop().catch(() => undefined); } });
    return w;
  }

  private get elapsed(): number {
    return performance.now() - this.t0;
  }

  /** t = 0: the workload command starts now. Arms the actions and the samplers. */
  start(): void {
    this.t0 = performance.now();
    this.t0Wall = new Date().toISOString();
    const guests = this.vms.length;
    const targets = { guests: this.vms, control: this.control, store: this.arm.store ? { url: this.arm.store.url, password: this.arm.store.password } : undefined };
    this.schedule = Schedule.start({
      actions: this.actions, t0: this.t0,
      fire: (a, _i, _firedMs, signal) => runAction(a, targets, signal),
      onFire: (i, firedMs) => {
        const a = this.actions[i]!;
        this.rows.push({ type: 'action', t_ms: Math.round(firedMs), index: i, kind: a.kind, at_ms: a.atMs, fired_ms: Math.round(firedMs), ok: true, ...(a.kind === 'resize' || a.kind === 'balloon' ? { target_mib: a.mib } : {}), ...(a.kind === 'resize' ? { target_pages: resizePages(a.mib, guests) } : {}) });
      },
    });
    if (this.sampleControl) {
      const control = this.sampleControl;
      const prev = new Map<string, { stats: VmStats; t: number }>();
      this.samplers.push(Sampler.start({
        intervalMs: HANDLER_INTERVAL_MS, t0: this.t0,
        sample: async () => {
          const s = await control.stats();
          const t = this.elapsed;
          for (const v of s.vms) {
            const p = prev.get(v.id);
            this.rows.push(handlerRow(v.id, s.capacity, v, p?.stats, t, p ? t - p.t : 0));
            prev.set(v.id, { stats: v, t });
          }
        },
      }));
    }
    this.samplers.push(Sampler.start({
      intervalMs: GUEST_INTERVAL_MS, t0: this.t0,
      sample: async () => {
        await Promise.all(this.vms.map(async (vm) => {
          const t = this.elapsed;
          const r = await vm.exec(GUEST_SAMPLE_ARGV, { timeoutMs: 30_000 });
          const row = parseGuestSample(r.stdout, vm.opts.name, t, this.elapsed - t);
          const b = await vm.qmp.execute('query-balloon').catch(() => undefined);
          if (b) row.balloon_mib = +(b.actual / 2 ** 20).toFixed(2);
          this.rows.push(row);
        }));
      },
    }));
  }

  /** A workload phase (pmbench's warm-up and run), on the window's clock. */
  mark(phase: string): void {
    if (this.schedule) this.rows.push({ type: 'phase', t_ms: Math.round(this.elapsed), phase });
  }

  /** Ends the window (idempotent): samplers stop, actions still waiting are told so,
   * the series is written next to the run JSON. */
  stop(): Promise<TimelineRecord> {
    this.stopping ??= this.finish();
    return this.stopping;
  }

  private async finish(): Promise<TimelineRecord> {
    const counts = await Promise.all(this.samplers.map((s) => s.stop()));
    const fired = this.schedule ? await this.schedule.stop() : [];
    const guests = this.vms.length;
    const actions: ActionRecord[] = this.actions.map((a, i) => {
      const f = fired[i];
      const base: ActionRecord = {
        index: i, kind: a.kind, at_ms: a.atMs, ok: false,
        ...(a.kind === 'resize' || a.kind === 'balloon' ? { target_mib: a.mib } : {}),
        ...(a.kind === 'resize' ? { target_pages: resizePages(a.mib, guests) } : {}),
      };
      if (!f || f.firedMs === undefined) return { ...base, error: 'not fired: the workload ended first' };
      return { ...base, fired_ms: Math.round(f.firedMs), ...(f.result ?? { ok: false, error: f.error }) };
    });
    // the action rows of the series carry the outcome too
    for (const row of this.rows) {
      if (row.type === 'action') Object.assign(row, actions[row.index]);
    }
    const file = seriesFileFor(this.logDir);
    writeSeries(file, this.rows);
    const handlerRows = this.rows.filter((r) => r.type === 'handler').length;
    const at1 = answeredAt1MiB(actions, guests);
    return {
      t0: this.t0Wall,
      series: file.split('/').pop()!,
      actions,
      samples: {
        handler: handlerRows, guest: this.rows.filter((r) => r.type === 'guest').length,
        handler_interval_ms: HANDLER_INTERVAL_MS, guest_interval_ms: GUEST_INTERVAL_MS,
        skipped: counts.reduce((n, c) => n + c.skipped, 0),
      },
      ...(at1 === undefined ? {} : { answered_at_1mib: at1 }),
      workload_progress: 'phases only',
    };
  }
}
