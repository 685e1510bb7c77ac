/**
 * From a VM config to a paused MicroVM owned by a run: image files, accelerator, kernel
 * command line, disks and the extra environment (the attach library for FluidMem arms).
 */
import { join } from 'node:path';
import type { VmConfig } from '../config/schema.js';
import { kernelCommandLine } from '../image/cmdline.js';
import type { GuestImage } from '../image/ensure.js';
import { defaultCacheDir } from '../image/paths.js';
import type { RunContext } from '../run/context.js';
import { chooseAccelerator } from './accel.js';
import { MicroVM } from './microvm.js';
import type { Accelerator, DiskSpec } from './qemu-args.js';

export const kvmProbeCacheFile = join(defaultCacheDir, 'kvm-probe.json');

export interface LaunchOptions {
  ctx: RunContext;
  vm: VmConfig;
  image: GuestImage;
  accelerator: Accelerator;
  /** Overrides the config's memory (swap arms give the guest only the resident limit). */
  memoryMiB?: number;
  env?: Record<string, string>;
  disks?: DiskSpec[];
  swapDevice?: string;
  /** Name suffix when one config VM is booted several times in a run. */
  instance?: string;
}

export async function resolveAccelerator(vm: VmConfig, image: GuestImage): Promise<{ accelerator: Accelerator; reason: string }> {
  return chooseAccelerator(vm.accelerator, image, kvmProbeCacheFile);
}

/** Starts QEMU paused (-S) with QMP connected, owned by the run context (which
 * disposes it); the caller resumes it. */
export async function launchGuest(o: LaunchOptions): Promise<MicroVM> {
  const vm = await MicroVM.start({
    name: o.instance ? `${o.vm.name}-${o.instance}` : o.vm.name,
    runDir: o.ctx.runDir,
    lease: o.ctx.lease,
    image: o.image,
    memoryMiB: o.memoryMiB ?? o.vm.memory,
    vcpus: o.vm.vcpus,
    accelerator: o.accelerator,
    cmdline: kernelCommandLine({ swapDevice: o.swapDevice }),
    disks: o.disks,
    extraArgs: o.vm.qemu_args,
    env: o.env,
    timeouts: { bootMs: o.vm.timeouts.boot, sshMs: o.vm.timeouts.ssh, shutdownMs: o.vm.timeouts.shutdown },
  });
  return o.ctx.own(vm);
}
