/**
 * Shared option validation (cli/flags.ts), pure logic: --results-dir and its alias
 * --results, --threshold in percent, --timeout-ms in whole milliseconds; and that the
 * commands use it (a bad value is a usage error, exit 2, before anything runs).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/command.js';
import { RESULTS_DIR_FLAGS, resultsDirFlag, thresholdFlag, timeoutMsFlag } from '../../src/cli/flags.js';
import { main } from '../../src/cli/main.js';

const parse = (argv: string[]) => parseArgs(argv, { string: [...RESULTS_DIR_FLAGS, 'threshold', 'timeout-ms'] });

afterEach(() => { vi.restoreAllMocks(); });

describe('resultsDirFlag', () => {
  it('reads --results-dir, --results, and both when they agree', () => {
    expect(resultsDirFlag(parse(['--results-dir', '/a']))).toBe('/a');
    expect(resultsDirFlag(parse(['--results=/a']))).toBe('/a');
    expect(resultsDirFlag(parse(['--results-dir=/a', '--results', '/a']))).toBe('/a');
    expect(resultsDirFlag(parse([]))).toBeUndefined();
  });

  it('refuses an empty value and two different ones', () => {
    expect(() => resultsDirFlag(parse(['--results-dir='])))
      .toThrow(new UsageError('--results-dir needs a directory, got an empty value'));
    expect(() => resultsDirFlag(parse(['--results-dir', '/a', '--results', '/b'])))
      .toThrow(new UsageError('--results-dir /a and --results /b disagree: give one'));
  });
});

describe('thresholdFlag', () => {
  it('turns percent into a fraction', () => {
    expect(thresholdFlag(parse(['--threshold', '5']))).toBe(0.05);
    expect(thresholdFlag(parse(['--threshold=2.5%']))).toBe(0.025);
    expect(thresholdFlag(parse(['--threshold', '0']))).toBe(0);
    expect(thresholdFlag(parse([]))).toBeUndefined();
  });

  it('refuses what is not a percentage in [0, 1000)', () => {
    for (const bad of ['lots', '-1', '1000', '', 'NaN', 'Infinity']) {
      expect(() => thresholdFlag(parse([`--threshold=${bad}`])), bad)
        .toThrow(new UsageError(`--threshold ${bad}: give the noise threshold in percent, e.g. 5`));
    }
  });
});

describe('timeoutMsFlag', () => {
  it('reads whole milliseconds, else the fallback', () => {
    expect(timeoutMsFlag(parse(['--timeout-ms', '2500']), 10_000)).toBe(2500);
    expect(timeoutMsFlag(parse([]), 10_000)).toBe(10_000);
  });

  it('refuses fractions, zero, negatives, percentages and words', () => {
    for (const bad of ['1.5', '0', '-5', '50%', 'soon', '', '1e12']) {
      expect(() => timeoutMsFlag(parse([`--timeout-ms=${bad}`]), 1), bad)
        .toThrow(new UsageError(`--timeout-ms ${bad}: give a whole number of milliseconds between 1 and 86400000, e.g. 10000`));
    }
  });
});

describe('commands validate with the shared flags', () => {
  it.each([
    [['compare', 'a', 'b', '--threshold', 'lots'], /--threshold lots: give the noise threshold in percent/],
    [['nightly', 'configs/hello.yaml', '--threshold', '-3', '--dry-run'], /--threshold -3: give the noise threshold in percent/],
    [['monitor', 'stats', '--control', '/nonexistent.sock', '--timeout-ms', 'soon'], /--timeout-ms soon: give a whole number of milliseconds/],
    [['report', 'x', '--results-dir='], /--results-dir needs a directory/],
    [['up', 'configs/hello.yaml', '--dry-run', '--results-dir', '/a', '--results', '/b'], /disagree: give one/],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await main(argv)).toBe(2);
    expect(err.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(message);
  });
});
