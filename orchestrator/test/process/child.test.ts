/** ManagedChild, the base of every OwnedProcess: real processes, a real lease. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManagedChild } from '../../src/process/child.js';
import { Lease, readLease } from '../../src/process/lease.js';
import { isSameProcess } from '../../src/process/procfs.js';
import { waitFor } from '../../src/process/wait.js';

/** A shell that ignores SIGTERM (inherited across exec) once it has said so. */
const STUBBORN = ['-c', 'trap "" TERM; echo ignoring TERM; exec sleep 600'];

function leased(name: string): Lease {
  return new Lease(join(mkdtempSync(join(tmpdir(), 'fl-child-')), name), name);
}

describe('ManagedChild', () => {
  it('disposes gracefully: SIGTERM, then gone and out of the lease', async () => {
    const lease = leased('graceful');
    const child = new ManagedChild({ role: 'helper', file: 'sleep', args: ['600'], logFile: join(lease.runDir, 'helper.log'), lease });
    expect(readLease(lease.runDir)?.processes.map((p) => p.pid)).toEqual([child.pid]);
    expect(child.describeExit()).toBe(`helper (pid ${child.pid}) is running`);
    await child.dispose();
    expect(child.hasExited).toBe(true);
    expect(await child.exited).toEqual({ code: undefined, signal: 'SIGTERM' });
    expect(child.describeExit()).toBe(`helper (pid ${child.pid}) was killed by SIGTERM`);
    expect(isSameProcess(child.pid, undefined)).toBe(false);
    expect(readLease(lease.runDir)?.processes).toEqual([]);
  });

  it('forces a process that ignores SIGTERM, and is idempotent', async () => {
    const lease = leased('forced');
    const child = new ManagedChild({ role: 'stubborn', file: 'sh', args: STUBBORN, logFile: join(lease.runDir, 'stubborn.log'), lease, graceMs: 200 });
    await waitFor(() => child.logTail().includes('ignoring TERM'), { timeoutMs: 10_000, what: 'the trap to be set' });
    const first = child.dispose();
    const second = child.dispose();
    expect(second).toBe(first);
    await first;
    expect((await child.exited).signal).toBe('SIGKILL');
    expect(lease.remaining()).toEqual([]);
    await child.dispose(); // again, after the fact: a no-op
    expect(child.logTail(1)).toBe('ignoring TERM');
  });

  it('an exit nobody asked for still clears the lease entry', async () => {
    const lease = leased('self-exit');
    const child = new ManagedChild({ role: 'short', file: 'sh', args: ['-c', 'echo one; echo two; exit 3'], logFile: join(lease.runDir, 'short.log'), lease });
    expect(await child.exited).toEqual({ code: 3, signal: undefined });
    expect(lease.remaining()).toEqual([]);
    expect(child.logTail(1)).toBe('two');
    await child.dispose();
  });
});
