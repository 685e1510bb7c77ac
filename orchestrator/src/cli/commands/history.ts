/**
 * `orchestrate history [EXPERIMENT] [-o trend.html]`: the nightly trend page (report/trend.ts)
 * of one experiment (a name, or a config file: its name and its results_dir), or of every
 * experiment in results/history.jsonl; prints one line per night and the page's path.
 */
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { RESULTS_DIR_FLAGS, resultsDirFlag } from '../flags.js';
import { loadConfig } from '../../config/load.js';
import { formatTrend, historyExperiments, trendNights, writeTrend } from '../../report/trend.js';
import { isConfigRef, resultsRootForRef } from '../../results/locate-run.js';
import { resolveResultsRoot } from '../../results/root.js';
import { join } from 'node:path';

export const historyCommand: Command = {
  name: 'history',
  usage: 'history [EXPERIMENT|CONFIG] [-o FILE.html] [--results-dir DIR]',
  summary: 'trend page: headline metrics across nights, regressions and baseline changes marked',
  async run(argv) {
    const args = parseArgs(argv.map((a) => (a === '-o' ? '--out' : a)), { string: ['out', ...RESULTS_DIR_FLAGS] });
    if (args.positional.length > 1) throw new UsageError('name at most one experiment (a name or a config file)');
    const ref = args.positional[0];
    const flag = resultsDirFlag(args);
    const root = ref ? resultsRootForRef(ref, flag).dir : resolveResultsRoot({ flag }).dir;
    const experiment = ref && isConfigRef(ref) ? loadConfig(ref).config.name : ref;
    const out = flagString(args, 'out') ?? join(root, experiment ? `trend-${experiment}.html` : 'trend.html');
    const file = await writeTrend({ resultsRoot: root, experiment, out });
    for (const name of experiment ? [experiment] : historyExperiments(root)) {
      console.log(`${name}:\n${formatTrend(trendNights(root, name))}`);
    }
    console.log(file);
    return 0;
  },
};
