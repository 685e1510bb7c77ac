/**
 * Preflight: before anything starts, does every run of an experiment fit this host's free
 * memory and disk? Runs execute one after another, so each run is judged on its own, and
 * the message names the run that needs the most of a resource, what in it needs how much,
 * and what is available.
 *
 * What a run needs (estimates on the safe side; sizes in MiB):
 *  - memory: each guest's RAM as the host holds it: all of it (none arms), the resident
 *    limit (fluidmem arms: only resident pages live in QEMU; swap arms: the guest's RAM is
 *    the resident limit); QEMU itself per guest; for fluidmem the evicted rest in the store:
 *    Redis at about 5.2 KB per 4 KiB page, handler DRAM at 4 KiB per page, plus the
 *    handler's 23 bytes of metadata per page; swap files on tmpfs (tmpfs, nbd) and zram
 *    devices at their full size. Host-placed arms count the benchmark's working set the same
 *    way (its mapping is what the handler or the cgroup limits). The host keeps
 *    HOST_HEADROOM_MIB of MemAvailable for itself.
 *  - /dev/shm: tmpfs-backed swap files (they count against memory too).
 *  - /var/tmp: swap files on disk.
 *  - results dir: logs and records, RESULTS_PER_RUN_MIB per run (summed over all runs).
 * /var/tmp and the results dir on one filesystem are summed.
 *
 * `checkPreflight` is pure (config + host facts); `readHostCapacity` is the I/O wrapper.
 */
