/**
 * Executes one host-placed run: the same benchmark as in guests, run natively, so that
 * FluidMem's handler and the kernel's swap path are compared without emulation (FluidMem's
 * own evaluation ran pmbench this way, its working set allocated from the handler).
 *  - fluidmem: store + fluidmem-monitor with capacity = the resident limit; the benchmark
 *    runs with the attach library (FLUIDMEM_CAPTURE=anon: its working-set mapping, not
 *    QEMU's RAM, is registered with userfaultfd and served by the monitor).
 *  - swap: a swap device made for the run (zram | loop over /dev/shm | loop over /var/tmp)
 *    and a memory cgroup limited to the resident limit; the benchmark runs inside it.
 *  - none: the benchmark alone, all in DRAM.
 * Benchmark, handler and Redis share one CPU unless the config says otherwise (host.cpu);
 * the record says where each ran. Every host change is leased and undone by the run
 * context on every exit path (see host/host-changes.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { ArmConfig, ExperimentConfig } from '../config/schema.js';
import { createMemoryCgroup, type MemoryCgroup } from '../host/memory-cgroup.js';
import { cgroupOomKills, startOomGuard, type GuardReport, type OomGuard } from '../host/oom-guard.js';
import { checkHostSwapPossible } from '../host/preconditions.js';
import { createHostSwap, type HostSwap } from '../host/swap-device.js';
import type { Counters } from '../handler/control.js';
import { attachEnv } from '../handler/monitor.js';
import { ClusterKeySampler, clusterMetrics, clusterSnapshot } from './cluster-metrics.js';
import { pinCpus } from '../process/affinity.js';
import { storePids } from './cpu-placement.js';
import { RunContext } from '../run/context.js';
import { RUN_SCHEMA, type RunRecord, type VmResult } from '../results/types.js';
import { hostResidentMiB, workingSetMiB, type RunSpec } from './expand.js';
import { clusterHandlerMetrics, delta, handlerMetrics, parseVmstat } from './guest-stats.js';
import { hostTarget } from './host-target.js';
import { PAGES_PER_MIB, startHandler, type Handler } from './memory-arm.js';
import { redisFacts, saveLogs, type RunOneOptions } from './run-one.js';
import { runWorkload } from './workload.js';

/** The id the host benchmark's region carries in the handler (its key namespace). */
export const HOST_VM_ID = 'host';

/** The host's /proc/vmstat counters that say how much swapping happened. */
export function hostVmstat(): Record<string, number> {
  return parseVmstat(readFileSync('/proc/vmstat', 'utf8'));
}

/** The CPU the config asks host runs to share: 'last' = the highest-numbered CPU. */
export function hostCpu(config: ExperimentConfig): number | undefined {
  const c = config.host.cpu;
  if (c === 'none') return undefined;
  const n = cpus().length;
  if (c === 'last') return n - 1;
  if (c >= n) throw new Error(`host.cpu: ${c} is not a CPU of this host (it has ${n}: 0-${n - 1})`);
  return c;
}

/** Pins every thread of a running process to `cpu`. */
function pin(pid: number, cpu: number): Promise<void> {
  return pinCpus(pid, [cpu], { allThreads: true });
}

interface HostMemory {
  env?: Record<string, string>;
  cgroup?: MemoryCgroup;
  swap?: HostSwap;
  /** Rescues the cgroup's OOM stalls while the benchmark runs (host/oom-guard.ts). */
  guard?: OomGuard;
  handler?: Handler;
  /** Where each process ran, for the record. */
  placement: Record<string, string>;
}

