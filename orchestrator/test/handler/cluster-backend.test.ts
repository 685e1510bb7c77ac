/**
 * Issue 10: the monitor's redis-cluster:// backend against a real 3-master, 3-replica Redis
 * Cluster on 127.0.0.1 (EmbeddedRedisCluster), the real attach library and uffd-harness
 * writing and verifying a pattern over a working set 8x the monitor's capacity, so pages
 * keep flowing to and from the cluster during each disruption:
 *   - the slot function (helpers/src/crc16.c) against the fixture's vectors;
 *   - zero mismatches, and the page keys spread over all three masters (>= 20% each);
 *   - one slot of the VM moved to another master mid-run, keys migrated batch by batch as
 *     redis-cli --cluster reshard does (ASK while it moves, MOVED after): zero mismatches;
 *   - SIGKILL of a master mid-run: its replica takes over, the run finishes with zero
 *     mismatches, and the monitor counts the faults that stalled meanwhile;
 *   - the whole cluster down: the monitor fails closed after its deadline, the attached
 *     process stops (exit 70), nothing hangs.
 * The tests share one cluster and run in this order (the last one kills it).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { attachEnv, Monitor } from '../../src/handler/monitor.js';
import { EmbeddedRedisCluster } from '../../src/kvstore/redis-cluster.js';
import { keySlot, pageKey } from '../../src/kvstore/key-slot.js';
import { waitFor } from '../../src/process/wait.js';
import { buildTestHelpers, TEST_ATTACH, TEST_HARNESS, TEST_HELPERS_BIN, TEST_MONITOR } from './helpers-build.js';

const PAGE = 4096;
const REGION_PAGES = 16384; // 64 MiB: 32 chunks of 512 pages (one hash tag each)
const CAPACITY = 2048; // 8x overcommit
const NONCE = '0123456789abcdef';
const MEMVERIFY_HOST = join(import.meta.dirname, '../../../workloads/bin/memverify-host');

interface ClusterCounters {
  moved: number; ask: number; tryagain: number; clusterdown: number; stalled_faults: number;
  conn_losses: number; map_refreshes: number; wait_rounds: number; masters: number; replicas: number;
}

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/redis-cluster-keys.json'), 'utf8')) as {
  crc16_check: { input: string; crc16: number };
  keys: { key: string; slot: number }[];
  pages: { key: string; slot: number }[];
};

let root: string;
let cluster: EmbeddedRedisCluster;
const cleanups: (() => Promise<void>)[] = [];

interface Run {
  m: Monitor;
  log: string;
  proc: ResultPromise;
  prefix: string;
  out: () => string;
}

/** Monitor on the cluster and a running harness, returned once phase 1 is done and pages are
 * being fetched back. */
async function setup(name: string, opts: { redisTimeoutMs?: number } = {}): Promise<Run> {
  const dir = join(root, name);
  mkdirSync(dir);
  const log = join(dir, 'monitor.log');
  const prefix = `fluidlab:cluster-test-${name}:`;
  const m = await Monitor.start({
    binary: TEST_MONITOR, socketPath: join(dir, 'm.sock'), controlPath: join(dir, 'm.ctl'),
    backend: cluster.url, redisPassword: cluster.password, capacityPages: CAPACITY, keyPrefix: prefix,
    logFile: log, redisTimeoutMs: opts.redisTimeoutMs, keyNonce: NONCE, // a deterministic spread
  });
  cleanups.push(() => m.dispose().catch(() => undefined));
  const proc = execa(TEST_HARNESS, ['--region-pages', String(REGION_PAGES), '--pages', String(REGION_PAGES),
    '--ops', '20000', '--threads', '2', '--until-signal'], {
    env: {
      ...attachEnv({ socketPath: m.socketPath, regionBytes: REGION_PAGES * PAGE, vmId: 'vm1', library: TEST_ATTACH }),
      FLUIDMEM_RECONNECT_TIMEOUT: '0', // the monitor is not coming back: stop at once
    },
    extendEnv: true, reject: false, stdin: 'ignore', buffer: false, cleanup: true,
  });
  cleanups.push(async () => { proc.kill('SIGKILL'); await proc.catch(() => undefined); });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  proc.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const run: Run = { m, log, proc, prefix, out: () => out };
  await waitFor(() => out.includes('phase1 done'), { timeoutMs: 180_000, what: `${name}: phase 1` });
  await paging(run, 2000);
  return run;
}

async function paging(run: Run, more: number): Promise<void> {
  const fetched = async () => (await run.m.control.stats()).total.remote_fetches;
  const from = await fetched();
  await waitFor(async () => (await fetched()) >= from + more, { timeoutMs: 120_000, what: `${more} more remote fetches` });
}

async function counters(run: Run): Promise<ClusterCounters> {
  const s = (await run.m.control.stats()) as unknown as { cluster?: ClusterCounters };
  expect(s.cluster, 'the stats of a redis-cluster:// monitor have a cluster object').toBeDefined();
  return s.cluster!;
}

