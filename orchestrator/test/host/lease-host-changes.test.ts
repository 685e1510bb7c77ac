/**
 * reapRunDir and host changes recorded in a lease: undone newest first; one whose undo
 * fails is kept in the lease (with the run directory) so that a later `down` retries it,
 * and never forgotten. The failing undo is a real one: a "cgroup" directory that is not
 * empty cannot be removed.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { HostChange } from '../../src/host/host-changes.js';
import { LEASE_NAME, readLease, type LeaseFile } from '../../src/process/lease.js';
import { reapRunDir } from '../../src/run/reap.js';

describe('host changes in leases', () => {
  it('undoes newest first, keeps what could not be undone, and retries it on the next reap', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fl-hostlease-'));
    const runDir = join(root, 'run-h');
    mkdirSync(runDir);
    const file = join(root, 'backing.swap');
    writeFileSync(file, 'x');
    const cgroup = join(root, 'not-empty-cgroup');
    mkdirSync(cgroup);
    writeFileSync(join(cgroup, 'blocker'), 'x');
    const dead = spawnSync('true').pid; // an owner that is gone
    const changes: HostChange[] = [{ kind: 'file', path: file }, { kind: 'cgroup', dir: cgroup }];
    const lease: LeaseFile = { runId: 'run-h', owner: { pid: dead }, createdAt: new Date().toISOString(), processes: [], hostChanges: changes };
    writeFileSync(join(runDir, LEASE_NAME), JSON.stringify(lease));

    const first = await reapRunDir(runDir);
    expect(first?.undoneHostChanges).toEqual([`rm ${file}`]);
    expect(first?.failedHostChanges).toHaveLength(1);
    expect(first?.failedHostChanges?.[0]).toMatch(new RegExp(`^cgroup ${cgroup}: removing cgroup ${cgroup}: ENOTEMPTY`));
    expect(existsSync(file)).toBe(false);
    expect(readLease(runDir)?.hostChanges).toEqual([{ kind: 'cgroup', dir: cgroup }]);

    rmSync(join(cgroup, 'blocker'));
    const second = await reapRunDir(runDir);
    expect(second?.undoneHostChanges).toEqual([`rmdir ${cgroup}`]);
    expect(second?.failedHostChanges).toEqual([]);
    expect(existsSync(cgroup)).toBe(false);
    expect(existsSync(runDir)).toBe(false);
  });
});
