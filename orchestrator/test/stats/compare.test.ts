/**
 * `orchestrate compare` on synthetic results directories: a known shift is found with the
 * right sign and verdict, identical distributions are not flagged, the noise threshold and
 * informational metrics behave, and A/B resolve from ids, directories and experiment names.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
    expect(row(c, 'handler.evictions').verdict).toBe('no-change');
    expect(c.regressions.map((r) => r.metric).sort()).toEqual(['latency.ns.average', 'throughput.aps']);
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
      expect(r.verdict).toBe('no-change');
    }
    const redrawn = run('b-redrawn', levels(4));
    const c2 = compareSummaries(a.summary, redrawn.summary);
    expect(c2.rows.map((r) => r.verdict)).toEqual(['no-change', 'no-change', 'no-change']);
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

  it('calls a significant change of an informational metric changed, not a regression', () => {
    const more = run('b-evict', { ...base, 'handler.evictions': noisy(140_000, REPS, 0.01, 1) });
    const c = compareSummaries(a.summary, more.summary);
    expect(row(c, 'handler.evictions').verdict).toBe('changed');
    expect(c.regressions).toEqual([]);
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
    expect(text).toContain('2 worse, 0 better');
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
