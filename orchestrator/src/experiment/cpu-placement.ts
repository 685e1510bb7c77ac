/**
 * Applies a guest run's CPU placement (config/placement.ts) to the processes the run owns:
 * the handler (every thread; a restarted monitor starts pinned, under taskset), the store (the embedded
 * redis-server or every embedded cluster node, found by their lease roles), and each
 * QEMU: its vCPU threads (QMP query-cpus-fast names their host thread ids) apart from its
 * other threads. Threads QEMU starts later inherit their creator's CPUs (the emulator set).
 * What the run records is read back from the kernel (Cpus_allowed_list), so a placement
 * that did not take cannot pass for one that did.
 */
import type { ResolvedPlacement } from '../config/placement.js';
import type { Monitor } from '../handler/monitor.js';
import { allowedCpus, pinCpus, threadsOf } from '../process/affinity.js';
import type { RunContext } from '../run/context.js';
import type { MicroVM } from '../vm/microvm.js';

/** The store's processes among the run's leased ones (embedded Redis or cluster nodes). */
export function storePids(ctx: RunContext): number[] {
  return ctx.lease.processes.filter((p) => p.role === 'redis' || p.role.startsWith('redis:cluster:')).map((p) => p.pid);
}

/** Distinct Cpus_allowed_list values of `tids` of `pid`, e.g. "1" or "0-1" or "0-1|1". */
function observed(pid: number, tids: number[]): string {
  return [...new Set(tids.map((t) => allowedCpus(pid, t) ?? 'gone'))].join('|');
}

/** Pins the handler and the store; returns what the kernel then allows each
 * ({ monitor, store }: Cpus_allowed_list; "float" placements are left alone). */
export async function placeHandler(ctx: RunContext, monitor: Monitor | undefined, p: ResolvedPlacement): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (monitor) {
    if (p.monitor) await monitor.pinTo(p.monitor); // a restarted monitor starts pinned
    out.monitor = observed(monitor.pid, threadsOf(monitor.pid));
  }
  const stores = storePids(ctx);
  if (stores.length) {
    if (p.store) for (const pid of stores) await pinCpus(pid, p.store, { allThreads: true });
    out.store = [...new Set(stores.map((pid) => observed(pid, threadsOf(pid))))].join('|');
  }
  return out;
}

/** Pins thread `tid` of `pid`; a thread that ended meanwhile (QEMU's worker threads come
 * and go) is no failure. */
async function pinThread(pid: number, tid: number, cpus: number[]): Promise<void> {
  try {
    await pinCpus(tid, cpus);
  } catch (err) {
    if (allowedCpus(pid, tid) !== undefined) throw err; // still there: a real refusal
  }
}

/** Pins a (paused) guest's vCPU threads to p.vcpus and its other threads to p.emulator;
 * returns { vcpus, emulator } as the kernel then allows them. */
export async function placeGuest(vm: MicroVM, p: ResolvedPlacement): Promise<Record<string, string>> {
  const vcpus = (await vm.qmp.execute('query-cpus-fast')).map((c) => c['thread-id']);
  const others = threadsOf(vm.pid).filter((t) => !vcpus.includes(t));
  if (p.emulator) for (const t of others) await pinThread(vm.pid, t, p.emulator);
  if (p.vcpus) for (const t of vcpus) await pinThread(vm.pid, t, p.vcpus);
  return { vcpus: observed(vm.pid, vcpus), emulator: observed(vm.pid, others) };
}
