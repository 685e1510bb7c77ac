/**
 * A real embedded Redis Cluster (3 masters, 3 replicas) on 127.0.0.1: healthy with all
 * 16384 slots served, its password on no command line, the key-slot test vectors as the
 * live server computes them, 1000 chunk-tagged page keys written through ioredis Cluster
 * spread over all three masters, a SIGKILLed master replaced by its replica with no key
 * lost, and nothing left running after dispose (nor after a failed start).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slotCount } from '../../src/kvstore/cluster-nodes.js';
import { parseAddress, parseInfo } from '../../src/kvstore/cluster-store.js';
import { keySlot, pageKey, pageKeyStart, CHUNK_PAGES } from '../../src/kvstore/key-slot.js';
import { EmbeddedRedisCluster, type ClusterNode } from '../../src/kvstore/redis-cluster.js';
import { Lease } from '../../src/process/lease.js';

/** Pids of running processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(text)) pids.push(Number(d));
    } catch { /* gone */ }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/redis-cluster-keys.json', import.meta.url), 'utf8')) as {
  keys: { key: string; slot: number }[]; pages: { key: string; slot: number }[];
};

describe('EmbeddedRedisCluster', () => {
  let runDir: string;
  let lease: Lease;
  let cluster: EmbeddedRedisCluster;
  let pids: number[] = [];
  const prefix = 'fluidlab:cluster-test:';

  beforeAll(async () => {
    runDir = mkdtempSync(join(tmpdir(), 'fl-cluster-'));
    lease = new Lease(runDir, 'cluster-test');
    const t0 = Date.now();
    cluster = await EmbeddedRedisCluster.start({ runDir, lease, masters: 3, replicas: 1 });
    console.log(`cluster of 6 nodes healthy after ${Date.now() - t0} ms`);
    pids = cluster.nodes.map((n) => n.pid);
  }, 90_000);

  afterAll(async () => {
    await cluster?.dispose();
    rmSync(runDir, { recursive: true, force: true });
  });

  it('is healthy: 3 serving masters with one replica each, all 16384 slots, every node leased', async () => {
    expect(await cluster.unhealthy()).toBeUndefined();
    const topology = await cluster.topology();
    const masters = topology.filter((n) => n.role === 'master');
    expect(masters).toHaveLength(3);
    expect(masters.reduce((s, m) => s + slotCount(m.slots), 0)).toBe(16384);
    for (const m of masters) expect(topology.filter((n) => n.masterId === m.id)).toHaveLength(1);
    for (const n of cluster.nodes) {
      const info = parseInfo(await cluster.store.onNode(n.address, (r) => r.call('CLUSTER', 'INFO') as Promise<string>));
      expect(info.cluster_state).toBe('ok');
      expect(info.cluster_slots_assigned).toBe('16384');
      expect(info.cluster_known_nodes).toBe('6');
    }
    expect(lease.processes.filter((p) => p.role.startsWith('redis:cluster:')).map((p) => p.pid).sort()).toEqual([...pids].sort());
    expect(cluster.url).toMatch(/^redis-cluster:\/\/127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){5}$/);
  });

  it('keeps the password off command lines and refuses clients without it', async () => {
    for (const n of cluster.nodes) {
      const cmdline = readFileSync(`/proc/${n.pid}/cmdline`, 'utf8');
      expect(cmdline).not.toContain(cluster.password);
      const conf = readFileSync(join(n.dir, 'redis.conf'), 'utf8');
      expect(conf).toContain(`requirepass ${cluster.password}`);
    }
    expect(readFileSync(lease.file, 'utf8')).not.toContain(cluster.password);
    const anon = new Redis({ ...parseAddress(cluster.addresses[0]!), lazyConnect: true, enableReadyCheck: false, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    anon.on('error', () => undefined);
    try {
      await anon.connect();
      await expect(anon.get('x')).rejects.toThrow(/NOAUTH/);
    } finally {
      anon.disconnect();
    }
  });

  it('computes the checked-in key-slot vectors as the TypeScript function does (CLUSTER KEYSLOT)', async () => {
    const vectors = [...fixture.keys, ...fixture.pages];
    const live = await cluster.store.onNode(cluster.addresses[0]!, (r) => Promise.all(vectors.map((v) => r.call('CLUSTER', 'KEYSLOT', v.key) as Promise<number>)));
    vectors.forEach((v, i) => {
      expect(live[i], v.key).toBe(v.slot);
      expect(keySlot(v.key), v.key).toBe(v.slot);
    });
  });

  it('spreads 1000 chunk-tagged page keys over all three masters (each >= 20%), then a SIGKILLed master is replaced with no key lost', async () => {
    const client = new Cluster(cluster.addresses.map(parseAddress), { redisOptions: { password: cluster.password } });
    const keys = Array.from({ length: 1000 }, (_, chunk) => pageKey(prefix, 'vm1', '0123456789abcdef', chunk * CHUNK_PAGES + (chunk % CHUNK_PAGES)));
    try {
      await Promise.all(keys.map((k) => client.set(k, `page ${k}`)));
    } finally {
      client.disconnect();
    }
    const before = await cluster.store.masterStats(pageKeyStart(prefix));
    console.log('keys per master:', before.map((m) => `${m.address} slots ${m.slots}: ${m.prefixKeys}`).join(', '));
    expect(before).toHaveLength(3);
    expect(before.reduce((s, m) => s + m.prefixKeys!, 0)).toBe(1000);
    for (const m of before) {
      expect(m.prefixKeys! / 1000).toBeGreaterThanOrEqual(0.2);
      expect(m.keys).toBe(m.prefixKeys);
      expect(m.replicas).toBe(1);
      expect(m.role).toBe('master');
      expect(m.usedMemory).toBeGreaterThan(0);
      expect(m.totalCommandsProcessed).toBeGreaterThan(0);
    }
    expect(await cluster.store.countKeys(pageKeyStart(prefix))).toBe(1000);

    await cluster.waitReplicated();
    const victim: ClusterNode = (await cluster.masters())[1]!;
    const victimInfo = (await cluster.topology()).find((n) => n.address === victim.address)!;
    const replica = (await cluster.topology()).find((n) => n.masterId === victimInfo.id)!;
    const t0 = Date.now();
    await cluster.kill(victim);
    expect(alive(victim.pid)).toBe(false);
    const promoted = await cluster.waitForFailover(victim, victimInfo.slots, 30_000);
    console.log(`master ${victim.address} SIGKILLed: replica ${promoted.address} serves its slots, cluster ok after ${Date.now() - t0} ms`);
    expect(promoted.address).toBe(replica.address);
    expect(await cluster.unhealthy()).toBeUndefined();
    const after = await cluster.store.masterStats(pageKeyStart(prefix));
    expect(after.map((m) => m.address)).toEqual(before.map((m) => (m.address === victim.address ? promoted.address : m.address)));
    expect(after.map((m) => m.prefixKeys)).toEqual(before.map((m) => m.prefixKeys));

    const reader = new Cluster(cluster.live.map((n) => parseAddress(n.address)), { redisOptions: { password: cluster.password } });
    try {
      const values = await Promise.all(keys.map((k) => reader.get(k)));
      values.forEach((v, i) => expect(v).toBe(`page ${keys[i]}`));
    } finally {
      reader.disconnect();
    }
    expect(await cluster.store.deleteKeys(pageKeyStart(prefix))).toBe(1000);
    expect(await cluster.store.countKeys(pageKeyStart(prefix))).toBe(0);
  }, 60_000);

  it('dispose leaves no redis-server and an empty lease', async () => {
    await cluster.dispose();
    await cluster.dispose(); // idempotent
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    expect(processesMentioning(cluster.dir)).toEqual([]);
    expect(lease.processes).toEqual([]);
  });
});

describe('EmbeddedRedisCluster.start failures', () => {
  it('refuses fewer than 3 masters before starting anything', async () => {
    await expect(EmbeddedRedisCluster.start({ runDir: '/nonexistent/never', masters: 2, replicas: 1 })).rejects.toThrow(/at least 3 masters, got 2/);
  });

  it('disposes every node it started when the cluster cannot be created', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'fl-cluster-fail-'));
    const lease = new Lease(runDir, 'cluster-fail');
    try {
      await expect(EmbeddedRedisCluster.start({ runDir, lease, masters: 3, replicas: 0, cliBinary: '/bin/false' }))
        .rejects.toThrow(/failed to start in .*redis-cluster: redis-cli --cluster create exited with 1/);
      expect(processesMentioning(join(runDir, 'redis-cluster'))).toEqual([]);
      expect(lease.processes).toEqual([]);
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  }, 60_000);
});
