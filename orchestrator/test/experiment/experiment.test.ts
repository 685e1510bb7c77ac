/**
 * Integration: whole experiments under TCG with the real handler, real Redis and real
 * guests: every arm kind runs pmbench and its results are parsed; FluidMem arms evict and
 * fetch, swap arms swap in; memverify finds no lost data at 4x the resident limit; and
 * nothing (QEMU, handler, Redis) is left running.
 */
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { runExperiment } from '../../src/experiment/runner.js';
import { readResults } from '../../src/results/store.js';
import { RedisStore } from '../../src/kvstore/redis-client.js';
import { waitFor } from '../../src/process/wait.js';
import { freePort } from '../../src/vm/ports.js';

const runsDir = mkdtempSync(join(tmpdir(), 'fluidlab-runs-'));
process.env.FLUIDLAB_RUNS_DIR = runsDir;
const resultsRoot = mkdtempSync(join(tmpdir(), 'fluidlab-results-'));

/** Processes started for this test file (they inherit FLUIDLAB_RUNS_DIR). */
function ours(): { pid: number; cmd: string }[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid).flatMap((pid) => {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`FLUIDLAB_RUNS_DIR=${runsDir}`)) return [];
      return [{ pid: Number(pid), cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]! }];
    } catch { return []; }
  }).filter((p) => /qemu|fluidmem-monitor|redis-server/.test(p.cmd));
}

/** configs/test-tiny.yaml with its arms replaced (YAML lines) and an optional edit, in a temp
 * file; without the emulation probe (the first test covers it). */
function tinyVariant(arms: string, edit: (src: string) => string = (x) => x): string {
  const cfg = join(mkdtempSync(join(tmpdir(), 'fl-cfg-')), 'c.yaml');
  const src = readFileSync('configs/test-tiny.yaml', 'utf8').replace(/arms:[\s\S]*?workload:/, `arms:\n${arms}workload:`);
  writeFileSync(cfg, `${edit(src)}\nemulation_probe: false\n`);
  return cfg;
}

const REDIS_ARM = '  - { name: fluidmem-redis, kind: fluidmem, backend: redis, resident: 64M }\n';

function leftovers(): string[] {
  return ours().map((p) => p.cmd);
}

