/**
 * A config field written as a number or a string (sizes, durations, percentages) and
 * parsed by a units function into its value; what cannot be parsed is one zod issue,
 * "expected <what>, got <value>", at the field's file:line like every other problem.
 */
import { z } from 'zod';

/** A number or string field parsed by `parse`; `expected` completes "expected ..., got X". */
export function parsedWith<T>(parse: (v: unknown) => T | undefined, expected: string) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const out = parse(v);
    if (out === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected ${expected}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return out;
  });
}
