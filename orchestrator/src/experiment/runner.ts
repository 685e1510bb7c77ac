/**
 * Runs a whole experiment: expands the config, builds (or reuses) the guest image, picks
 * the accelerator, executes every run in turn (a failed run is recorded and the rest go
 * on), and writes results/RUN-ID/ with one JSON per run, raw logs and summary.json.
 * With `hosts:` (config/hosts.ts) this process runs the control host's runs while every
 * SSH host runs its own part (hosts/parts.ts); their records join the same directory.
 */
import { hostFacts } from '../host/facts.js';
import { onSignalExit } from '../process/cleanup.js';
import type { LoadedConfig } from '../config/load.js';
import { ensureImage, type GuestImage } from '../image/ensure.js';
import { defaultWorkloadsDir } from '../image/paths.js';
import { newRunId } from '../run/context.js';
import { resolveResultsRoot } from '../results/root.js';
import { ResultsDir } from '../results/store.js';
import { summarizeVariants, summaryAnnotations } from '../results/summarize.js';
import type { RunRecord, Summary } from '../results/types.js';
import { resolveAccelerator } from '../vm/launch.js';
import type { Accelerator } from '../vm/qemu-args.js';
import { expandRuns, type RunSpec } from './expand.js';
import { probeEmulation } from './emulation-probe.js';
import { probeHandlerFloor } from './handler-floor.js';
import { runOnHost } from './host-run.js';
import { runOne, type RunPhase } from './run-one.js';
import { tagLocal } from '../hosts/merge.js';
import { HostParts } from '../hosts/parts.js';
import { planHosts } from '../hosts/plan.js';

export interface ExperimentEvents {
  /** Image build output and other set-up messages. */
  log?: (line: string) => void;
  phase?: (run: RunSpec, phase: RunPhase, total: number) => void;
  runDone?: (run: RunSpec, record: RunRecord, total: number) => void;
  /** Workload output, streamed. */
  output?: (run: RunSpec, chunk: string) => void;
}

export interface ExperimentOptions {
  resultsRoot?: string;
  runId?: string;
  events?: ExperimentEvents;
}

export interface ExperimentResult {
  summary: Summary;
  records: RunRecord[];
  dir: string;
}

export async function runExperiment(loaded: LoadedConfig, opts: ExperimentOptions = {}): Promise<ExperimentResult> {
  const { config } = loaded;
  const ev = opts.events ?? {};
  // With hosts:, `runs` are the control host's; the SSH hosts' runs go to their parts.
  const plan = planHosts(config.hosts, expandRuns(config));
  const runs = plan.localRuns;
  const total = plan.all.length;
  const runId = opts.runId ?? newRunId(config.name);
  const startedAt = new Date().toISOString();
  // No root given (a library caller, e.g. bench/): the same rule as every command.
  const results = new ResultsDir(opts.resultsRoot ?? resolveResultsRoot({ config }).dir, runId);
  results.writeConfig(loaded.source);
  const records: RunRecord[] = [];
  const index: Summary['runs'] = [];
  const keep = (spec: RunSpec, record: RunRecord) => {
    records.push(record);
    const file = results.writeRun(record);
    index.push({ id: spec.id, variant: spec.variant, repetition: spec.repetition, status: record.status, error: record.error, file });
    ev.runDone?.(spec, record, total);
  };
  const parts = config.hosts && HostParts.start({
    plan, config, source: loaded.source, file: loaded.file, runId, dir: results.dir, log: ev.log,
    phase: (run, phase) => ev.phase?.(run, phase, total), output: ev.output, record: keep,
  });
  try {
    // Guests need the image and an accelerator; host-placed runs need neither.
    let image: GuestImage | undefined;
    let accelerator: Accelerator | 'host' = 'host';
    if (runs.some((r) => r.arm.placement !== 'host')) {
      image = await ensureImage({ workloadsDir: defaultWorkloadsDir, log: ev.log });
      const chosen = await resolveAccelerator(config.vms[0]!, image);
      accelerator = chosen.accelerator;
      ev.log?.(`accelerator: ${accelerator} (${chosen.reason})`);
    }
    const host = await hostFacts();
    // Emulation factors, once per experiment before the runs (skipped for host-only arms).
    const probed = plan.remote.length ? { ...config, arms: config.arms.filter((a) => runs.some((r) => r.arm === a)) } : config;
    const emulation = await probeEmulation({ config: probed, image, accelerator, runId, logDir: results.logDir('emulation-probe'), log: ev.log });
    const handlerFloor = await probeHandlerFloor({ config: probed, log: ev.log });

    const order = new Map(plan.all.map((r) => [r.id, r.index]));
    const byRun = (a: { id: string }, b: { id: string }) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0);
    const writeSummary = (interrupted: boolean) => results.writeSummary({
      runId,
      experiment: config.name,
      configFile: loaded.file,
      startedAt,
      finishedAt: new Date().toISOString(),
      gitRevision: host.gitRevision,
      host,
      accelerator,
      runs: index.sort(byRun),
      variants: summarizeVariants(records.sort(byRun)),
      failed: records.filter((r) => r.status === 'failed').length,
      ...summaryAnnotations(config, summarizeVariants(records), accelerator, emulation),
      ...(handlerFloor ? { handlerFloor } : {}),
      ...(interrupted ? { interrupted: true } : {}),
    });
    // Ctrl-C: the run in progress is torn down by its context; what finished is kept.
    const unregister = onSignalExit(async () => { parts?.stop('the control host was interrupted'); writeSummary(true); });
    for (const spec of runs) {
      const run = spec.arm.placement === 'host' ? runOnHost : runOne;
      const record = await run(spec, {
        runId, config, image, accelerator, host,
        logDir: results.logDir(spec.id),
        onPhase: (phase) => ev.phase?.(spec, phase, total),
        onOutput: (chunk) => ev.output?.(spec, chunk),
      });
      keep(spec, plan.local === undefined ? record : tagLocal(record, plan.local));
    }
    if (parts) {
      await parts.finish({ facts: host, runs: runs.map((r) => r.id) });
      parts.linkLogs(records);
    }
    unregister();
    const summary = writeSummary(false);
    return { summary, records, dir: results.dir };
  } finally {
    parts?.stop('the control host stopped'); // no-op once they finished
  }
}