describe('experiments end to end', () => {
  it('runs every arm kind and records what paging happened', async () => {
    const loaded = loadConfig('configs/test-tiny.yaml');
    const { summary, dir } = await runExperiment(loaded, { resultsRoot });
    expect(summary.failed, JSON.stringify(summary.runs.filter((r) => r.status !== 'ok'))).toBe(0);

    const { runs } = readResults(dir);
    expect(runs.map((r) => r.arm.name)).toEqual(['dram', 'fluidmem-dram', 'fluidmem-redis', 'swap-tmpfs']);
    for (const r of runs) {
      expect(r.metrics['latency.ns.average']).toBeGreaterThan(0);
      expect(r.metrics['throughput.aps']).toBeGreaterThan(0);
      expect(r.histograms?.read?.length).toBeGreaterThan(0);
    }
    const byArm = Object.fromEntries(runs.map((r) => [r.arm.name, r]));
    for (const arm of ['fluidmem-dram', 'fluidmem-redis']) {
      expect(byArm[arm]!.metrics['handler.evictions']).toBeGreaterThan(1000);
      expect(byArm[arm]!.metrics['handler.remote_fetches']).toBeGreaterThan(1000);
      expect(byArm[arm]!.metrics['guest.vmstat.pswpin']).toBe(0);
    }
    expect(byArm['fluidmem-redis']!.vms[0]!.redisInfo?.redis_version).toMatch(/^\d+\./);
    expect(byArm['fluidmem-redis']!.metrics['redis.keys']).toBeGreaterThan(1000);
    expect(byArm['swap-tmpfs']!.metrics['guest.vmstat.pswpin']).toBeGreaterThan(1000);
    expect(byArm.dram!.metrics['guest.vmstat.pswpin']).toBe(0);
    expect(byArm.dram!.metrics['handler.faults']).toBeUndefined();
    for (const arm of ['fluidmem-dram', 'fluidmem-redis']) {
      // Percentiles of the workload's own faults, within the handler's histogram range.
      expect(byArm[arm]!.metrics['handler.fault_latency_ns.p50']).toBeGreaterThan(0);
      expect(byArm[arm]!.metrics['handler.fault_latency_ns.p99']).toBeGreaterThanOrEqual(byArm[arm]!.metrics['handler.fault_latency_ns.p50']!);
    }

    expect(summary.variants.map((v) => v.variant)).toEqual(['dram', 'fluidmem-dram', 'fluidmem-redis', 'swap-tmpfs']);
    expect(readdirSync(join(dir, 'logs', '003-fluidmem-redis-r1')).sort()).toEqual(['monitor.log', 'redis.log', 'vm0.qemu.log', 'vm0.serial.log', 'vm0.workload.txt']);
    // The emulation probe ran once, before the runs, in its own guest (logs kept).
    const emu = summary.emulation;
    expect(emu?.skipped, JSON.stringify(emu)).toBeUndefined();
    expect(emu?.userAccess?.factor).toBeGreaterThan(0);
    expect(emu?.kernelPath?.factor).toBeGreaterThan(0);
    expect(emu?.cpu.pinned).toBe(true);
    expect(readdirSync(join(dir, 'logs', 'emulation-probe'))).toContain('vm0-emu.serial.log');
    expect(summary.arms?.map((a) => `${a.name}:${a.placement}`)).toEqual(['dram:guest', 'fluidmem-dram:guest', 'fluidmem-redis:guest', 'swap-tmpfs:guest']);
    if (summary.accelerator === 'tcg') {
      expect(emu?.warnings.map((w) => w.split(':')[0])).toEqual(['fluidmem-dram vs swap-tmpfs (both in TCG guests)', 'fluidmem-redis vs swap-tmpfs (both in TCG guests)']);
    }
    expect(leftovers()).toEqual([]);
    expect(readdirSync(runsDir)).toEqual([]);
  });

  it('one handler serves two guests at once, each in its own namespace, placed on the CPUs asked for', async () => {
    const placed = REDIS_ARM.replace(' }\n', ', cpus: { vcpus: 0, emulator: last, monitor: last, store: last } }\n');
    const cfg = tinyVariant(placed, (src) => src.replace('vms:\n', 'vms:\n  - { name: vm1, memory: 256M, timeouts: { boot: 150s, command: 300s } }\n'));
    const { records } = await runExperiment(loadConfig(cfg), { resultsRoot });
    expect(records[0]!.status, records[0]!.error).toBe('ok');
    // read back from the kernel (Cpus_allowed_list of every thread), both guests alike
    const last = String(cpus().length - 1);
    expect(records[0]!.placement).toEqual({ requested: `vcpus 0, emulator ${last}, monitor ${last}, store ${last}`, vcpus: '0', emulator: last, monitor: last, store: last });
    expect(records[0]!.vms.map((v) => v.name)).toEqual(['vm1', 'vm0']);
    for (const vm of records[0]!.vms) {
      expect(vm.metrics['latency.ns.average']).toBeGreaterThan(0);
      expect(vm.metrics['handler.evictions']).toBeGreaterThan(1000);
      expect(vm.metrics['handler.remote_fetches']).toBeGreaterThan(1000);
      expect((vm.handler?.after as { id: string }).id).toBe(vm.name);
    }
    expect(leftovers()).toEqual([]);
  });

  it('loses no data under heavy eviction (memverify at 4x the resident limit)', async () => {
    const loaded = loadConfig('configs/integrity.yaml');
    loaded.config.emulation_probe = false;
    const { summary, records } = await runExperiment(loaded, { resultsRoot });
    expect(summary.failed, JSON.stringify(summary.runs)).toBe(0);
    for (const r of records) {
      expect(r.metrics['memverify.mismatches']).toBe(0);
      expect(r.metrics['memverify.pages']).toBe(65536);
      expect(r.metrics['handler.evictions']).toBeGreaterThan(65536);
      expect(r.metrics['handler.remote_fetches']).toBeGreaterThan(65536);
    }
    expect(leftovers()).toEqual([]);
  });

  it('a DRAM handler that crashes mid-run (its pages die with it: no restart) fails the run with a clear error and leaves nothing', async () => {
    const cfg = tinyVariant('  - { name: fluidmem-dram, kind: fluidmem, backend: dram, resident: 64M }\n', (src) => src.replace('duration: 1', 'duration: 30'));
    let killed = false;
    const { records } = await runExperiment(loadConfig(cfg), {
      resultsRoot,
      events: {
        phase: (_run, phase) => {
          if (phase !== 'run' || killed) return;
          const monitor = ours().find((p) => p.cmd.endsWith('fluidmem-monitor'));
          expect(monitor).toBeDefined();
          process.kill(monitor!.pid, 'SIGKILL');
          killed = true;
        },
      },
    });
    expect(killed).toBe(true);
    expect(records[0]!.status).toBe('failed');
    expect(records[0]!.error).toMatch(/^fluidmem-monitor \(pid \d+\) was killed by SIGKILL during the run: its guests stop rather than lose memory/);
    expect(leftovers()).toEqual([]);
    expect(readdirSync(runsDir)).toEqual([]);
  });

  it('uses an external TCP Redis with a password, under a per-run prefix removed afterwards', async () => {
    const port = await freePort();
    const redis = execa('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', 'lab-secret', '--save', '', '--appendonly', 'no'], { reject: false });
    try {
      const store = await waitFor(() => RedisStore.connect({ url: `redis://127.0.0.1:${port}`, password: 'lab-secret' }), {
        timeoutMs: 10_000, what: `the test Redis on port ${port}`, retryIf: () => true,
      });
      await expect(RedisStore.connect({ url: `redis://127.0.0.1:${port}` })).rejects.toThrow(/cannot reach Redis/);
      process.env.FL_TEST_REDIS_PW = 'lab-secret';
      const cfg = tinyVariant(`${REDIS_ARM}redis:\n  url: redis://127.0.0.1:${port}\n  password_env: FL_TEST_REDIS_PW\n`);
      const { records } = await runExperiment(loadConfig(cfg), { resultsRoot });
      expect(records[0]!.status, records[0]!.error).toBe('ok');
      expect(records[0]!.metrics['handler.remote_fetches']).toBeGreaterThan(1000);
      expect(records[0]!.metrics['redis.keys']).toBeGreaterThan(1000);
      expect(await store.countKeys('fluidlab:')).toBe(0);
      await store.close();
    } finally {
      redis.kill('SIGTERM');
      await redis;
    }
  });

  it('records a failed run, keeps going, and exits non-zero from the CLI', async () => {
    // Redis is unreachable: the fluidmem-redis run fails, the dram run still runs.
    const cfg = tinyVariant(`${REDIS_ARM}  - { name: dram, kind: none }\nredis:\n  url: unix:///nonexistent/redis.sock\n`);
    const r = await execa('node', ['orchestrator/bin/orchestrate.js', 'up', cfg, '--json', '--results', resultsRoot], { reject: false });
    expect(r.exitCode).toBe(1);
    const summary = JSON.parse(r.stdout) as { runs: { status: string; error?: string }[] };
    expect(summary.runs.map((x) => x.status)).toEqual(['failed', 'ok']);
    expect(summary.runs[0]!.error).toMatch(/cannot reach Redis at unix:\/\/\/nonexistent\/redis.sock/);
    expect(leftovers()).toEqual([]);
  });
});
