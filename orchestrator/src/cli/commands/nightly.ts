/**
 * `orchestrate nightly CONFIG`: one nightly lab run (nightly/nightly.ts). The results root
 * follows results/root.ts like every command; --dry-run prints what the night would use
 * (experiment, runs, results root, baseline) and runs nothing.
 */
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { RESULTS_DIR_FLAGS, resultsDirFlag, thresholdFlag } from '../flags.js';
import { loadConfig, type LoadedConfig } from '../../config/load.js';
import { expandRuns } from '../../experiment/expand.js';
import { parseBaselineSpec, resolveBaseline } from '../../nightly/baseline.js';
import { EXIT_RUN_FAILED, runNightly } from '../../nightly/nightly.js';
import { describeSource, resolveResultsRoot } from '../../results/root.js';

export const nightlyCommand: Command = {
  name: 'nightly',
  usage: 'nightly CONFIG [--baseline RUN|pinned|last-good] [--results-dir DIR] [--threshold PCT] [--junit FILE] [--report FILE] [--dry-run]',
  summary: 'run, compare with the baseline, report, JUnit, history; exit 0 ok, 1 regression, 2 run failed',
  async run(argv) {
    const args = parseArgs(argv, { boolean: ['dry-run'], string: ['baseline', ...RESULTS_DIR_FLAGS, 'threshold', 'junit', 'report'] });
    if (args.positional.length !== 1) throw new UsageError('name one config file');
    const config = args.positional[0]!;
    const threshold = thresholdFlag(args);
    const flag = resultsDirFlag(args);
    const baseline = parseBaselineSpec(flagString(args, 'baseline'));
    // Anything unexpected is a failed run (2), never mistaken for a regression (1).
    try {
      if (args.flags.has('dry-run')) {
        const loaded = loadConfig(config);
        const root = resolveResultsRoot({ flag, config: loaded.config });
        console.log(`${loaded.config.name}: ${expandRuns(loaded.config).length} run(s)`);
        console.log(`results: ${root.dir} (from ${describeSource(root.source)})`);
        console.log(`baseline: ${resolveBaseline(baseline, loaded.config.name, root.dir) ?? 'none yet (nothing to compare)'}`);
        return 0;
      }
      // A config that does not load is the nightly run's to report (history, JUnit); the
      // root then comes from the flag, the variable or the default.
      let loaded: LoadedConfig | undefined;
      try { loaded = loadConfig(config); } catch { /* reported by runNightly */ }
      const result = await runNightly({
        config,
        resultsRoot: resolveResultsRoot({ flag, config: loaded?.config }).dir,
        baseline,
        threshold,
        junit: flagString(args, 'junit'),
        report: flagString(args, 'report'),
      });
      return result.exitCode;
    } catch (err) {
      console.error(`orchestrate nightly: ${(err as Error).message}`);
      return EXIT_RUN_FAILED;
    }
  },
};
