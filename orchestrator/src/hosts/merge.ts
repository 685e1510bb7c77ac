/**
 * Merging a lab host's results into the one run directory. A host's part numbers its runs
 * in its own sub-config; here each record it reports becomes the experiment's run with the
 * same (variant, repetition): the control host's id, the labelled variant (hosts/plan.ts)
 * and a `lab` tag saying which host ran it and under which id there. Its files stay as the
 * part wrote them under hosts/NAME/ (summary.json, runs/, logs/, config.yaml); logs/ID of
 * the run directory links to the host's logs of that run.
 *
 *   results/RUN/runs/002-fm-r1.json      the merged record (lab: { host: lab2, ... })
 *   results/RUN/logs/002-fm-r1 -> ../hosts/lab2/logs/001-fm-r1
 *   results/RUN/hosts/lab2/...           the part's own results directory
 *   results/RUN/hosts.json               per host: address, run id, clock, facts, outcome
 */
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentConfig } from '../config/schema.js';
import type { RunSpec } from '../experiment/expand.js';
import type { HostFacts } from '../host/facts.js';
import { RUN_SCHEMA, type RunRecord } from '../results/types.js';
import { unlabelVariant } from './plan.js';

/** Where a run ran, on a record of an experiment with hosts: (RunRecord.lab). */
export type LabTag = NonNullable<RunRecord['lab']>;

export type LabRecord = RunRecord & { lab: LabTag };

/** The record of a run the control host ran, tagged with its host. */
export function tagLocal(record: RunRecord, host: string): LabRecord {
  return { ...record, lab: { host } };
}

/** The experiment's run (of `runs`, the host's) that a part's record stands for, and the
 * record as the experiment's; undefined if none matches. */
export function adoptRecord(record: RunRecord, runs: readonly RunSpec[], host: string, runId: string): { run: RunSpec; record: LabRecord } | undefined {
  const run = runs.find((r) => r.repetition === record.repetition && unlabelVariant(r.variant, r.arm.name, host) === record.variant);
  if (!run) return undefined;
  // A run that failed there says so with the host's name, as every error of a host does.
  const error = record.error === undefined ? {} : { error: `host ${host}: ${record.error}` };
  return { run, record: { ...record, ...error, runId, id: run.id, variant: run.variant, lab: { host, runId: record.runId, id: record.id } } };
}

/** Facts of a host that never said anything about itself. */
const UNKNOWN_FACTS: HostFacts = { kernel: 'unknown', cpuModel: 'unknown', cpus: 0, memoryMiB: 0, node: 'unknown' };

/** A failed record for a run of a host whose part produced none (`error` names the host). */
export function failedRecord(run: RunSpec, o: { runId: string; config: ExperimentConfig; host: string; error: string; facts?: HostFacts }): LabRecord {
  const arm = run.arm;
  return {
    schema: RUN_SCHEMA, runId: o.runId, id: run.id, experiment: o.config.name, variant: run.variant,
    arm: {
      name: arm.name, kind: arm.kind, placement: arm.placement,
      backend: arm.kind === 'fluidmem' ? arm.backend : undefined,
      swapOn: arm.kind === 'swap' ? arm.swap_on : undefined,
    },
    repetition: run.repetition, params: run.params, status: 'failed', error: o.error,
    startedAt: new Date().toISOString(), durationMs: 0, accelerator: 'unknown', vms: [], metrics: {},
    host: o.facts ?? UNKNOWN_FACTS, lab: { host: o.host },
  };
}

/** logs/ID -> ../hosts/HOST/logs/THEIR-ID, when the host's logs of that run came back. */
export function linkLogs(dir: string, record: LabRecord): void {
  const { host, id } = record.lab;
  if (!id) return;
  const target = join('..', 'hosts', host, 'logs', id);
  const link = join(dir, 'logs', record.id);
  if (existsSync(join(dir, 'logs', target)) && !existsSync(link)) symlinkSync(target, link);
}

/** One host of hosts.json. */
export interface HostEntry {
  name: string;
  /** `user@host:port` (SSH hosts) or 'control host'. */
  address: string;
  runs: string[];
  ok: boolean;
  error?: string;
  /** The host's own run id and its results under the run directory (SSH hosts). */
  runId?: string;
  dir?: string;
  /** SHA-256 fingerprint of the host key it presented. */
  hostKey?: string;
  /** Its clock minus ours (ms) at the midpoint of a round trip of rttMs. */
  clock?: { offsetMs: number; rttMs: number };
  /** Kernel, CPU, memory, revisions of that host (from its records). */
  facts?: HostFacts;
  startedAt?: string;
  durationMs?: number;
}

/** Writes results/RUN/hosts.json. */
export function writeHostsFile(dir: string, hosts: HostEntry[]): void {
  writeFileSync(join(dir, 'hosts.json'), `${JSON.stringify({ schema: 'fluidlab.hosts/1', hosts }, null, 2)}\n`);
}
