import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { RESULTS_DIR_FLAGS, resultsDirFlag } from '../flags.js';
import { writeReport } from '../../report/build.js';
import { resolveRunRef, resultsRootForRef } from '../../results/locate-run.js';

export const reportCommand: Command = {
  name: 'report',
  usage: 'report RUN [-o FILE.html] [--results-dir DIR]',
  summary: 'write a self-contained HTML report of a run (id, directory, config or experiment name)',
  async run(argv) {
    // -o is the short form of --out.
    const args = parseArgs(argv.map((a) => (a === '-o' ? '--out' : a)), { string: ['out', ...RESULTS_DIR_FLAGS] });
    if (args.positional.length !== 1) throw new UsageError('name one run: a run id, a results directory, a config file or an experiment name');
    const ref = args.positional[0]!;
    const runDir = resolveRunRef(ref, resultsRootForRef(ref, resultsDirFlag(args)).dir);
    const out = await writeReport({ runDir, out: flagString(args, 'out') });
    console.log(out);
    return 0;
  },
};
