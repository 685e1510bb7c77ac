/**
 * Executes one expanded run: memory arm (store, handler, swap disks), guests (booted
 * paused; FluidMem guests resume only once the handler reports their region attached),
 * the workload over SSH, and the collection of counters. Returns a RunRecord, also when
 * the run fails; the run context tears everything down on every path.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { describeCpus, PLACED, resolvePlacement, type ResolvedPlacement } from '../config/placement.js';
import type { ExperimentConfig } from '../config/schema.js';
import type { MonitorStats } from '../handler/control.js';
import type { Monitor } from '../handler/monitor.js';
import type { HostFacts } from '../host/facts.js';
import type { GuestImage } from '../image/ensure.js';
import { RedisStore } from '../kvstore/redis-client.js';
import { waitFor, WaitAbortedError } from '../process/wait.js';
import { RunContext } from '../run/context.js';
import { RUN_SCHEMA, type RunRecord, type VmResult } from '../results/types.js';
import { launchGuest } from '../vm/launch.js';
import type { MicroVM } from '../vm/microvm.js';
import type { Accelerator } from '../vm/qemu-args.js';
import { residentMiB, type RunSpec } from './expand.js';
import { clusterMetrics, clusterSnapshot } from './cluster-metrics.js';
import { clusterHandlerMetrics, delta, handlerMetrics, readVmstat, vmStatsOf } from './guest-stats.js';
import { placeGuest, placeHandler } from './cpu-placement.js';
import { setUpMemoryArm, type MemoryArm } from './memory-arm.js';
import { guestTarget, runWorkload, type WorkloadOutcome, type WorkloadPhase } from './workload.js';
import { TimelineWindow } from './timeline-window.js';

export type RunPhase = 'start' | 'boot' | 'attach' | WorkloadPhase | 'collect' | 'done';

export interface RunOneOptions {
  runId: string;
  config: ExperimentConfig;
  /** The guest image (absent when every run of the experiment is host-placed). */
  image?: GuestImage;
  accelerator: Accelerator | 'host';
  host: HostFacts;
  /** results/RUN-ID/logs/RUN/ */
  logDir: string;
  onPhase?: (phase: RunPhase) => void;
  onOutput?: (chunk: string) => void;
}

async function waitForAttach(monitor: Monitor, vm: MicroVM, vmId: string, timeoutMs: number): Promise<void> {
  try {
    await waitFor(async () => vmStatsOf(await monitor.control.stats(), vmId), {
      timeoutMs,
      what: `the handler to report VM ${vmId}'s RAM attached (see monitor.log and ${vm.logFile})`,
      abortIf: () => (vm.hasExited ? `VM ${vmId}: QEMU exited before attaching its RAM to the handler\n${vm.serial.tail()}` : undefined),
    });
  } catch (err) {
    throw err instanceof WaitAbortedError ? new Error(err.reason) : err;
  }
}

function armInfo(spec: RunSpec, config: ExperimentConfig): RunRecord['arm'] {
  const a = spec.arm;
  const vm = config.vms[0]!;
  return {
    name: a.name,
    kind: a.kind,
    backend: a.kind === 'fluidmem' ? a.backend : undefined,
    residentMiB: residentMiB(a, vm),
    swapOn: a.kind === 'swap' ? a.swap_on : undefined,
  };
}

/** Copies the run directory's logs into the results (the run context's archive step). */
export function saveLogs(runDir: string, logDir: string): void {
  mkdirSync(logDir, { recursive: true });
  if (!existsSync(runDir)) return;
  for (const f of readdirSync(runDir)) {
    if (f.endsWith('.log')) copyFileSync(join(runDir, f), join(logDir, f));
  }
}

/** The store's INFO and the run's key count (fluidmem + redis arms), for the record. */
export async function redisFacts(store: MemoryArm['store']): Promise<{ info: Record<string, string>; keys: number } | undefined> {
  if (!store) return undefined;
  const client = await RedisStore.connect({ url: store.url, password: store.password });
  try {
    return { info: await client.info(), keys: await client.countKeys(store.keyPrefix) };
  } finally {
    await client.close();
  }
}

/** Runs the workload in every guest at once and collects each guest's counters around
 * it. The handler is shared: its stats are read once before and once after (post-flush). */
