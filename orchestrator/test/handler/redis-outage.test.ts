/**
 * Issue 9, defect 4 (and the small Redis items of defect 6): the monitor survives Redis
 * hiccups without losing a byte and fails closed, with a clear log line, when Redis stays
 * silent past its deadline. Real redis-server (AOF, appendfsync always), real monitor,
 * real attach library, uffd-harness writing and verifying a pattern over a working set 8x
 * the monitor's capacity, so pages keep flowing to and from Redis during each disruption.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { Redis } from 'ioredis';
import { attachEnv, Monitor } from '../../src/handler/monitor.js';
import { waitFor } from '../../src/process/wait.js';
import { buildTestHelpers, TEST_ATTACH, TEST_HARNESS, TEST_MONITOR } from './helpers-build.js';

const PAGE = 4096;
const REGION_PAGES = 1024;
const CAPACITY = 128;

let root: string;
const cleanups: (() => Promise<void>)[] = [];

/** A redis-server on a Unix socket in dir, persisting with AOF (appendfsync always). */
class TestRedis {
  proc!: ResultPromise;
  readonly sock: string;
  constructor(readonly dir: string, private readonly extra: string[] = []) {
    this.sock = join(dir, 'redis.sock');
  }

  async start(): Promise<void> {
    this.proc = execa('redis-server', ['--port', '0', '--unixsocket', this.sock, '--unixsocketperm', '600',
      '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir, ...this.extra],
    { reject: false, buffer: false, stdio: 'ignore', cleanup: true });
    await waitFor(async () => {
      if (!existsSync(this.sock)) return false;
      const r = new Redis({ path: this.sock, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => undefined); // not listening yet: the wait retries
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    }, { timeoutMs: 20_000, what: `redis-server on ${this.sock}`, retryIf: () => true });
  }

  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.proc.catch(() => undefined);
  }

  async command(...args: string[]): Promise<unknown> {
    const r = new Redis({ path: this.sock, lazyConnect: true });
    await r.connect();
    try {
      return await r.call(args[0]!, ...args.slice(1));
    } finally {
      r.disconnect();
    }
  }
}

interface Run {
  m: Monitor;
  log: string;
  redis: TestRedis;
  proc: ResultPromise;
  out: () => string;
}

/** Redis, monitor and a running harness; unless `warm: false`, returns once phase 1 is done
 * and pages are being fetched back from Redis. */
async function setup(name: string, opts: { redisArgs?: string[]; redisTimeoutMs?: number; warm?: boolean } = {}): Promise<Run> {
  const dir = join(root, name);
  mkdirSync(dir);
  const redis = new TestRedis(dir, opts.redisArgs);
  await redis.start();
  cleanups.push(() => redis.kill());
  const log = join(dir, 'monitor.log');
  const m = await Monitor.start({
    binary: TEST_MONITOR, socketPath: join(dir, 'm.sock'), controlPath: join(dir, 'm.ctl'),
    backend: `unix://${redis.sock}`, capacityPages: CAPACITY, keyPrefix: `${name}:`, logFile: log,
    redisTimeoutMs: opts.redisTimeoutMs,
  });
  cleanups.push(() => m.dispose().catch(() => undefined));
  const proc = execa(TEST_HARNESS, ['--region-pages', String(REGION_PAGES), '--pages', String(REGION_PAGES),
    '--ops', '20000', '--threads', '2', '--until-signal'], {
    env: attachEnv({ socketPath: m.socketPath, regionBytes: REGION_PAGES * PAGE, vmId: name, library: TEST_ATTACH }),
    extendEnv: true, reject: false, stdin: 'ignore', buffer: false, cleanup: true,
  });
  cleanups.push(async () => { proc.kill('SIGKILL'); await proc.catch(() => undefined); });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const run: Run = { m, log, redis, proc, out: () => out + err };
  if (opts.warm === false) return run;
  await waitFor(() => out.includes('phase1 done'), { timeoutMs: 120_000, what: `${name}: phase 1` });
  await paging(run, 500);
  return run;
}

/** Waits until the VM has fetched `more` more pages from Redis (or the harness ended). */
async function paging(run: Run, more: number): Promise<void> {
  const fetched = async () => (await run.m.control.stats()).total.remote_fetches;
  const from = await fetched();
  await waitFor(async () => (await fetched()) >= from + more, { timeoutMs: 120_000, what: `${more} more remote fetches` });
}

/** Ends phase 2 and returns the harness verdict: every byte of the region checked. */
async function finish(run: Run): Promise<{ corrupt_bytes: number; checked_bytes: number }> {
  run.proc.kill('SIGUSR1');
  const r = await run.proc;
  expect(r.exitCode, `harness: ${run.out()}\nmonitor log:\n${readFileSync(run.log, 'utf8')}`).toBe(0);
  const line = run.out().split('\n').find((l) => l.startsWith('{'));
  return JSON.parse(line!);
}

const monitorLog = (run: Run) => readFileSync(run.log, 'utf8');

beforeAll(async () => {
  await buildTestHelpers();
  root = mkdtempSync(join(tmpdir(), 'fluidlab-redis-outage-'));
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('Redis outages mid-run: zero mismatches, no VM dropped', () => {
  it('Redis SIGSTOPped for 3 s', async () => {
    const run = await setup('stop');
    run.redis.proc.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 3000));
    run.redis.proc.kill('SIGCONT');
    await paging(run, 500);
    const res = await finish(run);
    expect(res.corrupt_bytes).toBe(0);
    expect(res.checked_bytes).toBeGreaterThan(REGION_PAGES * PAGE);
    expect(run.m.hasExited).toBe(false);
    expect(monitorLog(run)).not.toContain('detached: page lost');
  });

  it('CLIENT PAUSE 3000 ALL', async () => {
    const run = await setup('pause');
    expect(await run.redis.command('CLIENT', 'PAUSE', '3000', 'ALL')).toBe('OK');
    await paging(run, 500);
    const res = await finish(run);
    expect(res.corrupt_bytes).toBe(0);
    expect(run.m.hasExited).toBe(false);
  });

  it('Redis killed and restarted from its AOF: reconnect, resend in order, every page still there', async () => {
    const run = await setup('restart');
    await run.redis.kill();
    await new Promise((r) => setTimeout(r, 500));
    await run.redis.start();
    await paging(run, 500);
    const res = await finish(run);
    expect(res.corrupt_bytes).toBe(0);
    expect(run.m.hasExited).toBe(false);
    expect(monitorLog(run)).toMatch(/redis (write-behind|fetch): reconnected; resending \d+ requests/);
  });

  it('Redis at maxmemory: evictions stall (back-pressure), no VM dies; writes resume when memory is freed', async () => {
    const run = await setup('oom', {
      redisArgs: ['--maxmemory', '3mb', '--maxmemory-policy', 'noeviction'], warm: false,
    });
    await waitFor(() => monitorLog(run).includes('evictions stop until Redis accepts writes again'),
      { timeoutMs: 60_000, what: 'the monitor to report back-pressure' });
    const stalled = (await run.m.control.stats()).vms.find((v) => v.id === 'oom');
    expect(stalled, 'the VM is still attached while Redis refuses writes').toBeDefined();
    expect(run.proc.exitCode, "the workload is still running (stalled, not dead)").toBeNull();
    await run.redis.command('CONFIG', 'SET', 'maxmemory', '0');
    await waitFor(() => run.out().includes('phase1 done'), { timeoutMs: 120_000, what: 'oom: phase 1' });
    await paging(run, 500);
    const res = await finish(run);
    expect(res.corrupt_bytes).toBe(0);
    expect(monitorLog(run)).toContain('writes accepted again; evictions resume');
    expect(run.m.hasExited).toBe(false);
  });
});

describe('Redis stalled past the deadline', () => {
  it('fails closed: the monitor says why and exits, the attached process stops (exit 70), no hang', async () => {
    const run = await setup('deadline', { redisTimeoutMs: 1500 });
    run.redis.proc.kill('SIGSTOP');
    try {
      const exit = await run.m.exited;
      expect(exit.code).toBe(1);
      expect(monitorLog(run)).toMatch(/redis (write-behind|fetch): no reply for \d+ ms with \d+ requests outstanding .*Redis is stalled; failing closed/);
      const r = await run.proc;
      expect(r.exitCode).toBe(70);
      expect(run.out()).toContain('lost connection to fluidmem-monitor');
      expect(run.out()).not.toContain('"ok":');
    } finally {
      run.redis.proc.kill('SIGCONT');
    }
  });
});

describe('keys', () => {
  it('two monitors with the same prefix and VM id on one Redis use disjoint keys (per-instance nonce)', async () => {
    const a = await setup('twin');
    const dir = join(root, 'twin2');
    mkdirSync(dir);
    const b = await Monitor.start({
      binary: TEST_MONITOR, socketPath: join(dir, 'm.sock'), controlPath: join(dir, 'm.ctl'),
      backend: `unix://${a.redis.sock}`, capacityPages: CAPACITY, keyPrefix: 'twin:', logFile: join(dir, 'monitor.log'),
    });
    cleanups.push(() => b.dispose());
    const twin = execa(TEST_HARNESS, ['--region-pages', String(REGION_PAGES), '--pages', String(REGION_PAGES), '--ops', '8000'], {
      env: attachEnv({ socketPath: b.socketPath, regionBytes: REGION_PAGES * PAGE, vmId: 'twin', library: TEST_ATTACH }),
      extendEnv: true, reject: false, stdin: 'ignore', cleanup: true,
    });
    const r = await twin;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse(String(r.stdout).split('\n').find((l) => l.startsWith('{'))!).corrupt_bytes).toBe(0);
    const res = await finish(a);
    expect(res.corrupt_bytes).toBe(0);
    const nonceOf = (log: string) => /redis keys: twin:\{vm id\}:([0-9a-f]{16}):\{page\}/.exec(log)?.[1];
    const na = nonceOf(monitorLog(a)), nb = nonceOf(readFileSync(join(dir, 'monitor.log'), 'utf8'));
    expect(na).toBeDefined();
    expect(nb).toBeDefined();
    expect(na).not.toBe(nb);
  });

  it('a key prefix too long for a key, and a capacity below the minimum, are refused at start', async () => {
    const dir = join(root, 'refuse');
    mkdirSync(dir);
    const redis = new TestRedis(dir);
    await redis.start();
    cleanups.push(() => redis.kill());
    await expect(Monitor.start({
      binary: TEST_MONITOR, socketPath: join(dir, 'a.sock'), controlPath: join(dir, 'a.ctl'),
      backend: `unix://${redis.sock}`, capacityPages: 64, keyPrefix: 'p'.repeat(200), logFile: join(dir, 'a.log'),
    })).rejects.toThrow(/--key-prefix is 200 bytes, at most 128 allowed/);
    await expect(Monitor.start({
      binary: TEST_MONITOR, socketPath: join(dir, 'b.sock'), controlPath: join(dir, 'b.ctl'),
      backend: 'dram', capacityPages: 1, logFile: join(dir, 'b.log'),
    })).rejects.toThrow(/--capacity must be at least 8 pages/);
  });
});
