/**
 * LKP's names mean LKP's values: for every metric LKP-tests' own pmbench parser
 * (programs/pmbench/parse, intel/lkp-tests bbbc29c) prints, our parser has the same name and
 * value. The expected values below are that parser's output, pasted literally: it was run
 * (ruby 3.1, outside this repository) on the real pmbench 0.9 report, and on two edits of it
 * built here: two threads with -i (spread, average over threads, init time), and a shifted
 * read histogram whose percentiles fall inside sub-buckets and a wide band.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePmbenchReport } from '../../src/pmbench/index.js';
import { metricDirection } from '../../src/stats/direction.js';

const sample = readFileSync(
  fileURLToPath(new URL('../../../workloads/pmbench/reference/real-pmbench-0.9-m64-s32-2s.txt', import.meta.url)),
  'utf8',
);
// The same run, as kept in the shared reference folder when it is present.
const SHARED = '/work/shared/reference/pmbench/sample-default-m64-s32-2s.txt';

/** LKP's parser output on the real report (both copies of it print this). */
const LKP_REFERENCE = `
read.latency.ns.0-256%: 95.52730426141628
read.latency.90%.ns: 256
read.latency.95%.ns: 256
read.latency.ns.256-512%: 4.448494519950992
read.latency.99%.ns: 608
read.latency.ns.512-1K%: 0.00961119446230949
read.latency.ns.1K-2K%: 0.0023225983947637086
read.latency.ns.2K-4K%: 0.005261134485376356
read.latency.ns.4K-8K%: 0.0008982424731130364
read.latency.ns.8K-16K%: 0.00020531256528297972
read.latency.ns.16K-32K%: 0.0008469143317922915
read.latency.ns.32K-64K%: 0.0044655482949048095
read.latency.ns.64K-128K%: 0.0005902736251885667
read.latency.ns.128K-256K%: 0.0
read.latency.ns.256K-512K%: 0.0
read.latency.ns.512K-1M%: 0.0
read.latency.ns.1M-2M%: 0.0
read.latency.ns.2M-4M%: 0.0
read.latency.ns.4M-8M%: 0.0
read.latency.ns.8M-16M%: 0.0
read.latency.ns.16M-32M%: 0.0
read.latency.ns.32M-64M%: 0.0
read.latency.ns.64M-128M%: 0.0
read.latency.ns.128M-256M%: 0.0
read.latency.ns.256M-512M%: 0.0
read.latency.ns.512M-1G%: 0.0
read.latency.ns.1G-inf%: 0.0
write.latency.ns.0-256%: 99.9221908708407
write.latency.90%.ns: 256
write.latency.95%.ns: 256
write.latency.99%.ns: 256
write.latency.ns.256-512%: 0.06011297798228947
write.latency.ns.512-1K%: 0.0005650440143603367
write.latency.ns.1K-2K%: 0.0022987017856931882
write.latency.ns.2K-4K%: 0.01284190941728038
write.latency.ns.4K-8K%: 0.0007448307462022621
write.latency.ns.8K-16K%: 0.0004494668296048133
write.latency.ns.16K-32K%: 0.00011557718475552344
write.latency.ns.32K-64K%: 0.0005907278331948975
write.latency.ns.64K-128K%: 8.989336592096267e-05
write.latency.ns.128K-256K%: 0.0
write.latency.ns.256K-512K%: 0.0
write.latency.ns.512K-1M%: 0.0
write.latency.ns.1M-2M%: 0.0
write.latency.ns.2M-4M%: 0.0
write.latency.ns.4M-8M%: 0.0
write.latency.ns.8M-16M%: 0.0
write.latency.ns.16M-32M%: 0.0
write.latency.ns.32M-64M%: 0.0
write.latency.ns.64M-128M%: 0.0
write.latency.ns.128M-256M%: 0.0
write.latency.ns.256M-512M%: 0.0
write.latency.ns.512M-1G%: 0.0
write.latency.ns.1G-inf%: 0.0
latency.ns.average: 128.39999999999998
throughput.aps: 7786106.946526737
throughput.std_dev%: 0.0
`;

/** LKP's output on twoThreads(sample) where it differs from LKP_REFERENCE (the histograms are the same). */
const LKP_TWO_THREADS = `
latency.ns.average: 130.05
throughput.aps: 15379716.532148305
throughput.std_dev%: 1.251631397124851
init_time.avg: 0.8123456
`;

/** LKP's output on shifted(sample) where it differs from LKP_REFERENCE (the read block). */
const LKP_SHIFTED = `
read.latency.ns.0-256%: 0.2820420976034883
read.latency.ns.256-512%: 97.77581601829888
read.latency.90%.ns: 640
read.latency.95%.ns: 736
read.latency.ns.512-1K%: 0.21124953110501274
read.latency.ns.1K-2K%: 0.05104961966623139
read.latency.ns.2K-4K%: 0.11563726001743022
read.latency.ns.4K-8K%: 0.01974294683224418
read.latency.ns.8K-16K%: 0.004512673561655813
read.latency.ns.16K-32K%: 0.018614778441830227
read.latency.ns.32K-64K%: 0.09815064996601393
read.latency.ns.64K-128K%: 0.012973936489760462
read.latency.ns.128K-256K%: 0.0
read.latency.ns.256K-512K%: 0.0
read.latency.ns.512K-1M%: 0.0
read.latency.ns.1M-2M%: 0.0
read.latency.ns.2M-4M%: 0.0
read.latency.ns.4M-8M%: 0.0
read.latency.ns.8M-16M%: 1.4102104880174415
read.latency.99%.ns: 16777216
read.latency.ns.16M-32M%: 0.0
read.latency.ns.32M-64M%: 0.0
read.latency.ns.64M-128M%: 0.0
read.latency.ns.128M-256M%: 0.0
read.latency.ns.256M-512M%: 0.0
read.latency.ns.512M-1G%: 0.0
read.latency.ns.1G-inf%: 0.0
`;

