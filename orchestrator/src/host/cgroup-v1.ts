/**
 * The cgroup v1 memory controller (a hierarchy of its own, usually /sys/fs/cgroup/memory):
 * a hard limit on RAM (memory.limit_in_bytes), RAM+swap unlimited (memory.memsw), and
 * swappiness 100. Why 100: the fluidmem handler it is compared with evicts by LRU without
 * preferring file pages over anonymous ones; 100 gives anon and file the same reclaim
 * weight. With an anonymous-only workload (pmbench, memverify) it changes little, since
 * there is no page cache to reclaim instead.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readKeyed, readNumber } from './host-state.js';

export const V1_SWAPPINESS = 100;

/** The v1 memory hierarchy's root, or undefined when memory is not mounted as v1. */
export function findV1MemoryRoot(): string | undefined {
  const root = '/sys/fs/cgroup/memory';
  return existsSync(join(root, 'memory.limit_in_bytes')) ? root : undefined;
}

function write(dir: string, file: string, value: string): void {
  try {
    writeFileSync(join(dir, file), value);
  } catch (err) {
    throw new Error(`writing '${value}' to ${join(dir, file)}: ${(err as Error).message}`);
  }
}

/** Sets the limits of a new v1 memory cgroup (see the file comment). memsw first: it must
 * never be below the RAM limit. A kernel without swap accounting has no memsw files. */
export function configureV1(dir: string, limitBytes: number): void {
  if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) write(dir, 'memory.memsw.limit_in_bytes', '-1');
  write(dir, 'memory.limit_in_bytes', String(limitBytes));
  write(dir, 'memory.swappiness', String(V1_SWAPPINESS));
}

/** memory.stat (bytes and event counts; `swap` = bytes in swap) plus usage, max usage and
 * failcnt of RAM and of RAM+swap (when the kernel accounts swap). */
export function statV1(dir: string): Record<string, number> {
  const out = readKeyed(join(dir, 'memory.stat'));
  for (const [key, file] of [
    ['usage_in_bytes', 'memory.usage_in_bytes'], ['max_usage_in_bytes', 'memory.max_usage_in_bytes'], ['failcnt', 'memory.failcnt'],
    ['memsw_usage_in_bytes', 'memory.memsw.usage_in_bytes'], ['memsw_max_usage_in_bytes', 'memory.memsw.max_usage_in_bytes'],
  ] as const) {
    const v = readNumber(join(dir, file));
    if (v !== undefined) out[key] = v;
  }
  return out;
}
