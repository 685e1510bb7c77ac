import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { parseArgs } from '../args.js';
import { RESULTS_DIR_FLAGS, resultsDirFlag } from '../flags.js';
import { ConfigError, loadConfig } from '../../config/load.js';
import { describeRuns, expandRuns } from '../../experiment/expand.js';
import { describeTimeline, timelineArms } from '../../config/timeline.js';
import { preflight } from '../../experiment/preflight.js';
import { runExperiment } from '../../experiment/runner.js';
import { describeSource, resolveResultsRoot } from '../../results/root.js';
import { formatEmulation } from '../../results/emulation.js';
import { formatHandlerFloor } from '../../results/floor.js';
import { formatReference } from '../../results/reference.js';
import { formatTable, latencyRatios } from '../../results/summarize.js';
import { Progress } from '../../ui/progress.js';

export const upCommand: Command = {
  name: 'up',
  usage: 'up CONFIG [--dry-run] [--json] [--results-dir DIR] [--verbose] [--no-preflight]',
  summary: 'run the experiment: every arm x parameter x repetition; results/RUN-ID',
  async run(argv) {
    const args = parseArgs(argv, { boolean: ['dry-run', 'json', 'verbose', 'no-preflight'], string: RESULTS_DIR_FLAGS });
    const [file] = args.positional;
    if (!file) throw new UsageError('name a config file');
    const flag = resultsDirFlag(args);
    let loaded;
    try {
      loaded = loadConfig(file);
    } catch (err) {
      if (err instanceof ConfigError) { console.error(err.message); return 1; }
      throw err;
    }
    for (const w of loaded.warnings) console.error(w);
    const runs = expandRuns(loaded.config);
    const json = args.flags.has('json');
    const say = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
    say(`${loaded.config.name}: ${runs.length} run(s)`);
    for (const line of describeRuns(runs)) say(`  ${line}`);
    const timeline = describeTimeline(loaded.config.timeline, timelineArms(loaded.config.arms, loaded.config.vms));
    if (timeline.length) { say('timeline (t = the workload command starts):'); for (const line of timeline) say(`  ${line}`); }
    const root = resolveResultsRoot({ flag, config: loaded.config });
    say(`results: ${root.dir} (from ${describeSource(root.source)})`);
    if (args.flags.has('dry-run')) return 0;

    // Before anything starts: does every run fit this host's free memory and disk?
    if (!args.flags.has('no-preflight')) {
      const check = preflight(loaded.config, root.dir);
      if (!check.ok) {
        console.error(`${file}: refused before starting anything: this host cannot hold the experiment (estimates in experiment/preflight.ts; --no-preflight runs it anyway)`);
        for (const p of check.problems) console.error(`  ${p}`);
        return 1;
      }
    }

    const verbose = args.flags.has('verbose');
    // On a TTY a status line with phase and time left; otherwise (piped, logged, CI) one
    // line as each run starts and ends on stderr, or one per phase with --verbose (what
    // nightly parses). stdout keeps only the table, or the JSON with --json.
    const progress = new Progress({ total: runs.length, stream: process.stderr, nonTty: verbose ? 'lines' : 'runs' });
    let result;
    try {
      result = await runExperiment(loaded, {
        resultsRoot: root.dir,
        events: {
          log: (l) => { if (verbose || process.stderr.isTTY) process.stderr.write(`[setup] ${l}\n`); },
          phase: (run, phase) => {
            if (phase === 'start') { progress.start(run.index, run.id); return; }
            if (phase === 'done') return;
            const etaMs = phase === 'run' && typeof run.params.duration === 'number' ? run.params.duration * 1000 : undefined;
            progress.phase(run.index, run.id, phase, etaMs);
          },
          output: verbose ? (_run, chunk) => process.stderr.write(chunk) : undefined,
          runDone: (run, rec) => progress.done(run.index, run.id, rec.status, rec.error?.split('\n')[0]),
        },
      });
    } finally {
      progress.finish();
    }
    const { summary } = result;
    if (json) {
      console.log(JSON.stringify({ ...summary, resultsDir: result.dir }, null, 2));
    } else {
      console.log(`\n${formatTable(summary.variants)}`);
      for (const r of latencyRatios(summary.variants)) console.log(`ratio of average latency ${r.a} / ${r.b}: ${r.ratio.toFixed(2)}`);
      if (summary.reference) console.log(`\n${formatReference(summary.reference).join('\n')}`);
      const emulation = formatEmulation(summary);
      if (emulation.length) console.log(`\n${emulation.join('\n')}`);
      const floor = formatHandlerFloor(summary.handlerFloor);
      if (floor.length) console.log(`\n${floor.join('\n')}`);
      for (const r of summary.runs.filter((x) => x.status === 'failed')) console.log(`failed: ${r.id}: ${r.error?.split('\n')[0] ?? 'unknown error'}`);
      console.log(`\nresults: ${result.dir}${summary.failed ? ` (${summary.failed} run(s) failed; see runs/*.json and logs/)` : ''}`);
    }
    return summary.failed ? 1 : 0;
  },
};
