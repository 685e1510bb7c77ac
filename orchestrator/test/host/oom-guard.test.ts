/**
 * The OOM guard (helpers/bin/fluidlab-oom-guard via host/oom-guard.ts) on a real v1
 * memory cgroup: it arms (oom_kill_disable 1) and disarms on stop; a stall that nothing can
 * relieve (RAM+swap limited to the RAM limit, so reclaim has nowhere to put a page) still
 * ends in the kernel's OOM kill within seconds instead of hanging the benchmark (with
 * oom_kill_disable set and no guard it would wait forever), and the guard says it gave up;
 * a guard SIGKILLed mid-stall is noticed and the OOM killer turned back on.
 * The rescue itself (a stall that a shrink from outside ends) comes from a kernel quirk
 * this test cannot provoke at will; host runs record it as cgroup.oom_rescues.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { waitFor } from '../../src/process/wait.js';
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
    expect(parseGuardLog('ready\nstall 1\nrescue 1 attempts=1 us=900\nstall 2\nstall 3\nrescue 2 attempts=2 us=800\nrescues 2 stalls 3\n')).toEqual({ rescues: 2, stalls: 3, gaveUp: undefined });
    expect(parseGuardLog('ready\nstall 1\ngave-up on stall 1 after 99 attempts: no fault completed for 2000 ms\n').gaveUp).toMatch(/^gave-up on stall 1/);
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
      expect(report.gaveUp).toMatch(/no fault completed for 2000 ms/);
      // a shrink may swap pages out that the benchmark then faults back in (no new RAM+swap
      // charge): that ends a stall, and the next one begins; only the give-up is certain
      expect(report.stalls).toBeGreaterThanOrEqual(1);
      expect(report.failed).toBeUndefined();
    } finally {
      await ctx.dispose();
    }
  }, 60_000);

  it('a guard that dies mid-stall is noticed: the OOM killer is turned back on, nothing hangs', async () => {
    const ctx = new RunContext(newRunId('t-guard'));
    try {
      const cgroup = await createMemoryCgroup(ctx, 'guard', 16);
      writeFileSync(join(cgroup.dir, 'memory.memsw.limit_in_bytes'), String(16 * 2 ** 20));
      const guard = await startOomGuard(ctx, cgroup);
      const bench = execInCgroup(cgroup.dir, PMBENCH, ['-m', '32', '-s', '32', '-q', '1']);
      await waitFor(() => /^under_oom 1$/m.test(oomControl(cgroup.dir)), { timeoutMs: 20_000, intervalMs: 5, what: 'the benchmark to stall' });
      process.kill(guard!.pid, 'SIGKILL'); // no chance to disarm itself
      const r = await bench;
      expect(r.signal).toBe('SIGKILL'); // without the orchestrator's disarm it would wait forever
      const report = await guard!.stop();
      expect(report.failed).toMatch(/killed by SIGKILL/);
      expect(oomControl(cgroup.dir)).toMatch(/^oom_kill_disable 0$/m);
    } finally {
      await ctx.dispose();
    }
  }, 60_000);
});
