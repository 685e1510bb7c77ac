/**
 * The history index: results/history.jsonl, one JSON object per nightly run, appended.
 * Run lookup (locate-run.ts: `report`, `compare`) and the nightly last-good baseline read
 * it to find earlier runs of an experiment; it lives in results/ with the runs it indexes.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

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
