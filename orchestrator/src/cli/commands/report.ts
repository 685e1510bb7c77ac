import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { writeReport } from '../../report/build.js';
import { resolveRunRef, resultsRoot } from '../../report/locate-run.js';

export const reportCommand: Command = {
  name: 'report',
  usage: 'report RUN [-o FILE.html] [--results DIR]',
  summary: 'write a self-contained HTML report of a run (id, directory, config or experiment name)',
  async run(argv) {
    // -o is the short form of --out.
    const args = parseArgs(argv.map((a) => (a === '-o' ? '--out' : a)), { string: ['out', 'results'] });
    if (args.positional.length !== 1) throw new UsageError('name one run: a run id, a results directory, a config file or an experiment name');
    const runDir = resolveRunRef(args.positional[0]!, resultsRoot(flagString(args, 'results')));
    const out = await writeReport({ runDir, out: flagString(args, 'out') });
    console.log(out);
    return 0;
  },
};
