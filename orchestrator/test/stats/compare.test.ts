/**
 * `orchestrate compare` on synthetic results directories: a known shift is found with the
 * right sign and verdict, identical distributions are not flagged, the noise threshold
 * behaves, verdicts come only from the headline metrics (config, flags or defaults) with
 * enough repetitions, a quantized metric's one-bucket move is not a regression, and A/B
 * resolve from ids, directories and experiment names.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { resolveRunRef } from '../../src/results/locate-run.js';
import { compareSummaries, type Comparison } from '../../src/stats/compare.js';
import { noisy, writeFixtureRun } from '../support/report-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'fluidlab-compare-'));
const root = join(tmp, 'results');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const REPS = 5;
const LEVELS: Record<string, [number, number]> = {
  'latency.ns.average': [3000, 0.03],
  'throughput.aps': [300_000, 0.03],
  'handler.evictions': [70_000, 0.01],
};
/** Repetitions at the base levels; `phase` picks other draws of the same noise. */
const levels = (phase: number) => Object.fromEntries(Object.entries(LEVELS).map(([k, [level, spread]]) => [k, noisy(level, REPS, spread, phase)]));
const base = levels(0);

function run(runId: string, metrics: Record<string, number[]>, extra: Partial<Parameters<typeof writeFixtureRun>[0]> = {}) {
  return writeFixtureRun({ root, runId, variants: [{ variant: 'fluidmem-dram', arm: 'fluidmem-dram', kind: 'fluidmem', metrics }], ...extra });
}

function row(c: Comparison, metric: string) {
  const r = c.rows.find((x) => x.metric === metric);
  if (!r) throw new Error(`no row for ${metric}`);
  return r;
}

async function cliJson(args: string[]): Promise<Comparison> {
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((s: unknown) => { out.push(String(s)); });
  expect(await main(['compare', ...args, '--json'])).toBe(0);
  return JSON.parse(out.join('\n')) as Comparison;
}

