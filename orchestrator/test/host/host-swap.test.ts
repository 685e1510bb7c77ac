/**
 * Host swap + memory cgroup, on real devices: for zram, a loop over a /dev/shm file and a
 * loop over a /var/tmp file, a process in a 16 MiB cgroup touches 48 MiB (3x) and must
 * succeed by swapping; afterwards the host's swaps, loop and zram devices and cgroups are
 * what they were. Refusals: a swap area that outranks ours, too little memory or disk.
 */
import { execa } from 'execa';
import { readFileSync, statfsSync } from 'node:fs';
import { basename } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { HOST_SWAP_PRIORITY, createHostSwap, type SwapOn } from '../../src/host/swap-device.js';
import { createMemoryCgroup, readGlobalSwapCounters } from '../../src/host/memory-cgroup.js';
import { startOomGuard } from '../../src/host/oom-guard.js';
import { HostRefusal, checkHostSwapPossible } from '../../src/host/preconditions.js';
import { memAvailableMiB, readProcSwaps, snapshotHostState } from '../../src/host/host-state.js';
import { readLease } from '../../src/process/lease.js';
import { RunContext, newRunId } from '../../src/run/context.js';
import { MEMVERIFY, execInCgroup, leftBehind, privateRunsRoot, waitForHostSwapFree } from './support.js';

const LIMIT_MIB = 16;
// Room to spare: a swap device sized to the byte can fill (2 MiB per-CPU clusters), and on a host
// where an earlier swap device is stuck in swapoff its pages are still counted against the total.
const SWAP_MIB = 256;
const TOUCH_MIB = 3 * LIMIT_MIB;

beforeAll(() => {
  privateRunsRoot();
});

describe.each<SwapOn>(['zram', 'tmpfs', 'disk'])('host swap on %s', (kind) => {
  it('a process in a cgroup touching 3x its limit swaps and succeeds; the host is left as it was', async () => {
    await waitForHostSwapFree();
    const start = snapshotHostState();
    checkHostSwapPossible(kind, SWAP_MIB, LIMIT_MIB);
    const ctx = new RunContext(newRunId(`t-${kind}`));
    const ours = [ctx.runId];
    try {
      const swap = await createHostSwap(ctx, kind, SWAP_MIB);
      ours.push(`${swap.device} `);
      expect(leftBehind(start, snapshotHostState(), ours).length).toBeGreaterThan(0);
      const cgroup = await createMemoryCgroup(ctx, 'verify', LIMIT_MIB);
      expect(readProcSwaps().find((s) => s.device === swap.device)?.priority).toBe(swap.priority);
      expect(swap.priority).toBeGreaterThanOrEqual(HOST_SWAP_PRIORITY);
      expect(readLease(ctx.runDir)?.hostChanges?.map((c) => c.kind)).toEqual(
        kind === 'zram' ? ['zram', 'swapon', 'cgroup'] : ['file', 'loop', 'swapon', 'cgroup']);
      if (kind !== 'zram') {
        expect(swap.backingFile?.startsWith(kind === 'tmpfs' ? '/dev/shm/' : '/var/tmp/')).toBe(true);
        const dio = readFileSync(`/sys/block/${basename(swap.device)}/loop/dio`, 'utf8').trim();
        expect(dio).toBe(kind === 'disk' ? '1' : '0');
      }
      expect(cgroup.stat().hierarchical_memory_limit ?? LIMIT_MIB * 2 ** 20).toBe(LIMIT_MIB * 2 ** 20);

      await startOomGuard(ctx, cgroup); // as host runs do: this kernel's memcg OOM stalls with swap free
      const c0 = readGlobalSwapCounters();
      const t0 = process.hrtime.bigint();
      const r = await execInCgroup(cgroup.dir, MEMVERIFY, ['--mib', String(TOUCH_MIB)]);
      const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const c1 = readGlobalSwapCounters();
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(JSON.parse(String(r.stdout)).mismatches).toBe(0);
      const st = cgroup.stat();
      // RAM never above the limit, RAM+swap well above it: the pages went to swap.
      expect(st.max_usage_in_bytes).toBeLessThanOrEqual(LIMIT_MIB * 2 ** 20);
      expect(st.memsw_max_usage_in_bytes).toBeGreaterThan((TOUCH_MIB - 8) * 2 ** 20);
      expect(c1.pswpout - c0.pswpout).toBeGreaterThan((TOUCH_MIB - LIMIT_MIB) * 256 / 2);
      const zram = kind === 'zram' ? ` zram_mem_used_max=${swap.stats().mem_used_max}` : '';
      console.log(`MEASURE host swap on ${kind}: touched ${TOUCH_MIB} MiB under ${LIMIT_MIB} MiB: pswpin=${c1.pswpin - c0.pswpin} pswpout=${c1.pswpout - c0.pswpout} elapsed_ms=${elapsedMs.toFixed(0)}${zram}`);
    } finally {
      await ctx.dispose();
    }
    expect(leftBehind(start, snapshotHostState(), ours)).toEqual([]);
  });
});

