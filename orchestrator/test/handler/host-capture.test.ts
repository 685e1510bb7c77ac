/**
 * Host placement: the benchmark itself runs on the host (workloads/bin/*-host, dynamically
 * linked) with libfluidmem-attach.so preloaded in FLUIDMEM_CAPTURE=anon mode, so its
 * working-set mapping is served by a real fluidmem-monitor (dram backend, real
 * userfaultfd). And helpers/bin/fluidlab-cgexec, which starts a process inside a memory
 * cgroup (real cgroup v1 memory directories, removed in finally).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import type { MonitorStats, VmStats } from '../../src/handler/control.js';
import { attachEnv, HELPERS_BIN, Monitor } from '../../src/handler/monitor.js';
import { parsePmbenchReport } from '../../src/pmbench/index.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const PMBENCH_HOST = join(ROOT, 'workloads', 'bin', 'pmbench-host');
const MEMVERIFY_HOST = join(ROOT, 'workloads', 'bin', 'memverify-host');
const CGEXEC = join(HELPERS_BIN, 'fluidlab-cgexec');
const CGROUP_V1_MEMORY = '/sys/fs/cgroup/memory';
const PAGE = 4096;
const CAPACITY_PAGES = 1024; // 4 MiB resident
const SET_MIB = 16; // 4x capacity
const REGION_BYTES = SET_MIB << 20;

let dir: string;
const monitors: Monitor[] = [];
const monitorLogs = new Map<Monitor, string>();
const children: ResultPromise[] = [];

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let seq = 0;
async function monitor(): Promise<Monitor> {
  const n = ++seq;
  const m = await Monitor.start({
    socketPath: join(dir, `m${n}.sock`),
    controlPath: join(dir, `m${n}.ctl`),
    backend: 'dram',
    capacityPages: CAPACITY_PAGES,
    logFile: join(dir, `m${n}.log`),
  });
  monitors.push(m);
  monitorLogs.set(m, join(dir, `m${n}.log`));
  return m;
}

function spawn(file: string, args: string[], env: Record<string, string>): ResultPromise {
  const p = execa(file, args, { env, extendEnv: true, reject: false, stdin: 'ignore', cleanup: true });
  children.push(p);
  return p;
}

/** Polls the stats until vmId is listed with evictions and remote fetches, or the process ends. */
async function attachedWithPaging(m: Monitor, vmId: string, proc: ResultPromise): Promise<VmStats | undefined> {
  let ended = false;
  void proc.finally(() => { ended = true; });
  const v = await waitFor<VmStats | null>(`${vmId} to page through the monitor`, async () => {
    const vm = (await m.control.stats()).vms.find((x) => x.id === vmId);
    if (vm && vm.evictions > 0 && vm.remote_fetches > 0) return vm;
    return ended ? null : undefined;
  });
  return v ?? undefined;
}

/** The memory line of /proc/PID/cgroup once it names the cgroup `name` (last seen if never). */
async function memoryCgroupWhileRunning(proc: ResultPromise, name: string): Promise<string | undefined> {
  let ended = false;
  let last: string | undefined;
  void proc.finally(() => { ended = true; });
  return waitFor(`pid ${proc.pid} in memory cgroup ${name}`, () => {
    try {
      last = readFileSync(`/proc/${proc.pid}/cgroup`, 'utf8').split('\n').find((l) => /^\d+:memory:/.test(l));
    } catch { /* gone */ }
    if (last?.endsWith(`/${name}`)) return last;
    return ended ? null : undefined;
  }).then((v) => v ?? last);
}

/** A fresh cgroup v1 memory directory; fn runs with it, the directory is removed afterwards. */
async function withMemoryCgroup<T>(fn: (cg: string, name: string) => Promise<T>): Promise<T> {
  const name = `fluidlab-test-${randomBytes(4).toString('hex')}`;
  const cg = join(CGROUP_V1_MEMORY, name);
  mkdirSync(cg);
  try {
    return await fn(cg, name);
  } finally {
    rmdirSync(cg);
  }
}

