/** workloads/bin/memverify: the data-integrity check used under heavy eviction. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MEMVERIFY = join(ROOT, 'workloads/bin/memverify');

interface MemverifyResult {
  mib: number;
  pages: number;
  passes: number;
  mismatches: number;
  first_mismatch: null | { pass: number; page: number; word: number; expected: string; actual: string };
  seconds: number;
}

async function memverify(args: string[]): Promise<{ exitCode: number; result: MemverifyResult; stderr: string }> {
  const r = await execa(MEMVERIFY, args, { reject: false });
  const lines = r.stdout.trim().split('\n');
  expect(lines, 'stdout is exactly one JSON line').toHaveLength(1);
  return { exitCode: r.exitCode ?? -1, result: JSON.parse(lines[0]!) as MemverifyResult, stderr: r.stderr };
}

beforeAll(async () => {
  await execa('make', ['-C', join(ROOT, 'workloads')]);
});

describe('workloads/bin/memverify', () => {
  it('writes and reads back N MiB over K passes with zero mismatches', async () => {
    const { exitCode, result, stderr } = await memverify(['--mib', '32', '--passes', '3', '--seed', '42']);
    expect(exitCode).toBe(0);
    expect(result).toMatchObject({ mib: 32, pages: 8192, passes: 3, mismatches: 0, first_mismatch: null });
    expect(result.seconds).toBeGreaterThanOrEqual(0);
    expect(stderr.match(/^memverify: pass \d\/3/gm)).toHaveLength(3);
  });

  it('detects a flipped byte (--self-test-corrupt) and exits 1', async () => {
    const { exitCode, result } = await memverify(['--mib', '8', '--passes', '2', '--self-test-corrupt']);
    expect(exitCode).toBe(1);
    expect(result.mismatches).toBe(1);
    // page 1024 of 2048, word 7, bit 4 of byte 3 flipped
    expect(result.first_mismatch).toMatchObject({ pass: 1, page: 1024, word: 7 });
    const { expected, actual } = result.first_mismatch!;
    expect(BigInt(expected) ^ BigInt(actual)).toBe(0x10n << 24n);
  });

  it('rejects bad usage with exit 2', async () => {
    for (const args of [[], ['--mib', '0'], ['--mib', 'x'], ['--mib', '4', '--passes', '0'], ['--bogus']]) {
      const r = await execa(MEMVERIFY, args, { reject: false });
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/usage: memverify --mib N/);
    }
  });
});
