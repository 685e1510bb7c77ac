/**
 * One nightly lab run: reap what crashed runs left behind, run the experiment (child
 * process), compare it with the baseline, write the HTML report and a JUnit XML file, append
 * one line to results/history.jsonl (with the night's headline figures and verdicts), and
 * write the experiment's trend page (report/trend.ts) beside the report. Exit status: 0 no
 * regression, 1 regression (a headline metric got worse: stats/compare.ts), 2 the run
 * itself failed (a run failed, or the experiment produced no results).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ConfigError, loadConfig } from '../config/load.js';
import { expandRuns } from '../experiment/expand.js';
import { gitRevision } from '../host/facts.js';
import { listRunDirs, runsRoot } from '../process/lease.js';
import { reapRunDir } from '../run/reap.js';
import { writeReport } from '../report/build.js';
import { writeTrend } from '../report/trend.js';
import { appendHistory, headlineFigures, type HistoryEntry } from '../results/history.js';
import { readResults } from '../results/store.js';
import type { Summary } from '../results/types.js';
import { compareSummaries, type Comparison } from '../stats/compare.js';
import { formatComparison } from '../stats/format-comparison.js';
import { DEFAULT_HEADLINE, headlineFromConfig, type HeadlineSpec } from '../stats/headline.js';
import { Progress, type ProgressStream } from '../ui/progress.js';
import { resolveBaseline, type BaselineSpec } from './baseline.js';
import { junitXml } from './junit.js';
import { launchExperiment, type LaunchResult } from './launch-experiment.js';

export const EXIT_OK = 0;
export const EXIT_REGRESSION = 1;
export const EXIT_RUN_FAILED = 2;

export interface NightlyOptions {
  config: string;
  resultsRoot: string;
  baseline?: BaselineSpec;
  /** Noise threshold (fraction, default 0.05). */
  threshold?: number;
  /** JUnit file (default RUN-DIR/junit.xml, or ROOT/nightly-junit.xml when the run left no directory). */
  junit?: string;
  /** HTML report (default RUN-DIR/report.html). */
  report?: string;
  /** Trend page (default RUN-DIR/trend.html, beside the report). */
  trend?: string;
  /** Messages (default: stderr). */
  log?: (line: string) => void;
  /** Progress display (default stderr; quiet when it is not a TTY). */
  progressStream?: ProgressStream;
  /** Replaces the child-process launch (tests of the bookkeeping only). */
  launch?: typeof launchExperiment;
}

export interface NightlyResult {
  exitCode: number;
  entry: HistoryEntry;
  comparison?: Comparison;
  runDir?: string;
  junit: string;
  report?: string;
  trend?: string;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}

/** Reaps leases of crashed earlier runs (owner gone); returns one line per reaped run. */
export async function reapCrashedRuns(): Promise<string[]> {
  const lines: string[] = [];
  for (const dir of listRunDirs()) {
    const r = await reapRunDir(dir);
    if (!r || r.ownerAlive) continue;
    const what = r.killed.map((p) => `${p.role} (pid ${p.pid})`).join(', ') || 'no live processes';
    lines.push(`reaped crashed run ${r.runId} in ${runsRoot()}: stopped ${what}`);
  }
  return lines;
}

function regressionsOf(c: Comparison | undefined): string[] {
  return (c?.regressions ?? []).map((r) => `${r.variant}: ${r.metric} ${r.change === null ? 'n/a' : `${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(1)}%`}`);
}

/** One nightly run into `opts.resultsRoot` (absolute or cwd-relative; the CLI resolves it
 * with results/root.ts). Never throws for a failed experiment: that is exit code 2 in the
 * result, with the history line and the JUnit file written. */
