/**
 * `orchestrate report`: a self-contained HTML file from a results directory, checked in a
 * real headless chromium (Debian's /usr/bin/chromium via playwright-core): no console errors,
 * no requests beyond the file itself, and the plots are SVGs with marks in them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { writeReport } from '../../src/report/build.js';
import { launchChromium, openFile } from '../support/chromium.js';
import { noisy, writeFixtureRun } from '../support/report-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'fluidlab-report-'));

function fixture(runId: string) {
  return writeFixtureRun({
    root: join(tmp, 'results'), runId, experiment: 'report-demo',
    variants: [
      { variant: 'dram', arm: 'dram', kind: 'none', medianNs: 120, metrics: {
        'latency.ns.average': noisy(140, 3), 'throughput.aps': noisy(5.1e6, 3), 'latency.ns.p99': noisy(900, 3),
        'read.latency.ns.256-512%': noisy(12, 3), 'vmstat.pswpin': [0, 0, 0] } },
      { variant: 'fluidmem-dram', arm: 'fluidmem-dram', kind: 'fluidmem', medianNs: 2400, metrics: {
        'latency.ns.average': noisy(3100, 3, 0.05), 'throughput.aps': noisy(2.9e5, 3, 0.05), 'latency.ns.p99': noisy(42000, 3),
        'handler.faults': noisy(90000, 3), 'handler.evictions': noisy(70000, 3), 'handler.remote_fetches': noisy(60000, 3),
        'handler.fault_latency_ns.p50': noisy(5200, 3), 'handler.fault_latency_ns.p99': noisy(31000, 3) } },
      { variant: 'swap', arm: 'swap', kind: 'swap', medianNs: 5200, failedReps: [2], metrics: {
        'latency.ns.average': noisy(7000, 3, 0.1), 'throughput.aps': noisy(1.3e5, 3, 0.1), 'vmstat.pswpin': noisy(40000, 3) } },
    ],
  });
}

describe('report HTML', () => {
  it('embeds config, host facts, versions and a statistics table per variant', async () => {
    const { dir } = fixture('run-static');
    const out = await writeReport({ runDir: dir });
    expect(out).toBe(join(dir, 'report.html'));
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('6.1.0-test');
    expect(html).toContain('Test CPU');
    expect(html).toMatch(/QEMU<\/th><td>7\.2\.0/);
    expect(html).toContain('# synthetic fixture');
    for (const v of ['dram', 'fluidmem-dram', 'swap']) expect(html).toContain(`<h3>${v} <small>arm ${v}`);
    expect(html).toContain('1 failed');
    // Histogram band shares and all-zero counters are folded away under the headline metrics.
    expect(html).toMatch(/<details><summary>2 more metrics[^]*read\.latency\.ns\.256-512%[^]*<\/details>/);
    expect(html.split('<details>')[0]).not.toContain('read.latency.ns.256-512%');
    expect(html).toContain('guest did not boot (synthetic)');
    // Self-contained: no scripts, no external stylesheets, images or fonts.
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
  });

  it('shows handler activity only when the results have handler metrics', async () => {
    const { dir } = writeFixtureRun({ root: join(tmp, 'results'), runId: 'run-nohandler', variants: [
      { variant: 'dram', arm: 'dram', kind: 'none', metrics: { 'latency.ns.average': [1, 2] } }] });
    const html = readFileSync(await writeReport({ runDir: dir, out: join(tmp, 'nohandler.html') }), 'utf8');
    expect(html).not.toContain('Fault handler activity');
    expect(html).toContain('No latency histograms');
  });
});

describe('report in headless chromium', () => {
  let browser: BrowserContext;
  beforeAll(async () => {
    browser = await launchChromium(tmp);
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('loads without errors or network requests and shows the plots (via the CLI)', async () => {
    const { dir } = fixture('run-browser');
    const out = join(tmp, 'browser.html');
    expect(await main(['report', dir, '-o', out])).toBe(0);
    const { page, url, ok, problems, requests } = await openFile(browser, out);
    expect(ok).toBe(true);
    expect(problems).toEqual([]);
    expect(requests).toEqual([url]);

    const figures = await page.$$eval('figure svg', (svgs) => svgs.map((svg) => {
      const box = svg.getBoundingClientRect();
      return {
        width: box.width, height: box.height,
        titles: Array.from(svg.querySelectorAll('.role-title-text'), (t) => t.textContent ?? ''),
        marks: svg.querySelectorAll('.role-mark path, .role-mark line, .role-mark rect').length,
      };
    }));
    const titles = figures.flatMap((f) => f.titles);
    for (const t of ['read latency histogram (all repetitions)', 'read latency CDF', 'write latency CDF', 'latency.ns.average per repetition',
      'fault handler activity per run', 'handler fault latency (ns)']) expect(titles).toContain(t);
    for (const f of figures) {
      expect(f.width).toBeGreaterThan(100);
      expect(f.height).toBeGreaterThan(100);
      expect(f.marks).toBeGreaterThan(0);
    }
    // The CDF has one line per variant with histograms (swap's failed repetition is skipped, the others count).
    const cdfLines = await page.$$eval('figure svg', (svgs) => {
      const cdf = svgs.find((s) => Array.from(s.querySelectorAll('.role-title-text')).some((t) => t.textContent === 'read latency CDF'));
      return cdf ? cdf.querySelectorAll('.mark-line path').length : -1;
    });
    expect(cdfLines).toBe(3);
    await page.screenshot({ path: join(tmp, 'report.png'), fullPage: true });
    expect(readFileSync(join(tmp, 'report.png')).subarray(1, 4).toString()).toBe('PNG');
    if (process.env.FLUIDLAB_KEEP_SCREENSHOT) {
      const { copyFileSync } = await import('node:fs');
      copyFileSync(join(tmp, 'report.png'), process.env.FLUIDLAB_KEEP_SCREENSHOT);
      copyFileSync(out, `${process.env.FLUIDLAB_KEEP_SCREENSHOT}.html`);
    }
    await page.close();
  });

  it('fails with a message that says what to do for an unknown run', async () => {
    const prev = process.env.FLUIDLAB_RESULTS_DIR;
    process.env.FLUIDLAB_RESULTS_DIR = join(tmp, 'results');
    try {
      await expect(main(['report', 'no-such-run'])).rejects.toThrow(/not a results directory.*latest runs: /);
    } finally {
      if (prev === undefined) delete process.env.FLUIDLAB_RESULTS_DIR;
      else process.env.FLUIDLAB_RESULTS_DIR = prev;
    }
  });
});
