import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  PmbenchParseError,
  finestBuckets,
  parsePmbenchReport,
  percentile,
} from '../../src/pmbench/index.js';
import type { PmbenchHistogram } from '../../src/pmbench/index.js';

const SAMPLE_PATH = fileURLToPath(
  new URL('../../../workloads/pmbench/reference/real-pmbench-0.9-m64-s32-2s.txt', import.meta.url),
);
const sample = readFileSync(SAMPLE_PATH, 'utf8');
const sampleLines = sample.split('\n');

function lineOf(text: string): number {
  const i = sampleLines.findIndex((l) => l === text);
  if (i < 0) throw new Error(`sample has no line "${text}"`);
  return i + 1;
}

function replaceLine(text: string, by: string | null): string {
  const n = lineOf(text);
  const copy = [...sampleLines];
  if (by === null) copy.splice(n - 1, 1);
  else copy[n - 1] = by;
  return copy.join('\n');
}

function parseError(text: string): PmbenchParseError {
  try {
    parsePmbenchReport(text);
  } catch (err) {
    if (err instanceof PmbenchParseError) return err;
    throw err;
  }
  throw new Error('report was accepted');
}

describe('parsePmbenchReport on the real pmbench 0.9 sample', () => {
  const r = parsePmbenchReport(sample);

  it('reads signature, parameters and machine', () => {
    expect(r.format).toBe('text');
    expect(r.signature).toEqual({
      version: 'pmbench 0.9 Linux 64bit +mt -nu -xa',
      kernel: 'Linux 6.18.44-fc-v669 x86_64',
      date: 'Wed Nov 25 17:25:12 2026',
      uuid: '1448f3b4-9710-490d-a973-fb335e0bd91f',
    });
    expect(r.parameters).toEqual({
      durationSec: 2, mapsizeMib: 64, setsizeMib: 32, initialize: false, shape: 1.00001,
      delay: 0, quiet: false, cold: false, jobs: 1, offset: 'random', ratio: 50, threshold: 0,
      wrneedsrd: false, pattern: 'uniform', access: 'histo', tsops: 'rdtscp',
    });
    expect(r.machine).toEqual({ cpuModel: 'AMD EPYC', tscKhz: 2596128 });
  });

  it('reads the per-thread latency block and the progress line', () => {
    expect(r.threads).toEqual([
      {
        index: 1, of: 1,
        netAverage: { us: 0.1256, clks: 326 },
        benchmark: { us: 0.1284, clks: 333, samples: 15580000 },
        generation: { us: 0.0028, clks: 7, samples: 1000000 },
        warmup: { us: 0.7876, clks: 2044, samples: 32768 },
        done: { seconds: 2.001, accesses: 15580000 },
      },
    ]);
    expect(r.interrupted).toBe(false);
  });

  it('reads both histograms with their sub-counts', () => {
    const read = r.histograms.read!;
    const write = r.histograms.write!;
    expect(read.total).toBe(7792996);
    expect(write.total).toBe(7787004);
    expect(r.samples).toEqual({ read: 7792996, write: 7787004, total: 15580000 });
    expect(read.bands).toHaveLength(24);
    expect(read.bands[0]).toEqual({ loNs: 0, hiNs: 256, count: 7444439, sub: null });
    expect(read.bands[1]).toMatchObject({ loNs: 256, hiNs: 512, count: 346671 });
    expect(read.bands[1]!.sub![0]).toEqual({ loNs: 256, hiNs: 272, count: 109803 });
    expect(read.bands[1]!.sub![15]).toEqual({ loNs: 496, hiNs: 512, count: 305 });
    expect(read.bands[8]).toMatchObject({ loNs: 32768, hiNs: 65536, count: 348 });
    expect(read.bands[16]).toEqual({ loNs: 2 ** 23, hiNs: 2 ** 24, count: 0, sub: null });
    expect(read.bands[23]).toEqual({ loNs: 2 ** 30, hiNs: 2 ** 32, count: 0, sub: null });
    expect(write.bands[4]!.sub!.map((s) => s.count)).toEqual([261, 265, 162, 106, 73, 43, 28, 20, 13, 7, 9, 4, 1, 3, 2, 3]);
  });

  it('interpolates percentiles from the sub-counts', () => {
    const total = 7792996;
    expect(r.percentiles.read!.p50).toBeCloseTo((256 * 0.5 * total) / 7444439, 6);
    // p99 falls in the 4th 1/16 sub-bucket of 2^(08,09): [304, 320)
    const before = 7444439 + 109803 + 55410 + 90260;
    expect(r.percentiles.read!.p99).toBeCloseTo(304 + (16 * (0.99 * total - before)) / 31609, 6);
    expect(r.metrics['read.latency.ns.p99']).toBe(r.percentiles.read!.p99);
    const combinedBelow = 7444439 + 7780945;
    expect(r.percentiles.combined!.p50).toBeCloseTo((256 * 0.5 * 15580000) / combinedBelow, 6);
  });

  it('derives throughput, vmstat deltas and LKP metrics', () => {
    expect(r.throughput).toEqual({ accessesPerSec: 15580000 / 2.001, stdDevPercent: 0, source: 'benchmark-done' });
    expect(r.metrics['throughput.aps']).toBe(15580000 / 2.001);
    // LKP's average is the benchmark latency incl. generation; the net average has its own name
    expect(r.metrics['latency.ns.average']).toBeCloseTo(128.4, 9);
    expect(r.metrics['latency.ns.net_average']).toBeCloseTo(125.6, 9);
    expect(r.metrics['read.latency.ns.0-256%']).toBeCloseTo((100 * 7444439) / 7792996, 9);
    expect(r.metrics['write.latency.ns.2K-4K%']).toBeCloseTo((100 * 1000) / 7787004, 9);
    expect(r.metrics['init_time.avg']).toBeUndefined();
    expect(r.vmstat).toEqual({ pgpgin: 0, pgpgout: 0, pswpin: 0, pswpout: 0, pgmajfault: 0 });
    expect(r.metrics['vmstat.pswpin']).toBe(0);
    expect(r.memory.map((m) => m.label)).toEqual(['pre-warmup', 'pre-run', 'mid-run', 'post-run', 'post unmap']);
    expect(r.memory[0]).toEqual({
      label: 'pre-warmup', freeK: 24424988, bufferK: 24368944, cacheK: 1100, activeK: 0, inactiveK: 42948,
      pgpgin: 1456857, pgpgout: 2912156, pswpin: 0, pswpout: 0, pgmajfault: 1214,
    });
  });

  it('computes vmstat deltas as post-run minus pre-warmup', () => {
    const edited = replaceLine(
      'post-run  :24392984 24336944     1100        0    42952   1456857   2912156         0         0      1214',
      'post-run  :24392984 24336944     1100        0    42952   1457857   2912656        40       300      1219',
    );
    expect(parsePmbenchReport(edited).vmstat).toEqual({ pgpgin: 1000, pgpgout: 500, pswpin: 40, pswpout: 300, pgmajfault: 5 });
  });

  it('falls back to latency for throughput when progress lines are absent (-q)', () => {
    const quiet = sample.slice(sample.indexOf('------------- Benchmark signature'));
    const q = parsePmbenchReport(quiet);
    expect(q.throughput).toEqual({ accessesPerSec: 1e6 / 0.1284, stdDevPercent: 0, source: 'latency' });
    expect(q.threads[0]!.done).toBeNull();
  });

  it('flags an interruption notice', () => {
    const text = sample.replace('All threads joined', 'All threads joined\npmbench: interrupted by SIGINT - partial report follows');
    expect(parsePmbenchReport(text).interrupted).toBe(true);
  });

  it('accepts CRLF line endings', () => {
    expect(parsePmbenchReport(sample.replace(/\n/g, '\r\n')).samples.total).toBe(15580000);
  });
});