describe('refusals', () => {
  it('refuses when a swap area with a priority >= ours is active', async () => {
    await waitForHostSwapFree();
    const start = snapshotHostState();
    const ctx = new RunContext(newRunId('t-outrank'));
    const ours = [ctx.runId];
    try {
      // The host's own swap: made like a run's, then given a label that is not FluidLab's.
      const other = await createHostSwap(ctx, 'zram', 4, { priority: 32767 });
      ours.push(`${other.device} `);
      await execa('swapoff', [other.device]);
      await execa('swaplabel', ['--label', 'host-own', other.device]);
      await execa('swapon', ['--priority', '32767', other.device]);
      expect(() => checkHostSwapPossible('zram', SWAP_MIB, LIMIT_MIB)).toThrow(HostRefusal);
      expect(() => checkHostSwapPossible('tmpfs', SWAP_MIB, LIMIT_MIB)).toThrow(
        new RegExp(`swap already active with priority >= ${HOST_SWAP_PRIORITY}: .*${other.device} \\(priority 32767\\)`));
      // createHostSwap checks again under its host-wide lock, before changing anything.
      const recorded = readLease(ctx.runDir)?.hostChanges?.length;
      await expect(createHostSwap(ctx, 'tmpfs', SWAP_MIB)).rejects.toThrow(HostRefusal);
      expect(readLease(ctx.runDir)?.hostChanges?.length).toBe(recorded);
    } finally {
      await ctx.dispose();
    }
    expect(leftBehind(start, snapshotHostState(), ours)).toEqual([]);
    expect(() => checkHostSwapPossible('zram', SWAP_MIB, LIMIT_MIB)).not.toThrow();
  });

  it('waits for another FluidLab run\'s swap instead of refusing, up to its bound', async () => {
    await waitForHostSwapFree();
    const start = snapshotHostState();
    const ctx = new RunContext(newRunId('t-queue'));
    const ours = [ctx.runId];
    try {
      const other = await createHostSwap(ctx, 'zram', 4, { priority: 32767 });
      ours.push(`${other.device} `);
      expect(() => checkHostSwapPossible('tmpfs', SWAP_MIB, LIMIT_MIB)).not.toThrow();
      const t0 = Date.now();
      await expect(createHostSwap(ctx, 'tmpfs', SWAP_MIB, { waitMs: 1500 })).rejects.toThrow(/another FluidLab run has held host swap .*orchestrate down/);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    } finally {
      await ctx.dispose();
    }
    expect(leftBehind(start, snapshotHostState(), ours)).toEqual([]);
  });

  it('refuses swap in DRAM larger than MemAvailable, and a disk file larger than the free disk', () => {
    const tooMuch = memAvailableMiB() + 1024;
    expect(() => checkHostSwapPossible('tmpfs', tooMuch, LIMIT_MIB)).toThrow(/not enough free memory for host swap on tmpfs/);
    expect(() => checkHostSwapPossible('zram', tooMuch, LIMIT_MIB)).toThrow(HostRefusal);
    expect(() => checkHostSwapPossible('disk', SWAP_MIB, tooMuch)).toThrow(/not enough free memory/);
    const s = statfsSync('/var/tmp');
    const diskFree = Math.floor((s.bavail * s.bsize) / 2 ** 20);
    expect(() => checkHostSwapPossible('disk', diskFree + 1024, LIMIT_MIB)).toThrow(/not enough free disk under \/var\/tmp/);
  });
});
