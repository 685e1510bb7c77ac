/**
 * The OOM guard of a v1 memory cgroup (helpers/bin/fluidlab-oom-guard; its file comment
 * says why): while a host swap arm's benchmark runs, a memcg OOM stall that the
 * benchmark's own reclaim cannot end, with free swap, is ended by a 1 MiB limit shrink
 * written from the guard, and a stall nothing relieves for 2 s still ends in the kernel's
 * OOM kill (never a hang). Owned by the run like every helper (leased, disposed with
 * SIGTERM, which turns the kernel's OOM killer back on); its log counts the rescues.
 * cgroup v2 has no oom_kill_disable: no guard there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELPERS_BIN } from '../handler/monitor.js';
import { ManagedChild } from '../process/child.js';
import { waitFor } from '../process/wait.js';
import type { RunContext } from '../run/context.js';
import type { MemoryCgroup } from './memory-cgroup.js';

export const OOM_GUARD = join(HELPERS_BIN, 'fluidlab-oom-guard');

export interface GuardReport {
  /** Stalls rescued (the guard's "rescue N" lines). */
  rescues: number;
  /** OOM stalls begun (the guard's last "stalls N" line). */
  stalls: number;
  /** The guard's "gave-up ..." line, when a stall was a true OOM. */
  gaveUp?: string;
}

export interface OomGuard {
  /** Stops the guard (the kernel's OOM killer is back on) and says what it did.
   * Idempotent; call it once the benchmark has exited. */
  stop(): Promise<GuardReport>;
}

/** What a guard's log says: rescue lines counted, the give-up line if any. */
export function parseGuardLog(text: string): GuardReport {
  const lines = text.split('\n');
  const stalls = lines.map((l) => /^(?:rescues \d+ )?stalls (\d+)$/.exec(l)).filter((m) => m).map((m) => Number(m![1]));
  return {
    rescues: lines.filter((l) => /^rescue \d+ /.test(l)).length,
    stalls: stalls.length ? Math.max(...stalls) : 0,
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

/** Starts the guard on `cgroup` (v1) and resolves once it is armed; undefined on v2. */
export async function startOomGuard(ctx: RunContext, cgroup: MemoryCgroup): Promise<OomGuard | undefined> {
  if (cgroup.version !== 1) return undefined;
  const logFile = join(ctx.runDir, 'oom-guard.log');
  const child = ctx.own(new ManagedChild({ role: 'oom-guard', file: OOM_GUARD, args: [cgroup.dir], logFile, lease: ctx.lease }));
  await waitFor(() => /^ready$/m.test(child.logTail(5)), {
    timeoutMs: 10_000, what: `fluidlab-oom-guard to arm ${cgroup.dir}`,
    abortIf: () => (child.hasExited ? `${child.describeExit()}: ${child.logTail(3)}` : undefined),
  });
  // after the exit the whole log is in the file (ManagedChild flushes it)
  return { stop: async () => { await child.dispose(); return parseGuardLog(child.logTail(1_000_000)); } };
}