export async function runNightly(opts: NightlyOptions): Promise<NightlyResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`[nightly] ${l}\n`));
  const root = resolve(opts.resultsRoot);
  mkdirSync(root, { recursive: true });
  const started = new Date();
  const git = await gitRevision();

  log(`results: ${root}`);
  for (const line of await reapCrashedRuns()) log(line);

  // The config's experiment name picks the baseline; a broken config is a failed run
  // (recorded under the config file's name).
  let experiment = basename(opts.config).replace(/\.ya?ml$/, '');
  let runCount = 1;
  let baselineDir: string | undefined;
  let preError: string | undefined;
  let headline: HeadlineSpec = DEFAULT_HEADLINE;
  try {
    const { config } = loadConfig(opts.config);
    experiment = config.name;
    headline = headlineFromConfig(config.headline);
    runCount = expandRuns(config).length;
    baselineDir = resolveBaseline(opts.baseline ?? 'last-good', experiment, root);
    log(baselineDir ? `baseline: ${baselineDir}` : 'no baseline yet (first good run of this experiment): nothing to compare');
  } catch (err) {
    preError = err instanceof ConfigError ? err.message : (err as Error).message;
  }

  let launched: LaunchResult = { exitCode: EXIT_RUN_FAILED, error: preError };
  const logFile = join(root, `.nightly-${experiment}-${stamp(started)}-${process.pid}.log`);
  if (!preError) {
    log(`running ${opts.config} (log: ${logFile})`);
    const progress = new Progress({ total: runCount, stream: opts.progressStream ?? process.stderr });
    try {
      launched = await (opts.launch ?? launchExperiment)({
        config: opts.config, resultsRoot: root, logFile,
        onPhase: (i, _n, id, phase) => progress.phase(i, id, phase),
        onRunDone: (i, _n, id, status, note) => progress.done(i, id, status, note),
      });
    } finally {
      progress.finish();
    }
  }

  const summary: Summary | undefined = launched.summary;
  const runDir = launched.dir ?? (summary ? join(root, summary.runId) : undefined);
  let logPath: string | undefined = preError ? undefined : logFile;
  if (runDir) {
    try {
      renameSync(logFile, join(runDir, 'nightly.log'));
      logPath = join(runDir, 'nightly.log');
    } catch { /* no log (launch replaced) */ }
  }
  const runFailed = !summary || summary.failed > 0 || launched.exitCode !== 0;

  let comparison: Comparison | undefined;
  if (summary && baselineDir) {
    const base = readResults(baselineDir).summary;
    if (base.experiment !== summary.experiment) log(`warning: baseline ${base.runId} is of experiment '${base.experiment}', not '${summary.experiment}'`);
    comparison = compareSummaries(base, summary, { threshold: opts.threshold, headline });
    log(`comparison with ${base.runId}:\n${formatComparison(comparison)}`);
  }

  let report: string | undefined;
  if (runDir && summary) {
    try {
      report = await writeReport({ runDir, out: opts.report, comparison });
    } catch (err) {
      log(`could not write the report: ${(err as Error).message}`);
    }
  }

  const regressions = regressionsOf(comparison);
  const error = launched.error ?? (summary && summary.failed > 0
    ? `${summary.failed} of ${summary.runs.length} runs failed: ${summary.runs.filter((r) => r.status === 'failed').map((r) => `${r.id}: ${(r.error ?? '').split('\n')[0]}`).join('; ')}`
    : launched.exitCode !== 0 ? `orchestrate up exited with ${launched.exitCode}` : undefined);
  const junit = resolve(opts.junit ?? (runDir ? join(runDir, 'junit.xml') : join(root, `nightly-junit-${experiment}.xml`)));
  writeFileSync(junit, junitXml({
    experiment: summary?.experiment ?? experiment, runId: summary?.runId, baseline: comparison?.a.runId,
    gitRevision: summary?.gitRevision ?? git.revision, timestamp: started.toISOString(),
    durationMs: Date.now() - started.getTime(), summary, comparison,
    error: summary ? undefined : error,
  }));

  const entry: HistoryEntry = {
    runId: summary?.runId ?? '',
    experiment: summary?.experiment ?? experiment,
    time: new Date().toISOString(),
    gitRevision: summary?.gitRevision ?? git.revision,
    status: runFailed ? 'failed' : 'ok',
    verdict: runFailed ? 'run-failed' : !comparison ? 'no-baseline' : regressions.length ? 'regression' : 'ok',
    ...(comparison ? { baseline: comparison.a.runId } : {}),
    regressions,
    ...(error ? { error } : {}),
    ...(report ? { report } : {}),
    junit,
    ...(summary ? { headline: headlineFigures(summary.variants, headline.metrics) } : {}),
    ...(comparison ? { verdicts: comparison.rows.filter((r) => r.headline).map((r) => ({ variant: r.variant, metric: r.metric, change: r.change, verdict: r.verdict })) } : {}),
  };
  // The trend page of this experiment: the history so far plus tonight (whose line then
  // records where the page is).
  let trend: string | undefined;
  if (runDir || opts.trend) {
    try {
      trend = await writeTrend({ resultsRoot: root, experiment: entry.experiment, out: opts.trend ?? join(runDir!, 'trend.html'), tonight: entry });
      entry.trend = trend;
    } catch (err) {
      log(`could not write the trend page: ${(err as Error).message}`);
    }
  }
  appendHistory(root, entry);
  const exitCode = runFailed ? EXIT_RUN_FAILED : regressions.length ? EXIT_REGRESSION : EXIT_OK;
  log(`${entry.experiment} ${entry.runId || '(no run)'}: ${entry.verdict}${regressions.length ? ` (${regressions.join(', ')})` : ''}${error ? `: ${error.split('\n')[0]}` : ''}`);
  if (logPath) log(`log: ${logPath}`);
  if (report) log(`report: ${report}`);
  if (trend) log(`trend: ${trend}`);
  log(`junit: ${junit}`);
  return { exitCode, entry, comparison, runDir, junit, report, trend };
}