async function measureGuests(vms: MicroVM[], arm: MemoryArm, o: RunOneOptions, spec: RunSpec, window?: TimelineWindow): Promise<(VmResult & { outcome: WorkloadOutcome; cluster?: NonNullable<RunRecord['redis']>['cluster'] })[]> {
  const names = spec.vms.map((v) => v.name);
  const vmstatBefore = await Promise.all(vms.map((vm) => readVmstat(vm)));
  const handlerBefore = arm.monitor ? await arm.monitor.control.stats() : undefined;
  const restartsBefore = arm.monitor?.restarts.length ?? 0;
  const clusterBefore = arm.cluster ? await clusterSnapshot(arm.cluster) : undefined;
  window?.start(); // the timeline's t = 0: the workload command starts
  const outcomes = await Promise.all(vms.map(async (vm, i) => {
    const outcome = await runWorkload(guestTarget(vm), o.config.workload, spec.params, {
      timeoutMs: spec.vms[i]!.timeouts.command,
      onOutput: o.onOutput,
      onPhase: i === 0 ? (p) => { window?.mark(p); o.onPhase?.(p); } : undefined,
    });
    writeFileSync(join(o.logDir, `${names[i]}.workload.txt`), outcome.output);
    return outcome;
  }));
  await window?.stop();
  o.onPhase?.('collect');
  const vmstatAfter = await Promise.all(vms.map((vm) => readVmstat(vm)));
  let handlerAfter: MonitorStats | undefined;
  if (arm.monitor) {
    await arm.monitor.settled(); // a crashed monitor being restarted answers once it is back
    await arm.monitor.control.flush();
    handlerAfter = await arm.monitor.control.stats();
  }
  // counters restart with the monitor: then the window is "since the restart" (after only)
  const restarted = (arm.monitor?.restarts.length ?? 0) > restartsBefore;
  const redis = await redisFacts(arm.store);
  const clusterAfter = arm.cluster ? await clusterSnapshot(arm.cluster) : undefined;
  return vms.map((vm, i) => {
    const name = names[i]!;
    const vmstatDelta = delta(vmstatAfter[i]!, vmstatBefore[i]!);
    const hb = restarted ? undefined : handlerBefore && vmStatsOf(handlerBefore, name);
    const ha = handlerAfter && vmStatsOf(handlerAfter, name);
    const metrics: Record<string, number> = {
      ...outcomes[i]!.metrics,
      ...handlerMetrics(hb, ha),
      ...clusterHandlerMetrics(restarted ? undefined : handlerBefore?.cluster, handlerAfter?.cluster),
      ...Object.fromEntries(Object.entries(vmstatDelta).map(([k, v]) => [`guest.vmstat.${k}`, v])),
    };
    if (redis) metrics['redis.keys'] = redis.keys;
    if (clusterAfter) Object.assign(metrics, clusterMetrics(clusterBefore, clusterAfter));
    return {
      name,
      memoryMiB: vm.opts.memoryMiB,
      metrics,
      handler: arm.monitor ? { before: hb, after: ha } : undefined,
      vmstatDelta,
      redisInfo: redis?.info,
      workloadExitCode: outcomes[i]!.exitCode,
      outcome: outcomes[i]!,
      cluster: clusterAfter && { before: clusterBefore, after: clusterAfter },
    };
  });
}

/** Says how the handler died, if it did: the root cause when guests then fail. */
async function monitorDeath(monitor: Monitor): Promise<string | undefined> {
  // A guest can fail a moment before the monitor's exit is seen: give it that moment.
  await waitFor(() => monitor.hasExited, { timeoutMs: 200, intervalMs: 20, what: 'the handler to exit' }).catch(() => undefined);
  await monitor.settled();
  const failedRestart = monitor.restarts.find((r) => !r.ok);
  if (failedRestart) {
    return `fluidmem-monitor (pid ${failedRestart.oldPid}) was ${failedRestart.exit} during the run and could not be restarted ` +
      `(${failedRestart.error}): its guests stop rather than lose memory (see logs/monitor.log)`;
  }
  if (!monitor.hasExited) return undefined;
  const exit = await monitor.exited;
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
  const again = monitor.restarts.length ? ` after ${monitor.restarts.length} restart(s)` : '';
  return `fluidmem-monitor (pid ${monitor.pid}) ${how} during the run${again}: its guests stop rather than lose memory (see logs/monitor.log)`;
}

