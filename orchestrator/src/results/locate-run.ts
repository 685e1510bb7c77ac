/**
 * Finds a run's results directory from what a user types: a path to results/RUN-ID, a run
 * id under the results root, a config file (its experiment's latest run) or an experiment
 * name (its latest run, from the history index or by scanning results/*\/summary.json).
 * The root itself comes from results/root.ts (resultsRootForRef for a typed reference).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { readHistory } from './history.js';
import { resolveResultsRoot, type ResultsRoot } from './root.js';
import type { Summary } from './types.js';

export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
}

/** True when `ref` names an existing YAML file (a config, not a run). */
export function isConfigRef(ref: string): boolean {
  return /\.ya?ml$/.test(ref) && existsSync(ref) && statSync(ref).isFile();
}

/** The results root a typed run reference is looked up under: flag > FLUIDLAB_RESULTS_DIR >
 * the config's results_dir when `ref` is a config file > 'results' (results/root.ts).
 * Throws ConfigError when `ref` is a config file that does not load. */
export function resultsRootForRef(ref: string, flag?: string, env?: NodeJS.ProcessEnv): ResultsRoot {
  return resolveResultsRoot({ flag, env, config: isConfigRef(ref) ? loadConfig(ref).config : undefined });
}

function isRunDir(dir: string): boolean {
  return existsSync(join(dir, 'summary.json'));
}

function readSummary(dir: string): Summary | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
  } catch {
    return undefined;
  }
}

/** Run directories under the root with their summaries, oldest first (by startedAt). */
export function scanRuns(root: string): { dir: string; summary: Summary }[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const out: { dir: string; summary: Summary }[] = [];
  for (const name of names) {
    const dir = join(root, name);
    const summary = readSummary(dir);
    if (summary) out.push({ dir, summary });
  }
  return out.sort((x, y) => x.summary.startedAt.localeCompare(y.summary.startedAt));
}

/** The latest run of an experiment (only fully ok runs with onlyOk): the history index
 * first, then a scan; undefined when the root has none. */
export function latestRunOf(experiment: string, root: string, opts: { onlyOk?: boolean } = {}): string | undefined {
  const history = readHistory(root).filter((e) => e.experiment === experiment && (!opts.onlyOk || e.status === 'ok'));
  for (let i = history.length - 1; i >= 0; i--) {
    const dir = join(root, history[i]!.runId);
    if (isRunDir(dir)) return dir;
  }
  const scanned = scanRuns(root).filter((r) => r.summary.experiment === experiment && (!opts.onlyOk || r.summary.failed === 0));
  return scanned.at(-1)?.dir;
}

/** The results directory (with summary.json) `ref` names under `root`; RunNotFoundError
 * (with the latest run ids under the root) when there is none. */
export function resolveRunRef(ref: string, root: string): string {
  const asPath = resolve(ref);
  if (isRunDir(asPath)) return asPath;
  const underRoot = join(root, ref);
  if (isRunDir(underRoot)) return underRoot;
  if (isConfigRef(ref)) {
    const name = loadConfig(ref).config.name;
    const dir = latestRunOf(name, root);
    if (!dir) throw new RunNotFoundError(`no results of experiment '${name}' (from ${ref}) under ${root}: run 'orchestrate up ${ref}' first`);
    return dir;
  }
  const latest = latestRunOf(ref, root);
  if (latest) return latest;
  const known = scanRuns(root).slice(-5).map((r) => r.summary.runId);
  throw new RunNotFoundError(`'${ref}' is not a results directory (with summary.json), a run id under ${root}, a config file or an experiment name` +
    (known.length ? `; latest runs: ${known.join(', ')}` : `; ${root} has no runs yet`));
}
