import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { ConfigError, loadConfig } from '../../config/load.js';
import { describeRuns, expandRuns } from '../../experiment/expand.js';
import { runExperiment } from '../../experiment/runner.js';
import { formatTable, latencyRatios } from '../../results/summarize.js';

export const upCommand: Command = {
  name: 'up',
  usage: 'up CONFIG [--dry-run] [--json] [--results DIR] [--verbose]',
  summary: 'run the experiment: every arm x parameter x repetition; results/RUN-ID',
  async run(argv) {
    const args = parseArgs(argv, { boolean: ['dry-run', 'json', 'verbose'], string: ['results'] });
    const [file] = args.positional;
    if (!file) throw new UsageError('name a config file');
    let loaded;
    try {
      loaded = loadConfig(file);
    } catch (err) {
      if (err instanceof ConfigError) { console.error(err.message); return 1; }
      throw err;
    }
    const runs = expandRuns(loaded.config);
    const json = args.flags.has('json');
    const say = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
    say(`${loaded.config.name}: ${runs.length} run(s)`);
    for (const line of describeRuns(runs)) say(`  ${line}`);
    if (args.flags.has('dry-run')) return 0;

    const verbose = args.flags.has('verbose');
    const started = Date.now();
    const result = await runExperiment(loaded, {
      resultsRoot: flagString(args, 'results'),
      events: {
        log: (l) => process.stderr.write(`[setup] ${l}\n`),
        phase: (run, phase, total) => {
          if (phase === 'done') return;
          process.stderr.write(`[${run.index}/${total} ${run.id}] ${phase} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
        },
        output: verbose ? (_run, chunk) => process.stderr.write(chunk) : undefined,
        runDone: (run, rec) => {
          process.stderr.write(`[${run.index}/${runs.length} ${run.id}] ${rec.status}${rec.error ? `: ${rec.error.split('\n')[0]}` : ''} (${(rec.durationMs / 1000).toFixed(1)} s)\n`);
        },
      },
    });
    const { summary } = result;
    if (json) {
      console.log(JSON.stringify({ ...summary, resultsDir: result.dir }, null, 2));
    } else {
      console.log(`\n${formatTable(summary.variants)}`);
      for (const r of latencyRatios(summary.variants)) console.log(`ratio of average latency ${r.a} / ${r.b}: ${r.ratio.toFixed(2)}`);
      console.log(`\nresults: ${result.dir}${summary.failed ? ` (${summary.failed} run(s) failed; see runs/*.json and logs/)` : ''}`);
    }
    return summary.failed ? 1 : 0;
  },
};
