/**
 * Derived figures shared by the text and XML parsers: sample counts, percentiles,
 * throughput, vmstat deltas and the flat metrics map. The one place metrics are named.
 *
 * LKP's names mean LKP's values: users compare our results with LKP-tests'
 * programs/pmbench/parse, so every metric it prints appears here under its name, computed
 * the way it computes it (same inputs, same order of floating-point operations):
 *   latency.ns.average       mean over threads of "Page latency during benchmark (inc. gen)"
 *                            in ns (NOT the net average: that is latency.ns.net_average)
 *   throughput.aps           sum over threads of N / S from "Benchmark done - took S sec for N"
 *   throughput.std_dev%      population std-dev of those per-thread figures / their mean, %
 *   init_time.avg            "Initialization took X ms", in seconds (only with -i)
 *   {read,write}.latency.ns.{0-256,256-512,512-1K,...,512M-1G,1G-inf}%
 *                            each row's share of the block's samples
 *   {read,write}.latency.{90,95,99}%.ns
 *                            LKP's bucket value where the cumulative share first reaches the
 *                            percentile: 2^(k+8) for a row k without sub-counts, and
 *                            2^(k+8) + j*2^(k+4) for sub-bucket j of row k (sic: LKP's formula,
 *                            twice the sub-bucket's lower bound, kept as LKP computes it)
 * Where LKP has no input (no progress lines with -q, or an XML report) it prints
 * throughput.aps 0 and a NaN spread; we estimate both from the per-thread latency instead.
 * Our own figures keep names of their own: latency.ns.{p50,p90,p99} and
 * {read,write}.latency.ns.{p50,p90,p99} are interpolated inside the finest bucket.
 */
import { BAND_EXPONENTS, finestBuckets, mergeHistograms, percentiles } from './histogram.js';
import type {
  Percentiles,
  PmbenchHistogram,
  PmbenchRaw,
  PmbenchReport,
  VmstatCounters,
} from './types.js';

const VMSTAT_KEYS = ['pgpgin', 'pgpgout', 'pswpin', 'pswpout', 'pgmajfault'] as const;

/** The percentiles LKP reports from the histogram rows. */
const LKP_PERCENTILES = [90, 95, 99] as const;

/**
 * Sum of floats with Kahan-Babuska compensation: what Ruby's Array#sum returns, so sums
 * and means agree with LKP's to the last bit.
 */
export function compensatedSum(xs: readonly number[]): number {
  let f = 0;
  let c = 0;
  for (const x of xs) {
    const t = f + x;
    c += Math.abs(f) >= Math.abs(x) ? f - t + x : x - t + f;
    f = t;
  }
  return f + c;
}

function histoPercentiles(h: PmbenchHistogram | null): Percentiles | null {
  return h ? percentiles(finestBuckets(h)) : null;
}

/** Population std-dev over the mean, in % (LKP's lib/statistics relative_stddev). */
function relativeStdDev(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const avg = compensatedSum(xs) / xs.length;
  const variance = (1 / xs.length) * xs.reduce((acc, x) => acc + (x - avg) ** 2, 0);
  return (Math.sqrt(variance) * 100) / avg;
}

/**
 * Summed over threads: N/S of "Benchmark done" when every thread has it (LKP's figure),
 * else 1e6 / (benchmark latency in us) per thread.
 */
export function throughputOf(raw: PmbenchRaw): PmbenchReport['throughput'] {
  const done = raw.threads.map((t) => t.done);
  const fromDone = done.length > 0 && done.every((d) => d !== null);
  const perThread = fromDone
    ? done.map((d) => d!.accesses / d!.seconds)
    : raw.threads.map((t) => (t.benchmark.us > 0 ? 1e6 / t.benchmark.us : 0));
  return {
    accessesPerSec: compensatedSum(perThread),
    stdDevPercent: relativeStdDev(perThread),
    source: fromDone ? 'benchmark-done' : 'latency',
  };
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

/** LKP's size label of 2^exp: 256, 512, 1K, ..., 512K, 1M, ..., 1G. */
function sizeLabel(exp: number): string {
  const unit = Math.floor(exp / 10);
  return `${2 ** (exp - 10 * unit)}${['', 'K', 'M', 'G'][unit]}`;
}

/** LKP's name for histogram row k (0..23): 0-256, 256-512, 512-1K, ..., 512M-1G, 1G-inf. */
export function lkpBandName(k: number): string {
  if (k === 0) return '0-256';
  if (k === BAND_EXPONENTS.length - 1) return '1G-inf';
  return `${sizeLabel(k + 7)}-${sizeLabel(k + 8)}`;
}

/** Band shares and LKP's bucket percentiles of one histogram block (read or write). */
function lkpHistogramMetrics(prefix: string, h: PmbenchHistogram | null, into: Record<string, number>): void {
  if (!h) return;
  const sum = h.bands.reduce((s, b) => s + b.count, 0);
  if (sum === 0) return;
  let next = 0;
  let cum = 0;
  const reach = (value: number) => {
    while (next < LKP_PERCENTILES.length && cum >= LKP_PERCENTILES[next]!) {
      into[`${prefix}.latency.${LKP_PERCENTILES[next]}%.ns`] = value;
      next++;
    }
  };
  h.bands.forEach((b, k) => {
    into[`${prefix}.latency.ns.${lkpBandName(k)}%`] = (b.count / sum) * 100;
    if (b.sub) {
      b.sub.forEach((s, j) => {
        cum += (s.count / sum) * 100;
        reach(2 ** (k + 8) + j * 2 ** (k + 4));
      });
    } else {
      cum += (b.count / sum) * 100;
      reach(2 ** (k + 8));
    }
  });
}

function percentileMetrics(prefix: string, p: Percentiles | null, into: Record<string, number>): void {
  if (!p) return;
  into[`${prefix}.p50`] = p.p50;
  into[`${prefix}.p90`] = p.p90;
  into[`${prefix}.p99`] = p.p99;
}

/** Adds the derived fields and the flat metrics to a parsed report. */
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
  // LKP's
  lkpHistogramMetrics('read', read, metrics);
  lkpHistogramMetrics('write', write, metrics);
  if (raw.threads.length > 0) {
    const n = raw.threads.length;
    metrics['latency.ns.average'] = (compensatedSum(raw.threads.map((t) => t.benchmark.us)) / n) * 1000;
    metrics['latency.ns.net_average'] = (compensatedSum(raw.threads.map((t) => t.netAverage.us)) / n) * 1000;
  }
  metrics['throughput.aps'] = throughput.accessesPerSec;
  metrics['throughput.std_dev%'] = throughput.stdDevPercent;
  if (raw.initializationMs !== null) metrics['init_time.avg'] = raw.initializationMs / 1000;
  // ours
  metrics['samples'] = samples.total;
  if (read) metrics['read.samples'] = read.total;
  if (write) metrics['write.samples'] = write.total;
  percentileMetrics('latency.ns', pct.combined, metrics);
  percentileMetrics('read.latency.ns', pct.read, metrics);
  percentileMetrics('write.latency.ns', pct.write, metrics);
  if (vmstat) for (const k of VMSTAT_KEYS) metrics[`vmstat.${k}`] = vmstat[k];

  return { ...raw, samples, percentiles: pct, throughput, vmstat, metrics };
}
