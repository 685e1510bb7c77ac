/**
 * The history index: results/history.jsonl, one JSON object per nightly run, appended.
 * Run lookup (locate-run.ts: `report`, `compare`) and the nightly last-good baseline read
 * it to find earlier runs of an experiment, and the trend page (report/trend.ts, `orchestrate
 * history`) plots the headline figures each line carries; it lives in results/ with the
 * runs it indexes.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { VariantSummary } from './types.js';

export const HISTORY_NAME = 'history.jsonl';

export interface HistoryEntry {
  runId: string;
  experiment: string;
  /** ISO time the nightly run finished. */
  time: string;
  gitRevision?: string;
  /** 'ok': every run succeeded; 'failed': a run (or the whole experiment) failed. */
  status: 'ok' | 'failed';
  /** regression: some metric got worse than the baseline; no-baseline: nothing to compare. */
  verdict: 'ok' | 'regression' | 'no-baseline' | 'run-failed';
  baseline?: string;
  /** "variant: metric +12.3%" for each regressed metric. */
  regressions: string[];
  error?: string;
  report?: string;
  junit?: string;
  /** The trend page written beside the report (report/trend.ts). */
  trend?: string;
  /** This night's headline metrics per variant (mean, stdev, n over repetitions): what the
   * trend page plots, so it needs no run directory. */
  headline?: HistoryHeadline;
  /** The verdict of each headline metric per variant against the baseline. */
  verdicts?: HistoryVerdict[];
}

export interface HistoryHeadline {
  metrics: string[];
  /** variant -> metric -> figures. */
  values: Record<string, Record<string, { mean: number; stdev: number; n: number }>>;
}

export interface HistoryVerdict {
  variant: string;
  metric: string;
  /** mean(tonight) / mean(baseline) - 1. */
  change: number | null;
  verdict: string;
}

/** ROOT/history.jsonl. */
export function historyFile(resultsRoot: string): string {
  return join(resultsRoot, HISTORY_NAME);
}

/** Appends one entry as one line (creating the root when needed). */
export function appendHistory(resultsRoot: string, entry: HistoryEntry): void {
  const file = historyFile(resultsRoot);
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(entry)}\n`);
}

/** All entries, oldest first. Lines that are not valid JSON (a torn write) are skipped. */
export function readHistory(resultsRoot: string): HistoryEntry[] {
  let text: string;
  try {
    text = readFileSync(historyFile(resultsRoot), 'utf8');
  } catch {
    return [];
  }
  const out: HistoryEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as HistoryEntry;
      if (typeof e.runId === 'string' && typeof e.experiment === 'string') out.push(e);
    } catch { /* skip a torn line */ }
  }
  return out;
}

/** The headline figures of a night: each variant's mean, stdev and n of each metric it has. */
export function headlineFigures(variants: VariantSummary[], metrics: string[]): HistoryHeadline {
  const values: HistoryHeadline['values'] = {};
  for (const v of variants) {
    const row: Record<string, { mean: number; stdev: number; n: number }> = {};
    for (const m of metrics) {
      const s = v.metrics[m];
      if (s) row[m] = { mean: s.mean, stdev: s.stdev, n: s.n };
    }
    if (Object.keys(row).length) values[v.variant] = row;
  }
  return { metrics, values };
}