/** Ends phase 2 and returns the harness verdict: every byte of the region checked. */
async function finish(run: Run): Promise<{ corrupt_bytes: number; checked_bytes: number }> {
  run.proc.kill('SIGUSR1');
  const r = await run.proc;
  expect(r.exitCode, `harness: ${run.out()}\nmonitor log:\n${readFileSync(run.log, 'utf8')}`).toBe(0);
  const line = run.out().split('\n').find((l) => l.startsWith('{'));
  return JSON.parse(line!);
}

/** Moves `slot` to `to` as redis-cli --cluster reshard does: IMPORTING/MIGRATING, MIGRATE of
 * the keys in small batches (pausing between them so requests meet the half-moved slot),
 * then SETSLOT NODE on both; returns the number of batches. */
async function migrateSlot(slot: number, from: string, to: string): Promise<number> {
  const store = cluster.store;
  const fromId = await store.onNode(from, (r) => r.call('CLUSTER', 'MYID') as Promise<string>);
  const toId = await store.onNode(to, (r) => r.call('CLUSTER', 'MYID') as Promise<string>);
  await store.onNode(to, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId));
  await store.onNode(from, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId));
  const [host, port] = to.split(':');
  let batches = 0;
  for (;;) {
    const keys = await store.onNode(from, (r) => r.call('CLUSTER', 'GETKEYSINSLOT', slot, 20) as Promise<string[]>);
    if (!keys.length) break;
    await store.onNode(from, (r) => r.call('MIGRATE', host!, port!, '', 0, 5000, 'AUTH', cluster.password, 'KEYS', ...keys));
    batches++;
    await new Promise((r) => setTimeout(r, 20));
  }
  await store.onNode(to, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId));
  await store.onNode(from, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId));
  return batches;
}

beforeAll(async () => {
  await buildTestHelpers();
  root = mkdtempSync(join(tmpdir(), 'fluidlab-cluster-backend-'));
  cluster = await EmbeddedRedisCluster.start({ runDir: root, masters: 3, replicas: 1 });
}, 120_000);

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await cluster?.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('slot function of the C backend (helpers/src/crc16.c)', () => {
  it('gives the fixture slot of every key and page key, foo{}{bar} as Redis does', async () => {
    const tool = join(TEST_HELPERS_BIN, 'cluster-test');
    const crc = await execa(tool, ['--crc16', fixture.crc16_check.input]);
    expect(Number(crc.stdout)).toBe(fixture.crc16_check.crc16);
    const all = [...fixture.keys, ...fixture.pages];
    const r = await execa(tool, [], { input: all.map((k) => k.key).join('\n') + '\n' });
    expect(r.stdout.trim().split('\n').map(Number)).toEqual(all.map((k) => k.slot));
    expect(fixture.keys.find((k) => k.key === 'foo{}{bar}')!.slot).toBe(8363);
  });

  it('is listed in the usage line the orchestrator probes', async () => {
    const r = await execa(TEST_MONITOR, ['--help'], { reject: false });
    expect(r.stderr.split('\n').find((l) => l.includes('--backend'))).toContain('redis-cluster://');
  });
});

