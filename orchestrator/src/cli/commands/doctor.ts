import type { Command } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { runChecks } from '../../doctor/checks.js';

export const doctorCommand: Command = {
  name: 'doctor',
  usage: 'doctor [--json] [--helpers-dir DIR] [--workloads-dir DIR]',
  summary: 'check QEMU, KVM (real boot probe), userfaultfd, Redis, image, builds',
  async run(argv) {
    const args = parseArgs(argv, { boolean: ['json'], string: ['helpers-dir', 'workloads-dir'] });
    const checks = await runChecks({ helpersDir: flagString(args, 'helpers-dir'), workloadsDir: flagString(args, 'workloads-dir') });
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
