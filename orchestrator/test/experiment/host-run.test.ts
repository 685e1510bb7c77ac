/**
 * Integration: host placement end to end (real fluidmem-monitor, real Redis, real
 * userfaultfd, real memory cgroups, zram and loop devices, real swap). Every arm kind runs
 * the host build of pmbench; fluidmem arms evict and fetch through the handler, swap arms
 * swap in; and the host's swap list, loop devices, zram devices and cgroups are the same
 * afterwards: after a normal run, after SIGINT mid-run, and after SIGKILL of the
 * orchestrator followed by `orchestrate down --all`.
 */
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { runExperiment } from '../../src/experiment/runner.js';
import { snapshotHostState, type HostState } from '../../src/host/host-state.js';
import { waitFor } from '../../src/process/wait.js';
import { readResults } from '../../src/results/store.js';

const runsDir = mkdtempSync(join(tmpdir(), 'fluidlab-runs-'));
process.env.FLUIDLAB_RUNS_DIR = runsDir;
const resultsRoot = mkdtempSync(join(tmpdir(), 'fluidlab-results-'));
const CLI = 'orchestrator/bin/orchestrate.js';

/** What a host run may change: it must be the same before and after (host/host-state.ts),
 * plus the swap backing files the runs create. */
function hostState(): HostState & { swapFiles: string[] } {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
  return { ...snapshotHostState(), swapFiles: [...list('/dev/shm/fluidlab'), ...list('/var/tmp/fluidlab')] };
}

/** Processes started for this file's runs (they inherit FLUIDLAB_RUNS_DIR). */
function leftovers(): string[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid).flatMap((pid) => {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`FLUIDLAB_RUNS_DIR=${runsDir}`)) return [];
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!;
      return /pmbench|fluidmem-monitor|redis-server|cgexec|oom-guard/.test(cmd) ? [cmd] : [];
    } catch { return []; }
  });
}

/** configs/host-tiny.yaml with its arms replaced and the duration set, in a temp file. */
function hostVariant(arms: string, duration: number): string {
  const cfg = join(mkdtempSync(join(tmpdir(), 'fl-cfg-')), 'c.yaml');
  const src = readFileSync('configs/host-tiny.yaml', 'utf8')
    .replace(/arms:[\s\S]*?workload:/, `arms:\n${arms}workload:`)
    .replace(/duration: \d+/, `duration: ${duration}`);
  writeFileSync(cfg, src);
  return cfg;
}

describe('host placement', () => {
  it('runs every arm kind natively and leaves the host as it found it', async () => {
    const before = hostState();
    const { summary, dir } = await runExperiment(loadConfig('configs/host-tiny.yaml'), { resultsRoot });
    expect(summary.failed, JSON.stringify(summary.runs.filter((r) => r.status !== 'ok'))).toBe(0);
    const { runs } = readResults(dir);
    const byArm = Object.fromEntries(runs.map((r) => [r.arm.name, r]));
    expect(Object.keys(byArm).sort()).toEqual(['dram', 'fluidmem-dram', 'fluidmem-redis', 'swap-disk', 'swap-tmpfs', 'swap-zram']);
    for (const r of runs) {
      expect(r.arm.placement).toBe('host');
      expect(r.metrics['latency.ns.average']).toBeGreaterThan(0);
      expect(r.placement?.workload).toMatch(/^cpu \d+$/);
      // The benchmark's own report is kept with the results.
      expect(readFileSync(join(dir, 'logs', r.id, 'host.workload.txt'), 'utf8')).toContain('Page latency during benchmark');
    }
    for (const arm of ['fluidmem-dram', 'fluidmem-redis']) {
      const m = byArm[arm]!.metrics;
      expect(m['handler.evictions'], arm).toBeGreaterThan(0);
      expect(m['handler.remote_fetches'], arm).toBeGreaterThan(0);
      // 64 MiB touched through a 16 MiB (4096-page) resident set: most faults were evictions' doing.
      expect(m['handler.faults'], arm).toBeGreaterThan(16384);
      expect(byArm[arm]!.placement?.monitor).toBe(byArm[arm]!.placement?.workload);
    }
    // Evicted pages went to Redis (the monitor deletes them when the benchmark exits).
    expect(byArm['fluidmem-redis']!.metrics['handler.backend_writes']).toBeGreaterThan(0);
    for (const arm of ['swap-zram', 'swap-tmpfs', 'swap-disk']) {
      const m = byArm[arm]!.metrics;
      expect(m['host.vmstat.pswpout'], arm).toBeGreaterThan(0);
      // the OOM guard watched the cgroup (v1 here) and the run was not OOM-killed
      expect(byArm[arm]!.placement?.['oom-guard'], arm).toMatch(/unpinned/);
      expect(m['cgroup.oom_rescues'], arm).toEqual(expect.any(Number));
      expect(m['cgroup.oom_guard_failed'], arm).toBe(0);
      expect(m['cgroup.oom_kills'], arm).toBe(0);
      expect(m['host.vmstat.pswpin'], arm).toBeGreaterThan(0);
    }
    expect(byArm['swap-zram']!.metrics['swap.zram.compression_ratio']).toBeGreaterThan(0);
    expect(byArm.dram!.metrics['host.vmstat.pswpin'] ?? 0).toBeLessThan(byArm['swap-zram']!.metrics['host.vmstat.pswpin']!);
    expect(hostState()).toEqual(before);
    expect(leftovers()).toEqual([]);
  });

  for (const how of ['SIGINT', 'SIGKILL'] as const) {
    it(`undoes every host change after ${how} of the orchestrator mid-run${how === 'SIGKILL' ? ' and orchestrate down --all' : ''}`, async () => {
      const before = hostState();
      const cfg = hostVariant('  - { name: swap-zram, kind: swap, resident: 16M, swap_on: zram, placement: host }\n  - { name: swap-tmpfs, kind: swap, resident: 16M, swap_on: tmpfs, placement: host }\n', 60);
      const up = execa('node', [CLI, 'up', cfg, '--results-dir', resultsRoot], { reject: false, env: { FLUIDLAB_RUNS_DIR: runsDir } });
      // Mid-run: our swap device is active and the benchmark is running in its cgroup.
      await waitFor(() => hostState().swaps.length > before.swaps.length && leftovers().some((c) => c.includes('pmbench')), { timeoutMs: 60_000, what: 'the host run to start swapping' });
      up.kill(how);
      const r = await up;
      if (how === 'SIGINT') expect(r.exitCode).toBe(130);
      else {
        expect(r.signal).toBe('SIGKILL');
        expect(hostState()).not.toEqual(before); // the orchestrator had no chance to undo anything
        const down = await execa('node', [CLI, 'down', '--all'], { reject: false, env: { FLUIDLAB_RUNS_DIR: runsDir } });
        expect(down.exitCode, down.stderr).toBe(0);
      }
      await waitFor(() => leftovers().length === 0, { timeoutMs: 15_000, what: 'the benchmark to be gone' });
      expect(hostState()).toEqual(before);
    });
  }

  it('refuses, before changing anything, a swap arm the host cannot hold', async () => {
    const before = hostState();
    const cfg = hostVariant('  - { name: swap-tmpfs, kind: swap, resident: 16M, swap_on: tmpfs, swap_size: 100T, placement: host }\n', 2);
    const { summary } = await runExperiment(loadConfig(cfg), { resultsRoot });
    expect(summary.failed).toBe(1);
    expect(summary.runs[0]!.error).toMatch(/memory/i);
    expect(hostState()).toEqual(before);
  });
});