import { readFileSync, statfsSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { armHostName, controlHostName } from '../config/hosts.js';
import { resolvePlacement } from '../config/placement.js';
import type { ExperimentConfig } from '../config/schema.js';
import { formatMiB } from '../config/geometry.js';
import { expandRuns, guestMemoryMiB, hostResidentMiB, residentMiB, workingSetMiB, type RunSpec } from './expand.js';

/** QEMU's own memory per guest beyond guest RAM (TCG translation cache, devices). */
export const QEMU_OVERHEAD_MIB = 192;
/** Redis stores a 4 KiB page in about 5.2 KB (key, value, dict entry, allocator slack). */
export const REDIS_BYTES_PER_PAGE = 5200;
/** fluidmem-monitor's metadata per tracked page (see ARCHITECTURE: ~21-23 bytes measured). */
export const HANDLER_BYTES_PER_PAGE = 23;
/** An empty embedded redis-server, a fluidmem-monitor, a qemu-storage-daemon. */
export const SERVICE_MIB = 16;
/** MemAvailable the host keeps for itself (the orchestrator, the kernel, other users). */
export const HOST_HEADROOM_MIB = 256;
/** Results written per run (records, serial and workload logs). */
export const RESULTS_PER_RUN_MIB = 16;

const PAGE_BYTES = 4096;
const MIB = 2 ** 20;

export type Resource = 'memory' | 'shm' | 'vartmp' | 'results';

export interface Need {
  resource: Resource;
  what: string;
  mib: number;
}

export interface DiskSpace {
  path: string;
  freeMiB: number;
  /** Device id (stat st_dev): two paths with the same id share their free space. */
  dev: number;
}

export interface HostCapacity {
  memAvailableMiB: number;
  shm: DiskSpace;
  vartmp: DiskSpace;
  results: DiskSpace;
  /** CPUs of the host, for the runs' cpus: placement (unchecked when absent). */
  cpus?: number;
}

export interface PreflightResult {
  ok: boolean;
  /** One line per resource that does not fit: who needs what, and what is available. */
  problems: string[];
  /** One line per resource: the largest need and what is available. */
  summary: string[];
}

const STORE_WHAT = (backend: 'redis' | 'dram', evictedMiB: number) => backend === 'redis'
  ? `Redis store of ${formatMiB(evictedMiB)} evicted at ~${(REDIS_BYTES_PER_PAGE / 1000).toFixed(1)} KB per 4 KiB page`
  : `handler DRAM store of ${formatMiB(evictedMiB)} evicted`;

function storeNeeds(backend: 'redis' | 'dram', totalMiB: number, residentLimit: number, who: string): Need[] {
  const evicted = Math.max(0, totalMiB - residentLimit);
  const perPage = backend === 'redis' ? REDIS_BYTES_PER_PAGE : PAGE_BYTES;
  const pages = evicted * (MIB / PAGE_BYTES);
  const needs: Need[] = [
    { resource: 'memory', what: `${who}: ${STORE_WHAT(backend, evicted)}`, mib: (pages * perPage) / MIB },
    { resource: 'memory', what: `${who}: handler metadata`, mib: (totalMiB * (MIB / PAGE_BYTES) * HANDLER_BYTES_PER_PAGE) / MIB },
  ];
  return needs;
}

function swapFileNeeds(on: string, sizeMiB: number, who: string): Need[] {
  if (on === 'tmpfs' || on === 'nbd') {
    const what = `${who}: swap file on /dev/shm${on === 'nbd' ? ' (NBD export)' : ''}`;
    return [{ resource: 'memory', what, mib: sizeMiB }, { resource: 'shm', what, mib: sizeMiB }];
  }
  if (on === 'zram') return [{ resource: 'memory', what: `${who}: zram swap device (uncompressed bound)`, mib: sizeMiB }];
  return [{ resource: 'vartmp', what: `${who}: swap file on /var/tmp`, mib: sizeMiB }];
}

/** An embedded Redis Cluster (arm store:) keeps each evicted page on its master and on
 * `replicas` replicas, and runs masters x (1 + replicas) servers where one Redis runs one. */
function embeddedClusterNeeds(store: { masters: number; replicas: number }, needs: Need[]): Need[] {
  const stored = needs.filter((n) => n.what.includes('Redis store of')).reduce((sum, n) => sum + n.mib, 0);
  const servers = store.masters * (1 + store.replicas);
  return [
    { resource: 'memory', what: `Redis Cluster: ${store.replicas} replica cop${store.replicas === 1 ? 'y' : 'ies'} of the evicted pages`, mib: stored * store.replicas },
    { resource: 'memory', what: `Redis Cluster: ${servers - 1} more redis-server processes`, mib: SERVICE_MIB * (servers - 1) },
  ];
}

/** What one run needs of each resource (pure). */
export function runNeeds(run: RunSpec): Need[] {
  const needs = runNeedsOneStore(run);
  const store = run.arm.kind === 'fluidmem' && run.arm.backend === 'redis' ? run.arm.store : undefined;
  return store?.embedded ? [...needs, ...embeddedClusterNeeds(store, needs)] : needs;
}

function runNeedsOneStore(run: RunSpec): Need[] {
  const arm = run.arm;
  const needs: Need[] = [];
  if (arm.placement === 'host') {
    const ws = workingSetMiB(run.params);
    if (ws === undefined) return needs;
    const who = `host benchmark (${formatMiB(ws)} working set)`;
    if (arm.kind === 'none') return [{ resource: 'memory', what: `${who}: all in DRAM`, mib: ws }];
    const resident = hostResidentMiB(arm, run.params) ?? ws;
    needs.push({ resource: 'memory', what: `${who}: resident limit`, mib: Math.min(resident, ws) });
    if (arm.kind === 'fluidmem') {
      needs.push(...storeNeeds(arm.backend, ws, resident, who));
      needs.push({ resource: 'memory', what: 'handler and store processes', mib: SERVICE_MIB * (arm.backend === 'redis' ? 2 : 1) });
    } else {
      needs.push(...swapFileNeeds(arm.swap_on, arm.swap_size ?? ws, who));
    }
    return needs;
  }
  for (const vm of run.vms) {
    const who = `guest ${vm.name}`;
    needs.push({ resource: 'memory', what: `${who}: QEMU itself`, mib: QEMU_OVERHEAD_MIB });
    if (arm.kind === 'none') {
      needs.push({ resource: 'memory', what: `${who}: RAM`, mib: vm.memory });
    } else if (arm.kind === 'fluidmem') {
      const resident = Math.min(residentMiB(arm, vm)!, vm.memory);
      needs.push({ resource: 'memory', what: `${who}: resident pages of its ${formatMiB(vm.memory)} RAM`, mib: resident });
      needs.push(...storeNeeds(arm.backend, vm.memory, resident, who));
    } else {
      needs.push({ resource: 'memory', what: `${who}: RAM (the resident limit)`, mib: guestMemoryMiB(arm, vm) });
      needs.push(...swapFileNeeds(arm.swap_on, arm.swap_size ?? vm.memory, who));
    }
  }
  if (arm.kind === 'fluidmem') needs.push({ resource: 'memory', what: 'handler and store processes', mib: SERVICE_MIB * (arm.backend === 'redis' ? 2 : 1) });
  if (arm.kind === 'swap' && arm.swap_on === 'nbd') needs.push({ resource: 'memory', what: 'qemu-storage-daemon', mib: SERVICE_MIB });
  return needs;
}

const sum = (needs: Need[]) => needs.reduce((n, x) => n + x.mib, 0);

/** Adds up needs of the same kind ("guest vm0: RAM" twice stays one line). */
function itemize(needs: Need[]): string {
  const byWhat = new Map<string, number>();
  for (const n of needs) byWhat.set(n.what, (byWhat.get(n.what) ?? 0) + n.mib);
  return [...byWhat].filter(([, mib]) => mib > 0).map(([what, mib]) => `${what} ${formatMiB(mib)}`).join('; ');
}

interface Worst { runId: string; needs: Need[]; mib: number }

/** The run that needs the most of `resource`. */
function worst(perRun: { run: RunSpec; needs: Need[] }[], resource: Resource): Worst | undefined {
  let best: Worst | undefined;
  for (const { run, needs } of perRun) {
    const mine = needs.filter((n) => n.resource === resource);
    const mib = sum(mine);
    if (mib > 0 && (!best || mib > best.mib)) best = { runId: run.id, needs: mine, mib };
  }
  return best;
}

/** Judges every run of `config` against the host (pure). */
export function checkPreflight(config: ExperimentConfig, host: HostCapacity): PreflightResult {
  // Runs on SSH lab hosts (hosts:) need that host's memory, not this one's.
  const here = controlHostName(config.hosts);
  const runs = expandRuns(config).filter((r) => armHostName(r.arm, config.hosts) === here);
  const perRun = runs.map((run) => ({ run, needs: runNeeds(run) }));
  const problems: string[] = [];
  const summary: string[] = [];

  const memory = worst(perRun, 'memory');
  const usable = Math.max(0, host.memAvailableMiB - HOST_HEADROOM_MIB);
  if (memory) {
    const line = `memory: run ${memory.runId} needs ${formatMiB(memory.mib)} (${itemize(memory.needs)}); available: ${formatMiB(usable)} (MemAvailable ${formatMiB(host.memAvailableMiB)} less ${HOST_HEADROOM_MIB} MiB for the host)`;
    summary.push(line);
    if (memory.mib > usable) problems.push(line);
  }
  const shm = worst(perRun, 'shm');
  if (shm) {
    const line = `${host.shm.path}: run ${shm.runId} needs ${formatMiB(shm.mib)} (${itemize(shm.needs)}); free there: ${formatMiB(host.shm.freeMiB)}`;
    summary.push(line);
    if (shm.mib > host.shm.freeMiB) problems.push(line);
  }
  // Disk: swap files of the largest run plus the results of all runs, per filesystem.
  const vartmp = worst(perRun, 'vartmp');
  const resultsMiB = runs.length * RESULTS_PER_RUN_MIB;
  const resultsWhat = `results of ${runs.length} run(s) at ~${RESULTS_PER_RUN_MIB} MiB each ${formatMiB(resultsMiB)}`;
  const disks: { space: DiskSpace; parts: string[]; mib: number; runId?: string }[] = [];
  const onDisk = (space: DiskSpace, part: string, mib: number, runId?: string) => {
    const d = disks.find((x) => x.space.dev === space.dev);
    if (d) { d.parts.push(part); d.mib += mib; d.runId ??= runId; } else disks.push({ space, parts: [part], mib, runId });
  };
  if (vartmp) onDisk(host.vartmp, `run ${vartmp.runId}: ${itemize(vartmp.needs)}`, vartmp.mib, vartmp.runId);
  onDisk(host.results, `${resultsWhat} under ${host.results.path}`, resultsMiB);
  for (const d of disks) {
    const line = `disk ${d.space.path}${d.space.path !== host.results.path && d.space.dev === host.results.dev ? ` (with ${host.results.path})` : ''}: needs ${formatMiB(d.mib)} (${d.parts.join('; ')}); free there: ${formatMiB(d.space.freeMiB)}`;
    summary.push(line);
    if (d.mib > d.space.freeMiB) problems.push(line);
  }
  if (host.cpus !== undefined) problems.push(...placementProblems(config, host.cpus));
  return { ok: problems.length === 0, problems, summary };
}

/** cpus: (top level and per guest arm) naming CPUs this host does not have. */
function placementProblems(config: ExperimentConfig, ncpus: number): string[] {
  const out = new Set<string>();
  const here = controlHostName(config.hosts);
  for (const arm of config.arms) {
    if (arm.placement === 'host' || armHostName(arm, config.hosts) !== here) continue;
    try {
      resolvePlacement(config.cpus, arm, ncpus);
    } catch (err) {
      out.add(`cpu placement: ${(err as Error).message}`);
    }
  }
  return [...out];
}

/** The host facts preflight reads; injectable for tests. */
export interface PreflightIO {
  meminfo(): string;
  statfs(path: string): { bavail: number; bsize: number };
  dev(path: string): number;
  /** The host's CPU count (default: os.cpus()). */
  cpus?(): number;
}

export const realIO: PreflightIO = {
  meminfo: () => readFileSync('/proc/meminfo', 'utf8'),
  statfs: (path) => statfsSync(path),
  dev: (path) => statSync(path).dev,
};

/** MemAvailable in MiB from /proc/meminfo text. */
export function memAvailableMiB(meminfo: string): number {
  const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(meminfo);
  if (!m) throw new Error('/proc/meminfo has no MemAvailable line (Linux >= 3.14 needed)');
  return Number(m[1]) / 1024;
}

/** The nearest existing directory at or above `path` (a results dir may not exist yet). */
function existingAncestor(path: string, io: PreflightIO): string {
  let p = resolve(path);
  for (;;) {
    try { io.dev(p); return p; } catch { /* go up */ }
    const up = dirname(p);
    if (up === p) return p;
    p = up;
  }
}

function space(path: string, io: PreflightIO): DiskSpace {
  const at = existingAncestor(path, io);
  const s = io.statfs(at);
  return { path, freeMiB: (s.bavail * s.bsize) / MIB, dev: io.dev(at) };
}

/** Reads MemAvailable and the free space of /dev/shm, /var/tmp and `resultsDir`. */
export function readHostCapacity(resultsDir: string, io: PreflightIO = realIO): HostCapacity {
  return {
    memAvailableMiB: memAvailableMiB(io.meminfo()),
    shm: space('/dev/shm', io),
    vartmp: space('/var/tmp', io),
    results: space(resolve(resultsDir), io),
    cpus: io.cpus?.() ?? cpus().length,
  };
}

/** Reads the host and judges the experiment: what `up` and `doctor CONFIG` run first. */
export function preflight(config: ExperimentConfig, resultsDir: string, io: PreflightIO = realIO): PreflightResult {
  return checkPreflight(config, readHostCapacity(resultsDir, io));
}
