/** A small argv parser for subcommands: --flag, --key VALUE, --key=VALUE, and `--` rest. */
import { UsageError } from './command.js';

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
  rest: string[];
}

export function parseArgs(argv: string[], spec: { boolean?: string[]; string?: string[] }): ParsedArgs {
  const booleans = new Set(spec.boolean ?? []);
  const strings = new Set(spec.string ?? []);
  const out: ParsedArgs = { positional: [], flags: new Map(), rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { out.rest = argv.slice(i + 1); break; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (booleans.has(key) && eq < 0) out.flags.set(key, true);
      else if (strings.has(key)) {
        const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
        if (value === undefined) throw new UsageError(`--${key} needs a value`);
        out.flags.set(key, value);
      } else throw new UsageError(`unknown option --${key}`);
    } else out.positional.push(a);
  }
  return out;
}

export function flagString(p: ParsedArgs, key: string): string | undefined {
  const v = p.flags.get(key);
  return typeof v === 'string' ? v : undefined;
}
