/**
 * Options several commands share, parsed and validated in one place: the results root
 * (--results-dir, alias --results; the rule itself is results/root.ts), the noise
 * threshold (--threshold PCT) and timeouts (--timeout-ms MS). Bad values are UsageErrors
 * that name the flag, the value and what to give instead.
 */
import { flagString, type ParsedArgs } from './args.js';
import { UsageError } from './command.js';

/** The spellings of the results-root option, for parseArgs' `string` list. */
export const RESULTS_DIR_FLAGS = ['results-dir', 'results'];

/** --results-dir DIR (or the older --results DIR) as typed; undefined when absent. */
export function resultsDirFlag(args: ParsedArgs): string | undefined {
  const given = RESULTS_DIR_FLAGS.map((k) => [k, flagString(args, k)] as const).filter(([, v]) => v !== undefined);
  for (const [k, v] of given) if (v === '') throw new UsageError(`--${k} needs a directory, got an empty value`);
  if (given.length > 1 && given[0]![1] !== given[1]![1]) {
    throw new UsageError(`--results-dir ${given[0]![1]} and --results ${given[1]![1]} disagree: give one`);
  }
  return given[0]?.[1];
}

/** A number flag checked by `check`; `hint` says what to give. With `percent`, a trailing %
 * is allowed (and ignored). Undefined when the flag is absent. */
export function numberFlag(args: ParsedArgs, name: string, check: (n: number) => boolean, hint: string, opts: { percent?: boolean } = {}): number | undefined {
  const value = flagString(args, name);
  if (value === undefined) return undefined;
  const text = opts.percent ? value.replace(/%$/, '') : value;
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} ${value}: ${hint}`);
  return n;
}

/** --threshold PCT (percent, 0 <= PCT < 1000, e.g. 5 or 5%) as a fraction (0.05). */
export function thresholdFlag(args: ParsedArgs): number | undefined {
  const pct = numberFlag(args, 'threshold', (n) => n >= 0 && n < 1000, 'give the noise threshold in percent, e.g. 5', { percent: true });
  return pct === undefined ? undefined : pct / 100;
}

/** --timeout-ms MS: a whole number of milliseconds >= 1 (at most 24 h), else `fallback`. */
export function timeoutMsFlag(args: ParsedArgs, fallback: number): number {
  return numberFlag(args, 'timeout-ms', (n) => Number.isInteger(n) && n >= 1 && n <= 86_400_000,
    'give a whole number of milliseconds between 1 and 86400000, e.g. 10000') ?? fallback;
}
