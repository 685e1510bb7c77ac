/**
 * The nightly trend page (`orchestrate history`) from a synthetic three-night history, in a
 * real headless chromium (Debian's /usr/bin/chromium via playwright-core): no console
 * errors, no request beyond the file, one mark per night in the verdict strip, one point per
 * night and variant per headline metric, the regression and the baseline changes marked.
 * Also: an old history line without figures takes them from its run's summary.json.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { trendNights } from '../../src/report/trend.js';
import { appendHistory, type HistoryHeadline } from '../../src/results/history.js';
import { launchChromium, openFile } from '../support/chromium.js';
import { noisy, writeFixtureRun } from '../support/report-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'fluidlab-trend-'));
const root = join(tmp, 'results');

function figures(latencyNs: number): HistoryHeadline {
  const v = (l: number) => ({ 'latency.ns.average': { mean: l, stdev: l * 0.03, n: 3 }, 'throughput.aps': { mean: 1e9 / l, stdev: 3e7 / l, n: 3 }, });
  return { metrics: ['latency.ns.average', 'throughput.aps'], values: { 'fluidmem-redis': v(latencyNs), 'swap-tmpfs': v(latencyNs * 0.8) } };
}

// Three nights of 'trend-demo': no baseline, ok against night 1, a +20% regression against
// night 2 (so the baseline changes twice); and one night of another experiment.
appendHistory(root, { runId: 'n1', experiment: 'trend-demo', time: '2026-01-01T02:00:00Z', status: 'ok', verdict: 'no-baseline', regressions: [], headline: figures(3000) });
appendHistory(root, { runId: 'n2', experiment: 'trend-demo', time: '2026-01-02T02:00:00Z', status: 'ok', verdict: 'ok', baseline: 'n1', regressions: [], headline: figures(3050),
  verdicts: [{ variant: 'fluidmem-redis', metric: 'latency.ns.average', change: 0.017, verdict: 'no-change' }] });
appendHistory(root, { runId: 'other-1', experiment: 'other', time: '2026-01-02T03:00:00Z', status: 'ok', verdict: 'no-baseline', regressions: [], headline: figures(100) });
appendHistory(root, { runId: 'n3', experiment: 'trend-demo', time: '2026-01-03T02:00:00Z', status: 'ok', verdict: 'regression', baseline: 'n2',
  regressions: ['fluidmem-redis: latency.ns.average +20.0%'], headline: figures(3660),
  verdicts: [{ variant: 'fluidmem-redis', metric: 'latency.ns.average', change: 0.2, verdict: 'worse' }] });

describe('trend nights', () => {
  it('takes the nights of one experiment in order and marks baseline changes', () => {
    const nights = trendNights(root, 'trend-demo');
    expect(nights.map((n) => [n.entry.runId, n.baselineChanged])).toEqual([['n1', false], ['n2', true], ['n3', true]]);
    expect(nights[0]!.label).toBe('1: 2026-01-01 02:00');
  });

  it('reads the figures of an old line without them from its run directory', () => {
    const r2 = join(tmp, 'results-old');
    writeFixtureRun({ root: r2, runId: 'old-1', experiment: 'old', variants: [
      { variant: 'dram', arm: 'dram', kind: 'none', metrics: { 'latency.ns.average': noisy(140, 3), 'throughput.aps': noisy(5e6, 3), 'vmstat.pswpin': [0, 0, 0] } }] });
    appendHistory(r2, { runId: 'old-1', experiment: 'old', time: '2026-01-01T02:00:00Z', status: 'ok', verdict: 'no-baseline', regressions: [] });
    const [night] = trendNights(r2, 'old');
    expect(night!.headline!.metrics).toEqual(['latency.ns.average', 'throughput.aps']);
    expect(night!.headline!.values['dram']!['latency.ns.average']!.n).toBe(3);
  });
});

describe('trend page in headless chromium', () => {
  let browser: BrowserContext;
  beforeAll(async () => {
    browser = await launchChromium(tmp);
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('loads without errors, one mark per night, the regression and baseline changes marked (via the CLI)', async () => {
    const out = join(tmp, 'trend.html');
    const printed: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: unknown) => { printed.push(String(s)); });
    expect(await main(['history', 'trend-demo', '-o', out, '--results-dir', root])).toBe(0);
    vi.restoreAllMocks();
    expect(printed.at(-1)).toBe(out);
    expect(printed.join('\n')).toMatch(/3: 2026-01-03 02:00 {2}n3 {2}regression {2}new baseline n2 {2}regressions: fluidmem-redis: latency\.ns\.average \+20\.0%/);
    const html = readFileSync(out, 'utf8');
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
    expect(html).not.toContain('other-1');

    const { page, url, ok, problems, requests } = await openFile(browser, out);
    expect(ok).toBe(true);
    expect(problems).toEqual([]);
    expect(requests).toEqual([url]);

    const charts = await page.$$eval('figure svg', (svgs) => svgs.map((svg) => ({
      title: svg.querySelector('.role-title-text')?.textContent ?? '',
      width: svg.getBoundingClientRect().width,
      // Each layer's marks: [vega class, number of marks].
      layers: Array.from(svg.querySelectorAll('g.role-mark'), (g) => [g.getAttribute('class') ?? '', g.querySelectorAll(':scope > path, :scope > line').length] as [string, number]),
    })));
    expect(charts.map((c) => c.title)).toEqual(['trend-demo: verdict per night', 'latency.ns.average across nights', 'throughput.aps across nights']);
    for (const c of charts) expect(c.width).toBeGreaterThan(200);
    const layer = (title: string, cls: RegExp) => charts.find((c) => c.title === title)!.layers.filter(([k]) => cls.test(k)).map(([, n]) => n);
    // One mark per night; the two baseline changes (nights 2 and 3) as rules.
    expect(layer('trend-demo: verdict per night', /mark-symbol/)).toEqual([3]);
    expect(layer('trend-demo: verdict per night', /mark-rule/)).toEqual([2]);
    // Per metric: a point per night and variant, a line per variant, and the regression
    // (fluidmem-redis latency on night 3) as one triangle; throughput has none.
    expect(layer('latency.ns.average across nights', /mark-symbol/)).toEqual([6, 1]);
    expect(layer('latency.ns.average across nights', /mark-line/)).toEqual([1, 1]);
    expect(layer('throughput.aps across nights', /mark-symbol/)).toEqual([6, 0]);
    // The night table: newest first, the regression in red, the new baseline noted.
    const rows = await page.$$eval('table.runs tr', (trs) => trs.slice(1).map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')));
    expect(rows.map((r) => [r[1], r[3]])).toEqual([['n3', 'regression'], ['n2', 'ok'], ['n1', 'no-baseline']]);
    expect(rows[0]![4]).toBe('n2 (new)');
    await page.screenshot({ path: join(tmp, 'trend.png'), fullPage: true });
    if (process.env.FLUIDLAB_KEEP_SCREENSHOT) {
      const { copyFileSync } = await import('node:fs');
      copyFileSync(join(tmp, 'trend.png'), process.env.FLUIDLAB_KEEP_SCREENSHOT);
    }
    await page.close();
  });

  it('says which experiments there are when the named one has no nights', async () => {
    await expect(main(['history', 'nope', '-o', join(tmp, 'x.html'), '--results-dir', root])).rejects.toThrow(/no nights of experiment 'nope' in .*history\.jsonl \(experiments there: trend-demo, other\)/);
  });
});