describe('compare', () => {
  const a = run('a', base);
  // B: 20% slower, 1/1.2 the throughput, same evictions -- different noise (other phase).
  const slow = run('b-slow', {
    'latency.ns.average': noisy(3600, REPS, 0.03, 2),
    'throughput.aps': noisy(250_000, REPS, 0.03, 2),
    'handler.evictions': noisy(70_000, REPS, 0.01, 2),
  });

  it('detects a known slowdown with the right sign and verdict (through the CLI, by run id)', async () => {
    const c = await cliJson(['a', 'b-slow', '--results', root]);
    const lat = row(c, 'latency.ns.average');
    expect(lat.change!).toBeGreaterThan(0.15);
    expect(lat.change!).toBeLessThan(0.25);
    expect(lat.ciLow!).toBeGreaterThan(0.05);
    expect(lat.ciLow!).toBeLessThanOrEqual(lat.change!);
    expect(lat.ciHigh!).toBeGreaterThanOrEqual(lat.change!);
    expect(lat.verdict).toBe('worse');
    const thr = row(c, 'throughput.aps');
    expect(thr.change!).toBeLessThan(-0.1);
    expect(thr.verdict).toBe('worse');
    expect(row(c, 'handler.evictions').verdict).toBe('informational');
    expect(c.regressions.map((r) => r.metric).sort()).toEqual(['latency.ns.average', 'throughput.aps']);
    // Two headline tests: each interval at 99.5% (Bonferroni for 99% overall).
    expect(c.headline).toMatchObject({ metrics: ['latency.ns.average', 'throughput.aps'], minRepetitions: 3, tests: 2 });
    expect(c.headline.level).toBeCloseTo(0.995, 12);
    expect(lat.level).toBeCloseTo(0.995, 12);
    expect(row(c, 'handler.evictions').level).toBe(0.99);
  });

  it('--fail-on-regression exits 1 only when B is significantly worse', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(await main(['compare', 'a', 'b-slow', '--results', root, '--fail-on-regression'])).toBe(1);
    expect(await main(['compare', 'b-slow', 'a', '--results', root, '--fail-on-regression'])).toBe(0);
    expect(await main(['compare', 'a', 'b-slow', '--results', root])).toBe(0);
  });

  it('reports the same shift the other way round as better', () => {
    const c = compareSummaries(slow.summary, a.summary);
    expect(row(c, 'latency.ns.average').verdict).toBe('better');
    expect(row(c, 'throughput.aps').verdict).toBe('better');
    expect(c.regressions).toEqual([]);
  });

  it('does not flag identical distributions (same values, other order; and other draws of the same noise)', () => {
    const shuffled = run('b-same', Object.fromEntries(Object.entries(base).map(([k, v]) => [k, [...v].reverse()])));
    const c = compareSummaries(a.summary, shuffled.summary);
    for (const r of c.rows) {
      expect(r.change).toBeCloseTo(0, 12);
      expect(r.verdict).toBe(r.headline ? 'no-change' : 'informational');
    }
    const redrawn = run('b-redrawn', levels(4));
    const c2 = compareSummaries(a.summary, redrawn.summary);
    expect(c2.rows.map((r) => [r.metric, r.verdict])).toEqual([
      ['latency.ns.average', 'no-change'], ['throughput.aps', 'no-change'], ['handler.evictions', 'informational']]);
  });

  it('applies the noise threshold: a small but certain shift is flagged only under a lower threshold', async () => {
    const tight = { 'latency.ns.average': noisy(1000, REPS, 0.001) };
    run('t-a', tight);
    run('t-b', { 'latency.ns.average': noisy(1030, REPS, 0.001, 1) });
    const def = await cliJson(['t-a', 't-b', '--results', root]);
    expect(row(def, 'latency.ns.average')).toMatchObject({ verdict: 'no-change' });
    expect(row(def, 'latency.ns.average').ciLow!).toBeGreaterThan(0);
    const low = await cliJson(['t-a', 't-b', '--results', root, '--threshold', '2']);
    expect(row(low, 'latency.ns.average').verdict).toBe('worse');
    expect(low.threshold).toBe(0.02);
  });

  it('gives a metric outside the headline no verdict (informational), however much it moved', () => {
    const more = run('b-evict', { ...base, 'handler.evictions': noisy(140_000, REPS, 0.01, 1) });
    const c = compareSummaries(a.summary, more.summary);
    expect(row(c, 'handler.evictions').verdict).toBe('informational');
    expect(row(c, 'handler.evictions').change!).toBeGreaterThan(0.9);
    expect(c.regressions).toEqual([]);
  });

  it("judges by the headline of B's config.yaml, or by --metrics", async () => {
    const hl = run('b-hl', { ...base, 'handler.evictions': noisy(140_000, REPS, 0.01, 1) });
    const cfg = join(hl.dir, 'config.yaml');
    writeFileSync(cfg, `${readFileSync(cfg, 'utf8')}headline:\n  metrics: [handler.evictions]\n  min_repetitions: 4\n`);
    const c = await cliJson(['a', 'b-hl', '--results', root]);
    expect(c.headline).toMatchObject({ metrics: ['handler.evictions'], minRepetitions: 4, tests: 1 });
    expect(row(c, 'handler.evictions')).toMatchObject({ headline: true, verdict: 'changed' });
    expect(row(c, 'latency.ns.average').verdict).toBe('informational');
    const flagged = await cliJson(['a', 'b-slow', '--results', root, '--metrics', 'throughput.aps']);
    expect(flagged.regressions.map((r) => r.metric)).toEqual(['throughput.aps']);
    expect(row(flagged, 'latency.ns.average').verdict).toBe('informational');
  });

  it('says "not enough runs" with 2 repetitions a side (quickstart), and a one-bucket move of the handler p99 is no regression', async () => {
    // The case of issue 12: two repetitions per side, handler.fault_latency_ns.p99 one bucket
    // up (16384 -> 19112 ns, +16.7%), which the percentile bootstrap called worse with
    // interval [+16.7%, +16.7%].
    const two = (lat: number, p99: number) => ({ 'latency.ns.average': [lat, lat * 1.01], 'throughput.aps': [1e5, 1.01e5], 'handler.fault_latency_ns.p99': [p99, p99] });
    run('q-a', two(3000, 16384));
    run('q-b', two(3030, 19112));
    const c = await cliJson(['q-a', 'q-b', '--results', root, '--metrics', 'latency.ns.average,handler.fault_latency_ns.p99']);
    expect(row(c, 'handler.fault_latency_ns.p99')).toMatchObject({ verdict: 'not-enough-runs', resolution: 0.25 });
    expect(row(c, 'latency.ns.average').verdict).toBe('not-enough-runs');
    expect(c.regressions).toEqual([]);
    // With enough runs the same one-bucket move is still not a verdict (resolution 25%).
    const c2 = await cliJson(['q-a', 'q-b', '--results', root, '--metrics', 'handler.fault_latency_ns.p99', '--min-repetitions', '2']);
    expect(row(c2, 'handler.fault_latency_ns.p99')).toMatchObject({ verdict: 'no-change', threshold: 0.25 });
    expect(row(c2, 'handler.fault_latency_ns.p99').ciLow!).toBeLessThan(row(c2, 'handler.fault_latency_ns.p99').ciHigh!);
  });

  it('flags a +20% latency shift at 5 repetitions a side with 3% noise, Bonferroni over 4 variants x 2 metrics', () => {
    const variants = (shift: number, phase: number) => ['v1', 'v2', 'v3', 'v4'].map((v, i) => ({
      variant: v, arm: v, kind: 'fluidmem' as const,
      metrics: { 'latency.ns.average': noisy(3000 * (i + 1) * (v === 'v2' ? shift : 1), 5, 0.03, phase + i), 'throughput.aps': noisy(1e5 / (i + 1), 5, 0.03, phase + i) },
    }));
    const before = writeFixtureRun({ root, runId: 's-a', variants: variants(1, 0) });
    const after = writeFixtureRun({ root, runId: 's-b', variants: variants(1.2, 3) });
    const c = compareSummaries(before.summary, after.summary);
    expect(c.headline.tests).toBe(8);
    expect(c.headline.level).toBeCloseTo(1 - 0.01 / 8, 12);
    expect(c.regressions.map((r) => `${r.variant} ${r.metric}`)).toEqual(['v2 latency.ns.average']);
  });

  it('is repeatable: the same inputs give the same intervals', () => {
    expect(compareSummaries(a.summary, slow.summary)).toEqual(compareSummaries(a.summary, slow.summary));
  });

  it('lists variants only one side has', () => {
    const other = writeFixtureRun({ root, runId: 'b-other', variants: [
      { variant: 'fluidmem-dram', arm: 'fluidmem-dram', kind: 'fluidmem', metrics: base },
      { variant: 'swap', arm: 'swap', kind: 'swap', metrics: { 'latency.ns.average': [1, 2] } }] });
    const c = compareSummaries(a.summary, other.summary);
    expect(c.onlyInB).toEqual(['swap']);
    expect(c.rows.every((r) => r.variant === 'fluidmem-dram')).toBe(true);
  });

  it('prints a readable table by default', async () => {
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: unknown) => { out.push(String(s)); });
    expect(await main(['compare', a.dir, slow.dir])).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/fluidmem-dram\s+latency\.ns\.average\s+.*\+\d+\.\d%\s+\[\+\d+\.\d%, \+\d+\.\d%\]\s+worse/);
    expect(text).toContain('headline: 2 worse, 0 better, 0 no significant change of 2; 1 informational metrics (no verdict)');
  });

  it('rejects a bad threshold with the usage', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await main(['compare', 'a', 'b-slow', '--results', root, '--threshold', 'lots'])).toBe(2);
  });
});

