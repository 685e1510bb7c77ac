/**
 * The nightly trend page: each headline metric of an experiment across nights, from the
 * history index (results/history.jsonl, results/history.ts), as one self-contained HTML
 * page (inline SVG from vega-lite, no scripts). Per experiment: a strip with one mark per
 * night coloured by its verdict (ok, regression, no baseline, run failed), then one chart
 * per headline metric (a line per variant, mean ± stdev over repetitions; a red triangle
 * where that variant's metric regressed; a dashed rule where the baseline changed), then a
 * table of the nights with links to their reports.
 *
 * A night's figures come from its history line (`headline`, written by the nightly); for
 * older lines without it, from its run's summary.json when the run directory is still there.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { headlineFigures, readHistory, type HistoryEntry, type HistoryHeadline } from '../results/history.js';
import { readResults } from '../results/store.js';
import { readHeadline } from '../stats/headline.js';
import { escapeHtml as e, formatNumber, formatPercent } from './format.js';
import { renderPage, type PageSection } from './page.js';
import { renderSvg } from './svg.js';

export interface TrendNight {
  /** "3: 2026-01-03 01:00", unique per experiment: the x axis. */
  label: string;
  entry: HistoryEntry;
  headline?: HistoryHeadline;
  /** The baseline differs from the previous night's. */
  baselineChanged: boolean;
}

const VERDICTS = ['ok', 'regression', 'no-baseline', 'run-failed'];
const VERDICT_COLORS = ['#1a7f37', '#cf222e', '#8c959f', '#24292f'];

function figuresOf(entry: HistoryEntry, root: string): HistoryHeadline | undefined {
  if (entry.headline) return entry.headline;
  const dir = join(root, entry.runId);
  if (!entry.runId || !existsSync(join(dir, 'summary.json'))) return undefined;
  try {
    return headlineFigures(readResults(dir).summary.variants, readHeadline(dir).metrics);
  } catch {
    return undefined;
  }
}

/** The nights of `experiment` (oldest first) from the history under `resultsRoot`, plus
 * `tonight` when given (a line not appended yet). */
export function trendNights(resultsRoot: string, experiment: string, tonight?: HistoryEntry): TrendNight[] {
  const entries = [...readHistory(resultsRoot), ...(tonight ? [tonight] : [])].filter((x) => x.experiment === experiment);
  let previous: string | undefined;
  return entries.map((entry, i) => {
    const baselineChanged = i > 0 && entry.baseline !== undefined && entry.baseline !== previous;
    if (entry.baseline !== undefined) previous = entry.baseline;
    return { label: `${i + 1}: ${entry.time.slice(0, 16).replace('T', ' ')}`, entry, headline: figuresOf(entry, resultsRoot), baselineChanged };
  });
}

/** The experiments the history knows, in order of first appearance. */
export function historyExperiments(resultsRoot: string): string[] {
  return [...new Set(readHistory(resultsRoot).map((x) => x.experiment))];
}

function nightsSpec(experiment: string, nights: TrendNight[]): TopLevelSpec {
  const labels = nights.map((n) => n.label);
  const x = { field: 'label', type: 'ordinal', title: 'night', scale: { domain: labels }, axis: { labelAngle: -30 } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `${experiment}: verdict per night`,
    width: Math.max(240, 70 * nights.length),
    height: 40,
    layer: [
      {
        data: { values: nights.filter((n) => n.baselineChanged).map((n) => ({ label: n.label, baseline: n.entry.baseline })) },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#57606a' },
        encoding: { x, tooltip: [{ field: 'baseline', title: 'new baseline' }] },
      },
      {
        data: { values: nights.map((n) => ({ label: n.label, verdict: n.entry.verdict, run: n.entry.runId || '(no run)', baseline: n.entry.baseline ?? 'none', regressions: n.entry.regressions.join('; ') || 'none' })) },
        mark: { type: 'point', filled: true, size: 140 },
        encoding: {
          x,
          color: { field: 'verdict', type: 'nominal', scale: { domain: VERDICTS, range: VERDICT_COLORS }, title: 'verdict' },
          shape: { field: 'verdict', type: 'nominal', scale: { domain: VERDICTS, range: ['circle', 'triangle-up', 'square', 'cross'] }, legend: null },
          tooltip: [{ field: 'label', title: 'night' }, { field: 'run' }, { field: 'verdict' }, { field: 'baseline' }, { field: 'regressions' }],
        },
      },
    ],
  };
}

