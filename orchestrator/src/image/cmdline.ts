/** The guest kernel command line understood by vm-images/init.sh. */

export interface KernelCommandLineOptions {
  /** Block device in the guest to mkswap + swapon, e.g. /dev/vdb (a virtio-blk disk). */
  swapDevice?: string;
  /** Further kernel parameters, one per entry (no whitespace inside an entry). */
  extra?: string[];
}

/** Base parameters: serial console, reboot at once on panic (QEMU runs with -no-reboot, so
 * it exits), and no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check
 * can miss its window and panic ("IO-APIC + timer doesn't work"), seen here at load 13. */
export const BASE_KERNEL_PARAMS: readonly string[] = ['console=ttyS0', 'panic=-1', 'quiet', 'no_timer_check'];

export function kernelCommandLine(opts: KernelCommandLineOptions = {}): string {
  const params = [...BASE_KERNEL_PARAMS];
  if (opts.swapDevice !== undefined) {
    if (!/^\/dev\/[A-Za-z0-9_-]+$/.test(opts.swapDevice)) {
      throw new Error(`kernelCommandLine: swapDevice '${opts.swapDevice}' is not a guest device path; use e.g. /dev/vdb`);
    }
    params.push(`fluidlab.swap=${opts.swapDevice}`);
  }
  for (const p of opts.extra ?? []) {
    if (p === '' || /\s/.test(p)) {
      throw new Error(`kernelCommandLine: extra parameter '${p}' is empty or contains whitespace; pass one parameter per entry`);
    }
    params.push(p);
  }
  return params.join(' ');
}
