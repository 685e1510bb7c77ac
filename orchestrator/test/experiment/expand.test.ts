import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { describeRuns, expandRuns, guestMemoryMiB, residentMiB } from '../../src/experiment/expand.js';
import { formatTable, metricStats, summarizeVariants } from '../../src/results/summarize.js';
import type { RunRecord } from '../../src/results/types.js';

const config = parseConfig(`name: x
vms: [{ name: vm0, memory: 1G }]
arms:
  - { name: fm, kind: fluidmem, backend: redis, resident: 25% }
  - { name: sw, kind: swap, resident: 128M, swap_on: tmpfs }
workload:
  pmbench: { duration: 2, setsize: [256M, 512M], ratio: [0, 100] }
repetitions: 3
`, 'x.yaml');

describe('run expansion', () => {
  it('multiplies arms, list-valued parameters and repetitions', () => {
    const runs = expandRuns(config);
    expect(runs).toHaveLength(2 * 2 * 2 * 3);
    expect(runs[0]).toMatchObject({ index: 1, id: '001-fm-setsize-256-ratio-0-r1', variant: 'fm setsize=256,ratio=0', repetition: 1 });
    expect(runs[0]!.params).toMatchObject({ duration: 2, setsize: 256, ratio: 0 });
    expect(new Set(runs.map((r) => r.variant)).size).toBe(8);
    expect(new Set(runs.map((r) => r.id)).size).toBe(24);
  });

  it('sizes guest memory per arm', () => {
    const vm = config.vms[0]!;
    expect(residentMiB(config.arms[0]!, vm)).toBe(256);
    expect(guestMemoryMiB(config.arms[0]!, vm)).toBe(1024);
    expect(guestMemoryMiB(config.arms[1]!, vm)).toBe(128);
    expect(describeRuns(expandRuns(config))[0]).toMatch(/vm0: 1024 MiB guest, handler->redis, resident 256 MiB \| duration=2 setsize=256/);
  });
});

describe('summaries', () => {
  it('computes mean and sample standard deviation over repetitions', () => {
    expect(metricStats([1, 2, 3, 4])).toMatchObject({ mean: 2.5, min: 1, max: 4, n: 4 });
    expect(metricStats([1, 2, 3, 4]).stdev).toBeCloseTo(1.2909944, 6);
    expect(metricStats([5]).stdev).toBe(0);
  });

  it('groups by variant and leaves failed runs out of the statistics', () => {
    const rec = (variant: string, rep: number, status: 'ok' | 'failed', lat: number) =>
      ({ variant, repetition: rep, status, arm: { name: variant, kind: 'none' }, metrics: status === 'ok' ? { 'latency.ns.average': lat } : {} }) as unknown as RunRecord;
    const v = summarizeVariants([rec('a', 1, 'ok', 1000), rec('a', 2, 'ok', 3000), rec('a', 3, 'failed', 0), rec('b', 1, 'ok', 500)]);
    expect(v[0]).toMatchObject({ variant: 'a', runs: 3, failed: 1 });
    expect(v[0]!.metrics['latency.ns.average']!.values).toEqual([1000, 3000]);
    const table = formatTable(v);
    expect(table.split('\n')[2]).toMatch(/^a\s+2\/3\s+2\.00 ±1\.41$/);
  });
});
