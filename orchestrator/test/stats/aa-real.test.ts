/**
 * Integration, the A/A check of issue 12 on real runs: the same commit run twice (a
 * host-placed tiny config: fluidmem-redis and fluidmem-dram, 3 repetitions each of a 2 s
 * pmbench, real fault handler and Redis), then
 * - the real comparison of run 2 against run 1 flags nothing (no headline verdict 'worse',
 *   'better' or 'changed'), and of the 10 ways to split the 6 repetitions of each variant
 *   into two runs of 3 (C(6,3)/2 = 10 comparisons of the same commit) at most one flags
 *   anything. The 10 splits always include the most extreme 3+3 partition of every metric
 *   (top three against bottom three), so even a sound test flags one of them now and then:
 *   at the default 99% family-wise level, simulated with normal and log-normal noise, no
 *   split is flagged 96.5% of the time and at most one 99.9% of the time; the old percentile
 *   bootstrap flagged 41-123 metrics (0-26 'worse') in each of 15 real A/A pairs here;
 * - a nightly of run 2 against run 1 as its baseline exits 0, and its report opens with the
 *   headline (fluidmem-redis / fluidmem-dram with an interval, then the verdicts).
 * No swap arm: the host swap-tmpfs arm (swap on a loop device backed by /dev/shm) deadlocked
 * this host's kernel during an earlier version of this test (/work/notes/loop0-swap-deadlock.md).
 * A known +20% shift being flagged is tested on controlled noise (compare.test.ts and
 * stats.test.ts): on this shared two-core host the run-to-run spread of 3 repetitions is
 * often far wider than 20%, and the verdicts must then say "no significant change".
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { runExperiment } from '../../src/experiment/runner.js';
import { runNightly } from '../../src/nightly/nightly.js';
import { readResults } from '../../src/results/store.js';
import { metricStats } from '../../src/results/summarize.js';
import type { Summary } from '../../src/results/types.js';
import { compareSummaries, type Comparison } from '../../src/stats/compare.js';
import { formatComparison } from '../../src/stats/format-comparison.js';
import { headlineFromConfig } from '../../src/stats/headline.js';

process.env.FLUIDLAB_RUNS_DIR = mkdtempSync(join(tmpdir(), 'fluidlab-aa-runs-'));
const resultsRoot = mkdtempSync(join(tmpdir(), 'fluidlab-aa-results-'));
const configDir = mkdtempSync(join(tmpdir(), 'fl-aa-cfg-'));
afterAll(() => {
  for (const dir of [resultsRoot, configDir, process.env.FLUIDLAB_RUNS_DIR!]) rmSync(dir, { recursive: true, force: true });
});

/** configs/host-tiny.yaml with the two fluidmem arms, 3 repetitions and the headline pair. */
function aaConfig(): string {
  const cfg = join(configDir, 'aa.yaml');
  const src = readFileSync('configs/host-tiny.yaml', 'utf8')
    .replace(/^name: host-tiny$/m, 'name: aa-check')
    .replace(/arms:[\s\S]*?workload:/, 'arms:\n' +
      '  - { name: fluidmem-redis, kind: fluidmem, backend: redis, resident: 16M, placement: host }\n' +
      '  - { name: fluidmem-dram, kind: fluidmem, backend: dram, resident: 16M, placement: host }\n' +
      'workload:')
    .replace(/^repetitions: \d+$/m, 'repetitions: 3\nheadline:\n  compare: [fluidmem-redis, fluidmem-dram]\n  min_repetitions: 3');
  writeFileSync(cfg, src);
  return cfg;
}

/** Every split of indices 0..5 into two groups of 3, each split once (0 always in the first). */
function splits(): [number[], number[]][] {
  const out: [number[], number[]][] = [];
  for (let i = 1; i < 6; i++) for (let j = i + 1; j < 6; j++) {
    const first = [0, i, j];
    out.push([first, [0, 1, 2, 3, 4, 5].filter((k) => !first.includes(k))]);
  }
  return out;
}

