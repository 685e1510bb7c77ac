/**
 * What the control host and a lab host's part (cli/host-part.ts) say to each other over
 * the SSH channel. Pure data, imported by both sides.
 *
 *   control -> part, stdin:  one JSON line, a PartJob; then stdin stays open. When it
 *                            closes (the channel or the connection went away) the part
 *                            stops: SIGTERM to itself, so every RunContext tears down.
 *   part -> control, stdout: JSON lines, PartEvents (anything else is shown as a log line);
 *   part -> control, stderr: free text (RunContext messages, warnings), shown prefixed.
 *
 * The part exits 0 after `done` (failed runs are in their records), nonzero otherwise.
 */
import type { RunRecord } from '../results/types.js';

/** Relative path of the part's entry in a FluidLab checkout (run with tsx, from source). */
export const PART_ENTRY = 'orchestrator/src/cli/host-part.ts';

/** Environment variable the part sets for itself and so for every process it starts:
 * the part's results directory on that host (tests find a part's processes by it). */
export const PART_ENV = 'FLUIDLAB_PART_DIR';

export interface PartJob {
  /** The lab host's name in the config (for messages). */
  host: string;
  /** The host's run id: distinct from the control host's and every other host's, so the
   * store key prefixes (fluidlab:RUN-ID-N:) never collide on a shared store. */
  runId: string;
  /** Where the part writes results/RUN-ID/ (results root on that host). */
  workDir: string;
  /** How errors name the sub-config (FILE:LINE:COL). */
  configFile: string;
  /** The sub-config's YAML (hosts/sub-config.ts). */
  config: string;
}

export type PartEvent =
  | { ev: 'start'; pid: number; nowMs: number }
  | { ev: 'log'; line: string }
  | { ev: 'phase'; variant: string; repetition: number; phase: string }
  | { ev: 'output'; variant: string; repetition: number; chunk: string }
  | { ev: 'run'; record: RunRecord }
  | { ev: 'done'; dir: string; failed: number }
  | { ev: 'error'; message: string };

/** One stdout line of the part as an event, or undefined if it is not one. */
export function parsePartEvent(line: string): PartEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const e = JSON.parse(line) as { ev?: unknown };
    return typeof e.ev === 'string' ? (e as PartEvent) : undefined;
  } catch {
    return undefined;
  }
}
