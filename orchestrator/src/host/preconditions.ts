/**
 * Whether this host can run the host-placement arm (a memory cgroup with swap on a device
 * made for the run), checked before anything is changed, so that a run is refused with one
 * clear line (what is missing and how to fix it) instead of failing half-way through
 * mkswap or losetup. Synchronous and read-only.
 */
import { existsSync, statfsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { memAvailableMiB, readProcSwaps } from './host-state.js';
import { findMemoryHierarchy, hierarchyUsable } from './memory-cgroup.js';
import { HostRefusal, outrankedRefusal } from './refusal.js';
import { HOST_SWAP_PRIORITY, type SwapOn, isRunSwap, swapFileDir } from './swap-device.js';

export { HostRefusal } from './refusal.js';

/** DRAM kept free beyond what the run itself takes: 256 MiB or 10% of what it takes. */
export function marginMiB(needMiB: number): number {
  return Math.max(256, Math.ceil(needMiB / 10));
}

function onPath(program: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).some((d) => existsSync(join(d, program)));
}

/** Throws HostRefusal when: not root; no memory cgroup controller; no loop devices
 * (tmpfs/disk) or no zram-control (zram); too little MemAvailable for the resident limit +
 * swap kept in DRAM (zram, tmpfs; zram counted uncompressed, the worst case) + margin; too
 * little free space under /var/tmp for a disk swap file; a swap area already active with
 * priority ≥ ours that is not another FluidLab run's (the kernel would swap the cgroup's
 * pages there instead; a run's own device is waited for by createHostSwap). */
export function checkHostSwapPossible(kind: SwapOn, sizeMiB: number, residentMiB: number, opts: { priority?: number } = {}): void {
  const priority = opts.priority ?? HOST_SWAP_PRIORITY;
  if (process.getuid?.() !== 0) {
    throw new HostRefusal(`host swap (${kind}) needs root to run swapon, losetup and to write cgroups: run the orchestrator as root (sudo)`);
  }
  const h = findMemoryHierarchy();
  if (!h) {
    throw new HostRefusal('no memory cgroup controller: mount cgroup v1 memory at /sys/fs/cgroup/memory or boot with cgroup v2 and the memory controller (cgroup_enable=memory)');
  }
  if (!hierarchyUsable(h)) {
    throw new HostRefusal(`cgroup v2 at ${h.root} does not delegate the memory controller: echo +memory > ${join(h.root, 'cgroup.subtree_control')}`);
  }
  for (const program of ['mkswap', 'swapon', 'swapoff', ...(kind === 'zram' ? [] : ['losetup', 'fallocate'])]) {
    if (!onPath(program)) throw new HostRefusal(`${program} is not on PATH: install util-linux (apt-get install util-linux)`);
  }
  if (kind === 'zram' && !existsSync('/sys/class/zram-control/hot_add')) {
    throw new HostRefusal('no zram-control (/sys/class/zram-control/hot_add): load the zram module (modprobe zram) or use swap_on tmpfs/disk');
  }
  if (kind !== 'zram' && !existsSync('/dev/loop-control')) {
    throw new HostRefusal(`no loop device support (/dev/loop-control) for swap on ${kind}: modprobe loop, or use swap_on zram`);
  }
  const inDram = kind === 'disk' ? 0 : sizeMiB;
  const need = residentMiB + inDram;
  const available = memAvailableMiB();
  if (available < need + marginMiB(need)) {
    throw new HostRefusal(`not enough free memory for host swap on ${kind}: need ${residentMiB} MiB resident + ${inDram} MiB swap in DRAM + ${marginMiB(need)} MiB margin, MemAvailable is ${available} MiB: lower the resident limit or swap size, or use swap_on disk`);
  }
  if (kind === 'disk') {
    const dir = existsSync(swapFileDir('disk')) ? swapFileDir('disk') : '/var/tmp';
    const s = statfsSync(dir);
    const freeMiB = Math.floor((s.bavail * s.bsize) / 2 ** 20);
    if (freeMiB < sizeMiB + marginMiB(sizeMiB)) {
      throw new HostRefusal(`not enough free disk under ${dir} for a ${sizeMiB} MiB swap file (+${marginMiB(sizeMiB)} MiB margin): ${freeMiB} MiB free: free space or lower swap_size`);
    }
  }
  // Another FluidLab run's device is not a refusal: createHostSwap waits for it.
  const outranking = readProcSwaps().filter((s) => s.priority >= priority && !isRunSwap(s.device));
  if (outranking.length) throw outrankedRefusal(priority, outranking);
}
