import type { Command } from './command.js';
import { UsageError } from './command.js';
import { pmbenchCommand } from './commands/pmbench.js';
import { doctorCommand } from './commands/doctor.js';
import { downCommand } from './commands/down.js';
import { execCommand } from './commands/exec.js';
import { upCommand } from './commands/up.js';
import { validateCommand } from './commands/validate.js';
import { imageCommand } from './commands/image.js';
import { monitorCommand } from './commands/monitor.js';
import { reportCommand } from './commands/report.js';
import { compareCommand } from './commands/compare.js';
import { nightlyCommand } from './commands/nightly.js';
import { historyCommand } from './commands/history.js';

const commands: Command[] = [validateCommand, upCommand, execCommand, downCommand, doctorCommand, imageCommand, pmbenchCommand, monitorCommand, reportCommand, compareCommand, nightlyCommand, historyCommand];

function usage(): string {
  const rows = commands.map((c) => `  ${c.usage.padEnd(52)} ${c.summary}`);
  return ['usage: orchestrate COMMAND [ARGS]', '', 'commands:', ...rows].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`orchestrate: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`orchestrate ${name}: ${err.message}\nusage: orchestrate ${cmd.usage}`);
      return 2;
    }
    throw err;
  }
}