/** A summary whose variants hold the chosen repetitions (indices into run 1's then run 2's). */
function resampled(base: Summary, one: Summary, two: Summary, pick: number[], runId: string): Summary {
  const variants = base.variants.map((v) => {
    const v1 = one.variants.find((x) => x.variant === v.variant)!;
    const v2 = two.variants.find((x) => x.variant === v.variant)!;
    const metrics = Object.fromEntries(Object.keys(v1.metrics).filter((m) => v2.metrics[m]).map((m) => {
      const pooled = [...v1.metrics[m]!.values, ...v2.metrics[m]!.values];
      return [m, metricStats(pick.map((k) => pooled[k]!))];
    }));
    return { ...v, metrics };
  });
  return { ...base, runId, variants };
}

function flagged(c: Comparison): string[] {
  return c.rows.filter((r) => ['worse', 'better', 'changed'].includes(r.verdict)).map((r) => `${r.variant} ${r.metric} ${r.verdict} ${r.change}`);
}

describe('A/A on real runs of the same commit', () => {
  const config = aaConfig();
  const headline = headlineFromConfig(loadConfig(config).config.headline);
  let dirs: string[] = [];

  it('runs the config twice', async () => {
    for (let i = 0; i < 2; i++) {
      const { summary, dir } = await runExperiment(loadConfig(config), { resultsRoot });
      expect(summary.failed, JSON.stringify(summary.runs.filter((r) => r.status !== 'ok'))).toBe(0);
      dirs.push(dir);
    }
    expect(headline).toMatchObject({ metrics: ['latency.ns.average', 'throughput.aps'], compare: [['fluidmem-redis', 'fluidmem-dram']], minRepetitions: 3 });
  }, 900_000);

  it('flags nothing: the real comparison and all 10 splits of the 6 repetitions into 3 + 3', () => {
    expect(dirs).toHaveLength(2);
    const [one, two] = dirs.map((d) => readResults(d).summary) as [Summary, Summary];
    const real = compareSummaries(one, two, { headline });
    console.log(formatComparison(real));
    expect(real.headline.tests).toBe(4);
    expect(flagged(real)).toEqual([]);
    const all = splits();
    expect(all).toHaveLength(10);
    const flaggedSplits: string[] = [];
    for (const [i, [pa, pb]] of all.entries()) {
      const c = compareSummaries(resampled(one, one, two, pa, `split-${i}-a`), resampled(one, one, two, pb, `split-${i}-b`), { headline });
      expect(c.headline.tests).toBe(4);
      if (flagged(c).length) flaggedSplits.push(`split ${pa} | ${pb}: ${flagged(c).join('; ')}\n${formatComparison(c)}`);
    }
    console.log(`A/A splits flagged: ${flaggedSplits.length} of 10`);
    expect(flaggedSplits.length, flaggedSplits.join('\n\n')).toBeLessThanOrEqual(1);
    expect(flaggedSplits.flatMap((f) => f.split('\n')[0]!.split('; ')).length).toBeLessThanOrEqual(1);
  });

  it('a nightly of run 2 with run 1 as the baseline exits 0; its report opens with the headline', async () => {
    const [one, two] = dirs;
    const result = await runNightly({
      config, resultsRoot, baseline: { run: one! }, log: () => {},
      launch: async () => ({ exitCode: 0, summary: readResults(two!).summary, dir: two! }),
    });
    expect(result.exitCode).toBe(0);
    expect(result.entry).toMatchObject({ verdict: 'ok', regressions: [] });
    const html = readFileSync(result.report!, 'utf8');
    const first = html.indexOf('<section id=');
    expect(html.slice(first)).toMatch(/^<section id="headline"><h2>Headline<\/h2>/);
    expect(html).toMatch(/<strong>fluidmem-redis \/ fluidmem-dram<\/strong><\/td><td class="metric">latency\.ns\.average<\/td><td><strong>[\d.]+×<\/strong><\/td><td>\[[\d.]+×, [\d.]+×\]<\/td>/);
    expect(html.indexOf('id="headline"')).toBeLessThan(html.indexOf('id="arms"'));
    expect(readFileSync(result.trend!, 'utf8')).toContain('aa-check: verdict per night');
  });
});
