/** `orchestrate pmbench parse FILE [--json]`: parse a pmbench report (text or -f XML). */
import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { parseArgs } from '../args.js';
import { PmbenchParseError, formatPmbenchSummary, parsePmbenchAny } from '../../pmbench/index.js';

export const pmbenchCommand: Command = {
  name: 'pmbench',
  usage: 'pmbench parse FILE [--json]',
  summary: 'parse a pmbench report (text or XML): summary, or JSON',
  async run(argv) {
    const args = parseArgs(argv, { boolean: ['json'] });
    const [sub, file, ...extra] = args.positional;
    if (sub !== 'parse') throw new UsageError(sub ? `unknown subcommand '${sub}' (expected: parse)` : 'name a subcommand: parse');
    if (!file) throw new UsageError('name the report file to parse');
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      console.error(`orchestrate pmbench: cannot read ${file}: ${(err as Error).message}`);
      return 1;
    }
    try {
      const report = parsePmbenchAny(text);
      console.log(args.flags.has('json') ? JSON.stringify(report, null, 2) : formatPmbenchSummary(report));
      return 0;
    } catch (err) {
      if (!(err instanceof PmbenchParseError)) throw err;
      console.error(`${file}: ${err.message}`);
      return 1;
    }
  },
};