/** "vcpus 1, emulator 1, monitor 1, store 0" ("float" where unpinned). */
function describePlacement(p: ResolvedPlacement): string {
  return PLACED.map((k) => `${k} ${describeCpus(p[k])}`).join(', ');
}

/** Adds a guest's observed placement; several guests' distinct values are joined by '|'. */
function mergePlacement(into: Record<string, string>, add: Record<string, string>): void {
  for (const [k, v] of Object.entries(add)) into[k] = [...new Set([...(into[k]?.split('|') ?? []), ...v.split('|')])].join('|');
}

export async function runOne(spec: RunSpec, o: RunOneOptions): Promise<RunRecord> {
  const started = Date.now();
  const record: RunRecord = {
    schema: RUN_SCHEMA, runId: o.runId, id: spec.id, experiment: o.config.name, variant: spec.variant,
    arm: armInfo(spec, o.config), repetition: spec.repetition, params: spec.params, status: 'failed',
    startedAt: new Date(started).toISOString(), durationMs: 0, accelerator: o.accelerator, vms: [], metrics: {}, host: o.host,
  };
  mkdirSync(o.logDir, { recursive: true });
  const ctx = new RunContext(`${o.runId}-${spec.index}`, { archive: (runDir) => saveLogs(runDir, o.logDir) });
  let arm: MemoryArm | undefined;
  try {
    if (!o.image || o.accelerator === 'host') throw new Error(`run ${spec.id}: a guest run needs the guest image and an accelerator`);
    const image = o.image;
    const accelerator = o.accelerator;
    o.onPhase?.('start');
    const placement = resolvePlacement(o.config.cpus, spec.arm, cpus().length);
    arm = await setUpMemoryArm(ctx, o.config, spec.arm);
    record.placement = { requested: describePlacement(placement), ...await placeHandler(ctx, arm.monitor, placement) };
    o.onPhase?.('boot');
    const vms: MicroVM[] = [];
    for (const vmConfig of spec.vms) {
      const plan = arm.plan(vmConfig);
      const vm = await launchGuest({ ctx, vm: vmConfig, image, accelerator, ...plan });
      mergePlacement(record.placement, await placeGuest(vm, placement));
      if (arm.monitor) {
        o.onPhase?.('attach');
        await waitForAttach(arm.monitor, vm, vmConfig.name, 15_000);
      }
      await vm.resume();
      vms.push(vm);
    }
    await Promise.all(vms.map((vm) => vm.waitForSsh()));
    const window = await TimelineWindow.open(ctx, { config: o.config, spec, arm, vms, logDir: o.logDir });
    const results = await measureGuests(vms, arm, o, spec, window);
    if (window) record.timeline = await window.stop();
    for (const { outcome, cluster, ...vmResult } of results) record.vms.push(vmResult);
    const first = results[0]!;
    if (first.cluster) record.redis = { cluster: first.cluster };
    record.metrics = first.metrics;
    record.histograms = first.outcome.histograms;
    if (arm.monitor?.restarts.length) {
      record.monitorRestarts = [...arm.monitor.restarts];
      for (const r of [record.metrics, ...record.vms.map((v) => v.metrics)]) r['handler.monitor_restarts'] = arm.monitor.restarts.length;
    }
    const failed = results.find((r) => !r.outcome.ok);
    record.status = failed ? 'failed' : 'ok';
    if (failed) record.error = `${failed.name}: ${failed.outcome.error}`;
  } catch (err) {
    record.status = 'failed';
    const crashed = arm?.monitor ? await monitorDeath(arm.monitor) : undefined;
    record.error = crashed ? `${crashed}; then: ${(err as Error).message}` : (err as Error).message;
  } finally {
    try { await ctx.dispose(); } catch (err) { record.error = `${record.error ? `${record.error}; ` : ''}${(err as Error).message}`; }
    record.durationMs = Date.now() - started;
    o.onPhase?.('done');
  }
  return record;
}
