/** Shared pieces of the host tests: a private runs root, and running a program inside a
 * memory cgroup from its first instruction (helpers/bin/fluidlab-cgexec when built, else
 * a shell that writes its own pid to cgroup.procs and execs the program). */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { readProcSwaps, type HostState } from '../../src/host/host-state.js';
import { HOST_SWAP_PRIORITY, isRunSwap, liveSwapHolder } from '../../src/host/swap-device.js';

export const MEMVERIFY = join(process.cwd(), 'workloads/bin/memverify');
const CGEXEC = join(process.cwd(), 'helpers/bin/fluidlab-cgexec');

/** Points run directories (and `orchestrate down --all`) at a fresh private root. */
export function privateRunsRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'fl-host-runs-'));
  process.env.FLUIDLAB_RUNS_DIR = root;
  return root;
}

export function execInCgroup(dir: string, file: string, args: string[]) {
  if (existsSync(CGEXEC)) return execa(CGEXEC, [dir, '--', file, ...args], { reject: false });
  return execa('sh', ['-c', 'echo $$ > "$0" && exec "$@"', join(dir, 'cgroup.procs'), file, ...args], { reject: false });
}

/** Waits until no swap area at our priority or above is active (another engineer's run
 * on this shared host), so that the precondition check does not refuse us. */
export async function waitForHostSwapFree(timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A dead run's device (wedged, nothing could undo it) is outranked, not waited for.
  while (readProcSwaps().some((s) => s.priority >= HOST_SWAP_PRIORITY && (!isRunSwap(s.device) || liveSwapHolder(s.device)))) {
    if (Date.now() > deadline) throw new Error(`another run's host swap is still active after ${timeoutMs} ms: ${JSON.stringify(readProcSwaps())}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Entries of `after` that were not in `before` and name one of `ours` (a run id, a
 * device): what our runs left on the host. Other runs on this shared host may add and
 * remove their own entries meanwhile; those are not ours to judge. */
export function leftBehind(before: HostState, after: HostState, ours: string[]): string[] {
  const out: string[] = [];
  for (const key of Object.keys(after) as (keyof HostState)[]) {
    for (const e of after[key]) {
      if (!before[key].includes(e) && ours.some((o) => `${e} `.includes(o))) out.push(`${key}: ${e}`);
    }
  }
  return out;
}
