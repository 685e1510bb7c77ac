import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { loadConfig } from '../../config/load.js';
import { parseBaselineSpec } from '../../nightly/baseline.js';
import { EXIT_RUN_FAILED, runNightly } from '../../nightly/nightly.js';

/** --results, else FLUIDLAB_RESULTS_DIR, else the config's results_dir, else ./results. */
function defaultResultsRoot(config: string): string {
  if (process.env.FLUIDLAB_RESULTS_DIR) return process.env.FLUIDLAB_RESULTS_DIR;
  try {
    return loadConfig(config).config.results_dir;
  } catch {
    return 'results'; // the nightly run reports the config error itself
  }
}

export const nightlyCommand: Command = {
  name: 'nightly',
  usage: 'nightly CONFIG [--baseline RUN|pinned|last-good] [--results DIR] [--threshold PCT] [--junit FILE] [--report FILE]',
  summary: 'run, compare with the baseline, report, JUnit, history; exit 0 ok, 1 regression, 2 run failed',
  async run(argv) {
    const args = parseArgs(argv, { string: ['baseline', 'results', 'threshold', 'junit', 'report'] });
    if (args.positional.length !== 1) throw new UsageError('name one config file');
    const config = args.positional[0]!;
    const t = flagString(args, 'threshold');
    const threshold = t === undefined ? undefined : Number(t.replace(/%$/, ''));
    if (threshold !== undefined && !(Number.isFinite(threshold) && threshold >= 0)) throw new UsageError(`--threshold ${t}: give the noise threshold in percent, e.g. 5`);
    // Anything unexpected is a failed run (2), never mistaken for a regression (1).
    let result;
    try {
      result = await runNightly({
        config,
        resultsRoot: flagString(args, 'results') ?? defaultResultsRoot(config),
        baseline: parseBaselineSpec(flagString(args, 'baseline')),
        threshold: threshold === undefined ? undefined : threshold / 100,
        junit: flagString(args, 'junit'),
        report: flagString(args, 'report'),
      });
    } catch (err) {
      console.error(`orchestrate nightly: ${(err as Error).message}`);
      return EXIT_RUN_FAILED;
    }
    return result.exitCode;
  },
};