describe('parsePmbenchReport errors name the line and the expectation', () => {
  it('rejects input that is not a pmbench report', () => {
    const e = parseError('hello\nworld\n');
    expect(e.message).toMatch(/Benchmark signature/);
  });

  it('rejects a total that disagrees with its rows', () => {
    const e = parseError(replaceLine('Total samples: 7792996', 'Total samples: 7792995'));
    expect(e.line).toBe(lineOf('Total samples: 7792996'));
    expect(e.message).toMatch(/differs from the sum of the rows \(7792996\)/);
  });

  it('rejects sub-counts that do not sum to the row', () => {
    const row = '2^(09,10) ns: 749  [263, 150, 102, 41, 44, 30, 15, 10, 3, 30, 20, 10, 10, 7, 9, 5]';
    const e = parseError(replaceLine(row, row.replace('[263,', '[262,')));
    expect(e.line).toBe(lineOf(row));
    expect(e.message).toMatch(/2\^\(09,10\) ns: sub-counts sum to 748, row says 749/);
  });

  it('rejects a missing histogram row', () => {
    const e = parseError(replaceLine('2^(24,25) ns: 0', null));
    expect(e.message).toMatch(/expected "2\^\(24,25\) ns: N", found "2\^\(25,26\) ns: 0"/);
  });

  it('rejects a missing parameter and a malformed one', () => {
    expect(parseError(replaceLine('  jobs         = 1', null)).message).toMatch(/parameter "jobs" missing/);
    const e = parseError(replaceLine('  pattern      = uniform', '  pattern      = spiral'));
    expect(e.line).toBe(lineOf('  pattern      = uniform'));
    expect(e.message).toMatch(/expected linear, uniform, normal, pareto/);
  });

  it('rejects a broken latency line', () => {
    const line = 'Net average page latency (Arith. mean): 0.1256 us (326 clks)';
    const e = parseError(replaceLine(line, 'Net average page latency (Arith. mean): fast'));
    expect(e.line).toBe(lineOf(line));
    expect(e.message).toMatch(/expected "Net average page latency/);
  });
});

describe('percentile', () => {
  it('interpolates linearly inside the bucket holding the rank', () => {
    const b = [
      { loNs: 0, hiNs: 256, count: 0 },
      { loNs: 256, hiNs: 272, count: 100 },
      { loNs: 272, hiNs: 288, count: 100 },
    ];
    expect(percentile(b, 0.5)).toBe(272);
    expect(percentile(b, 0.25)).toBe(264);
    expect(percentile(b, 0.99)).toBeCloseTo(272 + 16 * 0.98, 9);
    expect(percentile([{ loNs: 0, hiNs: 256, count: 0 }], 0.5)).toBeNull();
  });

  it('uses sub-buckets where a band has them', () => {
    const h: PmbenchHistogram = {
      total: 16,
      bands: [
        { loNs: 0, hiNs: 256, count: 0, sub: null },
        { loNs: 256, hiNs: 512, count: 16, sub: Array.from({ length: 16 }, (_, i) => ({ loNs: 256 + 16 * i, hiNs: 272 + 16 * i, count: 1 })) },
      ],
    };
    expect(finestBuckets(h)).toHaveLength(17);
    expect(percentile(finestBuckets(h), 0.5)).toBe(384);
  });
});
