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
 * Key counts come from the snapshot with the most keys among `after` and a peak sampled
 * during the workload (ClusterKeySampler): a host benchmark's region detaches when it
 * exits, which deletes its keys before `after` is taken.
 */
import type { MasterStats } from '../kvstore/cluster-store.js';
import type { ClusterHandle } from './memory-arm.js';

/** The masters' stats with the run's key counts. */
export function clusterSnapshot(cluster: ClusterHandle): Promise<MasterStats[]> {
  return cluster.store.masterStats(cluster.keyStart);
}

function runKeys(s: MasterStats[]): number {
  return s.reduce((n, m) => n + (m.prefixKeys ?? 0), 0);
}

/** Flat metrics from the snapshots (see the file comment); `peak`: the sampler's. */
export function clusterMetrics(before: MasterStats[] | undefined, after: MasterStats[], peak?: MasterStats[]): Record<string, number> {
  const keysFrom = peak && runKeys(peak) > runKeys(after) ? peak : after;
  const total = runKeys(keysFrom);
  const out: Record<string, number> = { 'redis.keys': total, 'redis.masters': after.length };
  for (const m of after) {
    const b = before?.find((x) => x.index === m.index);
    const k = keysFrom.find((x) => x.index === m.index)?.prefixKeys ?? 0;
    const p = `redis.master.${m.index}`;
    out[`${p}.keys`] = k;
    out[`${p}.keys_share`] = total === 0 ? 0 : k / total;
    out[`${p}.used_memory`] = m.usedMemory;
    out[`${p}.commands`] = b && b.id === m.id ? m.totalCommandsProcessed - b.totalCommandsProcessed : m.totalCommandsProcessed;
    out[`${p}.slots`] = m.slots;
  }
  return out;
}

/** Samples the run's key count per master every `intervalMs` while a workload runs and
 * keeps the snapshot with the most keys. An embedded cluster holds only this run's keys,
 * so DBSIZE (O(1) per master) stands for the prefix count there; an external one is
 * SCANned under the run's prefix (heavier: every 5th interval). Sampling errors (a master
 * failing over) skip that sample. */
export class ClusterKeySampler {
  private best: MasterStats[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly cluster: ClusterHandle, private readonly intervalMs = 2000) {}

  start(): void {
    const every = this.cluster.embedded ? this.intervalMs : this.intervalMs * 5;
    this.timer = setInterval(() => void this.sample(), every);
    this.timer.unref(); // never what keeps the orchestrator alive
  }

  /** One sample (none while the previous one is still out). */
  private sample(): Promise<void> {
    this.inFlight ??= this.take().finally(() => { this.inFlight = undefined; });
    return this.inFlight;
  }

  private async take(): Promise<void> {
    try {
      const s = this.cluster.embedded
        ? (await this.cluster.store.masterStats()).map((m) => ({ ...m, prefixKeys: m.keys }))
        : await clusterSnapshot(this.cluster);
      if (!this.best || runKeys(s) > runKeys(this.best)) this.best = s;
    } catch { /* a failover in progress: the next sample */ }
  }

  /** Stops sampling (after the sample in flight, if any, and one last one) and returns the
   * peak, if any sample worked. Idempotent. */
  async stop(): Promise<MasterStats[] | undefined> {
    clearInterval(this.timer);
    await this.inFlight;
    await this.sample();
    return this.best;
  }
}
