/**
 * A CLI subcommand. Each lives in cli/commands/NAME.ts and is listed in cli/main.ts.
 * `run` gets the arguments after the command name and returns the exit status;
 * it throws UsageError for bad command lines (printed with the usage, exit 2).
 */
export interface Command {
  name: string;
  usage: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}
