/**
 * A memory cgroup made for one run, behind one API for cgroup v1 (host/cgroup-v1.ts) and
 * v2 (host/cgroup-v2.ts), chosen by what the host mounts: v1 when memory is its own
 * hierarchy, else a cgroup2 mount that offers memory. The cgroup lives at
 * ROOT/fluidlab/RUNID-NAME; its creation is recorded in the run's lease first and its
 * removal (kill leftover tasks, rmdir, rmdir fluidlab/ when no other run uses it) is owned
 * by the run (host/host-changes.ts), so `orchestrate down` undoes it after a SIGKILL.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunContext } from '../run/context.js';
import { configureV1, findV1MemoryRoot, statV1 } from './cgroup-v1.js';
import { configureV2, delegateMemoryV2, findV2MemoryRoot, memoryDelegated, statV2 } from './cgroup-v2.js';
import { makeHostChange } from './host-changes.js';

export { readGlobalSwapCounters } from './host-state.js';

export interface MemoryCgroup {
  dir: string;               // the cgroup directory: pass it to helpers/bin/fluidlab-cgexec DIR -- prog args
  version: 1 | 2;
  /** memory.stat as numbers (`swap` = bytes in swap on both versions) plus usage and
   * events; host-wide pswpin/pswpout: readGlobalSwapCounters(). */
  stat(): Record<string, number>;
  /** Moves a process into the cgroup (before it allocates, or its pages stay charged
   * where they were). */
  enter(pid: number): void;
}

export interface MemoryHierarchy {
  version: 1 | 2;
  root: string;
}

/** The host's memory cgroup hierarchy, or undefined when there is none. */
export function findMemoryHierarchy(): MemoryHierarchy | undefined {
  const v1 = findV1MemoryRoot();
  if (v1) return { version: 1, root: v1 };
  const v2 = findV2MemoryRoot();
  if (v2) return { version: 2, root: v2 };
  return undefined;
}

/** True when new children of the v2 root get the memory controller (always true for v1). */
export function hierarchyUsable(h: MemoryHierarchy): boolean {
  return h.version === 1 || memoryDelegated(h.root);
}

function mkdirCgroup(parent: string, dir: string, version: 1 | 2): void {
  // A concurrent run's teardown may remove an empty parent between our two mkdirs: retry.
  for (let i = 0; ; i++) {
    mkdirSync(parent, { recursive: true });
    if (version === 2) delegateMemoryV2(parent);
    try {
      mkdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || i >= 5) throw new Error(`creating cgroup ${dir}: ${(err as Error).message}`);
    }
  }
}

/** Makes ROOT/fluidlab/RUNID-NAME with a RAM limit of `limitMiB` and unlimited swap
 * (v1: memory.limit_in_bytes, memsw unlimited, swappiness 100; v2: memory.max,
 * memory.swap.max = max), recorded in ctx.lease and removed when ctx is disposed.
 * Throws when the host has no usable memory controller (preconditions.ts says how to fix). */
export async function createMemoryCgroup(ctx: RunContext, name: string, limitMiB: number): Promise<MemoryCgroup> {
  if (!/^[\w.-]+$/.test(name)) throw new Error(`cgroup name '${name}' must be letters, digits, '.', '_' or '-'`);
  if (!Number.isInteger(limitMiB) || limitMiB < 1) throw new Error(`cgroup memory limit must be a whole number of MiB ≥ 1, got ${limitMiB}`);
  const h = findMemoryHierarchy();
  if (!h) throw new Error('no memory cgroup controller on this host (neither /sys/fs/cgroup/memory nor a cgroup2 mount with memory)');
  const parent = join(h.root, 'fluidlab');
  const dir = join(parent, `${ctx.runId}-${name}`);
  await makeHostChange(ctx, { kind: 'cgroup', dir, parentIfEmpty: parent }, async () => {
    mkdirCgroup(parent, dir, h.version);
    if (h.version === 1) configureV1(dir, limitMiB * 2 ** 20);
    else configureV2(dir, limitMiB * 2 ** 20);
  });
  return {
    dir,
    version: h.version,
    stat: () => (h.version === 1 ? statV1(dir) : statV2(dir)),
    enter: (pid) => {
      try {
        writeFileSync(join(dir, 'cgroup.procs'), String(pid));
      } catch (err) {
        throw new Error(`moving pid ${pid} into cgroup ${dir}: ${(err as Error).message}`);
      }
    },
  };
}
