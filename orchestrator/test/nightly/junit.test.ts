/** JUnit XML of a nightly run (pure logic on synthetic results), parsed back with an XML reader. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { junitXml } from '../../src/nightly/junit.js';
import { parseXml, type XmlElement } from '../../src/pmbench/xmltree.js';
import { compareSummaries } from '../../src/stats/compare.js';
import { noisy, writeFixtureRun } from '../support/report-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'fluidlab-junit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cases = (suite: XmlElement) => suite.children.filter((c) => c.name === 'testcase');

describe('junitXml', () => {
  const base = writeFixtureRun({ root: tmp, runId: 'base', experiment: 'exp', variants: [
    { variant: 'dram <&"\'>', arm: 'dram', kind: 'none', metrics: { 'latency.ns.average': noisy(100, 3), 'handler.faults': [5, 5, 5] } },
    { variant: 'one-rep', arm: 'one', kind: 'none', metrics: { 'latency.ns.average': [100] } }] });
  const now = writeFixtureRun({ root: tmp, runId: 'now', experiment: 'exp', variants: [
    { variant: 'dram <&"\'>', arm: 'dram', kind: 'none', failedReps: [4], metrics: { 'latency.ns.average': noisy(150, 4), 'handler.faults': [5, 5, 5, 5] } },
    { variant: 'one-rep', arm: 'one', kind: 'none', metrics: { 'latency.ns.average': [300] } }] });

  it('has one testcase per run and per variant x headline metric: regression = failure, failed run = error, too few runs = skipped', () => {
    const comparison = compareSummaries(base.summary, now.summary);
    const xml = junitXml({ experiment: 'exp', runId: 'now', baseline: 'base', timestamp: '2026-01-01T00:00:00Z', durationMs: 1234,
      summary: now.summary, comparison, gitRevision: 'abc' });
    const doc = parseXml(xml);
    expect(doc.name).toBe('testsuites');
    const suite = doc.children[0]!;
    expect(suite.attrs).toMatchObject({ name: 'exp', tests: '7', failures: '1', errors: '1', skipped: '1', time: '1.234' });
    const byName = new Map(cases(suite).map((c) => [`${c.attrs.classname}/${c.attrs.name}`, c]));
    const regression = byName.get('exp.dram <&"\'>/latency.ns.average')!;
    expect(regression.children.map((c) => c.name)).toEqual(['failure']);
    expect(regression.children[0]!.attrs.message).toMatch(/^dram <&"'> latency\.ns\.average \+\d+\.\d+% \(worse\)$/);
    // Not a headline metric: no verdict, so no test case.
    expect(byName.has('exp.dram <&"\'>/handler.faults')).toBe(false);
    expect(byName.get('exp.one-rep/latency.ns.average')!.children.map((c) => c.name)).toEqual(['skipped', 'system-out']);
    const failedRun = [...byName.values()].find((c) => c.children.some((x) => x.name === 'error'))!;
    expect(failedRun.attrs.classname).toBe('exp.runs');
    expect(failedRun.attrs.name).toMatch(/-r4$/);
    const props = suite.children.find((c) => c.name === 'properties')!.children.map((p) => [p.attrs.name, p.attrs.value]);
    expect(props).toEqual([['runId', 'now'], ['baseline', 'base'], ['gitRevision', 'abc'], ['threshold', '0.05']]);
  });

  it('records an experiment that produced no results as one error', () => {
    const xml = junitXml({ experiment: 'exp', timestamp: '2026-01-01T00:00:00Z', durationMs: 10, error: 'config.yaml:3: bad\n\u0001more' });
    const suite = parseXml(xml).children[0]!;
    expect(suite.attrs).toMatchObject({ tests: '1', errors: '1', failures: '0' });
    const err = cases(suite)[0]!.children[0]!;
    expect(err.attrs).toMatchObject({ type: 'run-failed', message: 'config.yaml:3: bad' });
    expect(xml).not.toContain('\u0001');
  });
});
