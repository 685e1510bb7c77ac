/**
 * The cgroup v2 memory controller (the unified hierarchy, usually /sys/fs/cgroup): a hard
 * limit on RAM (memory.max), swap unlimited (memory.swap.max = max). v2 has no
 * per-cgroup swappiness; the global vm.swappiness applies. The controller must be enabled
 * in the root's cgroup.subtree_control (systemd hosts do); it is enabled for the children
 * of our own fluidlab/ directory here.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readKeyed, readNumber } from './host-state.js';

/** The mount point of a cgroup2 hierarchy whose root offers the memory controller, or
 * undefined (hybrid hosts where memory is bound to v1 have a cgroup2 mount without it). */
export function findV2MemoryRoot(): string | undefined {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'cgroup2').map((f) => f[1]!);
  return mounts.find((m) => {
    try { return readFileSync(join(m, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory'); } catch { return false; }
  });
}

/** True when children of `dir` get the memory controller. */
export function memoryDelegated(dir: string): boolean {
  try { return readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory'); } catch { return false; }
}

function write(dir: string, file: string, value: string): void {
  try {
    writeFileSync(join(dir, file), value);
  } catch (err) {
    throw new Error(`writing '${value}' to ${join(dir, file)}: ${(err as Error).message}`);
  }
}

/** Enables the memory controller for the children of our parent directory. */
export function delegateMemoryV2(parent: string): void {
  if (!memoryDelegated(parent)) write(parent, 'cgroup.subtree_control', '+memory');
}

/** Sets the limits of a new v2 memory cgroup (see the file comment). */
export function configureV2(dir: string, limitBytes: number): void {
  write(dir, 'memory.max', String(limitBytes));
  if (existsSync(join(dir, 'memory.swap.max'))) write(dir, 'memory.swap.max', 'max');
}

/** memory.stat plus memory.current, memory.swap.current (`swap`, bytes, the same key as
 * v1) and memory.events (prefixed events_: oom, oom_kill, max, high). */
export function statV2(dir: string): Record<string, number> {
  const out = readKeyed(join(dir, 'memory.stat'));
  const current = readNumber(join(dir, 'memory.current'));
  if (current !== undefined) out.usage_in_bytes = current;
  const swap = readNumber(join(dir, 'memory.swap.current'));
  if (swap !== undefined) out.swap = swap;
  try {
    for (const [k, v] of Object.entries(readKeyed(join(dir, 'memory.events')))) out[`events_${k}`] = v;
  } catch { /* older kernels */ }
  return out;
}
