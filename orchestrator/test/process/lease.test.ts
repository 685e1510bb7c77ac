/** Leases: a crashed run's processes and files are reaped; a live owner's are not. */
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listRunDirs, readLease } from '../../src/process/lease.js';
import { reapRunDir } from '../../src/run/reap.js';
import { isSameProcess } from '../../src/process/procfs.js';

describe('leases', () => {
  it('reaps the processes and files of a run whose owner died', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fl-lease-'));
    const runDir = join(root, 'run-1');
    // The owner: a process that records a child and a file in the lease, then dies.
    const swap = join(root, 'outside.swap');
    writeFileSync(swap, 'x');
    const owner = await execa('node', ['--import', 'tsx', '--input-type=module', '-e', `
      import { spawn } from 'node:child_process';
      import { Lease } from ${JSON.stringify(join(process.cwd(), 'orchestrator/src/process/lease.ts'))};
      const lease = new Lease(${JSON.stringify(runDir)}, 'run-1');
      const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
      child.unref();
      lease.add('qemu:vm0', child.pid, 'sleep 600');
      lease.addFile(${JSON.stringify(swap)});
      console.log(child.pid);
    `]);
    const childPid = Number(String(owner.stdout).trim());
    expect(isSameProcess(childPid, undefined)).toBe(true);
    expect(readLease(runDir)?.files).toEqual([swap]);
    expect(listRunDirs(root)).toEqual([runDir]);

    const r = await reapRunDir(runDir);
    expect(r?.ownerAlive).toBe(false);
    expect(r?.killed.map((p) => p.pid)).toEqual([childPid]);
    expect(r?.removedFiles).toEqual([swap]);
    expect(isSameProcess(childPid, undefined)).toBe(false);
    expect(existsSync(swap)).toBe(false);
    expect(readdirSync(root)).toEqual([]);
  });

  it('leaves a run alone while its owner lives, unless forced', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fl-lease-'));
    const runDir = join(root, 'run-2');
    const owner = execa('node', ['--import', 'tsx', '--input-type=module', '-e', `
      import { Lease } from ${JSON.stringify(join(process.cwd(), 'orchestrator/src/process/lease.ts'))};
      new Lease(${JSON.stringify(runDir)}, 'run-2');
      console.log('leased');
      setTimeout(() => {}, 600000);
    `], { reject: false });
    await new Promise<void>((resolve) => owner.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('leased')) resolve(); }));
    const kept = await reapRunDir(runDir);
    expect(kept?.ownerAlive).toBe(true);
    expect(existsSync(runDir)).toBe(true);
    const forced = await reapRunDir(runDir, { force: true });
    expect(forced?.ownerAlive).toBe(true);
    expect((await owner).signal).toBe('SIGTERM');
    expect(existsSync(runDir)).toBe(false);
  });
});
