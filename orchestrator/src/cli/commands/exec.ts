import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { ConfigError, loadConfig } from '../../config/load.js';
import { ensureImage } from '../../image/ensure.js';
import { newRunId, RunContext } from '../../run/context.js';
import { launchGuest, resolveAccelerator } from '../../vm/launch.js';

export const execCommand: Command = {
  name: 'exec',
  usage: 'exec CONFIG [--vm NAME] -- CMD...',
  summary: 'boot a VM of the config, run CMD in it over SSH, tear down',
  async run(argv) {
    const args = parseArgs(argv, { string: ['vm'] });
    const [file] = args.positional;
    if (!file) throw new UsageError('name a config file');
    if (args.rest.length === 0) throw new UsageError('give the command after --');
    let config;
    try {
      config = loadConfig(file).config;
    } catch (err) {
      if (err instanceof ConfigError) { console.error(err.message); return 1; }
      throw err;
    }
    const wanted = flagString(args, 'vm');
    const vmConfig = wanted ? config.vms.find((v) => v.name === wanted) : config.vms[0];
    if (!vmConfig) throw new UsageError(`no VM named '${wanted}' in ${file} (have: ${config.vms.map((v) => v.name).join(', ')})`);

    const image = await ensureImage({ log: (l) => process.stderr.write(`[image] ${l}\n`) });
    const { accelerator } = await resolveAccelerator(vmConfig, image);
    const ctx = new RunContext(newRunId('exec'));
    try {
      const vm = await launchGuest({ ctx, vm: vmConfig, image, accelerator });
      await vm.resume();
      const result = await vm.exec(args.rest, {
        timeoutMs: vmConfig.timeouts.command,
        onStdout: (s) => process.stdout.write(s),
        onStderr: (s) => process.stderr.write(s),
      });
      return result.code;
    } finally {
      await ctx.dispose();
    }
  },
};
