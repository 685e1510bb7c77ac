/**
 * The handler floor of a summary (experiment/handler-floor.ts measures it with
 * helpers/bin/fluidlab-floor): parsing the helper's line and the lines `up` prints and the
 * report shows. Pure.
 */
import type { HandlerFloorSummary } from './types.js';

/** Parses fluidlab-floor's JSON line (throws with its error or on a malformed line). */
export function parseFloor(stdout: string, cpu: number | null): NonNullable<HandlerFloorSummary['floor']> {
  const line = stdout.trim().split('\n').pop() ?? '';
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`fluidlab-floor printed no JSON line: ${JSON.stringify(line.slice(0, 200))}`);
  }
  if (typeof o.error === 'string') throw new Error(`fluidlab-floor: ${o.error}`);
  const num = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`fluidlab-floor: no positive ${k} in ${line}`);
    return v;
  };
  return {
    cpu, pages: num('pages'),
    kernelFaultNs: num('kernel_fault_ns'), uffdProcessNs: num('uffd_process_ns'), uffdThreadNs: num('uffd_thread_ns'),
  };
}

const us = (ns: number) => (ns / 1000).toFixed(ns >= 100_000 ? 0 : 1);

export function formatFloor(f: NonNullable<HandlerFloorSummary['floor']>): string {
  return `kernel fault ${us(f.kernelFaultNs)} us, userfaultfd round trip to another process ` +
    `${us(f.uffdProcessNs)} us (${(f.uffdProcessNs / f.kernelFaultNs).toFixed(1)}x), to a thread of the ` +
    `faulting process ${us(f.uffdThreadNs)} us (${(f.uffdThreadNs / f.kernelFaultNs).toFixed(1)}x)`;
}

/** The lines `up` prints under the tables (none when nothing was probed). */
export function formatHandlerFloor(s: HandlerFloorSummary | undefined): string[] {
  if (!s) return [];
  if (!s.floor) return [`handler floor: not measured (${s.skipped ?? 'unknown reason'})`];
  const where = s.floor.cpu === null ? 'not pinned' : `cpu ${s.floor.cpu}`;
  return [
    `handler floor on this host (fluidlab-floor, ${where}, median of ${s.floor.pages} first touches, one run): ${formatFloor(s.floor)}`,
    'a host fluidmem arm pays at least the round trip to another process per fault; a fluidmem / swap ratio cannot fall below about that over the swap path\'s kernel cost',
  ];
}
