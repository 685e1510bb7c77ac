/**
 * Issue 11: the monitor's fast paths, end to end with a real monitor, real Redis (Unix
 * socket), the real attach library and real workloads whose every byte is checked:
 *  - the prefetch detector's unit checks (helpers/tests/prefetch-test.c);
 *  - prefetch: memverify-host writes then reads back its working set in order at 8x the
 *    monitor's capacity: the read phase is a sequential scan, so most of its faults must be
 *    served from prefetched pages, with zero mismatches;
 *  - clean pages: that read phase evicts pages it only read, whose Redis copy is current:
 *    they must be dropped without a write (clean_drops), and every eviction is either a
 *    write or a clean drop;
 *  - written pages are never dropped as clean: uffd-harness mixes reads, partial and full
 *    writes over a 4x working set and verifies every byte against its shadow copy.
 * Each assertion on a counter fails without its feature (the counters stay 0); the
 * FLUIDMEM_PREFETCH=0 FLUIDMEM_CLEAN_SKIP=0 run shows they are not counted by accident.
 * Runs helpers from FLUIDLAB_HELPERS_OUT / FLUIDLAB_HELPERS_BIN like the other handler tests.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { MonitorControl, type MonitorStats } from '../../src/handler/control.js';
import { attachEnv } from '../../src/handler/monitor.js';
import { waitFor } from '../../src/process/wait.js';
import { buildTestHelpers, TEST_ATTACH, TEST_HARNESS, TEST_HELPERS_BIN, TEST_MONITOR } from './helpers-build.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const MEMVERIFY_HOST = join(ROOT, 'workloads', 'bin', 'memverify-host');
const PAGE = 4096;
const MIB = 8; // 2048 pages
const CAPACITY = 256; // 8x overcommit

let dir: string;
let redis: ResultPromise | undefined;
let redisSock: string;
const procs: ResultPromise[] = [];
const controls: MonitorControl[] = [];
let seq = 0;

/** The issue 11 counters (not in control.ts's Counters type yet). */
interface FastCounters {
  faults: number; zero_fills: number; remote_fetches: number; evictions: number; backend_writes: number;
  prefetch_issued: number; prefetch_hits: number; prefetch_wasted: number; prefetch_buffered: number;
  clean_drops: number; write_zero_fills: number;
}
const fast = (s: MonitorStats): FastCounters => s.total as unknown as FastCounters;
interface PrefetchPool { max_window: number; share_pct: number; limit: number; buffered: number; max_buffered: number }
const pool = (s: MonitorStats): PrefetchPool => (s as unknown as { prefetch: PrefetchPool }).prefetch;

/** Starts a monitor on the test's Redis; `cpu` pins it (taskset) to that CPU. */
async function startMonitor(env: Record<string, string> = {}, cpu?: number): Promise<{ control: MonitorControl; sock: string }> {
  const n = ++seq;
  const sock = join(dir, `m${n}.sock`), ctl = join(dir, `m${n}.ctl`);
  const args = ['--socket', sock, '--control', ctl, '--backend', `unix://${redisSock}`,
    '--capacity', String(CAPACITY), '--key-prefix', `fast${n}:`];
  const proc = execa(cpu === undefined ? TEST_MONITOR : 'taskset', cpu === undefined ? args : ['-c', String(cpu), TEST_MONITOR, ...args], {
    env, extendEnv: true, reject: false, buffer: false, stdin: 'ignore', cleanup: true,
  });
  procs.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  proc.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  await waitFor(() => out.includes('fluidmem-monitor: ready') || proc.exitCode !== null ? true : undefined,
    { timeoutMs: 20_000, what: 'the monitor ready line' });
  if (!out.includes('ready')) throw new Error(`fluidmem-monitor did not start (${TEST_MONITOR}): ${err}`);
  const control = await MonitorControl.connect(ctl, { timeoutMs: 20_000 });
  controls.push(control);
  return { control, sock };
}

