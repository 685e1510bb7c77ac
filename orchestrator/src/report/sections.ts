/** HTML fragments of the report: facts tables, per-variant statistics, runs, comparison. */
import type { Comparison } from '../stats/compare.js';
import { cv } from '../stats/describe.js';
import { isBandShare } from '../stats/direction.js';
import { verdictLabel } from '../stats/verdict.js';
import type { RunRecord, Summary, VariantSummary } from '../results/types.js';
import { escapeHtml as e, formatNumber, formatPercent } from './format.js';

const METRIC_ORDER = ['latency.ns.average', 'latency.ns.p50', 'latency.ns.p90', 'latency.ns.p99', 'throughput.aps'];

export function sortMetrics(names: string[]): string[] {
  const rank = (m: string) => {
    const i = METRIC_ORDER.indexOf(m);
    return i >= 0 ? i : METRIC_ORDER.length;
  };
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function keyValueTable(rows: [string, string | number | boolean | undefined][]): string {
  const body = rows.filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `<tr><th scope="row">${e(k)}</th><td>${e(String(v))}</td></tr>`).join('');
  return `<table class="kv">${body}</table>`;
}

export function hostSection(s: Summary, generator: Record<string, string>): string {
  const h = s.host;
  return keyValueTable([
    ['experiment', s.experiment], ['run id', s.runId], ['config file', s.configFile],
    ['started', s.startedAt], ['finished', s.finishedAt],
    ['git revision', s.gitRevision ?? h.gitRevision ? `${s.gitRevision ?? h.gitRevision}${h.gitDirty ? ' (dirty)' : ''}` : undefined],
    ['accelerator', s.accelerator], ['kernel', h.kernel], ['CPU', `${h.cpuModel} × ${h.cpus}`],
    ['host memory', `${formatNumber(h.memoryMiB)} MiB`], ['QEMU', h.qemuVersion], ['Redis', h.redisVersion], ['Node', h.node],
    ...Object.entries(generator),
  ]);
}

const STATS_HEAD = '<tr><th>metric</th><th>mean</th><th>stdev</th><th>CV</th><th>min</th><th>max</th><th>n</th><th>per repetition</th></tr>';

/** Main table: the headline metrics; histogram band shares and all-zero counters go in a fold. */
function isHeadline(name: string, s: VariantSummary['metrics'][string]): boolean {
  return !isBandShare(name) && s.values.some((x) => x !== 0);
}

export function variantTable(v: VariantSummary): string {
  const names = sortMetrics(Object.keys(v.metrics));
  const main = names.filter((m) => isHeadline(m, v.metrics[m]!));
  const rest = names.filter((m) => !main.includes(m));
  const rows = statsRows(v, main);
  const failed = v.failed ? ` <span class="bad">${v.failed} failed</span>` : '';
  const more = rest.length
    ? `<details><summary>${rest.length} more metrics (histogram band shares, all-zero counters)</summary><table class="stats">${STATS_HEAD}${statsRows(v, rest)}</table></details>`
    : '';
  return `<section class="variant"><h3>${e(v.variant)} <small>arm ${e(v.arm)} · ${v.runs} run${v.runs === 1 ? '' : 's'}${failed}</small></h3>` +
    (rows ? `<table class="stats">${STATS_HEAD}${rows}</table>${more}` : '<p class="muted">no metrics (every run of this variant failed)</p>') + '</section>';
}

function statsRows(v: VariantSummary, names: string[]): string {
  return names.map((m) => {
    const s = v.metrics[m]!;
    const c = cv(s.values);
    return `<tr><td class="metric">${e(m)}</td><td>${formatNumber(s.mean)}</td><td>${formatNumber(s.stdev)}</td>` +
      `<td>${Number.isNaN(c) ? '-' : formatPercent(c).replace('+', '')}</td><td>${formatNumber(s.min)}</td><td>${formatNumber(s.max)}</td>` +
      `<td>${s.n}</td><td class="values">${s.values.map(formatNumber).join(', ')}</td></tr>`;
  }).join('');
}

/** What qualifies a run's numbers without failing it: the OOM guard's rescues (their
 * stalls are in the latency) and monitor restarts. */
export function runNotes(rec: RunRecord | undefined): string[] {
  if (!rec) return [];
  const notes: string[] = [];
  const stalls = rec.metrics['cgroup.oom_stalls'] ?? 0;
  const rescues = rec.metrics['cgroup.oom_rescues'] ?? 0;
  if (stalls > 0) notes.push(`${stalls} memory cgroup OOM stall${stalls === 1 ? '' : 's'}, ${rescues} ended by the OOM guard (their time is in the latency)`);
  if (rec.metrics['cgroup.oom_guard_failed']) notes.push('the OOM guard died during the run (the kernel\'s OOM killer was turned back on)');
  const restarts = rec.monitorRestarts?.length ?? 0;
  if (restarts > 0) notes.push(`the monitor was restarted ${restarts} time${restarts === 1 ? '' : 's'}`);
  return notes;
}

export function runsTable(summary: Summary, records: RunRecord[]): string {
  const byId = new Map(records.map((r) => [r.id, r]));
  const rows = summary.runs.map((r) => {
    const rec = byId.get(r.id);
    const status = r.status === 'ok' ? '<span class="good">ok</span>' : '<span class="bad">failed</span>';
    return `<tr><td>${e(r.id)}</td><td>${e(r.variant)}</td><td>${r.repetition}</td><td>${status}</td>` +
      `<td>${rec ? formatNumber(rec.durationMs / 1000) : '-'}</td><td class="err">${e(r.error ?? '')}</td><td class="metric">${e(runNotes(rec).join('; '))}</td></tr>`;
  }).join('');
  return `<table class="runs"><tr><th>run</th><th>variant</th><th>rep</th><th>status</th><th>seconds</th><th>error</th><th>notes</th></tr>${rows}</table>`;
}

/** Every latency and throughput row against the baseline; headline rows carry the verdicts,
 * the others are labelled informational (stats/compare.ts). */
export function comparisonTable(c: Comparison): string {
  const interesting = c.rows.filter((r) => r.headline || r.direction !== 'informational');
  const rows = interesting.map((r) => {
    const cls = r.verdict === 'worse' ? 'bad' : r.verdict === 'better' ? 'good' : '';
    return `<tr class="${cls}"><td>${e(r.variant)}</td><td class="metric">${e(r.metric)}</td><td>${formatNumber(r.meanA)}</td><td>${formatNumber(r.meanB)}</td>` +
      `<td>${formatPercent(r.change)}</td><td>[${formatPercent(r.ciLow)}, ${formatPercent(r.ciHigh)}]</td><td>${e(verdictLabel(r.verdict))}</td></tr>`;
  }).join('');
  return `<p>Baseline <code>${e(c.a.runId)}</code> → this run <code>${e(c.b.runId)}</code>; ` +
    `Welch intervals over repetitions; verdicts only for the headline metrics (${(c.headline.level * 100).toFixed(2)}% intervals, Bonferroni over ${c.headline.tests}), ` +
    `others at ${Math.round(c.confidence * 100)}% and informational; noise threshold ${formatPercent(c.threshold, 0).replace('+', '')}.</p>` +
    `<table class="stats"><tr><th>variant</th><th>metric</th><th>baseline</th><th>this run</th><th>change</th><th>CI</th><th>verdict</th></tr>${rows}</table>`;
}