describe('redis-cluster:// on a 3+3 cluster, harness at 8x overcommit', () => {
  it('zero mismatches; page keys {P V:K:CHUNK}:PAGE on all three masters, each >= 20%; SETs WAITed', async () => {
    const run = await setup('spread');
    const stats = await cluster.store.masterStats(`{${run.prefix}`);
    const keys = stats.map((s) => s.prefixKeys ?? 0);
    const total = keys.reduce((a, b) => a + b, 0);
    expect(stats).toHaveLength(3);
    expect(total).toBeGreaterThan(REGION_PAGES / 2);
    for (const k of keys) expect(k / total, `keys per master: ${keys.join(' / ')}`).toBeGreaterThanOrEqual(0.2);
    // every key has the contract's form and lives where its hash tag says
    const sample = await cluster.store.onNode(stats[0]!.address, async (r) => (await r.scan('0', 'MATCH', `{${run.prefix}*`, 'COUNT', 200))[1]);
    expect(sample.length).toBeGreaterThan(0);
    for (const k of sample) {
      const m = /^\{(.*)vm1:([0-9a-z]+):(\d+)\}:(\d+)$/.exec(k);
      expect(m, k).not.toBeNull();
      expect(m![1]).toBe(run.prefix);
      expect(m![2]).toBe(NONCE);
      expect(Number(m![3])).toBe(Math.floor(Number(m![4]) / 512));
      expect(k).toBe(pageKey(run.prefix, 'vm1', NONCE, Number(m![4])));
      expect(await cluster.store.onNode(stats[0]!.address, (r) => r.call('CLUSTER', 'KEYSLOT', k))).toBe(keySlot(k));
    }
    const c = await counters(run);
    expect(c.masters).toBe(3);
    expect(c.replicas).toBe(3);
    expect(c.wait_rounds).toBeGreaterThan(0);
    const res = await finish(run);
    expect(res.corrupt_bytes).toBe(0);
    expect(res.checked_bytes).toBeGreaterThan(REGION_PAGES * PAGE);
    // the monitor deletes a departed VM's keys
    await waitFor(async () => (await cluster.store.countKeys(`{${run.prefix}`)) === 0, { timeoutMs: 30_000, what: 'keys removed' });
  }, 300_000);

  it('memverify-host (attach library, FLUIDMEM_CAPTURE=anon) at 8x overcommit: zero mismatches, prefetches hit', async () => {
    const dir = join(root, 'memverify');
    mkdirSync(dir);
    const log = join(dir, 'monitor.log');
    const m = await Monitor.start({
      binary: TEST_MONITOR, socketPath: join(dir, 'm.sock'), controlPath: join(dir, 'm.ctl'),
      backend: cluster.url, redisPassword: cluster.password, capacityPages: CAPACITY,
      keyPrefix: 'fluidlab:cluster-test-memverify:', logFile: log,
    });
    cleanups.push(() => m.dispose().catch(() => undefined));
    const mib = (REGION_PAGES * PAGE) >> 20;
    const r = await execa(MEMVERIFY_HOST, ['--mib', String(mib), '--passes', '3'], {
      env: attachEnv({ socketPath: m.socketPath, regionBytes: REGION_PAGES * PAGE, vmId: 'memverify', library: TEST_ATTACH, capture: 'anon' }),
      extendEnv: true, reject: false, stdin: 'ignore', timeout: 600_000,
    });
    expect(r.exitCode, `${r.stderr}\nmonitor log:\n${readFileSync(log, 'utf8')}`).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ mib, passes: 3, mismatches: 0, first_mismatch: null });
    const s = await m.control.stats();
    expect(s.total.remote_fetches).toBeGreaterThan(REGION_PAGES); // it did page through the cluster
    // its sequential passes are prefetched (issue 11) through the cluster too
    const t = s.total as unknown as { prefetch_issued: number; prefetch_hits: number };
    expect(t.prefetch_hits, JSON.stringify(t)).toBeGreaterThan(0);
  }, 600_000);

  it('a slot of the VM resharded mid-run: ASK while it moves, MOVED after, zero mismatches', async () => {
    const run = await setup('reshard');
    const slot = keySlot(`{${run.prefix}vm1:${NONCE}:1}:600`);
    const masters = await cluster.masters();
    const topo = await cluster.topology();
    const owner = topo.find((n) => n.role === 'master' && n.slots.some(([lo, hi]) => lo <= slot && slot <= hi))!;
    const to = masters.find((n) => n.address !== owner.address)!;
    const batches = await migrateSlot(slot, owner.address, to.address);
    expect(batches).toBeGreaterThan(0);
    await paging(run, 2000);
    const c = await counters(run);
    expect(c.moved + c.ask, JSON.stringify(c)).toBeGreaterThan(0);
    const res = await finish(run);
    expect(res.corrupt_bytes).toBe(0);
    expect(run.m.hasExited).toBe(false);
  }, 300_000);

  it('SIGKILL of a master mid-run: the replica takes over, faults stall then continue, zero mismatches', async () => {
    const run = await setup('failover');
    const masters = await cluster.masters();
    const victim = masters[1]!;
    const topo = await cluster.topology();
    const slots = topo.find((n) => n.address === victim.address)!.slots;
    await cluster.kill(victim);
    const promoted = await cluster.waitForFailover(victim, slots);
    expect(promoted.address).not.toBe(victim.address);
    await paging(run, 2000);
    const c = await counters(run);
    expect(c.conn_losses).toBeGreaterThan(0);
    expect(c.stalled_faults, JSON.stringify(c)).toBeGreaterThan(0);
    const res = await finish(run);
    expect(res.corrupt_bytes).toBe(0);
    expect(run.m.hasExited).toBe(false);
    expect(readFileSync(run.log, 'utf8')).toMatch(/slot map from .*: \d+ slots have a new master/);
  }, 300_000);

  it('the whole cluster down: the monitor fails closed after its deadline, the process exits 70', async () => {
    const run = await setup('down', { redisTimeoutMs: 1500 });
    await Promise.all(cluster.live.map((n) => cluster.kill(n)));
    const exit = await run.m.exited;
    expect(exit.code).toBe(1);
    expect(readFileSync(run.log, 'utf8')).toMatch(/unserved for \d+ ms .*failing closed|no reply for \d+ ms .*failing closed/);
    const r = await run.proc;
    expect(r.exitCode).toBe(70);
  }, 300_000);
});
