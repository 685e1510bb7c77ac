import type { Command } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { RESULTS_DIR_FLAGS, resultsDirFlag } from '../flags.js';
import { ConfigError, loadConfig } from '../../config/load.js';
import { capacityCheck } from '../../doctor/capacity.js';
import { runChecks } from '../../doctor/checks.js';
import { resolveResultsRoot } from '../../results/root.js';

export const doctorCommand: Command = {
  name: 'doctor',
  usage: 'doctor [CONFIG] [--json] [--helpers-dir DIR] [--workloads-dir DIR] [--results-dir DIR]',
  summary: 'check QEMU, KVM (real boot probe), userfaultfd, Redis, image, builds; with CONFIG, whether its runs fit this host',
  async run(argv) {
    const args = parseArgs(argv, { boolean: ['json'], string: ['helpers-dir', 'workloads-dir', ...RESULTS_DIR_FLAGS] });
    const [file] = args.positional;
    let loaded;
    if (file) {
      try {
        loaded = loadConfig(file);
      } catch (err) {
        if (err instanceof ConfigError) { console.error(err.message); return 1; }
        throw err;
      }
    }
    const checks = await runChecks({ helpersDir: flagString(args, 'helpers-dir'), workloadsDir: flagString(args, 'workloads-dir') });
    if (loaded) checks.push(capacityCheck(loaded.config, resolveResultsRoot({ flag: resultsDirFlag(args), config: loaded.config }).dir));
    const failed = checks.some((c) => c.required && !c.ok);
    if (args.flags.has('json')) {
      console.log(JSON.stringify({ ok: !failed, checks }, null, 2));
    } else {
      for (const c of checks) {
        const mark = c.ok ? 'ok  ' : c.required ? 'FAIL' : 'warn';
        console.log(`${mark} ${c.name.padEnd(12)} ${c.detail}`);
        if (!c.ok && c.fix) console.log(`     ${''.padEnd(12)} fix: ${c.fix}`);
      }
    }
    return failed ? 1 : 0;
  },
};
