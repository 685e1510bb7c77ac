/**
 * Host changes are undone on the abnormal exit paths too: an orchestrator stand-in
 * (fixtures/hold-host-swap.ts) makes swap + a cgroup with a process in swap, then gets
 * SIGINT (its RunContext tears down) or SIGKILL (then `orchestrate down --all` must undo
 * from the lease). Either way the host's swaps, loop and zram devices and cgroups are left
 * as they were and the process in the cgroup is gone.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { snapshotHostState } from '../../src/host/host-state.js';
import type { SwapOn } from '../../src/host/swap-device.js';
import { readLease } from '../../src/process/lease.js';
import { isSameProcess } from '../../src/process/procfs.js';
import { leftBehind, privateRunsRoot, waitForHostSwapFree } from './support.js';

const FIXTURE = join(process.cwd(), 'orchestrator/test/host/fixtures/hold-host-swap.ts');

interface Ready { runDir: string; device: string; cgroup: string; holder: number; swapUsed: number }

async function startHolder(kind: SwapOn) {
  const child = execa('node', ['--import', 'tsx', FIXTURE, kind], { reject: false });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const ready = await new Promise<Ready>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/READY (\{.*\})\n/);
      if (m) resolve(JSON.parse(m[1]!) as Ready);
    });
    void child.then(() => reject(new Error(`holder exited before READY: ${err}`)));
  });
  return { child, ready };
}

beforeAll(() => {
  privateRunsRoot();
});

describe.each<SwapOn>(['zram', 'tmpfs', 'disk'])('host swap on %s', (kind) => {
  it('SIGINT of the orchestrator undoes everything', async () => {
    await waitForHostSwapFree();
    const before = snapshotHostState();
    const { child, ready } = await startHolder(kind);
    const runId = ready.runDir.split('/').pop()!;
    expect(ready.swapUsed).toBeGreaterThan(0);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(isSameProcess(ready.holder, undefined)).toBe(false);
    expect(existsSync(ready.runDir)).toBe(false);
    expect(leftBehind(before, snapshotHostState(), [runId, `${ready.device} `])).toEqual([]);
  });

  it('SIGKILL of the orchestrator, then `orchestrate down --all`, undoes everything', async () => {
    await waitForHostSwapFree();
    const before = snapshotHostState();
    const { child, ready } = await startHolder(kind);
    const runId = ready.runDir.split('/').pop()!;
    expect(readLease(ready.runDir)?.hostChanges?.length).toBe(kind === 'zram' ? 3 : 4);
    child.kill('SIGKILL');
    await child;
    // Nothing undid it yet: the swap, the cgroup and its process are still there.
    expect(leftBehind(before, snapshotHostState(), [runId, `${ready.device} `]).length).toBeGreaterThan(0);
    expect(isSameProcess(ready.holder, undefined)).toBe(true);

    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => { lines.push(String(line)); });
    let code: number;
    try {
      code = await main(['down', '--all']);
    } finally {
      log.mockRestore();
    }
    expect(code).toBe(0);
    // Newest first: the cgroup (and its process), then swapoff, then the device, then the file.
    const undid = lines.filter((l) => l.startsWith(`${runId}: undid `)).map((l) => l.slice(runId.length + 8).split(' ')[0]);
    expect(undid).toEqual(kind === 'zram' ? ['rmdir', 'swapoff', 'zram'] : ['rmdir', 'swapoff', 'losetup', 'rm']);
    expect(lines.join('\n')).toContain(`killed pids ${ready.holder}`);
    expect(isSameProcess(ready.holder, undefined)).toBe(false);
    expect(existsSync(ready.runDir)).toBe(false);
    expect(leftBehind(before, snapshotHostState(), [runId, `${ready.device} `])).toEqual([]);
  });
});
