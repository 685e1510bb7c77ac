/**
 * The report's "Pages across masters" section, for variants whose arm evicted to a Redis
 * Cluster (store: redis-cluster): how the run's page keys spread over the masters (mean
 * over repetitions of redis.master.I.keys, experiment/cluster-metrics.ts), as a stacked
 * bar per variant (vega-lite, rendered by svg.ts) and a table with each master's share,
 * memory, commands and slots. Pure over the summary; absent when no variant has a cluster.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Summary } from '../results/types.js';
import { escapeHtml as e, formatNumber } from './format.js';
import { renderSvg } from './svg.js';

export interface MasterRow {
  variant: string;
  master: number;
  /** Mean over repetitions. */
  keys: number;
  share: number;
  usedMemory?: number;
  commands?: number;
  slots?: number;
}

/** One row per variant and master, from the redis.master.I.* metrics of the summary. */
export function masterRows(summary: Summary): MasterRow[] {
  return summary.variants.flatMap((v) => {
    const mean = (m: string) => v.metrics[m]?.mean;
    const masters = [...new Set(Object.keys(v.metrics).flatMap((m) => /^redis\.master\.(\d+)\.keys$/.exec(m)?.[1] ?? []))].map(Number).sort((a, b) => a - b);
    const total = masters.reduce((n, i) => n + (mean(`redis.master.${i}.keys`) ?? 0), 0);
    return masters.map((i) => {
      const keys = mean(`redis.master.${i}.keys`) ?? 0;
      return {
        variant: v.variant, master: i, keys, share: total === 0 ? 0 : keys / total,
        usedMemory: mean(`redis.master.${i}.used_memory`), commands: mean(`redis.master.${i}.commands`), slots: mean(`redis.master.${i}.slots`),
      };
    });
  });
}

/** Stacked horizontal bars: one per variant, one segment per master (share of its keys). */
export function masterSpreadSpec(rows: MasterRow[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'page keys per master (mean over repetitions)',
    width: 480,
    data: { values: rows.map((r) => ({ ...r, label: `master ${r.master}` })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'variant', type: 'nominal', title: null },
      x: { field: 'share', type: 'quantitative', title: 'share of the run\'s page keys', axis: { format: '%' }, stack: 'zero' },
      color: { field: 'label', type: 'nominal', title: 'master (by slot)' },
      order: { field: 'master', type: 'quantitative' },
    },
  };
}

/** The section's HTML, or undefined when no variant evicted to a cluster. */
export async function clusterSection(summary: Summary): Promise<string | undefined> {
  const rows = masterRows(summary);
  if (rows.length === 0) return undefined;
  const svg = await renderSvg(masterSpreadSpec(rows));
  const body = rows.map((r) => `<tr><td>${e(r.variant)}</td><td>${r.master}</td><td>${formatNumber(r.keys)}</td><td>${(r.share * 100).toFixed(1)}%</td>` +
    `<td>${r.usedMemory === undefined ? '-' : formatNumber(r.usedMemory / 2 ** 20)}</td><td>${formatNumber(r.commands)}</td><td>${formatNumber(r.slots)}</td></tr>`).join('');
  return `<figure>${svg}<figcaption class="muted">Where the run's evicted pages live: page keys hash-tagged per 2 MiB chunk, so a guest spreads over every master; master I serves the I-th slot range (a promoted replica keeps its master's number).</figcaption></figure>` +
    `<table class="stats"><tr><th>variant</th><th>master</th><th>page keys</th><th>share</th><th>used memory (MiB)</th><th>commands in the workload</th><th>slots</th></tr>${body}</table>`;
}
