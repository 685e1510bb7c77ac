/**
 * The results format: results/RUN-ID/ holds summary.json (one Summary), runs/ID.json (one
 * RunRecord per expanded run), logs/ID/ (raw logs: serial console, QEMU, handler, Redis,
 * the workload's report) and config.yaml (the config as run). Metric names follow LKP's
 * where one exists (latency.ns.average, throughput.aps, read.latency.ns.p99, ...).
 */
import type { HostFacts } from '../host/facts.js';

export const RUN_SCHEMA = 'fluidlab.run/1';
export const SUMMARY_SCHEMA = 'fluidlab.summary/1';

/** One latency band of a pmbench histogram (sub-count resolution where available). */
export interface HistogramBand {
  loNs: number;
  hiNs: number;
  count: number;
}

export interface RunRecord {
  schema: typeof RUN_SCHEMA;
  runId: string;
  /** The expanded run: 001-fluidmem-redis-r1. */
  id: string;
  experiment: string;
  /** Arm plus the varying parameters: the unit that repetitions are grouped by. */
  variant: string;
  arm: { name: string; kind: 'fluidmem' | 'swap' | 'none'; backend?: string; residentMiB?: number; swapOn?: string };
  repetition: number;
  params: Record<string, string | number | boolean>;
  status: 'ok' | 'failed';
  error?: string;
  startedAt: string;
  durationMs: number;
  accelerator: string;
  /** Per VM (usually one). Metrics of the first VM are also in `metrics`. */
  vms: VmResult[];
  /** Flat metrics of the run (first VM), e.g. latency.ns.average, handler.evictions. */
  metrics: Record<string, number>;
  /** Latency distributions (first VM), for plots. */
  histograms?: { read?: HistogramBand[]; write?: HistogramBand[] };
  host: HostFacts;
}

export interface VmResult {
  name: string;
  memoryMiB: number;
  metrics: Record<string, number>;
  /** Handler stats (fluidmem arms): control-socket JSON before and after the workload. */
  handler?: { before: unknown; after: unknown };
  /** Guest /proc/vmstat after minus before the workload. */
  vmstatDelta?: Record<string, number>;
  redisInfo?: Record<string, string>;
  workloadExitCode?: number;
}

export interface MetricStats {
  mean: number;
  stdev: number;
  min: number;
  max: number;
  n: number;
  /** The per-repetition values, in repetition order (the unit for bootstrap comparisons). */
  values: number[];
}

export interface VariantSummary {
  variant: string;
  arm: string;
  runs: number;
  failed: number;
  metrics: Record<string, MetricStats>;
}

export interface Summary {
  schema: typeof SUMMARY_SCHEMA;
  runId: string;
  experiment: string;
  configFile: string;
  startedAt: string;
  finishedAt: string;
  gitRevision?: string;
  host: HostFacts;
  accelerator: string;
  runs: { id: string; variant: string; repetition: number; status: 'ok' | 'failed'; error?: string; file: string }[];
  variants: VariantSummary[];
  failed: number;
  /** Set when the experiment was stopped (SIGINT/SIGTERM) before every run finished. */
  interrupted?: boolean;
}