async function memverify(sock: string, vmId: string): Promise<{ mismatches: number; exitCode: number | undefined; stderr: string }> {
  const r = await execa(MEMVERIFY_HOST, ['--mib', String(MIB), '--passes', '1'], {
    env: attachEnv({ socketPath: sock, regionBytes: MIB << 20, vmId, library: TEST_ATTACH, capture: 'anon' }),
    extendEnv: true, reject: false, stdin: 'ignore', timeout: 300_000,
  });
  const out = JSON.parse(String(r.stdout).trim().split('\n').pop()!);
  return { mismatches: out.mismatches, exitCode: r.exitCode, stderr: String(r.stderr) };
}

/** Totals once the VM left (its counters stay in the totals). */
async function totalsAfter(control: MonitorControl): Promise<MonitorStats> {
  return waitFor(async () => {
    const s = await control.stats();
    return s.vms.length === 0 && s.total.evicting_pages === 0 ? s : undefined;
  }, { timeoutMs: 30_000, what: 'the VM to leave the stats' });
}

beforeAll(async () => {
  await buildTestHelpers();
  if (!existsSync(MEMVERIFY_HOST)) await execa('make', ['-C', join(ROOT, 'workloads')], { stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'fluidlab-fastpath-'));
  redisSock = join(dir, 'redis.sock');
  redis = execa('/usr/bin/redis-server', ['--port', '0', '--unixsocket', redisSock, '--unixsocketperm', '600',
    '--save', '', '--appendonly', 'no', '--dir', dir], { reject: false, buffer: false, stdio: 'ignore', cleanup: true });
  await waitFor(() => existsSync(redisSock), { timeoutMs: 20_000, what: 'the redis socket' });
});

afterAll(async () => {
  for (const c of controls) c.close();
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.catch(() => undefined)));
  redis?.kill('SIGKILL');
  await redis?.catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('prefetch trend detector (unit)', () => {
  it('helpers/tests/prefetch-test passes all its checks', async () => {
    const r = await execa(join(TEST_HELPERS_BIN, 'prefetch-test'), [], { reject: false });
    expect(r.stdout).toMatch(/prefetch-test: \d+ checks, 0 failed/);
    expect(r.exitCode).toBe(0);
  });
});

describe('spin-then-block placement (issue 11 item 3)', () => {
  const cpus = availableParallelism();
  async function pinnedRun(monitorCpu: number, workloadCpu: number): Promise<{ mode: string; polls: number }> {
    const m = await startMonitor({}, monitorCpu);
    const r = execa('taskset', ['-c', String(workloadCpu), TEST_HARNESS, '--region-pages', '1024', '--pages', '512',
      '--ops', '3000', '--threads', '1', '--hold'], {
      env: attachEnv({ socketPath: m.sock, regionBytes: 1024 * PAGE, vmId: `pin${monitorCpu}${workloadCpu}`, library: TEST_ATTACH }),
      extendEnv: true, reject: false, stdin: 'pipe', buffer: false, cleanup: true,
    });
    procs.push(r);
    let out = '';
    r.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    await waitFor(() => (out.includes('holding') ? true : undefined), { timeoutMs: 120_000, what: 'the harness to finish' });
    const spin = (await m.control.stats() as unknown as { spin: { mode: string; polls: number } }).spin;
    r.stdin!.end();
    await r;
    expect(JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!).corrupt_bytes).toBe(0);
    return spin;
  }

  it('never spins while the monitor shares its only CPU with the attached process', async () => {
    const spin = await pinnedRun(0, 0);
    expect(spin.mode).toMatch(/shares its only CPU with vm pin00/);
    expect(spin.polls).toBe(0);
  });

  it.runIf(cpus >= 2)('spins adaptively when the monitor has a CPU of its own', async () => {
    const spin = await pinnedRun(0, 1);
    expect(spin.mode).toBe('adaptive');
  });
});

