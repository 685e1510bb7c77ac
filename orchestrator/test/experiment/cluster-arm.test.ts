/**
 * A fluidmem arm with store: redis-cluster. Until helpers/bin/fluidmem-monitor lists a
 * redis-cluster:// backend, startHandler refuses it before starting anything (no
 * redis-server, empty lease) with an error naming the missing backend; and the per-master
 * metrics the run record gets (experiment/cluster-metrics.ts), from real snapshots of an
 * embedded cluster and from hand-made ones (a failover between the snapshots).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { parseConfig } from '../../src/config/load.js';
import type { ArmConfig } from '../../src/config/schema.js';
import { ClusterKeySampler, clusterMetrics, clusterSnapshot } from '../../src/experiment/cluster-metrics.js';
import { clusterHandlerMetrics } from '../../src/experiment/guest-stats.js';
import { expandRuns } from '../../src/experiment/expand.js';
import { REDIS_BYTES_PER_PAGE, runNeeds, SERVICE_MIB } from '../../src/experiment/preflight.js';
import { startCluster, startHandler } from '../../src/experiment/memory-arm.js';
import { monitorBackends } from '../../src/handler/backends.js';
import { parseAddress, type MasterStats } from '../../src/kvstore/cluster-store.js';
import { CHUNK_PAGES, pageKey, pageKeyStart } from '../../src/kvstore/key-slot.js';
import { EmbeddedRedisCluster } from '../../src/kvstore/redis-cluster.js';
import { RunContext } from '../../src/run/context.js';

const runsDir = mkdtempSync(join(tmpdir(), 'fl-cluster-arm-'));
process.env.FLUIDLAB_RUNS_DIR = runsDir;
afterAll(() => rmSync(runsDir, { recursive: true, force: true }));

const config = parseConfig(`name: t
vms: [{ name: vm0, memory: 64M }]
arms:
  - { name: cluster, kind: fluidmem, backend: redis, resident: 50%, store: { kind: redis-cluster } }
workload: { command: ["true"] }
`, 'x.yaml');
const arm = config.arms[0] as Extract<ArmConfig, { kind: 'fluidmem' }>;

describe('cluster arm', () => {
  it('is refused before anything starts while the monitor has no redis-cluster backend', async (t) => {
    if ((await monitorBackends()).has('redis-cluster')) t.skip(); // the C side has landed: the arm runs
    const ctx = new RunContext('cluster-arm-refused');
    try {
      await expect(startHandler(ctx, config, 'redis', 1024, arm.store)).rejects.toThrow(/^fluidmem-monitor has no redis-cluster backend yet \(.*fluidmem-monitor --help lists: redis:\/\//);
      expect(ctx.lease.processes).toEqual([]);
      expect(existsSync(join(ctx.runDir, 'redis-cluster'))).toBe(false);
    } finally {
      await ctx.dispose();
    }
    expect(existsSync(ctx.runDir)).toBe(false);
  });

  it('flattens per-master snapshots of a real cluster into redis.master.I.* metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-cluster-metrics-'));
    const cluster = await EmbeddedRedisCluster.start({ runDir: dir, masters: 3, replicas: 0 });
    try {
      const handle = { store: cluster.store, keyStart: pageKeyStart('fluidlab:r1:'), embedded: true };
      const before = await clusterSnapshot(handle);
      const client = new Cluster(cluster.addresses.map(parseAddress), { redisOptions: { password: cluster.password } });
      try {
        await Promise.all(Array.from({ length: 600 }, (_, c) => client.set(pageKey('fluidlab:r1:', 'vm0', 'k1', c * CHUNK_PAGES), 'x')));
        await client.set('unrelated', 'y'); // not the run's: counted by DBSIZE only
      } finally {
        client.disconnect();
      }
      const after = await clusterSnapshot(handle);
      const m = clusterMetrics(before, after);
      expect(m['redis.keys']).toBe(600);
      expect(m['redis.masters']).toBe(3);
      const shares = [0, 1, 2].map((i) => m[`redis.master.${i}.keys_share`]!);
      expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      for (const i of [0, 1, 2]) {
        expect(m[`redis.master.${i}.keys`]).toBe(after[i]!.prefixKeys);
        expect(m[`redis.master.${i}.commands`]).toBeGreaterThanOrEqual(m[`redis.master.${i}.keys`]!);
        expect(m[`redis.master.${i}.used_memory`]).toBeGreaterThan(0);
        expect(shares[i]).toBeGreaterThan(0.2);
      }
      expect([0, 1, 2].reduce((s, i) => s + m[`redis.master.${i}.slots`]!, 0)).toBe(16384);

      // A host benchmark's keys are gone (its region detached) before `after` is read:
      // the sampler's peak, taken while they existed, still gives the spread.
      const sampler = new ClusterKeySampler(handle, 50);
      sampler.start();
      await new Promise((r) => setTimeout(r, 300));
      await cluster.store.deleteKeys('');
      const peak = await sampler.stop();
      const gone = await clusterSnapshot(handle);
      expect(clusterMetrics(before, gone)['redis.keys']).toBe(0);
      const fromPeak = clusterMetrics(before, gone, peak);
      expect(fromPeak['redis.keys']).toBe(601); // DBSIZE: embedded clusters hold only the run's keys (and here 'unrelated')
      for (const i of [0, 1, 2]) expect(fromPeak[`redis.master.${i}.keys_share`]).toBeGreaterThan(0.2);
    } finally {
      await cluster.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('preflight: an embedded cluster needs the replicas\' copies of the evicted pages and its extra servers', () => {
    const two = parseConfig(`name: t
vms: [{ name: vm0, memory: 512M }]
arms:
  - { name: single, kind: fluidmem, backend: redis, resident: 128M }
  - { name: cluster, kind: fluidmem, backend: redis, resident: 128M, store: { kind: redis-cluster, masters: 3, replicas: 1 } }
workload: { command: ["true"] }
`, 'x.yaml');
    const [single, clustered] = expandRuns(two).map((r) => runNeeds(r));
    const sum = (needs: { mib: number }[]) => needs.reduce((s, n) => s + n.mib, 0);
    const evictedStore = (384 * 256 * REDIS_BYTES_PER_PAGE) / 2 ** 20;
    expect(sum(clustered!) - sum(single!)).toBeCloseTo(evictedStore + 5 * SERVICE_MIB, 6);
    expect(clustered!.map((n) => n.what)).toContain('Redis Cluster: 1 replica copy of the evicted pages');
  });

  it('uses an existing cluster under the run\'s prefix and removes only the run\'s keys afterwards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-cluster-external-'));
    const lab = await EmbeddedRedisCluster.start({ runDir: dir, masters: 3, replicas: 0 }); // stands for a lab's cluster
    const client = new Cluster(lab.addresses.map(parseAddress), { redisOptions: { password: lab.password } });
    try {
      process.env.FL_TEST_CLUSTER_PW = lab.password;
      const ctx = new RunContext('cluster-arm-external');
      const store = { kind: 'redis-cluster' as const, embedded: false as const, nodes: [lab.addresses[1]!], password_env: 'FL_TEST_CLUSTER_PW' };
      const started = await startCluster(ctx, store);
      expect(started.url).toBe(`redis-cluster://${lab.addresses[1]}`);
      expect(started.keyPrefix).toBe('fluidlab:cluster-arm-external:');
      expect(started.password).toBe(lab.password);
      const mine = Array.from({ length: 200 }, (_, c) => pageKey(started.keyPrefix, 'vm0', 'k1', c * CHUNK_PAGES));
      await Promise.all(mine.map((k) => client.set(k, 'page')));
      await client.set(pageKey('fluidlab:another-run:', 'vm0', 'k1', 0), 'theirs');
      expect(await started.cluster.store.countKeys(started.cluster.keyStart)).toBe(200);
      await ctx.dispose();
      expect(await lab.store.countKeys(started.cluster.keyStart)).toBe(0);
      expect(await client.get(pageKey('fluidlab:another-run:', 'vm0', 'k1', 0))).toBe('theirs');

      process.env.FL_TEST_CLUSTER_PW = 'wrong';
      const ctx2 = new RunContext('cluster-arm-wrong-pw');
      await expect(startCluster(ctx2, store)).rejects.toThrow(/^store: redis-cluster nodes 127\.0\.0\.1:\d+: no Redis Cluster node answered CLUSTER NODES \(127\.0\.0\.1:\d+: WRONGPASS/);
      await ctx2.dispose();
      delete process.env.FL_TEST_CLUSTER_PW;
      await expect(startCluster(new RunContext('cluster-arm-no-pw'), store)).rejects.toThrow('store.password_env names FL_TEST_CLUSTER_PW, but that environment variable is empty');
    } finally {
      client.disconnect();
      await lab.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('counts a promoted master\'s commands from zero, not as a negative delta', () => {
    const s = (id: string, total: number, keys: number): MasterStats => ({ index: 0, id, address: 'a', role: 'master', slots: 16384, replicas: 0, keys, prefixKeys: keys, usedMemory: 1, totalCommandsProcessed: total });
    expect(clusterMetrics([s('old', 5000, 0)], [s('old', 7000, 10)])['redis.master.0.commands']).toBe(2000);
    expect(clusterMetrics([s('old', 5000, 0)], [s('new', 300, 10)])['redis.master.0.commands']).toBe(300);
    expect(clusterMetrics(undefined, [s('new', 0, 0)])['redis.master.0.keys_share']).toBe(0);
  });

  it('reports the handler\'s cluster counters over the window, from zero after a monitor restart', () => {
    const c = (stalled: number, moved: number) => ({ moved, ask: 0, tryagain: 0, clusterdown: 1, stalled_faults: stalled, conn_losses: 0, map_refreshes: 2, wait_rounds: 10, wait_timeouts: 0, masters: 3, replicas: 3 });
    const m = clusterHandlerMetrics(c(5, 1), c(12, 4));
    expect(m['handler.cluster.stalled_faults']).toBe(7);
    expect(m['handler.cluster.moved']).toBe(3);
    expect(m['handler.cluster.masters']).toBe(3);
    expect(clusterHandlerMetrics(c(50, 9), c(3, 0))['handler.cluster.stalled_faults']).toBe(3);
    expect(clusterHandlerMetrics(undefined, undefined)).toEqual({});
  });
});
