import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { resolveRunRef, resultsRoot } from '../../report/locate-run.js';
import { readResults } from '../../results/store.js';
import { compareSummaries } from '../../stats/compare.js';
import { formatComparison } from '../../stats/format-comparison.js';

function numberFlag(value: string | undefined, name: string, check: (n: number) => boolean, hint: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.replace(/%$/, ''));
  if (!Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} ${value}: ${hint}`);
  return n;
}

export const compareCommand: Command = {
  name: 'compare',
  usage: 'compare A B [--json] [--threshold PCT] [--all] [--fail-on-regression]',
  summary: 'change of every metric B vs A with bootstrap CIs and verdicts',
  async run(argv) {
    const args = parseArgs(argv, { boolean: ['json', 'all', 'fail-on-regression'], string: ['threshold', 'resamples', 'seed', 'confidence', 'results'] });
    if (args.positional.length !== 2) {
      throw new UsageError('name two runs A and B: run ids, results directories, config files or experiment names (their latest runs)');
    }
    const threshold = numberFlag(flagString(args, 'threshold'), 'threshold', (n) => n >= 0 && n < 1000, 'give the noise threshold in percent, e.g. 5');
    const resamples = numberFlag(flagString(args, 'resamples'), 'resamples', (n) => Number.isInteger(n) && n >= 100, 'give a whole number >= 100');
    const seed = numberFlag(flagString(args, 'seed'), 'seed', Number.isInteger, 'give a whole number');
    const confidence = numberFlag(flagString(args, 'confidence'), 'confidence', (n) => n > 0 && n < 1, 'give a level between 0 and 1, e.g. 0.95');
    const root = resultsRoot(flagString(args, 'results'));
    const [a, b] = args.positional.map((ref) => readResults(resolveRunRef(ref, root)).summary);
    const comparison = compareSummaries(a!, b!, { threshold: threshold === undefined ? undefined : threshold / 100, resamples, seed, confidence });
    console.log(args.flags.has('json') ? JSON.stringify(comparison, null, 2) : formatComparison(comparison, { all: args.flags.has('all') }));
    // For scripts: exit 1 when B is significantly worse than A on any metric.
    return args.flags.has('fail-on-regression') && comparison.regressions.length > 0 ? 1 : 0;
  },
};
