/**
 * The records a lease keeps of changes a run makes to the host itself (a swap device, a
 * loop or zram device, a file outside the run directory, a cgroup): what they are, how to
 * name one, and when two records are the same change. How to make and undo them is
 * host/host-changes.ts; this module is only the record, so process/lease.ts can hold them
 * without depending on host/.
 */

export type HostChange =
  /** `swapon DEVICE` was (about to be) run. */
  | { kind: 'swapon'; device: string }
  /** A loop device over `backingFile` was (about to be) attached; `device` once known. */
  | { kind: 'loop'; backingFile: string; device?: string }
  /** zram device N was hot-added (recorded right after hot_add returned its number). */
  | { kind: 'zram'; device: string }
  /** A file outside the run directory (a swap backing file). */
  | { kind: 'file'; path: string }
  /** A cgroup directory; `parentIfEmpty` is removed too when no other run uses it. */
  | { kind: 'cgroup'; dir: string; parentIfEmpty?: string };

/** One line for logs and `orchestrate down`: what the change is. */
export function describeHostChange(c: HostChange): string {
  switch (c.kind) {
    case 'swapon': return `swap on ${c.device}`;
    case 'loop': return `loop device ${c.device ?? '?'} over ${c.backingFile}`;
    case 'zram': return `zram device ${c.device}`;
    case 'file': return `file ${c.path}`;
    case 'cgroup': return `cgroup ${c.dir}`;
  }
}

/** Two records name the same change (used to drop a record once it is undone). */
export function sameHostChange(a: HostChange, b: HostChange): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'swapon': return a.device === (b as typeof a).device;
    case 'loop': return a.backingFile === (b as typeof a).backingFile;
    case 'zram': return a.device === (b as typeof a).device;
    case 'file': return a.path === (b as typeof a).path;
    case 'cgroup': return a.dir === (b as typeof a).dir;
  }
}
