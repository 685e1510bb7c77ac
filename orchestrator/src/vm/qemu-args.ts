/** Builds QEMU's command line as an argument array from a typed description of the VM. */

export type Accelerator = 'kvm' | 'tcg';

/** A raw disk the guest sees as virtio-blk: a host file, or an NBD export that QEMU's
 * built-in NBD client opens (`nbd://127.0.0.1:PORT/NAME`, see vm/nbd-export.ts). */
export type DiskSpec =
  | {
    path: string;
    /** 'none' bypasses the host page cache (O_DIRECT; not supported on tmpfs). */
    cache: 'none' | 'writeback';
  }
  | { nbd: string };

/** The -drive value of disk `i`. */
export function driveArg(d: DiskSpec, i: number): string {
  if ('nbd' in d) {
    if (!/^nbd:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]+$/.test(d.nbd)) throw new Error(`NBD disk ${d.nbd}: expected nbd://127.0.0.1:PORT/NAME`);
    return `file=${d.nbd},if=none,id=disk${i},format=raw,cache=writeback`;
  }
  return `file=${d.path.replace(/,/g, ',,')},if=none,id=disk${i},format=raw,cache=${d.cache}${d.cache === 'none' ? ',aio=threads' : ''}`;
}

export interface QemuSpec {
  name: string;
  memoryMiB: number;
  vcpus: number;
  accelerator: Accelerator;
  kernel: string;
  initrd: string;
  cmdline: string;
  qmpSocket: string;
  serialLog: string;
  sshPort: number;
  disks?: DiskSpec[];
  extraArgs?: string[];
}

export function qemuArgs(spec: QemuSpec): string[] {
  const args = [
    '-name', `${spec.name},process=fluidlab-${spec.name}`,
    '-machine', 'pc',
    '-accel', spec.accelerator,
    '-cpu', spec.accelerator === 'kvm' ? 'host' : 'max',
    '-m', `${spec.memoryMiB}M`,
    '-smp', String(spec.vcpus),
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-no-reboot',
    '-S',
    '-qmp', `unix:${spec.qmpSocket},server=on,wait=off`,
    '-serial', `file:${spec.serialLog}`,
    '-kernel', spec.kernel,
    '-initrd', spec.initrd,
    '-append', spec.cmdline,
    '-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${spec.sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=net0',
    // deflate-on-oom: a balloon the timeline inflates too far gives pages back before the
    // guest's OOM killer would pick a process (config/timeline.ts balloon actions).
    '-device', 'virtio-balloon-pci,deflate-on-oom=on',
    '-device', 'pvpanic',
  ];
  (spec.disks ?? []).forEach((d, i) => {
    args.push('-drive', driveArg(d, i));
    args.push('-device', `virtio-blk-pci,drive=disk${i}`);
  });
  args.push(...(spec.extraArgs ?? []));
  return args;
}
