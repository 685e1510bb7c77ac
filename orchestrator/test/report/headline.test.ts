/**
 * The headline at the top of every report (report/headline.ts) on synthetic results: the
 * config's headline pair with the ratio of means and its interval, before the detailed
 * tables; without a headline compare, the reference block's ratio pairs, else the first
 * fluidmem arm over the first swap arm; with a baseline, the headline verdicts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { headlineRatios } from '../../src/report/headline.js';
import { writeReport } from '../../src/report/build.js';
import { readResults } from '../../src/results/store.js';
import type { Summary } from '../../src/results/types.js';
import { compareSummaries } from '../../src/stats/compare.js';
import { DEFAULT_HEADLINE, headlineFromConfigText } from '../../src/stats/headline.js';
import { noisy, writeFixtureRun } from '../support/report-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'fluidlab-headline-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(runId: string, fmLatency: number, extraConfig = '') {
  const r = writeFixtureRun({ root: tmp, runId, variants: [
    { variant: 'dram', arm: 'dram', kind: 'none', metrics: { 'latency.ns.average': noisy(140, 3), 'throughput.aps': noisy(5e6, 3) } },
    { variant: 'fluidmem-redis', arm: 'fluidmem-redis', kind: 'fluidmem', metrics: { 'latency.ns.average': noisy(fmLatency, 3, 0.02), 'throughput.aps': noisy(1e9 / fmLatency, 3, 0.02) } },
    { variant: 'swap-tmpfs', arm: 'swap-tmpfs', kind: 'swap', metrics: { 'latency.ns.average': noisy(4000, 3, 0.02, 1), 'throughput.aps': noisy(2.5e5, 3, 0.02, 1) } },
  ] });
  if (extraConfig) writeFileSync(join(r.dir, 'config.yaml'), `${readFileSync(join(r.dir, 'config.yaml'), 'utf8')}${extraConfig}`);
  return r;
}

describe('report headline', () => {
  it("comes first and shows the config's pair as a ratio with its interval", async () => {
    const { dir } = run('h-config', 3000, 'headline:\n  compare: [fluidmem-redis, dram]\n  metrics: [latency.ns.average]\n');
    const html = readFileSync(await writeReport({ runDir: dir }), 'utf8');
    expect(html.slice(html.indexOf('<section id='))).toMatch(/^<section id="headline"><h2>Headline<\/h2>/);
    expect(html.indexOf('id="headline"')).toBeLessThan(html.indexOf('id="arms"'));
    // 3000 / 140 ~ 21.4x, with an interval around it.
    expect(html).toMatch(/<strong>fluidmem-redis \/ dram<\/strong><\/td><td class="metric">latency\.ns\.average<\/td><td><strong>21\.\d×<\/strong><\/td><td>\[2\d\.\d×, 2\d\.\d×\]<\/td>/);
    expect(html).toContain('(from the config)');
    expect(html).not.toMatch(/fluidmem-redis \/ swap-tmpfs/);
  });

  it('without a headline compare: the reference ratios, else first fluidmem arm / first swap arm', () => {
    const { dir, summary } = run('h-default', 3000);
    const spec = headlineFromConfigText(readFileSync(join(dir, 'config.yaml'), 'utf8'));
    expect(spec).toEqual(DEFAULT_HEADLINE);
    const plain = headlineRatios(spec, summary);
    expect(plain.map((r) => `${r.variantA}/${r.variantB} ${r.metric}`)).toEqual([
      'fluidmem-redis/swap-tmpfs latency.ns.average', 'fluidmem-redis/swap-tmpfs throughput.aps']);
    expect(plain[0]!.ratio!).toBeCloseTo(0.75, 1);
    expect(plain[0]!.low!).toBeLessThan(plain[0]!.ratio!);
    expect(plain[0]!.high!).toBeGreaterThan(plain[0]!.ratio!);
    const withRef: Summary = { ...summary, reference: { name: 'seed', metric: 'latency.ns.average', unit: 'us', rows: [],
      ratios: [{ a: 'swap-tmpfs', b: 'dram', variantA: 'swap-tmpfs', variantB: 'dram', ours: null, reference: null }] } };
    expect(headlineRatios(spec, withRef).map((r) => `${r.variantA}/${r.variantB}`)).toEqual(['swap-tmpfs/dram', 'swap-tmpfs/dram']);
  });

  it('with a baseline: the headline verdicts follow the ratio', async () => {
    const before = run('h-before', 3000);
    const after = run('h-after', 3600);
    const comparison = compareSummaries(before.summary, readResults(after.dir).summary);
    const html = readFileSync(await writeReport({ runDir: after.dir, comparison, out: join(tmp, 'after.html') }), 'utf8');
    const head = html.slice(html.indexOf('id="headline"'), html.indexOf('id="comparison"'));
    expect(head).toContain('Against baseline <code>h-before</code>');
    expect(head).toMatch(/<tr class="bad"><td class="metric">fluidmem-redis<\/td><td class="metric">latency\.ns\.average<\/td><td>\+20\.\d%<\/td>.*?<td>worse<\/td>/);
    expect(head).toMatch(/<td class="metric">dram<\/td><td class="metric">latency\.ns\.average<\/td><td>[+-]?0\.0%<\/td>.*?<td>no significant change<\/td>/);
  });
});
