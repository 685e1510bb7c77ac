/**
 * The fault handler end to end on the host: real userfaultfd, real Redis, the real
 * attach library preloaded into helpers/bin/uffd-harness (which maps memory the way
 * QEMU 7.2 maps guest RAM and verifies every byte against a shadow copy).
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { Redis } from 'ioredis';
import { MonitorControl, MonitorControlError, type MonitorStats, type VmStats } from '../../src/handler/control.js';
import { attachEnv, HELPERS_BIN, Monitor } from '../../src/handler/monitor.js';
import { monitorCommand } from '../../src/cli/commands/monitor.js';
import { waitFor } from '../../src/process/wait.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const HARNESS = join(HELPERS_BIN, 'uffd-harness');
const PAGE = 4096;

let dir: string;
let redisProc: ResultPromise | undefined;
let redisSock: string;
const monitors: Monitor[] = [];
const children: ResultPromise[] = [];

let seq = 0;
async function monitor(backend: string, capacityPages: number, keyPrefix?: string): Promise<Monitor> {
  const n = ++seq;
  const m = await Monitor.start({
    socketPath: join(dir, `m${n}.sock`),
    controlPath: join(dir, `m${n}.ctl`),
    backend,
    capacityPages,
    keyPrefix,
    logFile: join(dir, `m${n}.log`),
  });
  monitors.push(m);
  return m;
}

interface Harness {
  proc: ResultPromise;
  lines: string[];
  stderr: () => string;
  waitLine(pred: (l: string) => boolean): Promise<string>;
}

function harness(m: { socketPath: string }, vmId: string, args: string[], regionPages: number, env: Record<string, string> = {}): Harness {
  const proc = execa(HARNESS, ['--region-pages', String(regionPages), ...args], {
    env: { ...attachEnv({ socketPath: m.socketPath, regionBytes: regionPages * PAGE, vmId }), ...env },
    extendEnv: true,
    stdin: 'pipe',
    reject: false,
    buffer: false,
    cleanup: true,
  });
  children.push(proc);
  const lines: string[] = [];
  let err = '';
  let partial = '';
  proc.stdout!.on('data', (c: Buffer) => {
    partial += c.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  proc.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  return {
    proc,
    lines,
    stderr: () => err,
    waitLine: (pred) => waitFor(() => lines.find(pred), { timeoutMs: 120_000, what: 'harness output' }),
  };
}

function vmOf(s: MonitorStats, id: string): VmStats {
  const v = s.vms.find((x) => x.id === id);
  if (!v) throw new Error(`vm ${id} not in stats: ${JSON.stringify(s.vms.map((x) => x.id))}`);
  return v;
}

/** zero_fills + remote_fetches = faults = resident + evicting + evictions + removed */
function expectBalanced(v: VmStats): void {
  expect(v.faults).toBe(v.zero_fills + v.remote_fetches);
  expect(v.evictions).toBe(v.faults - v.resident_pages - v.evicting_pages - v.removed_pages);
}

