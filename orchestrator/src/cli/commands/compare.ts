import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { parseArgs } from '../args.js';
import { numberFlag, RESULTS_DIR_FLAGS, resultsDirFlag, thresholdFlag } from '../flags.js';
import { resolveRunRef, resultsRootForRef } from '../../results/locate-run.js';
import { readResults } from '../../results/store.js';
import { compareSummaries } from '../../stats/compare.js';
import { formatComparison } from '../../stats/format-comparison.js';

export const compareCommand: Command = {
  name: 'compare',
  usage: 'compare A B [--json] [--threshold PCT] [--all] [--fail-on-regression] [--results-dir DIR]',
  summary: 'change of every metric B vs A with bootstrap CIs and verdicts',
  async run(argv) {
    const args = parseArgs(argv, { boolean: ['json', 'all', 'fail-on-regression'], string: ['threshold', 'resamples', 'seed', 'confidence', ...RESULTS_DIR_FLAGS] });
    if (args.positional.length !== 2) {
      throw new UsageError('name two runs A and B: run ids, results directories, config files or experiment names (their latest runs)');
    }
    const threshold = thresholdFlag(args);
    const resamples = numberFlag(args, 'resamples', (n) => Number.isInteger(n) && n >= 100, 'give a whole number >= 100');
    const seed = numberFlag(args, 'seed', Number.isInteger, 'give a whole number');
    const confidence = numberFlag(args, 'confidence', (n) => n > 0 && n < 1, 'give a level between 0 and 1, e.g. 0.95');
    const flag = resultsDirFlag(args);
    // Each run is looked up under its own root: a config file brings its results_dir.
    const [a, b] = args.positional.map((ref) => readResults(resolveRunRef(ref, resultsRootForRef(ref, flag).dir)).summary);
    const comparison = compareSummaries(a!, b!, { threshold, resamples, seed, confidence });
    console.log(args.flags.has('json') ? JSON.stringify(comparison, null, 2) : formatComparison(comparison, { all: args.flags.has('all') }));
    // For scripts: exit 1 when B is significantly worse than A on any metric.
    return args.flags.has('fail-on-regression') && comparison.regressions.length > 0 ? 1 : 0;
  },
};
