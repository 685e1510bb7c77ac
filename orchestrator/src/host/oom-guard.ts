/**
 * The OOM guard of a v1 memory cgroup (helpers/bin/fluidlab-oom-guard; its file comment
 * says why): while a host swap arm's benchmark runs, a memcg OOM stall that the
 * benchmark's own reclaim cannot end, with free swap, is ended by a 1 MiB limit shrink
 * written from the guard, and a stall nothing relieves for 2 s still ends in the kernel's
 * OOM kill. Owned by the run like every helper (leased; stopped with SIGTERM, on which it
 * turns the kernel's OOM killer back on). Should the guard die any other way, this module
 * turns the OOM killer back on itself, so a stall can never hang the benchmark; the run
 * records it (`failed`). cgroup v2 has no oom_kill_disable: no guard there.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELPERS_BIN } from '../handler/monitor.js';
import { ManagedChild } from '../process/child.js';
import type { RunContext } from '../run/context.js';
import type { MemoryCgroup } from './memory-cgroup.js';

export const OOM_GUARD = join(HELPERS_BIN, 'fluidlab-oom-guard');

export interface GuardReport {
  /** OOM stalls that began (the guard's "stall N" lines). */
  stalls: number;
  /** Stalls that ended after the guard's attempts (its "rescue N" lines). */
  rescues: number;
  /** The guard's "gave-up ..." line, when a stall was a true OOM. */
  gaveUp?: string;
  /** How the guard died, when it did so before it was stopped. */
  failed?: string;
}

export interface OomGuard {
  readonly pid: number;
  /** Stops the guard (the kernel's OOM killer is back on) and says what it did.
   * Idempotent, never rejects; call it once the benchmark has exited. */
  stop(): Promise<GuardReport>;
}

/** What a guard's log says: stall and rescue lines counted, the give-up line if any. */
export function parseGuardLog(text: string): Omit<GuardReport, 'failed'> {
  const lines = text.split('\n');
  return {
    stalls: lines.filter((l) => /^stall \d+$/.test(l)).length,
    rescues: lines.filter((l) => /^rescue \d+ /.test(l)).length,
    gaveUp: lines.find((l) => l.startsWith('gave-up')),
  };
}

/** The number in memory.oom_control's `oom_kill` line (v1), or undefined. */
export function cgroupOomKills(cgroup: MemoryCgroup): number | undefined {
  if (cgroup.version !== 1) return cgroup.stat().events_oom_kill;
  try {
    const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(cgroup.dir, 'memory.oom_control'), 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Turns the cgroup's OOM killer back on (wakes its waiters). */
function disarm(dir: string): void {
  try {
    writeFileSync(join(dir, 'memory.oom_control'), '0');
  } catch {
    // the cgroup is gone already: nothing left to wake
  }
}

/** Starts the guard on `cgroup` (v1) and resolves once it is armed; undefined on v2. */
export async function startOomGuard(ctx: RunContext, cgroup: MemoryCgroup): Promise<OomGuard | undefined> {
  if (cgroup.version !== 1) return undefined;
  const logFile = join(ctx.runDir, 'oom-guard.log');
  const child = ctx.own(new ManagedChild({ role: 'oom-guard', file: OOM_GUARD, args: [cgroup.dir], logFile, lease: ctx.lease }));
  let stopping = false;
  let failed: string | undefined;
  void child.exited.then((exit) => {
    if (stopping || exit.code === 3) return; // asked to stop, or gave up (disarmed itself)
    failed = `${child.describeExit()}: ${child.logTail(2).replace(/\n/g, ' | ')}`;
    disarm(cgroup.dir);
  });
  await child.waitForLog(/^ready$/m, `fluidlab-oom-guard to arm ${cgroup.dir}`, 10_000);
  return {
    pid: child.pid,
    stop: async () => {
      stopping = !child.hasExited;
      try {
        await child.dispose();
      } catch (err) {
        failed ??= (err as Error).message;
      }
      disarm(cgroup.dir); // also after a SIGKILL that skipped the guard's own
      // after the exit the whole log is in the file (ManagedChild flushes it)
      return { ...parseGuardLog(child.logTail(1_000_000)), ...(failed ? { failed } : {}) };
    },
  };
}
