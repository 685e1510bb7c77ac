/** Guest-side and handler-side counters around a workload: /proc/vmstat deltas and the
 * handler's stats, flattened into metrics. */
import type { ClusterCounters, Counters, MonitorStats, VmStats } from '../handler/control.js';
import type { MicroVM } from '../vm/microvm.js';

const VMSTAT_KEYS = ['pgpgin', 'pgpgout', 'pswpin', 'pswpout', 'pgmajfault', 'pgfault'];

/** The paging counters of a /proc/vmstat text (guest's or host's). */
export function parseVmstat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && VMSTAT_KEYS.includes(k)) out[k] = Number(v);
  }
  return out;
}

export async function readVmstat(vm: MicroVM): Promise<Record<string, number>> {
  const r = await vm.exec(['cat', '/proc/vmstat'], { timeoutMs: 60_000 });
  return parseVmstat(r.stdout);
}

export function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
}

export function vmStatsOf(stats: MonitorStats, vmId: string): VmStats | undefined {
  return stats.vms.find((v) => v.id === vmId);
}

type LatencyHistogram = Array<[number, number]>;

/** The fault-latency histogram of the window: after minus before, bucket by bucket. */
export function histogramDelta(after: LatencyHistogram, before: LatencyHistogram = []): LatencyHistogram {
  const prior = new Map(before);
  return after.map(([upper, n]): [number, number] => [upper, n - (prior.get(upper) ?? 0)]).filter(([, n]) => n > 0);
}

/** The upper bound of the bucket holding quantile q (the monitor's own convention). */
export function histogramQuantile(h: LatencyHistogram, q: number): number {
  const total = h.reduce((a, [, n]) => a + n, 0);
  if (total === 0) return 0;
  let seen = 0;
  for (const [upper, n] of h) {
    seen += n;
    if (seen >= q * total) return upper;
  }
  return h[h.length - 1]![0];
}

/** Handler metrics for one VM over the workload: counter deltas, and fault-latency
 * percentiles of the faults inside the window only (not those of boot and SSH). */
export function handlerMetrics(before: Counters | undefined, after: Counters | undefined): Record<string, number> {
  if (!after) return {};
  const window = histogramDelta(after.fault_latency_ns.histogram, before?.fault_latency_ns.histogram);
  const d = (k: 'faults' | 'zero_fills' | 'remote_fetches' | 'evictions' | 'backend_writes' | 'bytes_read' | 'bytes_written') => after[k] - (before?.[k] ?? 0);
  return {
    'handler.faults': d('faults'),
    'handler.zero_fills': d('zero_fills'),
    'handler.remote_fetches': d('remote_fetches'),
    'handler.evictions': d('evictions'),
    'handler.backend_writes': d('backend_writes'),
    'handler.bytes_read': d('bytes_read'),
    'handler.bytes_written': d('bytes_written'),
    'handler.resident_pages': after.resident_pages,
    'handler.remote_pages': after.remote_pages,
    'handler.fault_latency_ns.p50': histogramQuantile(window, 0.5),
    'handler.fault_latency_ns.p99': histogramQuantile(window, 0.99),
  };
}

const CLUSTER_COUNTERS = ['moved', 'ask', 'tryagain', 'clusterdown', 'stalled_faults', 'conn_losses', 'map_refreshes', 'wait_rounds', 'wait_timeouts'] as const;

/** The redis-cluster:// backend's counters over the window (`handler.cluster.*`: redirects
 * followed, faults stalled on an unserved slot, replica WAITs), plus the masters and
 * replicas it sees at the end. Monitor-wide, like the store; {} with other backends. A
 * counter that went down (a restarted monitor) counts from zero. */
export function clusterHandlerMetrics(before: ClusterCounters | undefined, after: ClusterCounters | undefined): Record<string, number> {
  if (!after) return {};
  const out: Record<string, number> = {};
  for (const k of CLUSTER_COUNTERS) {
    const b = before?.[k] ?? 0;
    out[`handler.cluster.${k}`] = after[k] >= b ? after[k] - b : after[k];
  }
  out['handler.cluster.masters'] = after.masters;
  out['handler.cluster.replicas'] = after.replicas;
  return out;
}
