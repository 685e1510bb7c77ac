/**
 * The parsed form of a pmbench 0.9 report (text, or the -f XML report in upstream's schema).
 * Produced by parsePmbenchReport (text.ts) and parsePmbenchXml (xml.ts); the derived fields
 * and the flat metrics by finishReport (derive.ts).
 */

export type PmbenchPattern = 'linear' | 'uniform' | 'normal' | 'pareto';
export type PmbenchTimestamp = 'rdtsc' | 'rdtscp';
export type PmbenchAccess = 'histo' | 'touch';

export interface PmbenchSignature {
  /** e.g. "pmbench 0.9 Linux 64bit +mt -nu -xa" */
  version: string;
  /** e.g. "Linux 6.1.0-18-amd64 x86_64" */
  kernel: string;
  /** as printed, e.g. "Wed Nov 25 17:25:12 2026" */
  date: string;
  uuid: string;
}

export interface PmbenchParameters {
  durationSec: number;
  mapsizeMib: number;
  setsizeMib: number;
  initialize: boolean;
  shape: number;
  delay: number;
  quiet: boolean;
  cold: boolean;
  jobs: number;
  offset: number | 'random';
  /** percent of accesses that are reads */
  ratio: number;
  threshold: number;
  wrneedsrd: boolean;
  pattern: PmbenchPattern;
  access: PmbenchAccess;
  tsops: PmbenchTimestamp;
}

export interface PmbenchMachine {
  cpuModel: string;
  /** TSC frequency in kHz ("rdtsc/perfc frequency: N K cycles per second") */
  tscKhz: number;
}

export interface Latency {
  us: number;
  clks: number;
}

export interface SampledLatency extends Latency {
  samples: number;
}

export interface PmbenchThread {
  /** 1-based */
  index: number;
  of: number;
  /** "Net average page latency (Arith. mean)" */
  netAverage: Latency;
  /** "Page latency during benchmark (inc. gen)" */
  benchmark: SampledLatency;
  /** "Pattern generation overhead per drawing" */
  generation: SampledLatency;
  /** "Page latency during warmup"; null with -c */
  warmup: SampledLatency | null;
  /** from "[T] Benchmark done - took S sec for N page access"; null when absent (-q) */
  done: { seconds: number; accesses: number } | null;
}

export interface HistogramBucket {
  loNs: number;
  hiNs: number;
  count: number;
}

export interface HistogramBand extends HistogramBucket {
  /** the 16 equal sub-buckets of bands 2^8..2^23 ns; null for the other bands */
  sub: HistogramBucket[] | null;
}

export interface PmbenchHistogram {
  /** 24 bands: [0,2^8), 2^8..2^30 by powers of two, [2^30,2^32) */
  bands: HistogramBand[];
  total: number;
}

/** Latency percentiles in ns, linearly interpolated inside the finest bucket available. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
}

export type SnapshotLabel = 'pre-warmup' | 'pre-run' | 'mid-run' | 'post-run' | 'post unmap';

export interface VmstatCounters {
  pgpgin: number;
  pgpgout: number;
  pswpin: number;
  pswpout: number;
  pgmajfault: number;
}

export interface MemorySnapshot extends VmstatCounters {
  label: SnapshotLabel;
  freeK: number;
  bufferK: number;
  cacheK: number;
  activeK: number;
  inactiveK: number;
}

export interface PmbenchReport {
  format: 'text' | 'xml';
  signature: PmbenchSignature;
  parameters: PmbenchParameters;
  machine: PmbenchMachine;
  threads: PmbenchThread[];
  samples: { read: number; write: number; total: number };
  /** null when the block is absent (ratio 0 / 100, or -a touch) */
  histograms: { read: PmbenchHistogram | null; write: PmbenchHistogram | null };
  percentiles: { read: Percentiles | null; write: Percentiles | null; combined: Percentiles | null };
  /**
   * Summed over threads; source says whether from "Benchmark done" lines or from latency.
   * stdDevPercent: population std-dev of the per-thread figures over their mean, in % (LKP's).
   */
  throughput: { accessesPerSec: number; stdDevPercent: number; source: 'benchmark-done' | 'latency' };
  memory: MemorySnapshot[];
  /** post-run minus pre-warmup (or pre-run with -c); null when those rows are absent */
  vmstat: VmstatCounters | null;
  /** "Initialization took X ms" (-i, progress lines); null when absent */
  initializationMs: number | null;
  interrupted: boolean;
  /**
   * Flat metrics. Every metric LKP-tests' pmbench parser prints, under its name with its
   * value (latency.ns.average, throughput.aps, throughput.std_dev%, init_time.avg,
   * read.latency.ns.512-1K%, read.latency.99%.ns, ...), plus our own (latency.ns.net_average,
   * interpolated read.latency.ns.p99, samples, vmstat.*). See derive.ts.
   */
  metrics: Record<string, number>;
}

/** The report before derived fields (percentiles, throughput, vmstat, metrics) are added. */
export type PmbenchRaw = Omit<PmbenchReport, 'samples' | 'percentiles' | 'throughput' | 'vmstat' | 'metrics'>;