interface TrendPoint { label: string; variant: string; mean: number; low: number; high: number; n: number }

function metricSpec(metric: string, nights: TrendNight[], variants: string[]): TopLevelSpec {
  const labels = nights.map((n) => n.label);
  const x = { field: 'label', type: 'ordinal', title: 'night', scale: { domain: labels }, axis: { labelAngle: -30 } } as const;
  const color = { field: 'variant', type: 'nominal', scale: { domain: variants }, title: 'variant' } as const;
  const points: TrendPoint[] = nights.flatMap((n) => Object.entries(n.headline?.values ?? {}).flatMap(([variant, row]) => {
    const f = row[metric];
    return f ? [{ label: n.label, variant, mean: f.mean, low: f.mean - f.stdev, high: f.mean + f.stdev, n: f.n }] : [];
  }));
  const regressed = nights.flatMap((n) => (n.entry.verdicts ?? [])
    .filter((v) => v.metric === metric && v.verdict === 'worse')
    .flatMap((v) => points.filter((p) => p.label === n.label && p.variant === v.variant).map((p) => ({ ...p, change: v.change }))));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `${metric} across nights`,
    width: Math.max(240, 70 * nights.length),
    height: 220,
    layer: [
      {
        data: { values: nights.filter((n) => n.baselineChanged).map((n) => ({ label: n.label, baseline: n.entry.baseline })) },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#57606a' },
        encoding: { x, tooltip: [{ field: 'baseline', title: 'new baseline' }] },
      },
      {
        data: { values: points },
        layer: [
          { mark: { type: 'rule' }, encoding: { x, y: { field: 'low', type: 'quantitative', title: metric, scale: { zero: false } }, y2: { field: 'high' }, color } },
          { mark: { type: 'line' }, encoding: { x, y: { field: 'mean', type: 'quantitative' }, color } },
          {
            mark: { type: 'point', filled: true, size: 50 },
            encoding: {
              x, y: { field: 'mean', type: 'quantitative' }, color,
              tooltip: [{ field: 'label', title: 'night' }, { field: 'variant' }, { field: 'mean', format: ',.4~r' }, { field: 'n' }],
            },
          },
        ],
      },
      {
        data: { values: regressed },
        mark: { type: 'point', shape: 'triangle-up', size: 220, color: '#cf222e', strokeWidth: 2 },
        encoding: { x, y: { field: 'mean', type: 'quantitative' }, tooltip: [{ field: 'label', title: 'regression' }, { field: 'variant' }, { field: 'change', format: '+.1%' }] },
      },
    ],
  };
}

function nightsTable(nights: TrendNight[], outDir: string): string {
  const link = (file: string | undefined, text: string) => (file ? `<a href="${e(relative(outDir, file) || file)}">${e(text)}</a>` : '');
  const rows = [...nights].reverse().map((n) => {
    const x = n.entry;
    const cls = x.verdict === 'regression' || x.verdict === 'run-failed' ? 'bad' : x.verdict === 'ok' ? 'good' : '';
    const changes = (x.verdicts ?? []).map((v) => `${v.variant} ${v.metric} ${formatPercent(v.change)} ${v.verdict}`).join('; ');
    return `<tr><td class="metric">${e(n.label)}</td><td class="metric">${e(x.runId || '(no run)')}</td><td class="metric">${e((x.gitRevision ?? '').slice(0, 10))}</td>` +
      `<td class="metric ${cls}">${e(x.verdict)}</td><td class="metric">${e(x.baseline ?? '')}${n.baselineChanged ? ' <strong>(new)</strong>' : ''}</td>` +
      `<td class="metric">${e(changes || x.error?.split('\n')[0] || '')}</td><td class="metric">${link(x.report, 'report')}</td></tr>`;
  }).join('');
  return `<table class="runs"><tr><th>night</th><th>run</th><th>git</th><th>verdict</th><th>baseline</th><th>headline changes</th><th></th></tr>${rows}</table>`;
}

