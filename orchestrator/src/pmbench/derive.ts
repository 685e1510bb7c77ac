/**
 * Derived figures shared by the text and XML parsers: sample counts, percentiles,
 * throughput, vmstat deltas and the flat LKP-style metrics map.
 */
import { finestBuckets, mergeHistograms, percentiles } from './histogram.js';
import type {
  Percentiles,
  PmbenchHistogram,
  PmbenchRaw,
  PmbenchReport,
  VmstatCounters,
} from './types.js';

const VMSTAT_KEYS = ['pgpgin', 'pgpgout', 'pswpin', 'pswpout', 'pgmajfault'] as const;

function histoPercentiles(h: PmbenchHistogram | null): Percentiles | null {
  return h ? percentiles(finestBuckets(h)) : null;
}

/** Summed over threads: N/S of "Benchmark done" when every thread has it, else 1/latency. */
export function throughputOf(raw: PmbenchRaw): PmbenchReport['throughput'] {
  const done = raw.threads.map((t) => t.done);
  if (done.length > 0 && done.every((d) => d !== null)) {
    const aps = done.reduce((s, d) => s + (d!.seconds > 0 ? d!.accesses / d!.seconds : 0), 0);
    return { accessesPerSec: aps, source: 'benchmark-done' };
  }
  const aps = raw.threads.reduce((s, t) => s + (t.benchmark.us > 0 ? 1e6 / t.benchmark.us : 0), 0);
  return { accessesPerSec: aps, source: 'latency' };
}

/** post-run minus pre-warmup (or pre-run when there was no warm-up). */
export function vmstatDelta(raw: PmbenchRaw): VmstatCounters | null {
  const find = (label: string) => raw.memory.find((m) => m.label === label);
  const before = find('pre-warmup') ?? find('pre-run');
  const after = find('post-run');
  if (!before || !after) return null;
  const out = {} as VmstatCounters;
  for (const k of VMSTAT_KEYS) out[k] = after[k] - before[k];
  return out;
}

function bandMetrics(prefix: string, h: PmbenchHistogram | null, into: Record<string, number>): void {
  if (!h || h.total === 0) return;
  for (const b of h.bands) into[`${prefix}.latency.ns.${b.loNs}-${b.hiNs}%`] = (100 * b.count) / h.total;
}

function percentileMetrics(prefix: string, p: Percentiles | null, into: Record<string, number>): void {
  if (!p) return;
  into[`${prefix}.p50`] = p.p50;
  into[`${prefix}.p90`] = p.p90;
  into[`${prefix}.p99`] = p.p99;
}

export function finishReport(raw: PmbenchRaw): PmbenchReport {
  const { read, write } = raw.histograms;
  const combined = mergeHistograms([read, write].filter((h): h is PmbenchHistogram => h !== null));
  const pct = {
    read: histoPercentiles(read),
    write: histoPercentiles(write),
    combined: histoPercentiles(combined),
  };
  const samples = {
    read: read?.total ?? 0,
    write: write?.total ?? 0,
    total: raw.threads.reduce((s, t) => s + t.benchmark.samples, 0),
  };
  const throughput = throughputOf(raw);
  const vmstat = vmstatDelta(raw);

  const metrics: Record<string, number> = {};
  if (raw.threads.length > 0) {
    metrics['latency.ns.average'] =
      (raw.threads.reduce((s, t) => s + t.netAverage.us, 0) / raw.threads.length) * 1000;
  }
  metrics['throughput.aps'] = throughput.accessesPerSec;
  metrics['samples'] = samples.total;
  if (read) metrics['read.samples'] = read.total;
  if (write) metrics['write.samples'] = write.total;
  percentileMetrics('latency.ns', pct.combined, metrics);
  percentileMetrics('read.latency.ns', pct.read, metrics);
  percentileMetrics('write.latency.ns', pct.write, metrics);
  bandMetrics('read', read, metrics);
  bandMetrics('write', write, metrics);
  if (vmstat) for (const k of VMSTAT_KEYS) metrics[`vmstat.${k}`] = vmstat[k];

  return { ...raw, samples, percentiles: pct, throughput, vmstat, metrics };
}
