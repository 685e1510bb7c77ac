/**
 * The handler floor: what any userfaultfd fault handler costs on this host before it does
 * any work, measured once per experiment before the runs when an arm is a host-placed
 * fluidmem arm (helpers/bin/fluidlab-floor, pinned to the CPU the host runs share). It sets
 * three medians side by side from one run: the kernel's own first-touch fault, the round
 * trip to a trivial handler in another process (what fluidmem-monitor pays at the least),
 * and to the same handler as a thread of the faulting process. A host fluidmem / swap ratio
 * cannot go below about uffdProcess over the swap path's kernel cost: where switching
 * address spaces is dear (a guest with shadow paging, like the PVM hosts here) the floor
 * alone can exceed a whole zram fault, and a published ratio from bare-metal KVM is out of
 * reach whatever the handler does. The probe never fails the experiment: a failure is
 * recorded as `skipped` with the reason.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ExperimentConfig } from '../config/schema.js';
import { HELPERS_BIN } from '../handler/monitor.js';
import { formatFloor, parseFloor } from '../results/floor.js';
import type { HandlerFloorSummary } from '../results/types.js';
import { hostCpu } from './host-run.js';

export const FLOOR_PAGES = 2048;

export interface FloorOptions {
  config: ExperimentConfig;
  /** where fluidlab-floor is (default helpers/bin) */
  helpersDir?: string;
  log?: (line: string) => void;
}

/** Measures the floor when a host-placed fluidmem arm will run; undefined otherwise. */
export async function probeHandlerFloor(o: FloorOptions): Promise<HandlerFloorSummary | undefined> {
  if (!o.config.arms.some((a) => a.kind === 'fluidmem' && a.placement === 'host')) return undefined;
  const bin = join(o.helpersDir ?? HELPERS_BIN, 'fluidlab-floor');
  if (!existsSync(bin)) return { skipped: `${bin} is not built (make -C helpers)` };
  const cpu = hostCpu(o.config) ?? null;
  const argv = cpu === null ? [bin, String(FLOOR_PAGES)] : ['taskset', '-c', String(cpu), bin, String(FLOOR_PAGES)];
  const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: 60_000, stdin: 'ignore' });
  try {
    if (r.exitCode !== 0 && !String(r.stdout).includes('"error"')) {
      throw new Error(`fluidlab-floor exited ${r.exitCode ?? r.signal}: ${String(r.stderr).trim().slice(0, 300)}`);
    }
    const floor = parseFloor(String(r.stdout), cpu);
    o.log?.(`handler floor: ${formatFloor(floor)}`);
    return { floor };
  } catch (e) {
    const skipped = (e as Error).message;
    o.log?.(`handler floor not measured: ${skipped}`);
    return { skipped };
  }
}