describe('locating runs', () => {
  const r2 = join(tmp, 'results2');
  writeFixtureRun({ root: r2, runId: 'exp-x-1', experiment: 'exp-x', startedAt: '2026-01-01T00:00:00Z', variants: [{ variant: 'v', arm: 'v', kind: 'none', metrics: { m: [1] } }] });
  writeFixtureRun({ root: r2, runId: 'exp-x-2', experiment: 'exp-x', startedAt: '2026-01-02T00:00:00Z', variants: [{ variant: 'v', arm: 'v', kind: 'none', metrics: { m: [1] } }] });
  writeFixtureRun({ root: r2, runId: 'exp-y-1', experiment: 'exp-y', startedAt: '2026-01-03T00:00:00Z', variants: [{ variant: 'v', arm: 'v', kind: 'none', metrics: { m: [1] } }] });

  it('takes the latest run of an experiment by scanning summaries, or from the history index', () => {
    expect(resolveRunRef('exp-x', r2)).toBe(join(r2, 'exp-x-2'));
    appendFileSync(join(r2, 'history.jsonl'), `${JSON.stringify({ runId: 'exp-x-1', experiment: 'exp-x', time: '2026-01-05T00:00:00Z', status: 'ok', verdict: 'ok', regressions: [] })}\n`);
    expect(resolveRunRef('exp-x', r2)).toBe(join(r2, 'exp-x-1'));
  });

  it('takes the latest run of a config file by its experiment name', () => {
    const cfg = join(tmp, 'y.yaml');
    writeFileSync(cfg, 'name: exp-y\nvms:\n  - name: vm0\n    memory: 256M\nworkload:\n  command: ["true"]\n');
    expect(resolveRunRef(cfg, r2)).toBe(join(r2, 'exp-y-1'));
  });

  it('says what it accepts when nothing matches', () => {
    expect(() => resolveRunRef('nope', r2)).toThrow(/not a results directory .* latest runs: exp-x-1, exp-x-2, exp-y-1/);
  });
});
