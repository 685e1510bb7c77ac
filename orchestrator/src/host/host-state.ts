/**
 * Read-only views of host state that host changes touch: /proc/swaps, attached loop
 * devices, zram devices, the cgroups of the fluidlab namespace, and keyed /proc counters
 * (vmstat, meminfo, memory.stat). Used by preconditions, by stats, and by tests that check
 * a run leaves the host as it found it. Nothing here writes (note: reading
 * /sys/class/zram-control/hot_add would create a device, so it is never read here).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcSwap {
  device: string;
  type: string;
  sizeKiB: number;
  usedKiB: number;
  priority: number;
}

/** The active swap areas (/proc/swaps). */
export function readProcSwaps(): ProcSwap[] {
  return readFileSync('/proc/swaps', 'utf8').split('\n').slice(1).filter((l) => l.trim()).map((l) => {
    const [device, type, size, used, priority] = l.trim().split(/\s+/);
    return { device: device!, type: type!, sizeKiB: Number(size), usedKiB: Number(used), priority: Number(priority) };
  });
}

/** "key value" lines (/proc/vmstat, memory.stat) or "Key: value kB" lines (/proc/meminfo)
 * as numbers; units are left as written. */
export function parseKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^([\w()]+):?\s+(-?\d+)/);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function readKeyed(file: string): Record<string, number> {
  return parseKeyed(readFileSync(file, 'utf8'));
}

/** A file holding one number (a cgroup counter), or undefined when absent or not a number. */
export function readNumber(file: string): number | undefined {
  try {
    const v = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Host-wide swap traffic in pages since boot (/proc/vmstat pswpin/pswpout). Global: a
 * delta around a run counts every process on the host. */
export function readGlobalSwapCounters(): { pswpin: number; pswpout: number } {
  const v = readKeyed('/proc/vmstat');
  return { pswpin: v.pswpin ?? 0, pswpout: v.pswpout ?? 0 };
}

/** MemAvailable in MiB (/proc/meminfo). */
export function memAvailableMiB(): number {
  return Math.floor((readKeyed('/proc/meminfo').MemAvailable ?? 0) / 1024);
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}

function backing(device: string): string {
  const m = device.match(/^\/dev\/(loop\d+)$/);
  if (!m) return '';
  try { return ` ${readFileSync(`/sys/block/${m[1]}/loop/backing_file`, 'utf8').trim()}`; } catch { return ''; }
}

export interface HostState {
  swaps: string[];
  loops: string[];
  zram: string[];
  cgroups: string[];
}

/** What host changes could have left: active swaps, attached loop devices (with their
 * backing files), zram devices (with their sizes), and the memory cgroups at the top of
 * each memory hierarchy plus everything under their fluidlab/ directories. Sorted, so two
 * snapshots compare with deep equality. */
export function snapshotHostState(): HostState {
  const blocks = readdirSync('/sys/block');
  const loops = blocks.filter((b) => b.startsWith('loop')).flatMap((b) => {
    try {
      return [`/dev/${b} ${readFileSync(`/sys/block/${b}/loop/backing_file`, 'utf8').trim()}`];
    } catch {
      return [];
    }
  });
  const zram = blocks.filter((b) => b.startsWith('zram')).map((b) => `/dev/${b} ${readFileSync(`/sys/block/${b}/disksize`, 'utf8').trim()}`);
  const cgroups: string[] = [];
  for (const root of ['/sys/fs/cgroup/memory', '/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    if (!existsSync(join(root, 'cgroup.procs'))) continue;
    cgroups.push(...listDirs(root));
    const ours = join(root, 'fluidlab');
    if (existsSync(ours) && statSync(ours).isDirectory()) cgroups.push(...listDirs(ours));
  }
  return {
    // A loop swap names its backing file, so a reused /dev/loopN is told apart.
    swaps: readProcSwaps().map((s) => `${s.device} ${s.priority}${backing(s.device)}`).sort(),
    loops: loops.sort(),
    zram: zram.sort(),
    cgroups: [...new Set(cgroups)].sort(),
  };
}
