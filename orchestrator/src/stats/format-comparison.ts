/**
 * The plain-text form of a comparison, for `orchestrate compare` and the nightly log: the
 * headline rows (the only ones with verdicts) in one table, then the informational rows
 * (latency and throughput figures by default, every metric with --all) in another.
 */
import type { Comparison, MetricComparison } from './compare.js';
import { verdictLabel } from './verdict.js';

function num(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(4).replace(/\.?0+$/, '');
}

export function pct(f: number | null): string {
  if (f === null || Number.isNaN(f)) return '-';
  if (!Number.isFinite(f)) return f > 0 ? '+inf%' : '-inf%';
  return `${f >= 0 ? '+' : ''}${(f * 100).toFixed(1)}%`;
}

/** Informational rows worth showing: latency and throughput figures (all of them with `all`). */
export function informationalRows(c: Comparison, all = false): MetricComparison[] {
  return c.rows.filter((r) => !r.headline && (all || r.direction !== 'informational'));
}

/** 0.95 -> "95% CI", 0.9875 -> "98.75% CI", 0.99375 -> "99.375% CI". */
function levelLabel(level: number): string {
  return `${Number((level * 100).toFixed(3))}% CI`;
}

function table(rows: MetricComparison[], level: string): string[] {
  const header = ['variant', 'metric', 'A mean', 'B mean', 'change', level, 'verdict'];
  const cells = rows.map((r) => [
    r.variant, r.metric, `${num(r.meanA)} (n=${r.nA})`, `${num(r.meanB)} (n=${r.nB})`, pct(r.change),
    `[${pct(r.ciLow)}, ${pct(r.ciHigh)}]`, `${verdictLabel(r.verdict)}${r.resolution && r.headline ? ` (resolution ${pct(r.resolution).slice(1)})` : ''}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...cells.map(line)];
}

/** One line: how many headline verdicts of each kind. */
export function verdictCounts(c: Comparison): string {
  const head = c.rows.filter((r) => r.headline);
  const count = (v: string) => head.filter((r) => r.verdict === v).length;
  const parts = [`${count('worse')} worse`, `${count('better')} better`, `${count('no-change')} no significant change`];
  if (count('changed')) parts.push(`${count('changed')} changed`);
  if (count('not-enough-runs')) parts.push(`${count('not-enough-runs')} not enough runs (< ${c.headline.minRepetitions} per side)`);
  return `headline: ${parts.join(', ')} of ${head.length}; ${c.rows.length - head.length} informational metrics (no verdict)`;
}

export function formatComparison(c: Comparison, opts: { all?: boolean } = {}): string {
  const head = c.rows.filter((r) => r.headline);
  const info = informationalRows(c, opts.all);
  const out = [
    `A: ${c.a.runId} (${c.a.experiment})`,
    `B: ${c.b.runId} (${c.b.experiment})`,
    `change = mean(B)/mean(A) - 1; ${c.method}.`,
    `Verdicts only for the headline metrics (${c.headline.metrics.join(', ')}) with >= ${c.headline.minRepetitions} repetitions a side: ` +
      `significant if the ${levelLabel(c.headline.level)} (${Math.round(c.confidence * 100)}% over ${c.headline.tests} test${c.headline.tests === 1 ? '' : 's'}) excludes 0 ` +
      `and |change| > ${(c.threshold * 100).toFixed(1)}% (or one resolution step, if larger).`,
    '',
    ...(head.length ? table(head, levelLabel(c.headline.level)) : ['(no headline metric in both runs)']),
  ];
  if (info.length) out.push('', `informational (${levelLabel(c.confidence)}, no verdict)${opts.all ? '' : '; --all shows every metric'}:`, ...table(info, levelLabel(c.confidence)));
  if (c.onlyInA.length) out.push('', `only in A (not compared): ${c.onlyInA.join(', ')}`);
  if (c.onlyInB.length) out.push('', `only in B (not compared): ${c.onlyInB.join(', ')}`);
  out.push('', verdictCounts(c));
  return out.join('\n');
}
