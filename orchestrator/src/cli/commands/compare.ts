/**
 * `orchestrate compare A B`: the change of every metric B vs A (stats/compare.ts). Verdicts
 * come only from the headline metrics (B's config.yaml `headline:`, else A's, else average
 * latency and throughput), need --min-repetitions runs a side, and are Bonferroni-corrected;
 * every other metric is shown as informational.
 */
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { numberFlag, RESULTS_DIR_FLAGS, resultsDirFlag, thresholdFlag } from '../flags.js';
import { resolveRunRef, resultsRootForRef } from '../../results/locate-run.js';
import { readResults } from '../../results/store.js';
import { compareSummaries } from '../../stats/compare.js';
import { formatComparison } from '../../stats/format-comparison.js';
import { readHeadline, type HeadlineSpec } from '../../stats/headline.js';

/** The headline to judge by: B's config, else A's, then the flags on top. */
function headlineOf(dirs: string[], metrics: string | undefined, minRepetitions: number | undefined): HeadlineSpec {
  const [ha, hb] = dirs.map(readHeadline);
  const base = hb!.source === 'config' ? hb! : ha!;
  const list = metrics?.split(',').map((m) => m.trim()).filter(Boolean);
  if (metrics !== undefined && !list?.length) throw new UsageError(`--metrics ${metrics}: give metric names separated by commas, e.g. latency.ns.average,throughput.aps`);
  return { ...base, ...(list ? { metrics: list } : {}), ...(minRepetitions !== undefined ? { minRepetitions } : {}) };
}

export const compareCommand: Command = {
  name: 'compare',
  usage: 'compare A B [--json] [--threshold PCT] [--metrics M1,M2] [--min-repetitions N] [--confidence C] [--all] [--fail-on-regression] [--results-dir DIR]',
  summary: 'change of every metric B vs A; verdicts for the headline metrics only',
  async run(argv) {
    const args = parseArgs(argv, { boolean: ['json', 'all', 'fail-on-regression'], string: ['threshold', 'confidence', 'metrics', 'min-repetitions', ...RESULTS_DIR_FLAGS] });
    if (args.positional.length !== 2) {
      throw new UsageError('name two runs A and B: run ids, results directories, config files or experiment names (their latest runs)');
    }
    const threshold = thresholdFlag(args);
    const confidence = numberFlag(args, 'confidence', (n) => n > 0 && n < 1, 'give a level between 0 and 1, e.g. 0.99 (the default)');
    const minRepetitions = numberFlag(args, 'min-repetitions', (n) => Number.isInteger(n) && n >= 2, 'give a whole number >= 2 (one run has no spread)');
    const flag = resultsDirFlag(args);
    // Each run is looked up under its own root: a config file brings its results_dir.
    const dirs = args.positional.map((ref) => resolveRunRef(ref, resultsRootForRef(ref, flag).dir));
    const [a, b] = dirs.map((d) => readResults(d).summary);
    const headline = headlineOf(dirs, flagString(args, 'metrics'), minRepetitions);
    const comparison = compareSummaries(a!, b!, { threshold, confidence, headline });
    console.log(args.flags.has('json') ? JSON.stringify(comparison, null, 2) : formatComparison(comparison, { all: args.flags.has('all') }));
    // For scripts: exit 1 when B is significantly worse than A on a headline metric.
    return args.flags.has('fail-on-regression') && comparison.regressions.length > 0 ? 1 : 0;
  },
};
