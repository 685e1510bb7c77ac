/**
 * Builds the self-contained HTML report of one results directory: facts, config, a
 * statistics table per variant, latency histograms and CDFs per arm, spread per repetition,
 * handler activity, the runs, and optionally the comparison with a baseline.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { readResults } from '../results/store.js';
import type { RunRecord, Summary } from '../results/types.js';
import type { Comparison } from '../stats/compare.js';
import { barsSpec, cdfSpec, histogramSpec, repetitionsSpec, type BarStat, type RepetitionPoint } from './charts.js';
import { cdfRows, histogramRows, variantBands, type Op } from './distributions.js';
import { escapeHtml } from './format.js';
import { renderPage, type PageSection } from './page.js';
import { emulationSection, handlerFloorSection, referenceSection } from './annotations.js';
import { headlineSection } from './headline.js';
import { headlineFromConfigText } from '../stats/headline.js';
import { comparisonTable, hostSection, runsTable, variantTable } from './sections.js';
import { clusterSection } from './cluster.js';
import { renderSvg } from './svg.js';
import { timelineSection } from './timeseries.js';
import { readSeries, type SeriesRow } from '../results/series.js';

export interface ReportInput {
  summary: Summary;
  runs: RunRecord[];
  configText?: string;
  /** Comparison with a baseline (nightly). */
  comparison?: Comparison;
  /** Time series of runs with a timeline, by run id (results/series.ts). */
  series?: Map<string, SeriesRow[]>;
}

const HANDLER_COUNTS = ['handler.faults', 'handler.evictions', 'handler.remote_fetches'];
const SPREAD_METRICS = ['latency.ns.average', 'throughput.aps'];

/** Version of an installed package, or of FluidLab itself ('.': the repo's package.json). */
function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    // src/report/ and dist/report/ are both three levels below the repository root.
    const file = name === '.' ? '../../../package.json' : `${name}/package.json`;
    return (require(file) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function variantNames(summary: Summary): string[] {
  return summary.variants.map((v) => v.variant);
}

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption class="muted">${escapeHtml(caption)}</figcaption></figure>`;
}

async function latencySection(runs: RunRecord[], variants: string[]): Promise<string> {
  const parts: string[] = [];
  for (const op of ['read', 'write'] as Op[]) {
    const bands = variantBands(runs, op);
    if (bands.size === 0) continue;
    const hist = [...bands].flatMap(([v, b]) => histogramRows(v, op, b));
    const cdf = [...bands].flatMap(([v, b]) => cdfRows(v, op, b));
    parts.push(figure(await renderSvg(histogramSpec(op, hist, variants)), `${op} latency: pmbench sub-count bands summed over the repetitions of each variant; bar height is the fraction of accesses per octave.`));
    parts.push(figure(await renderSvg(cdfSpec(op, cdf, variants)), `${op} latency CDF per variant (linear inside each band).`));
  }
  return parts.join('\n') || '<p class="muted">No latency histograms in these results (no pmbench workload, or every run failed).</p>';
}

async function spreadSection(summary: Summary): Promise<string> {
  const parts: string[] = [];
  for (const metric of SPREAD_METRICS) {
    const points: RepetitionPoint[] = summary.variants.flatMap((v) => {
      const s = v.metrics[metric];
      return (s?.values ?? []).map((value, i) => ({ variant: v.variant, repetition: i + 1, value, deviation: s!.mean === 0 ? 0 : value / s!.mean - 1 }));
    });
    if (points.length) {
      parts.push(figure(await renderSvg(repetitionsSpec(metric, points, variantNames(summary))),
        `${metric}: one dot per repetition, as the deviation from its variant's mean (the table above has the values).`));
    }
  }
  return parts.join('\n');
}

function barStats(summary: Summary, metrics: string[]): BarStat[] {
  return summary.variants.flatMap((v) => metrics.flatMap((metric) => {
    const s = v.metrics[metric];
    return s ? [{ variant: v.variant, metric, mean: s.mean, min: s.min, max: s.max }] : [];
  }));
}

