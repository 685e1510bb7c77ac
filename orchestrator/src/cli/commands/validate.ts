import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { parseArgs } from '../args.js';
import { ConfigError, loadConfig } from '../../config/load.js';

export const validateCommand: Command = {
  name: 'validate',
  usage: 'validate CONFIG...',
  summary: 'check experiment configs (errors as FILE:LINE:COL)',
  async run(argv) {
    const args = parseArgs(argv, {});
    if (args.positional.length === 0) throw new UsageError('name at least one config file');
    let failed = 0;
    for (const file of args.positional) {
      try {
        const { config, warnings } = loadConfig(file);
        for (const w of warnings) console.error(w);
        console.log(`${file}: ok (${config.vms.length} VM(s), ${config.arms.length} arm(s))`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        failed++;
        console.error(err.message);
      }
    }
    return failed ? 1 : 0;
  },
};
