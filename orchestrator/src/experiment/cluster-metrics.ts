/**
 * Per-master figures of a run's Redis Cluster around the workload: a snapshot before and
 * after (kvstore/cluster-store.ts masterStats), kept whole in the run record
 * (`redis.cluster.before/after`) and flattened into metrics the summary, comparisons and
 * the report's "Pages across masters" section use:
 *   redis.keys                    the run's page keys on all masters (after)
 *   redis.masters                 serving masters (after)
 *   redis.master.I.keys           the run's page keys on master I (slot order: master 0
 *                                 serves slot 0; a promoted replica keeps its master's I)
 *   redis.master.I.keys_share     that over redis.keys (0..1)
 *   redis.master.I.used_memory    bytes (INFO used_memory)
 *   redis.master.I.commands       commands processed during the workload (total after
 *                                 minus before; after alone when the master changed)
 *   redis.master.I.slots          slots it serves
 */
import type { MasterStats } from '../kvstore/cluster-store.js';
import type { ClusterHandle } from './memory-arm.js';

/** The masters' stats with the run's key counts. */
export function clusterSnapshot(cluster: ClusterHandle): Promise<MasterStats[]> {
  return cluster.store.masterStats(cluster.keyStart);
}

/** Flat metrics from the snapshots (see the file comment). */
export function clusterMetrics(before: MasterStats[] | undefined, after: MasterStats[]): Record<string, number> {
  const total = after.reduce((n, m) => n + (m.prefixKeys ?? 0), 0);
  const out: Record<string, number> = { 'redis.keys': total, 'redis.masters': after.length };
  for (const m of after) {
    const b = before?.find((x) => x.index === m.index);
    const p = `redis.master.${m.index}`;
    out[`${p}.keys`] = m.prefixKeys ?? 0;
    out[`${p}.keys_share`] = total === 0 ? 0 : (m.prefixKeys ?? 0) / total;
    out[`${p}.used_memory`] = m.usedMemory;
    out[`${p}.commands`] = b && b.id === m.id ? m.totalCommandsProcessed - b.totalCommandsProcessed : m.totalCommandsProcessed;
    out[`${p}.slots`] = m.slots;
  }
  return out;
}
