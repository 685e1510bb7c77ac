import { describe, expect, it } from 'vitest';
import { PmbenchOptionsError, pmbenchArgs } from '../../src/pmbench/index.js';
import type { PmbenchOptions } from '../../src/pmbench/index.js';

function rejects(opts: PmbenchOptions): string {
  try {
    pmbenchArgs(opts);
  } catch (err) {
    if (err instanceof PmbenchOptionsError) return err.message;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(opts)}`);
}

describe('pmbenchArgs', () => {
  it('emits only what is set, duration last', () => {
    expect(pmbenchArgs({ durationSec: 2 })).toEqual(['2']);
    expect(pmbenchArgs({ durationSec: 2, mapsizeMib: 64, setsizeMib: 32 })).toEqual(['-m', '64', '-s', '32', '2']);
  });

  it('maps every option to its pmbench flag', () => {
    expect(
      pmbenchArgs({
        durationSec: 10, mapsizeMib: 1024, setsizeMib: 512, pattern: 'pareto', shape: 1.5, jobs: 2,
        ratio: 70, cold: true, initialize: true, timestamp: 'rdtsc', access: 'touch', delayCycles: 100,
        offset: 7, thresholdNs: 100000, wrneedsrd: true, xmlFile: '/tmp/r.xml', quiet: true,
      }),
    ).toEqual([
      '-m', '1024', '-s', '512', '-p', 'pareto', '-e', '1.5', '-j', '2', '-r', '70', '-c', '-i',
      '-t', 'rdtsc', '-a', 'touch', '-d', '100', '-o', '7', '-h', '100000', '-z', '-f', '/tmp/r.xml', '-q', '10',
    ]);
    expect(pmbenchArgs({ durationSec: 1, offset: 'random', cold: false, ratio: 0 })).toEqual(['-r', '0', '-o', 'random', '1']);
  });

  it('validates like pmbench', () => {
    expect(rejects({ durationSec: 0 })).toMatch(/durationSec must be an integer >= 1, got 0/);
    expect(rejects({ durationSec: 1.5 })).toMatch(/durationSec/);
    expect(rejects({ durationSec: 1, ratio: 101 })).toMatch(/ratio must be an integer 0-100, got 101/);
    expect(rejects({ durationSec: 1, jobs: 0 })).toMatch(/jobs must be an integer >= 1/);
    expect(rejects({ durationSec: 1, offset: 1024 })).toMatch(/offset must be an integer 0-1023/);
    expect(rejects({ durationSec: 1, shape: 0 })).toMatch(/shape must be a positive number/);
    expect(rejects({ durationSec: 1, mapsizeMib: 32, setsizeMib: 64 })).toMatch(/setsizeMib \(64\) must not exceed mapsizeMib \(32\)/);
    expect(rejects({ durationSec: 1, pattern: 'spiral' as never })).toMatch(/pattern must be linear, uniform, normal, pareto or zipf/);
    expect(rejects({ durationSec: 1, timestamp: 'tsc' as never })).toMatch(/rdtsc or rdtscp/);
  });

  it('accounts for pmbench defaults when only one size is given', () => {
    // pmbench's default setsize is 128 MiB: -m 64 alone is out of range in pmbench too
    expect(rejects({ durationSec: 1, mapsizeMib: 64 })).toMatch(/setsizeMib \(128\) must not exceed mapsizeMib \(64\); set setsizeMib <= 64/);
    expect(rejects({ durationSec: 1, setsizeMib: 512 })).toMatch(/set mapsizeMib >= 512/);
  });
});
