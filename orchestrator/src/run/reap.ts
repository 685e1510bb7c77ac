/**
 * Reaping a run from its lease (process/lease.ts): what `orchestrate down` does for a run
 * whose orchestrator died, and what RunContext teardown does for whatever its disposers did
 * not get to. Processes first (guests, then what serves them), then host changes newest
 * first (host/host-changes.ts undo), then files; the run directory goes last, and stays,
 * with a lease of what is left, when a host change could not be undone.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { undoHostChange } from '../host/host-changes.js';
import { describeHostChange, type HostChange } from '../process/host-change.js';
import { LEASE_NAME, readLease, type LeasedProcess } from '../process/lease.js';
import { isSameProcess } from '../process/procfs.js';
import { waitFor } from '../process/wait.js';

export interface ReapResult {
  runDir: string;
  runId: string;
  ownerAlive: boolean;
  killed: LeasedProcess[];
  removedFiles: string[];
  /** Host changes undone (one line each, newest first), and those whose undo failed. */
  undoneHostChanges?: string[];
  failedHostChanges?: string[];
}

async function killAndWait(p: LeasedProcess, graceMs: number): Promise<boolean> {
  if (!isSameProcess(p.pid, p.startTime)) return false;
  try { process.kill(p.pid, 'SIGTERM'); } catch { return false; }
  const gone = () => !isSameProcess(p.pid, p.startTime);
  const what = `${p.role} (pid ${p.pid}) to exit`;
  try {
    await waitFor(gone, { timeoutMs: graceMs, what });
  } catch {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
    await waitFor(gone, { timeoutMs: 5000, what: `${what} after SIGKILL` }).catch(() => undefined);
  }
  return true;
}

/** Kills the processes of a lease whose owner is gone (or any lease when `force`), then
 * removes the run directory. */
export async function reapRunDir(runDir: string, opts: { force?: boolean; graceMs?: number } = {}): Promise<ReapResult | undefined> {
  const lease = readLease(runDir);
  if (!lease) return undefined;
  const ownerAlive = lease.owner.pid !== process.pid && isSameProcess(lease.owner.pid, lease.owner.startTime);
  const result: ReapResult = { runDir, runId: lease.runId, ownerAlive, killed: [], removedFiles: [] };
  if (ownerAlive && !opts.force) return result;
  if (ownerAlive) {
    try { process.kill(lease.owner.pid, 'SIGTERM'); } catch { /* gone */ }
  }
  // Guests first, then what serves them: the NBD swap daemon, the handler, the store.
  const order = ['qemu', 'nbd', 'monitor', 'redis'];
  const sorted = [...lease.processes].sort((a, b) => order.indexOf(a.role.split(':')[0]!) - order.indexOf(b.role.split(':')[0]!));
  for (const p of sorted) {
    if (await killAndWait(p, opts.graceMs ?? 3000)) result.killed.push(p);
  }
  // Host changes newest first (swapoff before losetup -d before rm of the backing file),
  // after the processes that used them are gone and before the files are removed.
  result.undoneHostChanges = [];
  result.failedHostChanges = [];
  const leftOnHost: HostChange[] = [];
  for (const c of [...(lease.hostChanges ?? [])].reverse()) {
    try {
      const done = await undoHostChange(c).catch(async () => {
        // A forced reap races the owner's own teardown (both swapoff): look again once.
        await new Promise((r) => setTimeout(r, 500));
        return undoHostChange(c);
      });
      if (done) result.undoneHostChanges.push(done);
    } catch (err) {
      leftOnHost.unshift(c);
      result.failedHostChanges.push(`${describeHostChange(c)}: ${(err as Error).message}`);
    }
  }
  if (leftOnHost.length) {
    // Keep the run directory and a lease of what is still on the host, so that a later
    // `orchestrate down` can retry; never forget a swap device or a cgroup.
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(runDir, LEASE_NAME), JSON.stringify({ ...lease, processes: [], hostChanges: leftOnHost }, null, 2), { mode: 0o600 });
    return result;
  }
  for (const f of lease.files ?? []) {
    if (existsSync(f)) {
      rmSync(f, { force: true });
      result.removedFiles.push(f);
    }
  }
  rmSync(runDir, { recursive: true, force: true });
  return result;
}
