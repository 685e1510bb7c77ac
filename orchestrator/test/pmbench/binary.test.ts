/**
 * Runs the real workloads/bin/pmbench on the host (short runs) and parses what it prints:
 * options, bad input, SIGINT, the XML report, and the report layout against the real
 * pmbench 0.9 sample.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePmbenchReport, parsePmbenchXml, pmbenchArgs } from '../../src/pmbench/index.js';
import type { PmbenchOptions, PmbenchReport } from '../../src/pmbench/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PMBENCH = join(ROOT, 'workloads/bin/pmbench');
const SAMPLE = readFileSync(join(ROOT, 'workloads/pmbench/reference/real-pmbench-0.9-m64-s32-2s.txt'), 'utf8');
const SMALL = { durationSec: 1, mapsizeMib: 16, setsizeMib: 8 } satisfies PmbenchOptions;

let tmp = '';
beforeAll(async () => {
  await execa('make', ['-C', join(ROOT, 'workloads')]);
  tmp = mkdtempSync(join(tmpdir(), 'pmbench-test-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function run(opts: PmbenchOptions): Promise<{ stdout: string; report: PmbenchReport }> {
  const r = await execa(PMBENCH, pmbenchArgs(opts));
  return { stdout: r.stdout, report: parsePmbenchReport(r.stdout) };
}

/** Checks that hold for every complete run. */
function sane(r: PmbenchReport, opts: PmbenchOptions): void {
  expect(r.interrupted).toBe(false);
  expect(r.signature.version).toBe('pmbench 0.9 Linux 64bit +mt -nu -xa');
  expect(r.signature.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(r.threads).toHaveLength(opts.jobs ?? 1);
  for (const t of r.threads) {
    expect(t.benchmark.samples).toBeGreaterThan(0);
    expect(t.benchmark.samples % 10000).toBe(0);
    expect(t.done?.accesses).toBe(t.benchmark.samples);
    expect(t.done!.seconds).toBeGreaterThanOrEqual(opts.durationSec);
    expect(t.generation.samples).toBe(1000000);
  }
  expect(r.machine.tscKhz).toBeGreaterThan(100_000);
  expect(r.metrics['throughput.aps']).toBeGreaterThan(0);
  expect(r.metrics['latency.ns.average']).toBeGreaterThan(0);
  if (r.parameters.access === 'histo') {
    // every main-loop access lands in exactly one histogram
    expect(r.samples.read + r.samples.write).toBe(r.samples.total);
  }
  expect(r.memory.map((m) => m.label)).toEqual([...(opts.cold ? [] : ['pre-warmup']), 'pre-run', 'mid-run', 'post-run', 'post unmap']);
  expect(r.vmstat).not.toBeNull();
}

describe('workloads/bin/pmbench', () => {
  it('prints the version', async () => {
    const r = await execa(PMBENCH, ['-V']);
    expect(r.stdout).toBe('pmbench 0.9 Linux 64bit +mt -nu -xa');
  });

  it('default run: parameters echoed, both histograms, warm-up of 4n pages', async () => {
    const { report } = await run(SMALL);
    sane(report, SMALL);
    expect(report.parameters).toMatchObject({ durationSec: 1, mapsizeMib: 16, setsizeMib: 8, jobs: 1, ratio: 50, pattern: 'uniform', access: 'histo', tsops: 'rdtscp', offset: 'random', shape: 1.00001 });
    expect(report.threads[0]!.warmup!.samples).toBe(4 * 2048);
    expect(report.samples.read).toBeGreaterThan(0);
    expect(report.samples.write).toBeGreaterThan(0);
  });

  it('has the same layout as the real pmbench report, line by line', async () => {
    const { stdout } = await run(SMALL);
    expect(layout(stdout)).toEqual(layout(SAMPLE));
  });

  it('-j 2: two threads, throughput summed over them', async () => {
    const opts = { ...SMALL, jobs: 2 };
    const { report } = await run(opts);
    sane(report, opts);
    expect(report.threads.map((t) => `${t.index}/${t.of}`)).toEqual(['1/2', '2/2']);
    const sum = report.threads.reduce((s, t) => s + t.done!.accesses / t.done!.seconds, 0);
    expect(report.throughput.accessesPerSec).toBeCloseTo(sum, 6);
  });

  it('-c: no warm-up lines, first snapshot is pre-run', async () => {
    const opts = { ...SMALL, cold: true };
    const { stdout, report } = await run(opts);
    sane(report, opts);
    expect(report.threads[0]!.warmup).toBeNull();
    expect(stdout).not.toMatch(/warmup/);
  });

  it('-r 100 reads only, -r 0 writes only', async () => {
    const ro = await run({ ...SMALL, ratio: 100 });
    sane(ro.report, SMALL);
    expect(ro.report.histograms.write).toBeNull();
    expect(ro.stdout).not.toMatch(/^Write:/m);
    expect(ro.report.samples.read).toBe(ro.report.samples.total);
    const wo = await run({ ...SMALL, ratio: 0 });
    sane(wo.report, SMALL);
    expect(wo.report.histograms.read).toBeNull();
    expect(wo.report.samples.write).toBe(wo.report.samples.total);
    expect(wo.report.metrics['write.latency.ns.p99']).toBeGreaterThan(0);
    expect(wo.report.metrics['read.latency.ns.p99']).toBeUndefined();
  });

  it('-a touch: no histogram, still latency and throughput', async () => {
    const opts = { ...SMALL, access: 'touch' } as const;
    const { stdout, report } = await run(opts);
    sane(report, opts);
    expect(stdout).toMatch(/^touch_report: nothing to report$/m);
    expect(report.histograms).toEqual({ read: null, write: null });
  });

  it.each(['linear', 'normal', 'pareto'] as const)('-p %s', async (pattern) => {
    const opts = { ...SMALL, pattern };
    const { report } = await run(opts);
    sane(report, opts);
    expect(report.parameters.pattern).toBe(pattern);
    expect(report.threads[0]!.warmup!.samples).toBe((pattern === 'pareto' ? 8 : 1) * 2048);
  });

  it('-i -z -o -d -t rdtsc -e -p linear -r 30 are accepted and echoed', async () => {
    const opts = { ...SMALL, initialize: true, wrneedsrd: true, offset: 5, delayCycles: 20, timestamp: 'rdtsc', shape: 2, pattern: 'linear', ratio: 30 } as const;
    const { report } = await run(opts);
    sane(report, opts);
    expect(report.parameters).toMatchObject({ initialize: true, wrneedsrd: true, offset: 5, delay: 20, tsops: 'rdtsc', shape: 2, pattern: 'linear', ratio: 30 });
  });

  it('-q: no progress lines, throughput from latency', async () => {
    const { stdout, report } = await run({ ...SMALL, quiet: true });
    expect(stdout).not.toMatch(/^\[1\]|All threads joined/m);
    expect(report.parameters.quiet).toBe(true);
    expect(report.throughput.source).toBe('latency');
    expect(report.throughput.accessesPerSec).toBeCloseTo(1e6 / report.threads[0]!.benchmark.us, 6);
  });

  it("-f writes upstream's XML schema carrying the same data and metrics as the text report", async () => {
    const xmlFile = join(tmp, 'report.xml');
    const opts = { ...SMALL, jobs: 2, xmlFile };
    const { report } = await run(opts);
    const doc = readFileSync(xmlFile, 'utf8');
    expect(doc.split('\n').slice(0, 5)).toEqual([
      '<?xml version="1.0" encoding="utf-8"?>', '<pmbenchmark>', '  <report>', '    <signature>', '      <pmbench_info>',
    ]);
    expect(doc).toContain('<version_options> Linux 64bit +mt -nu -xa</version_options>');
    expect(doc).toContain('<offset>-1</offset>');
    expect(doc.match(/<histo_bucket index="0">/g)).toHaveLength(2 * 9); // upstream's repeated index
    expect(doc).toContain('<sys_mem_item name="post-unmap">');
    const fromXml = parsePmbenchXml(doc);
    expect(fromXml.format).toBe('xml');
    for (const key of ['signature', 'machine', 'histograms', 'memory', 'interrupted', 'samples', 'percentiles'] as const) {
      expect(fromXml[key], key).toEqual(report[key]);
    }
    // upstream's params have no threshold/wrneedsrd and print shape with 4 decimals
    expect(fromXml.parameters).toEqual({ ...report.parameters, shape: 1 });
    // the XML has no "Benchmark done" lines
    expect(fromXml.threads).toEqual(report.threads.map((t) => ({ ...t, done: null })));
    const { 'throughput.aps': aps, 'throughput.std_dev%': sd, ...rest } = fromXml.metrics;
    const { 'throughput.aps': textAps, 'throughput.std_dev%': textSd, ...textRest } = report.metrics;
    expect(rest).toEqual(textRest);
    // from latency (4 decimals) instead of N/S (3 decimals): the same within 0.1%
    expect(Math.abs(aps! / textAps! - 1)).toBeLessThan(1e-3);
    expect(Number.isFinite(sd) && Number.isFinite(textSd)).toBe(true);
  });

  it('-i announces the initialization time like upstream (LKP init_time.avg)', async () => {
    const { stdout, report } = await run({ ...SMALL, initialize: true });
    const m = stdout.match(/^Initialization took (\d+\.\d{4}) ms$/m);
    expect(m).not.toBeNull();
    expect(report.initializationMs).toBe(Number(m![1]));
    expect(report.metrics['init_time.avg']).toBe(Number(m![1]) / 1000);
    expect(report.parameters.initialize).toBe(true);
  });

  it('bad names exit 64 with a usage hint; out-of-range values print one line and exit 1', async () => {
    for (const args of [['-p', 'spiral', '1'], ['-t', 'hpet', '1'], ['-a', 'poke', '1'], ['--nonsense', '1'], []]) {
      const r = await execa(PMBENCH, args, { reject: false });
      expect(r.exitCode, args.join(' ')).toBe(64);
      expect(r.stderr).toMatch(/Try `pmbench --help' or `pmbench --usage'/);
    }
    for (const args of [['-r', '101', '1'], ['-m', '8', '-s', '16', '1'], ['-j', '0', '1'], ['-o', '1024', '1'], ['0']]) {
      const r = await execa(PMBENCH, args, { reject: false });
      expect(r.exitCode, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });

  it('SIGINT: partial report, flagged interrupted, exit 130', async () => {
    const xmlFile = join(tmp, 'interrupted.xml');
    const child = execa(PMBENCH, pmbenchArgs({ ...SMALL, durationSec: 30, xmlFile }), { reject: false });
    // progress lines are flushed as they go: wait for the main loop to start
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stdout!.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('Starting main benchmark')) resolve();
      });
      child.once('exit', () => reject(new Error(`pmbench exited before starting:\n${seen}`)));
    });
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    const report = parsePmbenchReport(r.stdout);
    expect(report.interrupted).toBe(true);
    expect(report.threads[0]!.done!.seconds).toBeLessThan(30);
    expect(report.samples.read + report.samples.write).toBe(report.samples.total);
    expect(parsePmbenchXml(readFileSync(xmlFile, 'utf8')).interrupted).toBe(true);
  });
});

/**
 * The shape of a report: numbers become N, host-specific values after the signature and
 * CPU labels are dropped, and runs of spaces in the fixed-width memory rows collapse.
 */
function layout(text: string): string[] {
  return text.trimEnd().split('\n').map((line) => {
    const label = line.match(/^(OS\/kernel type|Reported on|Benchmark UUID|CPU model name)\s*:/);
    if (label) return label[1]!;
    let shape = line.replace(/-?\d+(\.\d+)?/g, 'N');
    if (/^(pre-|mid-|post|  \(delta\)|\s+free\(K\))/.test(line)) shape = shape.replace(/\s+/g, ' ');
    return shape;
  });
}
