/**
 * The headline at the top of every report: the comparison the config is about
 * (stats/headline.ts), before the detailed tables. For each arm pair (config headline
 * compare, else the reference ratios, else first fluidmem arm / first swap arm) and each
 * headline metric: the ratio of means a / b with its 95% Welch interval over repetitions
 * (stats/welch.ts). With a baseline (nightly), the headline verdicts against it follow.
 */
import type { Summary, VariantSummary } from '../results/types.js';
import type { Comparison } from '../stats/compare.js';
import { headlinePairs, type HeadlineSpec } from '../stats/headline.js';
import { metricResolution } from '../stats/resolution.js';
import { verdictLabel } from '../stats/verdict.js';
import { welchRelativeChange } from '../stats/welch.js';
import { escapeHtml as e, formatNumber, formatPercent } from './format.js';

export interface HeadlineRatio {
  variantA: string;
  variantB: string;
  metric: string;
  /** mean(a) / mean(b), and its interval; null when undefined. */
  ratio: number | null;
  low: number | null;
  high: number | null;
  meanA: number;
  meanB: number;
  nA: number;
  nB: number;
}

function values(v: VariantSummary, metric: string): number[] {
  return (v.metrics[metric]?.values ?? []).filter(Number.isFinite);
}

/** Every headline ratio of a summary (pairs x metrics both sides have). */
export function headlineRatios(spec: HeadlineSpec, summary: Summary, confidence = 0.95): HeadlineRatio[] {
  return headlinePairs(spec, summary).flatMap((p) => spec.metrics.flatMap((metric) => {
    const a = values(p.variantA, metric);
    const b = values(p.variantB, metric);
    if (!a.length || !b.length) return [];
    // mean(a)/mean(b) - 1 is the change of a against b.
    const ci = welchRelativeChange(b, a, { confidence, resolution: metricResolution(metric) });
    const plus1 = (x: number | null) => (x === null ? null : 1 + x);
    return [{
      variantA: p.variantA.variant, variantB: p.variantB.variant, metric,
      ratio: plus1(ci.change), low: plus1(ci.low), high: plus1(ci.high),
      meanA: p.variantA.metrics[metric]!.mean, meanB: p.variantB.metrics[metric]!.mean, nA: a.length, nB: b.length,
    }];
  }));
}

function times(x: number | null): string {
  return x === null ? '-' : `${x.toFixed(x >= 10 ? 1 : 2)}×`;
}

/** The headline section's HTML. */
export function headlineSection(spec: HeadlineSpec, summary: Summary, comparison?: Comparison): string {
  const ratios = headlineRatios(spec, summary);
  const parts: string[] = [];
  if (ratios.length) {
    const rows = ratios.map((r) => `<tr><td class="metric"><strong>${e(r.variantA)} / ${e(r.variantB)}</strong></td><td class="metric">${e(r.metric)}</td>` +
      `<td><strong>${times(r.ratio)}</strong></td><td>[${times(r.low)}, ${times(r.high)}]</td>` +
      `<td>${formatNumber(r.meanA)} / ${formatNumber(r.meanB)}</td><td>${r.nA} / ${r.nB}</td></tr>`).join('');
    parts.push(`<table class="stats headline"><tr><th>comparison</th><th>metric</th><th>ratio of means</th><th>95% interval</th><th>means</th><th>repetitions</th></tr>${rows}</table>`);
    if (ratios.some((r) => Math.min(r.nA, r.nB) < 2)) parts.push('<p class="muted">A side with one repetition has no interval: run more repetitions.</p>');
  } else {
    parts.push(`<p class="muted">No arm pair to compare in this run (name one with <code>headline: { compare: [ARM_A, ARM_B] }</code>).</p>`);
  }
  if (comparison) {
    const head = comparison.rows.filter((r) => r.headline);
    const rows = head.map((r) => {
      const cls = r.verdict === 'worse' ? 'bad' : r.verdict === 'better' ? 'good' : '';
      return `<tr class="${cls}"><td class="metric">${e(r.variant)}</td><td class="metric">${e(r.metric)}</td><td>${formatPercent(r.change)}</td>` +
        `<td>[${formatPercent(r.ciLow)}, ${formatPercent(r.ciHigh)}]</td><td>${r.nA} / ${r.nB}</td><td>${e(verdictLabel(r.verdict))}</td></tr>`;
    }).join('');
    parts.push(`<p>Against baseline <code>${e(comparison.a.runId)}</code> (verdicts come only from these metrics; ${(comparison.headline.level * 100).toFixed(2)}% intervals, ` +
      `Bonferroni over ${comparison.headline.tests} test${comparison.headline.tests === 1 ? '' : 's'}; at least ${comparison.headline.minRepetitions} repetitions a side):</p>` +
      (rows ? `<table class="stats"><tr><th>variant</th><th>metric</th><th>change</th><th>interval</th><th>repetitions</th><th>verdict</th></tr>${rows}</table>` : '<p class="muted">No headline metric in both runs.</p>'));
  }
  parts.push(`<p class="muted">Headline metrics ${spec.source === 'config' ? '(from the config)' : '(default)'}: ${spec.metrics.map((m) => `<code>${e(m)}</code>`).join(', ')}. ` +
    'The ratio is mean(a)/mean(b) over repetitions; its interval is Welch\'s (Student t), so it is wide when there are few repetitions.</p>');
  return parts.join('\n');
}
