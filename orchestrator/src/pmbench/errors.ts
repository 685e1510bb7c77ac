/** Errors of the pmbench module: bad report input, bad benchmark options. */

export class PmbenchParseError extends Error {
  override name = 'PmbenchParseError';
  constructor(
    /** 1-based line of the report where parsing failed (0: end of input) */
    readonly line: number,
    message: string,
  ) {
    super(line > 0 ? `pmbench report line ${line}: ${message}` : `pmbench report: ${message}`);
  }
}

export class PmbenchOptionsError extends Error {
  override name = 'PmbenchOptionsError';
}