async function handlerSection(summary: Summary): Promise<string | undefined> {
  const counts = barStats(summary, HANDLER_COUNTS);
  const latencyMetrics = [...new Set(summary.variants.flatMap((v) => Object.keys(v.metrics)))]
    .filter((m) => m.startsWith('handler.fault_latency_ns.')).sort();
  const latency = barStats(summary, latencyMetrics);
  if (counts.length === 0 && latency.length === 0) return undefined;
  const parts: string[] = [];
  if (counts.length) parts.push(figure(await renderSvg(barsSpec('fault handler activity per run', counts, variantNames(summary))), 'Mean over repetitions; the rule spans min to max.'));
  if (latency.length) parts.push(figure(await renderSvg(barsSpec('handler fault latency (ns)', latency, variantNames(summary))), 'Handler-side fault service time (message read to page installed); mean over repetitions, rule min to max.'));
  return parts.join('\n');
}

export async function buildReportHtml(input: ReportInput): Promise<string> {
  const { summary, runs } = input;
  const generator = {
    'report generator': `fluidlab ${packageVersion('.')}`,
    'vega / vega-lite': `${packageVersion('vega')} / ${packageVersion('vega-lite')}`,
  };
  // The headline first: the comparison the config is about (report/headline.ts).
  const sections: PageSection[] = [{ id: 'headline', title: 'Headline', html: headlineSection(headlineFromConfigText(input.configText), summary, input.comparison) }];
  if (input.comparison) sections.push({ id: 'comparison', title: 'Comparison with the baseline', html: comparisonTable(input.comparison) });
  if (summary.reference) sections.push({ id: 'reference', title: 'Beside the published reference', html: referenceSection(summary.reference) });
  if (summary.emulation) sections.push({ id: 'emulation', title: 'Emulation', html: emulationSection(summary.emulation) });
  if (summary.handlerFloor) sections.push({ id: 'handler-floor', title: 'Handler floor on this host', html: handlerFloorSection(summary.handlerFloor) });
  sections.push({ id: 'arms', title: 'Statistics per variant', html: summary.variants.map(variantTable).join('\n') || '<p class="muted">No variants.</p>' });
  sections.push({ id: 'latency', title: 'Latency distributions', html: await latencySection(runs, variantNames(summary)) });
  const spread = await spreadSection(summary);
  if (spread) sections.push({ id: 'spread', title: 'Spread over repetitions', html: spread });
  const handler = await handlerSection(summary);
  if (handler) sections.push({ id: 'handler', title: 'Fault handler activity', html: handler });
  const cluster = await clusterSection(summary);
  if (cluster) sections.push({ id: 'cluster', title: 'Pages across masters', html: cluster });
  const overTime = await timelineSection(runs, input.series ?? new Map());
  if (overTime) sections.push({ id: 'timeline', title: 'Over time', html: overTime });
  sections.push({ id: 'runs', title: 'Runs', html: runsTable(summary, runs) });
  sections.push({ id: 'host', title: 'Host and versions', html: hostSection(summary, generator) });
  sections.push({ id: 'config', title: 'Config', html: `<pre>${escapeHtml(input.configText ?? '(config.yaml missing from the results directory)')}</pre>` });

  const regressions = input.comparison?.regressions.length ?? 0;
  const banner = summary.failed > 0
    ? `<div class="banner bad">${summary.failed} of ${summary.runs.length} runs failed.</div>`
    : input.comparison
      ? regressions > 0
        ? `<div class="banner bad">${regressions} regression${regressions === 1 ? '' : 's'} against baseline ${escapeHtml(input.comparison.a.runId)}.</div>`
        : `<div class="banner good">No regression against baseline ${escapeHtml(input.comparison.a.runId)}.</div>`
      : undefined;
  return renderPage({
    title: `FluidLab report: ${summary.experiment}`,
    subtitle: `run ${summary.runId} · ${summary.startedAt} → ${summary.finishedAt} · ${summary.accelerator}`,
    banner,
    sections,
  });
}

export interface WriteReportOptions {
  runDir: string;
  /** Output file (default RUN-DIR/report.html). */
  out?: string;
  comparison?: Comparison;
}

/** Reads a results directory and writes its report; returns the report's path. */
export async function writeReport(opts: WriteReportOptions): Promise<string> {
  const { summary, runs } = readResults(opts.runDir);
  let configText: string | undefined;
  try {
    configText = readFileSync(join(opts.runDir, 'config.yaml'), 'utf8');
  } catch { /* reported as missing in the page */ }
  const series = new Map(runs.filter((r) => r.timeline).map((r) => [r.id, readSeries(join(opts.runDir, 'runs', r.timeline!.series))] as const));
  const html = await buildReportHtml({ summary, runs, configText, comparison: opts.comparison, series });
  const out = resolve(opts.out ?? join(opts.runDir, 'report.html'));
  writeFileSync(out, html);
  return out;
}
