/**
 * A run's time series and timeline, stored next to its run JSON: runs/ID.series.jsonl,
 * one JSON object per line, each with a `type` and `t_ms` (milliseconds since the
 * workload command started, the timeline's clock), so a notebook reads it with
 * `pandas.read_json(path, lines=True)` and splits by type:
 *   handler  the fault handler's counters for one VM, every 100 ms (interval rates and
 *            fault-latency p50/p99 of the faults inside the interval)
 *   guest    the guest's /proc/meminfo and /proc/vmstat (and balloon size), every second
 *   action   a timeline action as it fired, and what it did
 *   phase    the workload's phases (pmbench warm-up, run), as it printed them
 * The run JSON carries the TimelineRecord (actions with fire and reach times) and names
 * this file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface HandlerSample {
  type: 'handler';
  t_ms: number;
  vm: string;
  capacity_pages: number;
  resident_pages: number;
  resident_mib: number;
  faults: number;
  remote_fetches: number;
  evictions: number;
  /** per second over the interval before this sample */
  fault_rate: number;
  fetch_rate: number;
  eviction_rate: number;
  /** of the faults inside the interval (0 when there were none) */
  p50_ns: number;
  p99_ns: number;
}

export interface GuestSample {
  type: 'guest';
  t_ms: number;
  vm: string;
  /** /proc/meminfo, KiB */
  mem_total_kib?: number;
  mem_free_kib?: number;
  mem_available_kib?: number;
  cached_kib?: number;
  swap_free_kib?: number;
  /** /proc/vmstat counters */
  vmstat: Record<string, number>;
  /** QMP query-balloon: the guest's size as the balloon leaves it, MiB */
  balloon_mib?: number;
  /** how long the SSH round trip took, ms */
  latency_ms: number;
}

export interface ActionRecord {
  index: number;
  kind: 'resize' | 'balloon' | 'store' | 'exec';
  /** scheduled, ms after the workload started */
  at_ms: number;
  /** when it fired on the same clock; absent if the workload ended first */
  fired_ms?: number;
  /** a footprint change: the size asked for, per guest, MiB (resize, balloon) */
  target_mib?: number;
  /** resize: the handler capacity asked for, pages (all guests) */
  target_pages?: number;
  ok: boolean;
  error?: string;
  /** ms from firing until the new footprint was reached: resize until the handler's
   * resident set fits (its reply), balloon until query-balloon's actual is at the target;
   * null if it was not reached before the workload ended (balloon: or the next balloon
   * action) */
  reached_ms?: number | null;
  /** balloon not reached: the closest it came, MiB */
  closest_mib?: number;
  /** exec: per guest, exit code, round trip and the handler's state when it answered */
  answers?: ExecAnswer[];
  /** store pause: how long, ms */
  for_ms?: number;
}

export interface ExecAnswer {
  vm: string;
  code: number | null;
  ms: number;
  stdout?: string;
  error?: string;
  /** handler capacity and this VM's resident pages when the answer arrived (fluidmem) */
  capacity_pages?: number;
  resident_pages?: number;
}

export interface ActionSample extends ActionRecord {
  type: 'action';
  t_ms: number;
}

export interface PhaseSample {
  type: 'phase';
  t_ms: number;
  phase: string;
}

export type SeriesRow = HandlerSample | GuestSample | ActionSample | PhaseSample;

export interface TimelineRecord {
  /** wall-clock time of t_ms = 0 (the workload command started) */
  t0: string;
  /** the series file, relative to the run JSON's folder */
  series: string;
  actions: ActionRecord[];
  samples: { handler: number; guest: number; handler_interval_ms: number; guest_interval_ms: number; skipped: number };
  /** exec actions that answered while the handler held at most 256 pages (1 MiB) per guest */
  answered_at_1mib?: boolean;
  /** pmbench prints no per-second progress: its phases are the only workload marks */
  workload_progress: 'phases only';
}

/** runs/ID.series.jsonl for a run whose logs go to logs/ID (the results layout, store.ts). */
export function seriesFileFor(logDir: string): string {
  return join(dirname(dirname(logDir)), 'runs', `${basename(logDir)}.series.jsonl`);
}

/** Writes the rows, ordered by time, one JSON object per line. */
export function writeSeries(file: string, rows: SeriesRow[]): void {
  const sorted = [...rows].sort((a, b) => a.t_ms - b.t_ms);
  writeFileSync(file, sorted.map((r) => JSON.stringify(r)).join('\n') + (sorted.length ? '\n' : ''));
}

/** Reads a series file back; a missing file is an empty series, a bad line an error
 * naming FILE:LINE. */
export function readSeries(file: string): SeriesRow[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((line, i) => {
    if (!line.trim()) return [];
    try {
      return [JSON.parse(line) as SeriesRow];
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not a JSON line: ${(err as Error).message}`);
    }
  });
}
