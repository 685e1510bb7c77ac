/**
 * The results format: results/RUN-ID/ holds summary.json (one Summary), runs/ID.json (one
 * RunRecord per expanded run), logs/ID/ (raw logs: serial console, QEMU, handler, Redis,
 * the workload's report) and config.yaml (the config as run). Metric names follow LKP's
 * where one exists (latency.ns.average, throughput.aps, read.latency.ns.p99, ...).
 */
import type { HostFacts } from '../host/facts.js';
import type { MasterStats } from '../kvstore/cluster-store.js';
import type { TimelineRecord } from './series.js';

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
  arm: { name: string; kind: 'fluidmem' | 'swap' | 'none'; placement?: 'guest' | 'host'; backend?: string; residentMiB?: number; swapOn?: string };
  /** Where each process ran. Host-placed runs: {workload: 'cpu 1', monitor: ..., swap: ...};
   * guest runs: `requested` (the resolved cpus:) and the CPUs the kernel then allowed the
   * vcpus, emulator (QEMU's other threads), monitor and store threads (experiment/cpu-placement.ts). */
  placement?: Record<string, string>;
  /** Experiments with hosts: (hosts/): the lab host that ran it, and (SSH hosts) its own run
   * id and run id there. */
  lab?: { host: string; runId?: string; id?: string };
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
  /** The config's timeline as it ran (results/series.ts); the series file sits beside. */
  timeline?: TimelineRecord;
  /** The arm's Redis Cluster (store: redis-cluster): each master before and after the
   * workload, and (host runs) the sample with the most keys taken during it
   * (experiment/cluster-metrics.ts; flat as redis.master.I.* in `metrics`). */
  redis?: { cluster: { before?: ClusterMasterStats[]; after: ClusterMasterStats[]; peak?: ClusterMasterStats[] } };
  /** fluidmem arms: the crashed monitor restarted during the run (handler/monitor.ts
   * MonitorRestart; count also in metrics as handler.monitor_restarts). */
  monitorRestarts?: { at: string; exit: string; oldPid: number; newPid?: number; ok: boolean; error?: string; ms: number }[];
}

/** One master of a Redis Cluster, as kvstore/cluster-store.ts reads it. */
export type ClusterMasterStats = MasterStats;

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
  /** The arms as run: kind and placement (guest or host), for comparison caveats. */
  arms?: ArmPlacement[];
  /** How much slower the guest is than the host (absent when every arm is host-placed). */
  emulation?: EmulationSummary;
  /** Published figures beside ours (config `reference:`). */
  reference?: ReferenceComparison;
  /** What any userfaultfd handler costs on this host (experiment/handler-floor.ts; host fluidmem arms only). */
  handlerFloor?: HandlerFloorSummary;
}

/** fluidlab-floor's medians, once per experiment, on the host runs' CPU. */
export interface HandlerFloorSummary {
  floor?: {
    /** the CPU it was pinned to (null: not pinned) */
    cpu: number | null;
    pages: number;
    /** the kernel's first-touch read fault, no handler */
    kernelFaultNs: number;
    /** round trip to a trivial handler in another process (the monitor's least cost) */
    uffdProcessNs: number;
    /** round trip to the same handler as a thread of the faulting process */
    uffdThreadNs: number;
  };
  /** why it was not measured */
  skipped?: string;
}

export interface ArmPlacement {
  name: string;
  kind: 'fluidmem' | 'swap' | 'none';
  placement: 'guest' | 'host';
}

/** One emulation factor: the same work timed in a guest and on the host, on one CPU. */
export interface EmulationFactor {
  guest: number;
  host: number;
  /** guest / host */
  factor: number;
  unit: string;
  /** What was timed, e.g. "pmbench -p uniform -r 50 -j 1, 16 MiB, 3 s: avg latency". */
  what: string;
}

/** The probe of experiment/emulation-probe.ts: one small all-DRAM guest, before the runs. */
export interface EmulationSummary {
  accelerator: string;
  userAccess?: EmulationFactor;
  kernelPath?: EmulationFactor;
  /** The CPU both sides were pinned to (QEMU with all its threads, the host command). */
  cpu: { guest: number | null; host: number | null; pinned: boolean };
  note: string;
  /** Why a factor is missing (probe disabled or failed). */
  skipped?: string;
  /** Comparisons between arms that the emulation distorts (guest kernel vs native handler). */
  warnings: string[];
}

/** Our mean of one variant and, when the reference names its arm, the published figure. */
export interface ReferenceRow {
  variant: string;
  arm: string;
  /** Our mean and stdev in the reference's unit (null when no run of it succeeded). */
  ours: number | null;
  oursStdev: number | null;
  reference: number | null;
  label: string | null;
}

/** One ratio a / b, from our means and from the published figures. */
export interface ReferenceRatio {
  a: string;
  b: string;
  /** Variants compared (an arm's variant when it has one, a suffix-matched pair otherwise). */
  variantA: string;
  variantB: string;
  ours: number | null;
  reference: number | null;
}

export interface ReferenceComparison {
  name: string;
  metric: string;
  unit: string;
  rows: ReferenceRow[];
  ratios: ReferenceRatio[];
}