async function setUpHostMemory(ctx: RunContext, config: ExperimentConfig, arm: ArmConfig, spec: RunSpec, cpu: number | undefined): Promise<HostMemory> {
  const ws = workingSetMiB(spec.params);
  const resident = hostResidentMiB(arm, spec.params);
  const where = cpu === undefined ? 'unpinned' : `cpu ${cpu}`;
  if (arm.kind === 'fluidmem') {
    if (ws === undefined || resident === undefined) throw new Error(`arm ${arm.name}: a host-placed fluidmem arm needs a pmbench or memverify workload (its mapping is what the handler serves)`);
    const handler = await startHandler(ctx, config, arm.backend, resident * PAGES_PER_MIB, arm.store);
    const placement: Record<string, string> = { workload: where, monitor: where };
    // a restarted monitor (memory-arm.ts startHandler) starts where the first one runs
    if (cpu !== undefined) await handler.monitor.pinTo([cpu]);
    // the embedded Redis, or every node of an embedded cluster
    const store = storePids(ctx);
    if (store.length) {
      if (cpu !== undefined) for (const pid of store) await pin(pid, cpu);
      placement.redis = store.length > 1 ? `${where} (all ${store.length} cluster nodes)` : where;
    }
    const env = attachEnv({ socketPath: handler.socketPath, regionBytes: ws * 2 ** 20, vmId: HOST_VM_ID, capture: 'anon' });
    return { env, handler, placement };
  }
  if (arm.kind === 'swap') {
    if (resident === undefined) throw new Error(`arm ${arm.name}: cannot tell the resident limit (a percentage needs a working set)`);
    const kind = arm.swap_on;
    if (kind !== 'zram' && kind !== 'tmpfs' && kind !== 'disk') throw new Error(`arm ${arm.name}: swap_on: ${kind} is a guest arm (this kernel has no NBD client for host swap)`);
    // Room for every evicted page plus slack: the swap allocator hands out 2 MiB clusters
    // per CPU, and a device sized to the byte can fill up before the cgroup's pages fit.
    const swapMiB = arm.swap_size ?? (ws !== undefined ? ws + Math.max(64, Math.ceil(ws / 10)) : resident * 4);
    const priority = config.host.swap_priority;
    checkHostSwapPossible(kind, swapMiB, resident, { priority });
    const swap = await createHostSwap(ctx, kind, swapMiB, { priority });
    const cgroup = await createMemoryCgroup(ctx, 'bench', resident);
    const guard = await startOomGuard(ctx, cgroup);
    const placement: Record<string, string> = { workload: where, swap: kind === 'zram' ? 'zram: in the faulting thread' : 'loop: kernel loop worker threads (unpinned)' };
    if (guard) placement['oom-guard'] = 'unpinned (reads the cgroup 10 times a second; more during an OOM stall)';
    return { cgroup, swap, guard, placement };
  }
  return { placement: { workload: where } };
}

/** Host-side metrics of the run: host vmstat deltas, handler counters (fluidmem), the
 * cgroup's and the swap device's own figures (swap). */
function hostMetrics(mem: HostMemory, vmstatDelta: Record<string, number>, handler: Counters | undefined, guard: GuardReport | undefined): Record<string, number> {
  const m: Record<string, number> = {};
  for (const [k, v] of Object.entries(vmstatDelta)) m[`host.vmstat.${k}`] = v;
  if (mem.handler) Object.assign(m, handlerMetrics(undefined, handler));
  if (mem.cgroup) {
    const st = mem.cgroup.stat();
    for (const k of ['swap', 'max_usage_in_bytes', 'memsw.max_usage_in_bytes', 'failcnt', 'pgmajfault', 'pswpin', 'pswpout']) {
      if (st[k] !== undefined) m[`cgroup.${k}`] = st[k]!;
    }
    const kills = cgroupOomKills(mem.cgroup);
    if (kills !== undefined) m['cgroup.oom_kills'] = kills;
    if (guard) {
      m['cgroup.oom_stalls'] = guard.stalls;
      m['cgroup.oom_rescues'] = guard.rescues;
      m['cgroup.oom_guard_gave_up'] = guard.gaveUp ? 1 : 0;
      m['cgroup.oom_guard_failed'] = guard.failed ? 1 : 0;
    }
  }
  if (mem.swap) for (const [k, v] of Object.entries(mem.swap.stats())) m[`swap.${mem.swap.kind}.${k}`] = v;
  return m;
}

/** Why a swap arm's benchmark died, when its cgroup's OOM killer did it (else ''). */
function oomCause(metrics: Record<string, number>, guard: GuardReport | undefined): string {
  const kills = metrics['cgroup.oom_kills'];
  const guardSays = [guard?.gaveUp && `the OOM guard ${guard.gaveUp}`, guard?.failed && `the OOM guard died: ${guard.failed}`].filter(Boolean).join('; ');
  if (!kills) return guardSays ? `; ${guardSays}` : '';
  return `; the memory cgroup's OOM killer killed it (oom_kill ${kills}${guardSays ? `; ${guardSays}` : ''})`;
}

/** Runs `spec` (a host-placed arm) and returns its record, also when it fails; the run
 * context undoes every process and host change on every path. */
