/**
 * The SSH hosts' parts of one experiment, as the runner sees them (experiment/runner.ts):
 * `HostParts.start()` starts every SSH host's part at once (hosts/remote-part.ts), each
 * with its sub-config (hosts/sub-config.ts) and a run id of its own, while the runner runs
 * the control host's runs; each record a part reports is adopted (hosts/merge.ts) and
 * handed to the runner as it arrives; `finish()` waits for every part, records the runs a
 * failed host never reported as failed (the error names the host and why) and writes
 * hosts.json. `stop()` (Ctrl-C) closes every connection: each part stops there.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExperimentConfig } from '../config/schema.js';
import type { RunSpec } from '../experiment/expand.js';
import type { RunPhase } from '../experiment/run-one.js';
import type { HostFacts } from '../host/facts.js';
import type { RunRecord } from '../results/types.js';
import { newRunId } from '../run/context.js';
import { adoptRecord, failedRecord, linkLogs, writeHostsFile, type HostEntry, type LabRecord } from './merge.js';
import { labelVariant, type HostPlan } from './plan.js';
import { RemotePart } from './remote-part.js';
import { describeTarget } from './ssh-host.js';
import { subConfigSource } from './sub-config.js';

/** This checkout: the default FluidLab root on a lab host (the same path there). */
export const CHECKOUT_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

export interface HostPartsOptions {
  plan: HostPlan<RunSpec>;
  config: ExperimentConfig;
  /** The config's YAML and file (the sub-configs are cut from it). */
  source: string;
  file: string;
  /** The experiment's run id and results directory (results/RUN-ID). */
  runId: string;
  dir: string;
  log?: (line: string) => void;
  phase?: (run: RunSpec, phase: RunPhase) => void;
  output?: (run: RunSpec, chunk: string) => void;
  /** A run of an SSH host finished (its record merged, or failed because its host did). */
  record: (run: RunSpec, record: LabRecord) => void;
}

interface Started { name: string; runs: RunSpec[]; runId: string; part: RemotePart; address: string; facts?: HostFacts; seen: Set<string> }

export class HostParts {
  private constructor(private readonly o: HostPartsOptions, private readonly started: Started[]) {}

  /** Starts every SSH host's part of `o.plan` (none: nothing happens). */
  static start(o: HostPartsOptions): HostParts {
    const taken = new Set([o.runId]);
    // every sub-config first: a config one of them cannot be cut from starts no part at all
    const sources = o.plan.remote.map((h) => subConfigSource(o.source, [...new Set(h.runs.map((r) => r.arm.name))]));
    const started = o.plan.remote.map((h, i): Started => {
      let runId = newRunId(o.config.name);
      while (taken.has(runId)) runId = newRunId(o.config.name);
      taken.add(runId);
      const s: Started = { name: h.name, runs: h.runs, runId, address: describeTarget(h.ssh), seen: new Set(), part: undefined as unknown as RemotePart };
      const find = (variant: string, repetition: number) => h.runs.find((r) => r.repetition === repetition && r.variant === labelVariant(variant, r.arm.name, h.name));
      const prefix = `[${h.name}] `;
      let atLineStart = true;
      s.part = new RemotePart({
        name: h.name, ssh: h.ssh, root: h.ssh.root ?? CHECKOUT_ROOT,
        job: { runId, configFile: `${o.file} (part of host ${h.name})`, config: sources[i]! },
        into: join(o.dir, 'hosts', h.name),
        log: (line) => o.log?.(`${prefix}${line}`),
        phase: (variant, rep, phase) => { const run = find(variant, rep); if (run) o.phase?.(run, phase as RunPhase); },
        output: (variant, rep, chunk) => {
          const run = find(variant, rep);
          if (!run || !o.output) return;
          const text = chunk.replace(/\n(?!$)/g, `\n${prefix}`);
          o.output(run, `${atLineStart ? prefix : ''}${text}`);
          atLineStart = chunk.endsWith('\n');
        },
        record: (record) => {
          s.facts ??= record.host;
          const adopted = adoptRecord(record, h.runs, h.name, o.runId);
          if (!adopted) { o.log?.(`${prefix}a record for a run this host was not given: ${record.id} (${record.variant}); ignored`); return; }
          s.seen.add(adopted.run.id);
          o.record(adopted.run, adopted.record);
        },
      });
      return s;
    });
    return new HostParts(o, started);
  }

  /** Closes every part's connection (idempotent). */
  stop(reason: string): void {
    for (const s of this.started) s.part.stop(reason);
  }

  /**
   * Waits for every part; then each run a host did not report is recorded as failed with
   * that host's error, the logs are linked, and hosts.json lists every host (the control
   * host's entry from `local`). Resolves with the entries; never rejects for a host's failure.
   */
  async finish(local: { facts: HostFacts; runs: string[] } | undefined): Promise<HostEntry[]> {
    const entries: HostEntry[] = [];
    if (this.o.plan.local !== undefined && local) {
      entries.push({ name: this.o.plan.local, address: 'control host', runs: local.runs, ok: true, facts: local.facts, clock: { offsetMs: 0, rttMs: 0 } });
    }
    for (const s of this.started) {
      const outcome = await s.part.done;
      if (!outcome.ok) this.o.log?.(`[${s.name}] failed: ${outcome.error}`);
      for (const run of s.runs.filter((r) => !s.seen.has(r.id))) {
        const error = outcome.error ?? `host ${s.name} (${s.address}): the part finished without a record of this run`;
        this.o.record(run, failedRecord(run, { runId: this.o.runId, config: this.o.config, host: s.name, error, facts: s.facts }));
      }
      entries.push({
        name: s.name, address: s.address, runs: s.runs.map((r) => r.id), ok: outcome.ok, error: outcome.error,
        runId: s.runId, dir: outcome.pulled ? join('hosts', s.name) : undefined,
        hostKey: outcome.fingerprint, clock: outcome.clock, facts: s.facts,
        startedAt: outcome.startedAt, durationMs: outcome.durationMs,
      });
    }
    writeHostsFile(this.o.dir, entries);
    return entries;
  }

  /** Links logs/ID of each record an SSH host ran to that host's logs (after finish()). */
  linkLogs(records: readonly RunRecord[]): void {
    for (const r of records) if ('lab' in r && (r as LabRecord).lab.id) linkLogs(this.o.dir, r as LabRecord);
  }
}
