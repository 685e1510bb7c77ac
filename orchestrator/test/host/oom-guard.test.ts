/**
 * The OOM guard (helpers/bin/fluidlab-oom-guard via host/oom-guard.ts) on a real v1
 * memory cgroup: it arms (oom_kill_disable 1) and disarms on stop; a stall that nothing can
 * relieve (RAM+swap limited to the RAM limit, so reclaim has nowhere to put a page) still
 * ends in the kernel's OOM kill within seconds instead of hanging the benchmark (with
 * oom_kill_disable set and no guard it would wait forever), and the guard says it gave up.
 * The rescue itself (a stall that a shrink from outside ends) comes from a kernel quirk
 * this test cannot provoke at will; host runs record it as cgroup.oom_rescues.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCgroup } from '../../src/host/memory-cgroup.js';
import { cgroupOomKills, parseGuardLog, startOomGuard } from '../../src/host/oom-guard.js';
import { RunContext, newRunId } from '../../src/run/context.js';
import { execInCgroup, privateRunsRoot } from './support.js';

const PMBENCH = join(process.cwd(), 'workloads/bin/pmbench-host');
const oomControl = (dir: string) => readFileSync(join(dir, 'memory.oom_control'), 'utf8');

beforeAll(() => {
  privateRunsRoot();
});

describe('parseGuardLog', () => {
  it('counts rescue lines and keeps the give-up line', () => {
    expect(parseGuardLog('ready\nstalls 1\nrescue 1 reclaimed_us=900\nstalls 3\nrescue 2 reclaimed_us=800\nrescues 2 stalls 3\n')).toEqual({ rescues: 2, stalls: 3, gaveUp: undefined });
    expect(parseGuardLog('ready\ngave-up after 0 rescues: no charge succeeded for 2000 ms of rescue attempts\n').gaveUp).toMatch(/^gave-up after 0/);
  });
});

describe('OOM guard on a v1 memory cgroup', () => {
  it('arms and disarms', async () => {
    const ctx = new RunContext(newRunId('t-guard'));
    try {
      const cgroup = await createMemoryCgroup(ctx, 'guard', 16);
      expect(cgroup.version).toBe(1);
      const guard = await startOomGuard(ctx, cgroup);
      expect(oomControl(cgroup.dir)).toMatch(/^oom_kill_disable 1$/m);
      expect(await guard!.stop()).toEqual({ rescues: 0, stalls: 0, gaveUp: undefined });
      expect(oomControl(cgroup.dir)).toMatch(/^oom_kill_disable 0$/m);
    } finally {
      await ctx.dispose();
    }
  });

  it('a stall nothing relieves ends in the OOM kill, not a hang', async () => {
    const ctx = new RunContext(newRunId('t-guard'));
    try {
      const cgroup = await createMemoryCgroup(ctx, 'guard', 16);
      writeFileSync(join(cgroup.dir, 'memory.memsw.limit_in_bytes'), String(16 * 2 ** 20)); // no room in swap
      const guard = await startOomGuard(ctx, cgroup);
      const started = Date.now();
      const r = await execInCgroup(cgroup.dir, PMBENCH, ['-m', '32', '-s', '32', '-q', '1']);
      expect(r.signal).toBe('SIGKILL');
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(cgroupOomKills(cgroup)).toBe(1);
      const report = await guard!.stop();
      expect(report.gaveUp).toMatch(/no charge succeeded for 2000 ms/);
      expect(report.stalls).toBeGreaterThanOrEqual(1);
    } finally {
      await ctx.dispose();
    }
  }, 60_000);
});
