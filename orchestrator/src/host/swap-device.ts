/**
 * A swap device on the host, made for one run, for the host-placement arm (pmbench
 * natively in a memory cgroup): zram (compressed in DRAM), a loop device over a file on
 * /dev/shm (tmpfs: DRAM), or a loop device over a file under /var/tmp (disk).
 *
 * Each step is recorded in the run's lease before it is made and undone by a disposer the
 * run owns, newest first: swapoff, then losetup -d or zram reset + hot_remove, then rm of
 * the backing file (host/host-changes.ts). `orchestrate down` replays the same undo.
 *
 * Backing files are preallocated with fallocate (no holes), so a swap-out never has to
 * allocate tmpfs pages or disk blocks under memory pressure. Loop direct I/O: on for disk
 * (like the guest swap arm's cache=none: swapped pages go to the disk instead of staying
 * in the host page cache, which would be DRAM swap in disguise); off for tmpfs, where the
 * page cache is the storage itself and direct I/O would add nothing.
 *
 * Swap is global on Linux: while the device is on, any process on the host may swap to it
 * (ours has a high priority so the cgroup's pages go there; see preconditions.ts). Two
 * runs' devices at the same priority would share the cgroups' swap traffic, so host swap
 * is exclusive: creation holds a host-wide lock and checks the active swap areas at our
 * priority or above. The host's own (any other label) is a refusal (HostRefusal); another
 * FluidLab run's (mkswap label fluidlab-...) means wait until it is gone, so concurrent
 * runs queue for host swap instead of failing (bounded by `waitMs`).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, execaSync } from 'execa';
import { HELPERS_BIN } from '../handler/monitor.js';
import { ManagedChild } from '../process/child.js';
import { isSameProcess, processStartTime } from '../process/procfs.js';
import type { RunContext } from '../run/context.js';
import { withLock } from '../image/lock.js';
import { makeHostChange } from './host-changes.js';
import { readProcSwaps } from './host-state.js';
import { HostRefusal, outrankedRefusal } from './refusal.js';

export type SwapOn = 'zram' | 'tmpfs' | 'disk';

export interface HostSwap {
  device: string;            // /dev/zramN or /dev/loopN
  kind: SwapOn;
  backingFile?: string;      // tmpfs/disk
  priority: number;
  /** zram: { orig_data_size, compr_data_size, mem_used_total, compression_ratio } from mm_stat;
   * every kind: swap_used_bytes and swap_size_bytes from /proc/swaps. */
  stats(): Record<string, number>;
}

/** The swap priority of run devices: above any ordinary swap (the kernel fills higher
 * priorities first), below the maximum 32767 so an operator can still outrank us. */
export const HOST_SWAP_PRIORITY = 32000;

/** Held while a run checks for other swap and turns its own on (see the file comment). */
export const HOST_SWAP_LOCK = '/tmp/fluidlab-host-swap.lock';

const PIN = join(HELPERS_BIN, 'fluidlab-pin');

/** The mkswap label prefix of run devices: tells a FluidLab run's swap from the host's own. */
export const RUN_SWAP_LABEL = 'fluidlab-';

/** Whether the active swap area `device` was made by a FluidLab run: a loop device over a
 * file in our swap directories (read from sysfs: no I/O on a device that may be wedged),
 * or a device whose mkswap label says so. */
export function isRunSwap(device: string): boolean {
  const name = basename(device);
  if (name.startsWith('loop')) {
    try {
      const backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
      return backing.startsWith(`${swapFileDir('tmpfs')}/`) || backing.startsWith(`${swapFileDir('disk')}/`);
    } catch {
      return false;
    }
  }
  const r = execaSync('blkid', ['-s', 'LABEL', '-o', 'value', device], { reject: false, timeout: 10_000 });
  return r.exitCode === 0 && String(r.stdout).trim().startsWith(RUN_SWAP_LABEL);
}

/** Where the backing file of a loop swap lives. */
export function swapFileDir(kind: 'tmpfs' | 'disk'): string {
  return kind === 'tmpfs' ? '/dev/shm/fluidlab' : '/var/tmp/fluidlab';
}

