/** The plain-text table of a comparison, for `orchestrate compare` and the nightly log. */
import type { Comparison, MetricComparison } from './compare.js';
import { verdictLabel } from './verdict.js';

function num(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(4).replace(/\.?0+$/, '');
}

function pct(f: number | null): string {
  if (f === null || Number.isNaN(f)) return '-';
  if (!Number.isFinite(f)) return f > 0 ? '+inf%' : '-inf%';
  return `${f >= 0 ? '+' : ''}${(f * 100).toFixed(1)}%`;
}

/** Rows worth showing: directional metrics, plus informational ones that changed. */
export function interestingRows(c: Comparison, all = false): MetricComparison[] {
  return all ? c.rows : c.rows.filter((r) => r.direction !== 'informational' || r.verdict === 'changed');
}

export function formatComparison(c: Comparison, opts: { all?: boolean } = {}): string {
  const header = ['variant', 'metric', 'A mean', 'B mean', 'change', `${Math.round(c.confidence * 100)}% CI`, 'verdict'];
  const rows = interestingRows(c, opts.all).map((r) => [
    r.variant, r.metric, `${num(r.meanA)} (n=${r.nA})`, `${num(r.meanB)} (n=${r.nB})`, pct(r.change),
    `[${pct(r.ciLow)}, ${pct(r.ciHigh)}]`, verdictLabel(r.verdict),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [
    `A: ${c.a.runId} (${c.a.experiment})`,
    `B: ${c.b.runId} (${c.b.experiment})`,
    `change = mean(B)/mean(A) - 1; bootstrap over repetitions, ${c.resamples} resamples, seed ${c.seed}; ` +
      `significant if the CI excludes 0 and |change| > ${(c.threshold * 100).toFixed(1)}%`,
    '',
    line(header),
    ...rows.map(line),
  ];
  if (c.onlyInA.length) out.push('', `only in A (not compared): ${c.onlyInA.join(', ')}`);
  if (c.onlyInB.length) out.push('', `only in B (not compared): ${c.onlyInB.join(', ')}`);
  const worse = c.regressions.length;
  const better = c.rows.filter((r) => r.verdict === 'better').length;
  out.push('', `${worse} worse, ${better} better, ${c.rows.length - worse - better} other of ${c.rows.length} compared metrics`);
  return out.join('\n');
}