function lkpLines(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.trim().split('\n')) {
    const m = line.match(/^(\S+): (\S+)$/);
    if (!m) throw new Error(`not a metric line: "${line}"`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Second thread, -i and its initialization line added to the real report. */
function twoThreads(s: string): string {
  return s
    .replace('[1] num_pages:', 'Initializing memory map...\nInitialization took 812.3456 ms\n[1] num_pages:')
    .replace('  (Average 0.128 usec per page access)\n', '  (Average 0.128 usec per page access)\n[2] Benchmark done - took 2.003 sec for 15210000 page access\n  (Average 0.132 usec per page access)\n')
    .replace('  jobs         = 1\n', '  jobs         = 2\n')
    .replace('  initialize   = 0\n', '  initialize   = 1\n')
    .replace('Thread 1/1:', 'Thread 1/2:')
    .replace('    Total samples count: 32768\n', '    Total samples count: 32768\n' +
      'Thread 2/2:\nNet average page latency (Arith. mean): 0.1289 us (335 clks)\n--- Measurement details ---\n' +
      '  Page latency during benchmark (inc. gen): 0.1317 us (342 clks)\n    Total samples count: 15210000\n' +
      '  Pattern generation overhead per drawing : 0.0028 us (7 clks)\n    Total samples count: 1000000\n' +
      '  Page latency during warmup              : 0.8012 us (2080 clks)\n    Total samples count: 32768\n');
}

/** Read block with few fast accesses and 5000 in 2^(23,24). */
function shifted(s: string): string {
  return s
    .replace('2^(00,08) ns: 7444439\n', '2^(00,08) ns: 1000\n')
    .replace('2^(23,24) ns: 0\n', '2^(23,24) ns: 5000\n')
    .replace('Total samples: 7792996\n', 'Total samples: 354557\n');
}

function expectLkpMetrics(report: string, expected: Record<string, number>): void {
  const ours = parsePmbenchReport(report).metrics;
  const missing = Object.keys(expected).filter((name) => !(name in ours));
  expect(missing, 'metrics LKP prints that we lack').toEqual([]);
  for (const [name, value] of Object.entries(expected)) {
    // same inputs, same floating-point operations in the same order: equal to the last bit
    expect(ours[name], name).toBe(value);
  }
}

describe("metrics under LKP's names carry LKP's values", () => {
  const reference = lkpLines(LKP_REFERENCE);

  it('matches all 57 metrics LKP prints for the real pmbench 0.9 report', () => {
    expect(Object.keys(reference)).toHaveLength(57);
    expectLkpMetrics(sample, reference);
  });

  it.runIf(existsSync(SHARED))('matches them on the shared copy of the report too', () => {
    expectLkpMetrics(readFileSync(SHARED, 'utf8'), reference);
  });

  it('averages threads, sums throughput, reports its spread and the init time as LKP does', () => {
    const report = twoThreads(sample);
    expect(parsePmbenchReport(report).threads).toHaveLength(2);
    const expected = { ...reference, ...lkpLines(LKP_TWO_THREADS) };
    expect(Object.keys(expected)).toHaveLength(58);
    expectLkpMetrics(report, expected);
  });

  it("uses LKP's bucket values for its percentiles (sub-buckets and wide rows)", () => {
    const expected = { ...reference, ...lkpLines(LKP_SHIFTED) };
    expect(expected['read.latency.95%.ns']).toBe(736);
    expectLkpMetrics(shifted(sample), expected);
  });

  it('keeps our interpolated percentiles and the net average under names of their own', () => {
    const m = parsePmbenchReport(sample).metrics;
    expect(m['latency.ns.net_average']).toBeCloseTo(125.6, 9);
    expect(m['read.latency.ns.p99']).toBeGreaterThan(304);
    expect(m['read.latency.ns.p99']).toBeLessThan(320);
    expect(m['read.latency.99%.ns']).toBe(608);
  });

  it('names that read as band shares, latencies and throughput to the comparison code', () => {
    const m = parsePmbenchReport(sample).metrics;
    const bands = Object.keys(m).filter((n) => /\.latency\.ns\.[^.]+-[^.]+%$/.test(n));
    expect(bands).toHaveLength(48);
    for (const n of bands) expect(metricDirection(n), n).toBe('informational');
    expect(metricDirection('read.latency.99%.ns')).toBe('lower-is-better');
    expect(metricDirection('latency.ns.average')).toBe('lower-is-better');
    expect(metricDirection('throughput.aps')).toBe('higher-is-better');
    expect(metricDirection('throughput.std_dev%')).toBe('informational');
  });
});