describe('fluidmem-monitor fast paths with Redis (issue 11)', () => {
  it('a sequential read-back at 8x overcommit is served from prefetched pages and evicts clean pages without writing, zero mismatches', async () => {
    const m = await startMonitor();
    const r = await memverify(m.sock, 'seq');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.mismatches).toBe(0);
    const s = await totalsAfter(m.control);
    const t = fast(s);
    const pages = (MIB << 20) / PAGE;
    expect(t.faults).toBe(t.zero_fills + t.remote_fetches);
    // memverify's write phase writes every never-seen page first: each such write fault
    // gets a private zeroed page, not the shared zero page and a copy-on-write after it
    expect(t.write_zero_fills).toBeGreaterThan(pages / 2);
    expect(t.write_zero_fills).toBeLessThanOrEqual(t.zero_fills);
    // the read phase faults on (nearly) every page; most must be prefetch hits
    expect(t.remote_fetches).toBeGreaterThan(pages - CAPACITY);
    expect(t.prefetch_hits).toBeGreaterThan(pages / 2);
    expect(t.prefetch_hits).toBeLessThanOrEqual(t.prefetch_issued);
    expect(t.prefetch_hits + t.prefetch_wasted).toBeLessThanOrEqual(t.prefetch_issued);
    // the read phase's evictions are of pages it only read: dropped without a write
    expect(t.clean_drops).toBeGreaterThan(pages / 2);
    expect(t.backend_writes + t.clean_drops).toBe(t.evictions); // no all-zero pages in memverify's pattern
    // the prefetch buffers never held more than their share (12%) of the resident limit
    expect(pool(s).limit).toBe(Math.floor((CAPACITY * 12) / 100));
    expect(pool(s).max_buffered).toBeGreaterThan(0);
    expect(pool(s).max_buffered).toBeLessThanOrEqual(pool(s).limit);
    expect(pool(s).buffered).toBe(0); // the VM left: its buffers were freed
    const clean = (s as unknown as { clean_tracking: { vms_on: number; scans: number } }).clean_tracking;
    expect(clean.vms_on).toBe(1);
    expect(clean.scans).toBeGreaterThan(0);
  });

  it('FLUIDMEM_PREFETCH_SHARE=2 bounds the prefetch buffers to 2% of the resident limit, still zero mismatches', async () => {
    const m = await startMonitor({ FLUIDMEM_PREFETCH_SHARE: '2' });
    const r = await memverify(m.sock, 'share');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.mismatches).toBe(0);
    const s = await totalsAfter(m.control);
    expect(pool(s).limit).toBe(Math.floor((CAPACITY * 2) / 100));
    expect(pool(s).max_buffered).toBeGreaterThan(0);
    expect(pool(s).max_buffered).toBeLessThanOrEqual(pool(s).limit);
    expect(fast(s).prefetch_hits).toBeGreaterThan(0);
  });

  it('with FLUIDMEM_PREFETCH=0, FLUIDMEM_CLEAN_SKIP=0 and FLUIDMEM_WRITE_ZERO=0 nothing is prefetched, every eviction is written, every zero fill maps the zero page', async () => {
    const m = await startMonitor({ FLUIDMEM_PREFETCH: '0', FLUIDMEM_CLEAN_SKIP: '0', FLUIDMEM_WRITE_ZERO: '0' });
    const r = await memverify(m.sock, 'off');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.mismatches).toBe(0);
    const t = fast(await totalsAfter(m.control));
    expect(t.prefetch_issued).toBe(0);
    expect(t.prefetch_hits).toBe(0);
    expect(t.clean_drops).toBe(0);
    expect(t.backend_writes).toBe(t.evictions);
    expect(t.write_zero_fills).toBe(0);
  });

  it('pages written after their fetch are never dropped as clean: random reads and writes verify every byte', async () => {
    const m = await startMonitor();
    const regionPages = 2048;
    const r = await execa(TEST_HARNESS, ['--region-pages', String(regionPages), '--pages', '1024', '--ops', '30000',
      '--threads', '2'], {
      env: attachEnv({ socketPath: m.sock, regionBytes: regionPages * PAGE, vmId: 'mixed', library: TEST_ATTACH }),
      extendEnv: true, reject: false, stdin: 'ignore', timeout: 300_000,
    });
    const result = JSON.parse(String(r.stdout).trim().split('\n').pop()!);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(result.corrupt_bytes).toBe(0);
    const t = fast(await totalsAfter(m.control));
    // both kinds happened: clean pages dropped and written ones written back
    expect(t.clean_drops).toBeGreaterThan(0);
    expect(t.backend_writes).toBeGreaterThan(0);
    expect(t.faults).toBe(t.zero_fills + t.remote_fetches);
  });
});