beforeAll(async () => {
  await execa('make', ['-C', join(ROOT, 'helpers')], { stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'fluidlab-handler-'));
  redisSock = join(dir, 'redis.sock');
  redisProc = execa('/usr/bin/redis-server', ['--port', '0', '--unixsocket', redisSock, '--unixsocketperm', '600',
    '--save', '', '--appendonly', 'no', '--dir', dir], { reject: false, buffer: false, stdio: 'ignore', cleanup: true });
  await waitFor(() => existsSync(redisSock), { timeoutMs: 20_000, what: 'the redis socket' });
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(monitors.map((m) => m.dispose().catch(() => undefined)));
  redisProc?.kill('SIGKILL');
  await redisProc?.catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('uffd-probe', () => {
  it('reports userfaultfd with UFFDIO_MOVE on this host', async () => {
    const r = await execa(join(HELPERS_BIN, 'uffd-probe'));
    const j = JSON.parse(r.stdout);
    expect(j.available).toBe(true);
    expect(j.features.move).toBe(true);
    expect(j.features.event_remove).toBe(true);
    expect(j.ioctls).toEqual(expect.arrayContaining(['copy', 'zeropage', 'move']));
  });
});

describe('fluidmem-monitor with the harness', () => {
  it('dram backend: 4x capacity working set survives, stats add up', async () => {
    const m = await monitor('dram', 256);
    const h = harness(m, 'dram-vm', ['--pages', '1024', '--ops', '20000', '--threads', '2', '--hold'], 2048);
    const result = JSON.parse(await h.waitLine((l) => l.startsWith('{')));
    await h.waitLine((l) => l === 'holding');
    expect(result.corrupt_bytes).toBe(0);
    expect(result.checked_bytes).toBeGreaterThan(2048 * PAGE);
    await m.control.flush();
    const s = await m.control.stats();
    const v = vmOf(s, 'dram-vm');
    expectBalanced(v);
    expect(v.removed_pages).toBe(0);
    expect(v.evictions).toBeGreaterThan(1024);
    expect(v.remote_fetches).toBeGreaterThan(1000);
    expect(v.resident_pages).toBeLessThanOrEqual(256);
    expect(v.backend_writes).toBeGreaterThan(0);
    expect(v.bytes_written).toBe(v.backend_writes * PAGE);
    expect(v.fault_latency_ns.count).toBe(v.faults);
    expect(v.region_bytes).toBe(2048 * PAGE);
    expect(s.bytes_per_tracked_page).toBeLessThanOrEqual(32);
    h.proc.stdin!.end();
    expect((await h.proc).exitCode).toBe(0);
    await waitFor(async () => (await m.control.stats()).vms.length === 0, { timeoutMs: 20_000, what: 'the VM to leave the stats' });
    expect((await m.control.stats()).total.resident_pages).toBe(0);
  });

  it('the agent copying staged pages by hand (FLUIDMEM_AGENT_COPY=memcpy, its fallback) leaves every byte right too', async () => {
    const m = await monitor('dram', 256);
    const h = harness(m, 'dram-memcpy', ['--pages', '1024', '--ops', '20000', '--threads', '2'], 2048, { FLUIDMEM_AGENT_COPY: 'memcpy' });
    const result = JSON.parse(await h.waitLine((l) => l.startsWith('{')));
    expect(result.corrupt_bytes).toBe(0);
    expect(result.checked_bytes).toBeGreaterThan(2048 * PAGE);
    expect((await h.proc).exitCode).toBe(0);
    expect((await m.control.stats()).total.evictions).toBeGreaterThan(1024);
  });

  it('redis backend: 8x capacity, keys live in Redis and are deleted when the process exits', async () => {
    const m = await monitor(`unix://${redisSock}`, 128, 'test8x:');
    const h = harness(m, 'redis-vm', ['--pages', '1024', '--ops', '16000', '--threads', '2', '--hold'], 1536);
    const result = JSON.parse(await h.waitLine((l) => l.startsWith('{')));
    await h.waitLine((l) => l === 'holding');
    expect(result.corrupt_bytes).toBe(0);
    await m.control.flush();
    const v = vmOf(await m.control.stats(), 'redis-vm');
    expectBalanced(v);
    expect(v.remote_fetches).toBeGreaterThan(1000);
    expect(v.resident_pages).toBeLessThanOrEqual(128);
    const redis = new Redis({ path: redisSock, lazyConnect: true });
    await redis.connect();
    try {
      const keys = await redis.keys('test8x:redis-vm:*');
      expect(keys.length).toBe(v.remote_pages);
      expect(keys.length).toBeGreaterThan(500);
      h.proc.stdin!.end();
      expect((await h.proc).exitCode).toBe(0);
      await waitFor(async () => (await redis.keys('test8x:*')).length === 0, { timeoutMs: 20_000, what: 'the keys to be deleted' });
    } finally {
      redis.disconnect();
    }
  });

  it('live resize while the workload runs (with MADV_DONTNEED removes)', async () => {
    const m = await monitor(`unix://${redisSock}`, 512, 'resize:');
    const h = harness(m, 'resize-vm',
      ['--pages', '1024', '--ops', '8000', '--threads', '2', '--remove-pct', '2', '--until-signal', '--hold'], 1024);
    await h.waitLine((l) => l === 'phase1 done');
    expect(await m.control.resize(128)).toBe(128);
    const shrunk = vmOf(await m.control.stats(), 'resize-vm');
    expect(shrunk.resident_pages + shrunk.evicting_pages + shrunk.fetching_pages).toBeLessThanOrEqual(128);
    await new Promise((r) => setTimeout(r, 300));
    expect(await m.control.resize(300)).toBe(300);
    h.proc.kill('SIGUSR1');
    const result = JSON.parse(await h.waitLine((l) => l.startsWith('{')));
    await h.waitLine((l) => l === 'holding');
    expect(result.corrupt_bytes).toBe(0);
    expect(result.removes).toBeGreaterThan(0);
    await m.control.flush();
    const s = await m.control.stats();
    const v = vmOf(s, 'resize-vm');
    expectBalanced(v);
    expect(v.removed_pages).toBeGreaterThan(0);
    expect(v.resident_pages).toBeLessThanOrEqual(300);
    expect(s.capacity).toBe(300);
    h.proc.stdin!.end();
    expect((await h.proc).exitCode).toBe(0);
  });

  it('fails closed: killing the handler stops the attached process instead of serving zeros', async () => {
    const m = await monitor('dram', 128);
    const h = harness(m, 'kill-vm', ['--pages', '1024', '--ops', '1000', '--until-signal'], 1024);
    await h.waitLine((l) => l === 'phase1 done');
    await waitFor(async () => ((await m.control.stats()).vms[0]?.remote_fetches ?? 0) > 100, { timeoutMs: 20_000, what: 'faults during phase 2' });
    process.kill(m.pid, 'SIGKILL');
    const r = await h.proc;
    expect(r.exitCode).toBe(70);
    expect(h.stderr()).toContain('lost connection to fluidmem-monitor');
    expect(h.lines.some((l) => l.startsWith('{'))).toBe(false); // never finished with wrong data
  });

  it('a page lost by the backend drops only that VM (fail closed); the monitor serves on', async () => {
    const m = await monitor(`unix://${redisSock}`, 128, 'lost:');
    const h = harness(m, 'lost-vm', ['--pages', '1024', '--ops', '1000', '--until-signal'], 1024);
    await h.waitLine((l) => l === 'phase1 done');
    // Stop it between evictions: an EVICT its (stopped) agent cannot answer would drop the
    // VM at the eviction deadline and delete its keys before we look. Stopped, it makes no
    // faults, so the monitor starts no new eviction.
    await waitFor(async () => {
      h.proc.kill('SIGSTOP');
      const vm = (await m.control.stats()).vms.find((v) => v.id === 'lost-vm');
      if (vm && vm.evicting_pages === 0) return true;
      h.proc.kill('SIGCONT');
      return false;
    }, { timeoutMs: 10_000, intervalMs: 10, what: 'a moment with no eviction of lost-vm in flight' });
    await m.control.flush();
    const redis = new Redis({ path: redisSock, lazyConnect: true });
    await redis.connect();
    try {
      const keys = await redis.keys('lost:lost-vm:*');
      expect(keys.length).toBeGreaterThan(500);
      await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
    h.proc.kill('SIGCONT');
    const r = await h.proc;
    expect(r.exitCode).toBe(70);
    expect(h.stderr()).toContain('lost connection to fluidmem-monitor');
    expect(h.lines.some((l) => l.startsWith('{'))).toBe(false);
    expect((await m.control.stats()).vms.map((v) => v.id)).not.toContain('lost-vm');
    const other = harness(m, 'other-vm', ['--pages', '512', '--ops', '2000'], 512);
    const result = JSON.parse(await other.waitLine((l) => l.startsWith('{')));
    expect(result.corrupt_bytes).toBe(0);
    expect((await other.proc).exitCode).toBe(0);
  });

  it('refuses a second VM with an id that is already attached', async () => {
    const m = await monitor('dram', 256);
    const first = harness(m, 'same-id', ['--pages', '64', '--hold'], 64);
    await first.waitLine((l) => l === 'holding');
    const second = harness(m, 'same-id', ['--pages', '64'], 64);
    const r = await second.proc;
    expect(r.exitCode).toBe(70);
    expect(second.stderr()).toContain("vm_id 'same-id' is already attached");
    first.proc.stdin!.end();
    expect((await first.proc).exitCode).toBe(0);
  });

  it('a hello interrupted by signals waits on for the answer (QEMU takes signals while it maps RAM)', async () => {
    const m = await monitor('dram', 64);
    process.kill(m.pid, 'SIGSTOP'); // the answer comes late: the wait sees ~1500 SIGALRMs
    let h: Harness;
    try {
      h = harness(m, 'storm-vm', ['--pages', '64', '--ops', '500', '--signal-storm'], 128);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      process.kill(m.pid, 'SIGCONT');
    }
    const r = await h.proc;
    expect(h.stderr()).not.toContain('no answer');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(h.lines.find((l) => l.startsWith('{'))!).corrupt_bytes).toBe(0);
  });

  it('fails closed when no handler listens at attach time', async () => {
    const h = harness({ socketPath: join(dir, 'nobody.sock') }, 'orphan', ['--pages', '16'], 64);
    const r = await h.proc;
    expect(r.exitCode).toBe(70);
    expect(h.stderr()).toMatch(/cannot reach fluidmem-monitor at .*nobody\.sock/);
  });
});

describe('control protocol and CLI', () => {
  it('rejects unknown commands and bad resizes with an error object', async () => {
    const m = await monitor('dram', 64);
    await expect(m.control.raw({ cmd: 'bogus' })).rejects.toThrow(/unknown command 'bogus'/);
    await expect(m.control.raw({ cmd: 'resize', pages: 0 })).rejects.toThrow(MonitorControlError);
    await expect(m.control.raw({ cmd: 'resize' })).rejects.toThrow(/positive integer/);
    const s = await m.control.stats();
    expect(s).toMatchObject({ ok: true, capacity: 64, backend: 'dram', vms: [] });
  });

  it('orchestrate monitor stats/resize talk to the control socket', async () => {
    const m = await monitor('dram', 100);
    const ctl = m.controlPath;
    const out: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((s: unknown) => { out.push(String(s)); });
    try {
      expect(await monitorCommand.run(['resize', '--control', ctl, '42'])).toBe(0);
      expect(await monitorCommand.run(['stats', '--control', ctl, '--json'])).toBe(0);
      expect(await monitorCommand.run(['stats', '--control', ctl])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out[0]).toBe('capacity 42 pages');
    expect(JSON.parse(out[1]!).capacity).toBe(42);
    expect(out[2]).toMatch(/^capacity 42 pages .*backend dram/);
    expect(out[2]).toContain('TOTAL');
    await expect(monitorCommand.run(['resize', '--control', ctl, 'lots'])).rejects.toThrow(/positive integer/);
    await expect(monitorCommand.run(['stats'])).rejects.toThrow(/--control/);
  });

  it('Monitor.start explains an early exit with the log tail', async () => {
    await expect(Monitor.start({
      socketPath: join(dir, 'bad.sock'), controlPath: join(dir, 'bad.ctl'), backend: 'tape://x',
      capacityPages: 10, logFile: join(dir, 'bad.log'),
    })).rejects.toThrow(/exited before it was ready[\s\S]*unknown backend 'tape:\/\/x'/);
  });

  it('MonitorControl.connect says what to do when nothing listens', async () => {
    await expect(MonitorControl.connect(join(dir, 'none.ctl'), { timeoutMs: 2000 })).rejects.toThrow(/start fluidmem-monitor/);
  });
});

describe('AddressSanitizer', () => {
  it('monitor, attach library and harness run clean under ASan/UBSan', async () => {
    const r = await execa('make', ['-C', join(ROOT, 'helpers'), 'asan-check'], { reject: false, all: true });
    expect(r.all).toContain('asan-check: all ok');
    expect(r.exitCode).toBe(0);
  });
});