async function run(file: string, args: string[]): Promise<string> {
  const r = await execa(file, args, { reject: false, timeout: 120_000 });
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${r.exitCode}): ${String(r.stderr).trim() || String(r.stdout).trim()}`);
  return String(r.stdout).trim();
}

function swapUsage(device: string): Record<string, number> {
  const s = readProcSwaps().find((x) => x.device === device);
  return s ? { swap_used_bytes: s.usedKiB * 1024, swap_size_bytes: s.sizeKiB * 1024 } : {};
}

/** zram's mm_stat, named (Documentation/admin-guide/blockdev/zram.rst). */
export function zramStats(device: string): Record<string, number> {
  const names = ['orig_data_size', 'compr_data_size', 'mem_used_total', 'mem_limit', 'mem_used_max', 'same_pages', 'pages_compacted', 'huge_pages'];
  const values = readFileSync(`/sys/block/${basename(device)}/mm_stat`, 'utf8').trim().split(/\s+/).map(Number);
  const out: Record<string, number> = {};
  names.forEach((n, i) => { if (values[i] !== undefined) out[n] = values[i]!; });
  out.compression_ratio = out.compr_data_size ? out.orig_data_size! / out.compr_data_size : 0;
  return out;
}

async function makeZram(ctx: RunContext, sizeMiB: number): Promise<string> {
  // Reading hot_add creates the device and returns its number. It is recorded right after:
  // a SIGKILL between the two would leave an empty (disksize 0) zram device behind.
  const id = readFileSync('/sys/class/zram-control/hot_add', 'utf8').trim();
  if (!/^\d+$/.test(id)) throw new Error(`/sys/class/zram-control/hot_add returned '${id}', not a device number`);
  const device = `/dev/zram${id}`;
  await makeHostChange(ctx, { kind: 'zram', device }, async () => {
    try {
      writeFileSync(`/sys/block/zram${id}/disksize`, String(sizeMiB * 2 ** 20));
    } catch (err) {
      throw new Error(`setting the size of ${device} to ${sizeMiB} MiB: ${(err as Error).message}`);
    }
  });
  return device;
}

/** Keeps a tmpfs backing file's pages in RAM (helpers/bin/fluidlab-pin, mlock) while the
 * run lasts: were they swapped out, they would go to the swap device they back, and the
 * loop worker would wait forever on its own writeback (every task using that swap then
 * hangs in D state: seen here). The pin outlives the loop device (disposed after it). */
async function pinInRam(ctx: RunContext, file: string): Promise<void> {
  const child = ctx.own(new ManagedChild({ role: 'pin', file: PIN, args: [file], logFile: join(ctx.runDir, 'pin.log'), lease: ctx.lease }));
  await child.waitForLog(/fluidlab-pin: pinned/, `fluidlab-pin to lock ${file} in RAM`, 120_000);
}

async function makeLoop(ctx: RunContext, kind: 'tmpfs' | 'disk', sizeMiB: number): Promise<{ device: string; backingFile: string }> {
  const dir = swapFileDir(kind);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const backingFile = join(dir, `${ctx.runId}-host.swap`);
  await makeHostChange(ctx, { kind: 'file', path: backingFile }, async () => {
    await run('fallocate', ['--length', String(sizeMiB * 2 ** 20), backingFile]);
  });
  if (kind === 'tmpfs') await pinInRam(ctx, backingFile);
  const device = await makeHostChange(ctx, { kind: 'loop', backingFile }, async () =>
    run('losetup', ['--find', '--show', `--direct-io=${kind === 'disk' ? 'on' : 'off'}`, backingFile]));
  ctx.lease.addHostChange({ kind: 'loop', backingFile, device });
  return { device, backingFile };
}

/** Who holds a run's swap device: host-wide, so another run can tell a live holder (wait
 * for it) from a dead one (its device is stale). One JSON file per device name. */
export const HOST_SWAP_OWNERS = '/tmp/fluidlab-host-swap.owners';

export interface SwapOwner { pid: number; startTime?: number; runId: string }

function ownerFile(device: string): string {
  return join(HOST_SWAP_OWNERS, basename(device));
}

/** The live run holding `device`, or undefined when its holder is gone or unknown (a
 * device left by a crashed run that nothing could undo). */
export function liveSwapHolder(device: string): SwapOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(ownerFile(device), 'utf8')) as SwapOwner;
    return isSameProcess(o.pid, o.startTime) ? o : undefined;
  } catch {
    return undefined;
  }
}

/** Creates a swap device of `sizeMiB` of the given kind, mkswap, swapon at `priority`.
 * Everything is owned by `ctx` and recorded in its lease (see the file comment); call
 * preconditions.ts checkHostSwapPossible first for a clear refusal instead of a failed
 * command. Under a host-wide lock it looks at the swap areas at `priority` or above: the
 * host's own is a refusal (HostRefusal); a live run's means wait (up to `waitMs`, default
 * 30 min); a dead run's (stale: its holder is gone and its device is still on, e.g. one
 * wedged in swapoff) is outranked: this device gets the next priority up, so no new page
 * goes to the stale one (refused when that would pass 32767). The priority used is in
 * the result. What was made so far is undone with the run. */
export async function createHostSwap(ctx: RunContext, kind: SwapOn, sizeMiB: number, opts: { priority?: number; waitMs?: number } = {}): Promise<HostSwap> {
  if (!Number.isInteger(sizeMiB) || sizeMiB < 1) throw new Error(`host swap size must be a whole number of MiB ≥ 1, got ${sizeMiB}`);
  const wanted = opts.priority ?? HOST_SWAP_PRIORITY;
  const deadline = Date.now() + (opts.waitMs ?? 30 * 60_000);
  let made: { device: string; backingFile: string | undefined; priority: number } | undefined;
  let busy: string[] = [];
  while (!made) {
    busy = [];
    made = await withLock(HOST_SWAP_LOCK, { timeoutMs: 120_000 }, async () => {
      const outranking = readProcSwaps().filter((s) => s.priority >= wanted);
      const foreign = outranking.filter((s) => !isRunSwap(s.device));
      if (foreign.length) throw outrankedRefusal(wanted, foreign);
      busy = outranking.filter((s) => liveSwapHolder(s.device)).map((s) => s.device);
      if (busy.length) return undefined; // another live run's: wait for it, outside the lock
      const stale = Math.max(wanted - 1, ...outranking.map((s) => s.priority));
      const priority = stale + 1;
      if (priority > 32767) throw new HostRefusal(`a crashed run's swap (${outranking.map((s) => s.device).join(', ')}) is on at priority 32767 and cannot be outranked: run \`orchestrate down --all\` or swapoff it`);
      const m = kind === 'zram' ? { device: await makeZram(ctx, sizeMiB), backingFile: undefined } : await makeLoop(ctx, kind, sizeMiB);
      await run('mkswap', ['--label', `${RUN_SWAP_LABEL}${ctx.runId}`.slice(0, 16), m.device]);
      mkdirSync(HOST_SWAP_OWNERS, { recursive: true, mode: 0o700 });
      writeFileSync(ownerFile(m.device), JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid), runId: ctx.runId } satisfies SwapOwner), { mode: 0o600 });
      await makeHostChange(ctx, { kind: 'swapon', device: m.device }, async () => {
        await run('swapon', ['--priority', String(priority), m.device]);
      });
      return { ...m, priority };
    });
    if (!made) {
      if (Date.now() > deadline) throw new HostRefusal(`another FluidLab run has held host swap (${busy.join(', ')}) for ${Math.round((opts.waitMs ?? 1_800_000) / 1000)} s: wait for it, or if it crashed run \`orchestrate down --all\``);
      await sleep(1000);
    }
  }
  const { device, backingFile, priority } = made;
  return {
    device, kind, backingFile, priority,
    stats: () => ({ ...(kind === 'zram' ? zramStats(device) : {}), ...swapUsage(device) }),
  };
}