export async function runOnHost(spec: RunSpec, o: RunOneOptions): Promise<RunRecord> {
  const started = Date.now();
  const arm = spec.arm;
  const record: RunRecord = {
    schema: RUN_SCHEMA, runId: o.runId, id: spec.id, experiment: o.config.name, variant: spec.variant,
    arm: {
      name: arm.name, kind: arm.kind, placement: 'host',
      backend: arm.kind === 'fluidmem' ? arm.backend : undefined,
      residentMiB: hostResidentMiB(arm, spec.params),
      swapOn: arm.kind === 'swap' ? arm.swap_on : undefined,
    },
    repetition: spec.repetition, params: spec.params, status: 'failed',
    startedAt: new Date(started).toISOString(), durationMs: 0, accelerator: 'host (native)', vms: [], metrics: {}, host: o.host,
  };
  mkdirSync(o.logDir, { recursive: true });
  const ctx = new RunContext(`${o.runId}-${spec.index}`, { archive: (runDir) => saveLogs(runDir, o.logDir) });
  try {
    o.onPhase?.('start');
    const cpu = hostCpu(o.config);
    const mem = await setUpHostMemory(ctx, o.config, arm, spec, cpu);
    record.placement = mem.placement;
    const target = hostTarget({ ctx, env: mem.env, cgroupDir: mem.cgroup?.dir, cpu });
    const vmstatBefore = hostVmstat();
    const cluster = mem.handler?.cluster;
    const clusterBefore = cluster ? await clusterSnapshot(cluster) : undefined;
    const sampler = cluster && new ClusterKeySampler(cluster);
    sampler?.start();
    let outcome: Awaited<ReturnType<typeof runWorkload>>;
    let clusterPeak: Awaited<ReturnType<ClusterKeySampler['stop']>>;
    try {
      outcome = await runWorkload(target, o.config.workload, spec.params, {
        timeoutMs: o.config.host.timeout, onOutput: o.onOutput, onPhase: o.onPhase,
      });
    } finally {
      clusterPeak = await sampler?.stop(); // on every path (it never throws)
    }
    const guard = await mem.guard?.stop(); // the benchmark is gone: the OOM killer back on
    writeFileSync(join(o.logDir, `${HOST_VM_ID}.workload.txt`), outcome.output);
    o.onPhase?.('collect');
    const vmstatAfter = hostVmstat();
    // The benchmark has exited, so its region is detached: the monitor's totals (it served
    // only this process) keep its counters.
    let ha: Counters | undefined;
    let clusterCounters: Record<string, number> = {};
    if (mem.handler) {
      await mem.handler.monitor.settled(); // being restarted after a crash: wait for it
      await mem.handler.monitor.control.flush();
      const stats = await mem.handler.monitor.control.stats();
      ha = stats.total;
      clusterCounters = clusterHandlerMetrics(undefined, stats.cluster);
    }
    const redis = await redisFacts(mem.handler?.store);
    // The region attaches when the benchmark maps it, so the handler's window is the
    // benchmark's whole life (its warm-up included), not the measured phase alone.
    const metrics: Record<string, number> = {
      ...outcome.metrics,
      ...hostMetrics(mem, delta(vmstatAfter, vmstatBefore), ha, guard),
      ...clusterCounters,
    };
    if (redis) metrics['redis.keys'] = redis.keys;
    const restarts = mem.handler?.monitor.restarts ?? [];
    if (restarts.length) {
      // the handler's counters are the restarted monitor's (since its restart)
      metrics['handler.monitor_restarts'] = restarts.length;
      record.monitorRestarts = [...restarts];
    }
    if (cluster) {
      const clusterAfter = await clusterSnapshot(cluster);
      Object.assign(metrics, clusterMetrics(clusterBefore, clusterAfter, clusterPeak));
      record.redis = { cluster: { before: clusterBefore, after: clusterAfter, peak: clusterPeak } };
    }
    const vm: VmResult = {
      name: HOST_VM_ID, memoryMiB: record.arm.residentMiB ?? workingSetMiB(spec.params) ?? 0, metrics,
      handler: mem.handler ? { before: undefined, after: ha } : undefined,
      vmstatDelta: delta(vmstatAfter, vmstatBefore), redisInfo: redis?.info, workloadExitCode: outcome.exitCode,
    };
    record.vms.push(vm);
    record.metrics = metrics;
    record.histograms = outcome.histograms;
    record.status = outcome.ok ? 'ok' : 'failed';
    if (!outcome.ok) record.error = `host: ${outcome.error}${oomCause(metrics, guard)}`;
  } catch (err) {
    record.status = 'failed';
    record.error = (err as Error).message;
  } finally {
    try { await ctx.dispose(); } catch (err) { record.error = `${record.error ? `${record.error}; ` : ''}${(err as Error).message}`; }
    record.durationMs = Date.now() - started;
    o.onPhase?.('done');
  }
  return record;
}
