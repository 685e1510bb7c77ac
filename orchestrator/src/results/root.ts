/**
 * Where results live: one rule for every command that reads or writes them (up, report,
 * compare, nightly, and nightly's child `up`).
 *
 * Precedence, first one given wins:
 *   1. the --results-dir flag (alias --results),
 *   2. the FLUIDLAB_RESULTS_DIR environment variable,
 *   3. the config's `results_dir` (when the command has a config: up and nightly take one;
 *      report and compare when a run is named by its config file),
 *   4. 'results'.
 * An empty value counts as not given (`FLUIDLAB_RESULTS_DIR= orchestrate ...`).
 *
 * Relative paths, from any source, resolve against the current directory, never against
 * the config file's directory: the flag and the variable are typed in a shell, and the
 * config's `results_dir` (default 'results') then means the same directory as the fallback,
 * so `up configs/x.yaml` from the repository root writes to ./results, not configs/results.
 */
import { resolve } from 'node:path';

export const RESULTS_DIR_ENV = 'FLUIDLAB_RESULTS_DIR';
export const DEFAULT_RESULTS_DIR = 'results';

export type ResultsRootSource = 'flag' | 'env' | 'config' | 'default';

export interface ResultsRoot {
  /** Absolute path. */
  dir: string;
  /** Which rule gave it (for messages: "results: DIR (from FLUIDLAB_RESULTS_DIR)"). */
  source: ResultsRootSource;
}

export interface ResultsRootInputs {
  /** --results-dir as typed. */
  flag?: string;
  /** The loaded config, when the command has one. */
  config?: { results_dir?: string };
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Base of relative paths; default process.cwd(). */
  cwd?: string;
}

/** The results root by the precedence above, as an absolute path with its source. */
export function resolveResultsRoot(inputs: ResultsRootInputs = {}): ResultsRoot {
  const env = inputs.env ?? process.env;
  const cwd = inputs.cwd ?? process.cwd();
  const candidates: Array<[ResultsRootSource, string | undefined]> = [
    ['flag', inputs.flag],
    ['env', env[RESULTS_DIR_ENV]],
    ['config', inputs.config?.results_dir],
    ['default', DEFAULT_RESULTS_DIR],
  ];
  const [source, value] = candidates.find(([, v]) => v !== undefined && v !== '')!;
  return { dir: resolve(cwd, value!), source };
}

/** "flag --results-dir", "FLUIDLAB_RESULTS_DIR", "the config's results_dir", "default". */
export function describeSource(source: ResultsRootSource): string {
  switch (source) {
    case 'flag': return '--results-dir';
    case 'env': return RESULTS_DIR_ENV;
    case 'config': return "the config's results_dir";
    case 'default': return 'the default';
  }
}
