/**
 * CPU affinity of processes and threads the orchestrator owns: pinning (taskset, built as
 * an argument array) and reading back where the kernel lets a thread run
 * (/proc/PID/task/TID/status Cpus_allowed_list), so a record states the placement that
 * was in force, not only the one asked for.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';

/** Pins one thread (or, with `allThreads`, every thread of process `pid`) to `cpus`.
 * Throws with taskset's own message when the kernel refuses (a CPU offline, no such pid). */
export async function pinCpus(pid: number, cpus: readonly number[], o: { allThreads?: boolean } = {}): Promise<void> {
  const list = cpus.join(',');
  const r = await execa('taskset', [...(o.allThreads ? ['-a'] : []), '-p', '-c', list, String(pid)], { reject: false });
  if (r.exitCode !== 0) throw new Error(`taskset could not pin ${o.allThreads ? 'pid' : 'thread'} ${pid} to CPU ${list}: ${String(r.stderr).trim()}`);
}

/** The threads of process `pid` (its task ids); [] once it has gone. */
export function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter((t) => Number.isInteger(t));
  } catch {
    return [];
  }
}

/** Cpus_allowed_list of thread `tid` of `pid` (e.g. "1" or "0-1"); undefined once gone. */
export function allowedCpus(pid: number, tid = pid): string | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    return /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  } catch {
    return undefined;
  }
}