/** The HTML section of one experiment's trend. */
export async function trendSection(experiment: string, nights: TrendNight[], outDir: string): Promise<string> {
  const metrics = [...new Set(nights.flatMap((n) => n.headline?.metrics ?? []))];
  const variants = [...new Set(nights.flatMap((n) => Object.keys(n.headline?.values ?? {})))];
  const parts = [`<figure>${await renderSvg(nightsSpec(experiment, nights))}<figcaption class="muted">One mark per night: green ok, red regression, grey no baseline, black run failed; a dashed rule where the baseline changed.</figcaption></figure>`];
  for (const metric of metrics) {
    parts.push(`<figure>${await renderSvg(metricSpec(metric, nights, variants))}<figcaption class="muted">${e(metric)}: mean over repetitions per variant, the rule spans ± one stdev; red triangles mark a regression of this metric against that night's baseline.</figcaption></figure>`);
  }
  if (metrics.length === 0) parts.push('<p class="muted">No headline figures in these nights (older history lines whose run directories are gone).</p>');
  parts.push(nightsTable(nights, outDir));
  return parts.join('\n');
}

export interface TrendOptions {
  resultsRoot: string;
  /** One experiment; all of the history's when absent. */
  experiment?: string;
  /** Output file. */
  out: string;
  /** Tonight's history line, not appended yet (the nightly). */
  tonight?: HistoryEntry;
}

/** Builds the trend page of the history under `resultsRoot`. Throws when there is no night
 * to show (naming the history file and the experiments it has). */
export async function buildTrendHtml(opts: TrendOptions): Promise<string> {
  const root = resolve(opts.resultsRoot);
  const known = [...new Set([...historyExperiments(root), ...(opts.tonight ? [opts.tonight.experiment] : [])])];
  const experiments = opts.experiment ? [opts.experiment] : known;
  const sections: PageSection[] = [];
  let count = 0;
  for (const experiment of experiments) {
    const nights = trendNights(root, experiment, opts.tonight);
    if (nights.length === 0) continue;
    count += nights.length;
    sections.push({ id: `trend-${experiment}`, title: `${experiment} (${nights.length} night${nights.length === 1 ? '' : 's'})`, html: await trendSection(experiment, nights, dirname(resolve(opts.out))) });
  }
  if (sections.length === 0) {
    throw new Error(`no nights${opts.experiment ? ` of experiment '${opts.experiment}'` : ''} in ${join(root, 'history.jsonl')}` +
      (known.length ? ` (experiments there: ${known.join(', ')})` : ' (run `orchestrate nightly CONFIG` first)'));
  }
  return renderPage({
    title: `FluidLab trend${opts.experiment ? `: ${opts.experiment}` : ''}`,
    subtitle: `${count} night${count === 1 ? '' : 's'} from ${join(root, 'history.jsonl')} · generated ${new Date().toISOString()}`,
    sections,
  });
}

/** Writes the trend page; returns its absolute path. */
export async function writeTrend(opts: TrendOptions): Promise<string> {
  const out = resolve(opts.out);
  writeFileSync(out, await buildTrendHtml(opts));
  return out;
}

/** One line per night, for the terminal. */
export function formatTrend(nights: TrendNight[]): string {
  return nights.map((n) => {
    const x = n.entry;
    const figures = Object.entries(n.headline?.values ?? {}).flatMap(([variant, row]) =>
      Object.entries(row).map(([m, f]) => `${variant} ${m}=${formatNumber(f.mean)}`)).join(', ');
    return `${n.label}  ${x.runId || '(no run)'}  ${x.verdict}${n.baselineChanged ? `  new baseline ${x.baseline}` : ''}${x.regressions.length ? `  regressions: ${x.regressions.join('; ')}` : ''}${figures ? `  ${figures}` : ''}`;
  }).join('\n');
}
