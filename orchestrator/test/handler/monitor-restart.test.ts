/**
 * Issue 9, "restart without loss" (done-when item e): fluidmem-monitor SIGKILLed at random
 * moments while uffd-harness writes and verifies a pattern over a working set 8x the
 * monitor's capacity (pages flowing to and from Redis, discards in between), restarted each
 * time by Monitor (`restarts`) on the same sockets and key nonce: the attach library
 * reattaches, nothing hangs, and at the end every byte of the region is verified: zero
 * mismatches. Also: what must NOT resume (dram, another key nonce), and resize below the
 * monitor's minimum capacity. Real redis-server, real monitor, real attach library.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { MonitorControlError } from '../../src/handler/control.js';
import { attachEnv, Monitor } from '../../src/handler/monitor.js';
import { waitFor } from '../../src/process/wait.js';
import { allowedCpus, threadsOf } from '../../src/process/affinity.js';
import { buildTestHelpers, TEST_ATTACH, TEST_HARNESS, TEST_MONITOR } from './helpers-build.js';

const PAGE = 4096;
const REGION_PAGES = 1024;
const CAPACITY = 128; // 8x overcommit
const KILLS = 20;

let root: string;
let redisSock: string;
let redisProc: ResultPromise | undefined;
const cleanups: (() => Promise<void>)[] = [];

interface Harness { proc: ResultPromise; out: () => string; err: () => string }

function harness(socketPath: string, vmId: string, args: string[]): Harness {
  const proc = execa(TEST_HARNESS, ['--region-pages', String(REGION_PAGES), '--pages', String(REGION_PAGES), '--threads', '2', ...args], {
    env: attachEnv({ socketPath, regionBytes: REGION_PAGES * PAGE, vmId, library: TEST_ATTACH }),
    extendEnv: true, reject: false, stdin: 'ignore', buffer: false, cleanup: true,
  });
  cleanups.push(async () => { proc.kill('SIGKILL'); await proc.catch(() => undefined); });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  proc.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  return { proc, out: () => out, err: () => err };
}

async function monitor(name: string, backend: string, extra: Partial<Parameters<typeof Monitor.start>[0]> = {}): Promise<{ m: Monitor; log: string; dir: string }> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'monitor.log');
  const m = await Monitor.start({
    binary: TEST_MONITOR, socketPath: join(dir, 'm.sock'), controlPath: join(dir, 'm.ctl'),
    backend, capacityPages: CAPACITY, keyPrefix: `${name}:`, logFile: log, ...extra,
  });
  cleanups.push(() => m.dispose().catch(() => undefined));
  return { m, log, dir };
}

const fetched = async (m: Monitor) => (await m.control.stats()).total.remote_fetches;

beforeAll(async () => {
  await buildTestHelpers();
  root = mkdtempSync(join(tmpdir(), 'fluidlab-monitor-restart-'));
  redisSock = join(root, 'redis.sock');
  redisProc = execa('redis-server', ['--port', '0', '--unixsocket', redisSock, '--unixsocketperm', '600',
    '--save', '', '--appendonly', 'no', '--dir', root], { reject: false, buffer: false, stdio: 'ignore', cleanup: true });
  await waitFor(() => existsSync(redisSock), { timeoutMs: 20_000, what: 'the redis socket' });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  redisProc?.kill('SIGKILL');
  await redisProc?.catch(() => undefined);
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('restart without loss (Redis backend)', () => {
  it(`monitor SIGKILLed at ${KILLS} random moments of a verified run at 8x overcommit: restarted, no hang, zero mismatches`, async () => {
    const { m, log } = await monitor('kill', `unix://${redisSock}`, { restarts: KILLS });
    const h = harness(m.socketPath, 'kill-vm', ['--ops', '20000', '--remove-pct', '1', '--until-signal']);
    await waitFor(() => h.out().includes('phase1 done'), { timeoutMs: 120_000, what: 'phase 1' });
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    for (let k = 1; k <= KILLS; k++) {
      // a random moment: after some more pages came back from Redis, then 0..300 ms more
      const from = await fetched(m);
      await waitFor(async () => (await fetched(m)) >= from + 50, {
        timeoutMs: 60_000, what: `pages served after restart ${k - 1} (a hang?)\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}`,
      });
      await new Promise((r) => setTimeout(r, Math.floor(rnd() * 300)));
      process.kill(m.pid, 'SIGKILL');
      await waitFor(() => m.restarts.length >= k, { timeoutMs: 30_000, what: `restart ${k}` });
      await m.settled();
      expect(m.restarts[k - 1]!.ok, m.restarts[k - 1]!.error).toBe(true);
      await waitFor(async () => (await m.control.stats()).vms.some((v) => v.id === 'kill-vm' && (v as { reattached?: boolean }).reattached), {
        timeoutMs: 30_000, what: `kill-vm reattached after restart ${k}`,
      });
    }
    h.proc.kill('SIGUSR1');
    const r = await h.proc;
    expect(r.exitCode, `${h.err()}\n${readFileSync(log, 'utf8').split('\n').slice(-20).join('\n')}`).toBe(0);
    const verdict = JSON.parse(h.out().split('\n').find((l) => l.startsWith('{'))!);
    expect(verdict.corrupt_bytes).toBe(0);
    expect(verdict.checked_bytes).toBeGreaterThanOrEqual(REGION_PAGES * PAGE);
    expect(verdict.removes).toBeGreaterThan(0); // discards were made durable across restarts too
    expect(m.restarts.map((x) => x.exit)).toEqual(Array(KILLS).fill('killed by SIGKILL'));
    expect(h.err().match(/reattached to fluidmem-monitor/g)?.length).toBe(KILLS);
    expect(readFileSync(log, 'utf8')).toMatch(/vm kill-vm reattached: \d+ resident pages, \d+ staged pages re-written/);
  }, 600_000);

  it('a monitor pinned with pinTo() is restarted on the same CPU, pinned from its start', async () => {
    const { m } = await monitor('pinned', `unix://${redisSock}`, { restarts: 1 });
    const last = cpus().length - 1;
    await m.pinTo([last]);
    expect(allowedCpus(m.pid)).toBe(String(last));
    const first = m.pid;
    process.kill(first, 'SIGKILL');
    await waitFor(() => m.restarts.length >= 1, { timeoutMs: 30_000, what: 'the restart' });
    expect(m.restarts[0]!.ok, m.restarts[0]!.error).toBe(true);
    expect(m.pid).not.toBe(first);
    for (const t of threadsOf(m.pid)) expect(allowedCpus(m.pid, t)).toBe(String(last));
    expect(readFileSync(`/proc/${m.pid}/cmdline`, 'utf8').split('\0')[0]).toBe(TEST_MONITOR); // taskset exec'd it
  }, 60_000);

  it('a restarted monitor with another key nonce is refused: the process exits 70 and says why', async () => {
    const { m, dir } = await monitor('nonce', `unix://${redisSock}`, { keyNonce: 'first1' });
    const h = harness(m.socketPath, 'nonce-vm', ['--ops', '2000', '--until-signal']);
    await waitFor(() => h.out().includes('phase1 done'), { timeoutMs: 120_000, what: 'phase 1' });
    process.kill(m.pid, 'SIGKILL');
    await m.exited;
    const other = await Monitor.start({
      binary: TEST_MONITOR, socketPath: m.socketPath, controlPath: join(dir, 'm2.ctl'),
      backend: `unix://${redisSock}`, capacityPages: CAPACITY, keyPrefix: 'nonce:', logFile: join(dir, 'm2.log'), keyNonce: 'second2',
    });
    cleanups.push(() => other.dispose());
    const r = await h.proc;
    expect(r.exitCode).toBe(70);
    expect(h.err()).toContain("its pages are under key nonce 'first1', this monitor uses 'second2'");
    expect(h.out()).not.toContain('"ok":');
    expect((await other.control.stats()).vms).toEqual([]);
  }, 300_000);

  it('the dram backend is never resumed: the process exits 70 at once and says why', async () => {
    const { m } = await monitor('dram', 'dram', { restarts: 1 });
    const h = harness(m.socketPath, 'dram-vm', ['--ops', '2000', '--until-signal']);
    await waitFor(() => h.out().includes('phase1 done'), { timeoutMs: 120_000, what: 'phase 1' });
    process.kill(m.pid, 'SIGKILL');
    const r = await h.proc;
    expect(r.exitCode).toBe(70);
    expect(h.err()).toContain('its dram backend cannot survive a monitor restart');
    expect(m.restarts).toEqual([]);
  }, 300_000);

  it('a VM the monitor detached for good (SIGTERM) does not wait to reattach', async () => {
    const { m } = await monitor('bye', `unix://${redisSock}`);
    const h = harness(m.socketPath, 'bye-vm', ['--ops', '2000', '--until-signal']);
    await waitFor(() => h.out().includes('phase1 done'), { timeoutMs: 120_000, what: 'phase 1' });
    await m.dispose();
    const r = await h.proc;
    expect(r.exitCode).toBe(70);
    expect(h.err()).toContain('it detached this process for good (monitor shutting down)');
    expect(h.err()).not.toContain('reconnecting');
  }, 300_000);
});

describe('resize', () => {
  it(`refuses fewer pages than the monitor's minimum (8) with a clear error; the capacity is unchanged`, async () => {
    const { m } = await monitor('resize', 'dram');
    await expect(m.control.resize(7)).rejects.toThrow(MonitorControlError);
    await expect(m.control.raw({ cmd: 'resize', pages: 1 })).rejects.toThrow(/resize to 1 pages refused: at least 8 pages/);
    expect((await m.control.stats()).capacity).toBe(CAPACITY);
    expect(await m.control.resize(8)).toBe(8);
  });
});