function expectTotalsPaged(s: MonitorStats): void {
  expect(s.total.evictions).toBeGreaterThan(0);
  expect(s.total.remote_fetches).toBeGreaterThan(0);
}

beforeAll(async () => {
  await execa('make', ['-C', join(ROOT, 'helpers')], { stdio: 'inherit' });
  await execa('make', ['-C', join(ROOT, 'workloads')], { stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'fluidlab-host-capture-'));
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.catch(() => undefined)));
  await Promise.all(monitors.map((m) => m.dispose().catch(() => undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('FLUIDMEM_CAPTURE=anon: host benchmarks served by fluidmem-monitor', () => {
  it('pmbench-host: a 4x-capacity working set pages through the monitor and the report parses', async () => {
    const m = await monitor();
    const env = attachEnv({ socketPath: m.socketPath, regionBytes: REGION_BYTES, vmId: 'host-pmbench', capture: 'anon' });
    const proc = spawn(PMBENCH_HOST, ['-m', String(SET_MIB), '-s', String(SET_MIB), '2'], env);
    const seen = await attachedWithPaging(m, 'host-pmbench', proc);
    const r = await proc;
    expect(r.stderr).not.toContain('fluidmem-attach');
    expect(r.exitCode).toBe(0);
    expect(seen, `pmbench ended before the monitor listed it paging; monitor log:\n${readFileSync(monitorLogs.get(m)!, 'utf8')}`)
      .toBeDefined();
    expect(seen!.pid).toBe(proc.pid);
    expect(seen!.region_bytes).toBe(REGION_BYTES);
    expect(seen!.resident_pages).toBeLessThanOrEqual(CAPACITY_PAGES);

    const report = parsePmbenchReport(String(r.stdout));
    expect(report.parameters.mapsizeMib).toBe(SET_MIB);
    expect(report.parameters.setsizeMib).toBe(SET_MIB);
    expect(report.interrupted).toBe(false);
    expect(report.threads).toHaveLength(1);
    expect(report.threads[0]!.benchmark.samples).toBeGreaterThan(0);
    expect(report.metrics['latency.ns.average']).toBeGreaterThan(0);

    // pmbench unmapped its region and exited: the VM is gone, its paging stays in the totals.
    const after = await waitFor('vm to leave stats', async () => {
      const s = await m.control.stats();
      return s.vms.length === 0 ? s : undefined;
    });
    expectTotalsPaged(after);
    expect(after.total.resident_pages).toBe(0);
    // pmbench reads and writes never-touched pages (ratio 50): only the writes' zero fills
    // get a private zeroed page, the reads' the shared zero page
    const z = after.total as unknown as { zero_fills: number; write_zero_fills: number };
    expect(z.write_zero_fills).toBeGreaterThan(0);
    expect(z.write_zero_fills).toBeLessThan(z.zero_fills);
  });

  it('memverify-host started by fluidlab-cgexec in a memory cgroup: LD_PRELOAD passes through, zero mismatches', async () => {
    const m = await monitor();
    const env = attachEnv({ socketPath: m.socketPath, regionBytes: REGION_BYTES, vmId: 'host-memverify', capture: 'anon' });
    await withMemoryCgroup(async (cg, name) => {
      const proc = spawn(CGEXEC, [cg, '--', MEMVERIFY_HOST, '--mib', String(SET_MIB), '--passes', '3'], env);
      const [seen, memoryLine] = await Promise.all([
        attachedWithPaging(m, 'host-memverify', proc),
        memoryCgroupWhileRunning(proc, name),
      ]);
      const r = await proc;
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(seen).toBeDefined();
      // exec kept the pid: the attached process is the one cgexec put into the cgroup
      expect(seen!.pid).toBe(proc.pid);
      expect(memoryLine).toMatch(new RegExp(`^\\d+:memory:.*/${name}$`));
      const out = JSON.parse(String(r.stdout));
      expect(out).toMatchObject({ mib: SET_MIB, pages: REGION_BYTES / PAGE, passes: 3, mismatches: 0, first_mismatch: null });
    });
    const after = await waitFor('vm to leave stats', async () => {
      const s = await m.control.stats();
      return s.vms.length === 0 ? s : undefined;
    });
    expectTotalsPaged(after);
  });

  it('without FLUIDMEM_CAPTURE (qemu rule) a non-fixed mapping is not captured', async () => {
    const m = await monitor();
    const env = attachEnv({ socketPath: m.socketPath, regionBytes: REGION_BYTES, vmId: 'not-captured' });
    const r = await spawn(MEMVERIFY_HOST, ['--mib', String(SET_MIB), '--passes', '1'], env);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse(String(r.stdout)).mismatches).toBe(0);
    expect((await m.control.stats()).total.faults).toBe(0);
  });

  it('an unknown FLUIDMEM_CAPTURE stops the process at load with exit 70 and says why', async () => {
    const m = await monitor();
    const env = { ...attachEnv({ socketPath: m.socketPath, regionBytes: REGION_BYTES, vmId: 'bad' }), FLUIDMEM_CAPTURE: 'guest' };
    const r = await spawn(MEMVERIFY_HOST, ['--mib', '1'], env);
    expect(r.exitCode).toBe(70);
    expect(r.stderr).toContain("fluidmem-attach: unknown FLUIDMEM_CAPTURE 'guest' (expected 'qemu' or 'anon')");
    expect(r.stdout).toBe('');
  });
});

describe('fluidlab-cgexec', () => {
  it('puts the program into the memory cgroup, pinned with --cpu', async () => {
    await withMemoryCgroup(async (cg, name) => {
      const r = await execa(CGEXEC, ['--cpu', '0', cg, '--', 'cat', '/proc/self/cgroup', '/proc/self/status'], { reject: false });
      expect(r.exitCode, String(r.stderr)).toBe(0);
      const memoryLine = String(r.stdout).split('\n').find((l) => /^\d+:memory:/.test(l));
      expect(memoryLine).toBeDefined();
      expect(memoryLine!.endsWith(`/${name}`)).toBe(true);
      expect(String(r.stdout)).toMatch(/^Cpus_allowed_list:\s+0$/m);
      expect(readFileSync(join(cg, 'cgroup.procs'), 'utf8').trim()).toBe('');
    });
  });

  it('a directory that is not a cgroup: clear error, exit 125, program not run', async () => {
    const notCg = mkdtempSync(join(dir, 'not-a-cgroup-'));
    const r = await execa(CGEXEC, [notCg, '--', 'echo', 'ran'], { reject: false });
    expect(r.exitCode).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`fluidlab-cgexec: cannot join cgroup ${notCg}`);
    expect(r.stderr).toContain('not a cgroup directory');
    const missing = await execa(CGEXEC, [join(CGROUP_V1_MEMORY, 'fluidlab-no-such-cgroup'), '--', 'echo', 'ran'], { reject: false });
    expect(missing.exitCode).toBe(125);
    expect(missing.stderr).toContain('No such file or directory');
  });

  it('a program that cannot be run: exit 127 (not found) / 126 (not executable)', async () => {
    await withMemoryCgroup(async (cg) => {
      const notFound = await execa(CGEXEC, [cg, '--', join(dir, 'no-such-program')], { reject: false });
      expect(notFound.exitCode).toBe(127);
      expect(notFound.stderr).toContain('fluidlab-cgexec: cannot run');
      const plainFile = join(dir, 'not-executable');
      writeFileSync(plainFile, 'data\n', { mode: 0o644 });
      const notExec = await execa(CGEXEC, [cg, '--', plainFile], { reject: false });
      expect(notExec.exitCode).toBe(126);
      const usage = await execa(CGEXEC, [cg], { reject: false });
      expect(usage.exitCode).toBe(125);
      expect(usage.stderr).toContain("missing '--' before PROGRAM");
    });
  });
});
