/**
 * Chooses the accelerator. /dev/kvm existing proves nothing (on some hosts guests hang under
 * it), so KVM counts as working only when a real boot of the guest image reaches
 * FLUIDLAB-READY within a timeout. The verdict is cached per host boot, QEMU and image.
 */
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { kernelCommandLine } from '../image/cmdline.js';
import { bootId } from '../process/procfs.js';
import { waitFor, WaitAbortedError, WaitTimeoutError } from '../process/wait.js';
import { MicroVM, type GuestImageFiles } from './microvm.js';
import type { Accelerator } from './qemu-args.js';

export interface KvmProbe {
  usable: boolean;
  reason: string;
  probedAt: string;
  key: string;
}

export function kvmDeviceAccessible(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

async function bootProbe(image: GuestImageFiles, timeoutMs: number): Promise<{ usable: boolean; reason: string }> {
  const runDir = mkdtempSync(join(tmpdir(), 'fluidlab-kvm-probe-'));
  const started = Date.now();
  let vm: MicroVM | undefined;
  try {
    vm = await MicroVM.start({
      name: 'kvmprobe', runDir, image, memoryMiB: 256, vcpus: 1, accelerator: 'kvm',
      cmdline: kernelCommandLine(), timeouts: { bootMs: timeoutMs, sshMs: timeoutMs, shutdownMs: 2000 },
    });
    await vm.resume();
    const probe = vm;
    await waitFor(() => probe.serial.ready, {
      timeoutMs: Math.max(0, timeoutMs - (Date.now() - started)), intervalMs: 100, what: 'FLUIDLAB-READY under KVM',
      abortIf: () => (probe.hasExited ? `QEMU exited under KVM: ${probe.serial.failure() ?? 'see the probe log'}` : undefined),
    });
    return { usable: true, reason: `guest booted under KVM in ${((Date.now() - started) / 1000).toFixed(1)} s` };
  } catch (err) {
    if (err instanceof WaitAbortedError) return { usable: false, reason: err.reason };
    if (err instanceof WaitTimeoutError) return { usable: false, reason: `guest did not boot under KVM within ${timeoutMs / 1000} s (hangs): using TCG` };
    return { usable: false, reason: `KVM boot failed: ${(err as Error).message.split('\n')[0]}` };
  } finally {
    await vm?.dispose().catch(() => undefined);
    rmSync(runDir, { recursive: true, force: true });
  }
}

/** Probes KVM (cached in `cacheFile`, keyed by host boot and image). */
export async function probeKvm(image: GuestImageFiles, opts: { cacheFile: string; timeoutMs?: number; fresh?: boolean }): Promise<KvmProbe> {
  const key = `${bootId()}:${image.kernel}:${image.initrd}`;
  if (!kvmDeviceAccessible()) return { usable: false, reason: '/dev/kvm is missing or not accessible', probedAt: new Date().toISOString(), key };
  if (!opts.fresh) {
    try {
      const cached = JSON.parse(readFileSync(opts.cacheFile, 'utf8')) as KvmProbe;
      if (cached.key === key) return cached;
    } catch { /* no cache */ }
  }
  const r = await bootProbe(image, opts.timeoutMs ?? 25_000);
  const probe: KvmProbe = { ...r, probedAt: new Date().toISOString(), key };
  mkdirSync(dirname(opts.cacheFile), { recursive: true });
  writeFileSync(opts.cacheFile, JSON.stringify(probe, null, 2));
  return probe;
}

export async function chooseAccelerator(requested: 'auto' | Accelerator, image: GuestImageFiles, cacheFile: string): Promise<{ accelerator: Accelerator; reason: string }> {
  if (requested === 'tcg') return { accelerator: 'tcg', reason: 'requested by the config' };
  const probe = await probeKvm(image, { cacheFile });
  if (requested === 'kvm') {
    if (!probe.usable) throw new Error(`accelerator: kvm was requested but KVM does not work here (${probe.reason}); use accelerator: auto or tcg`);
    return { accelerator: 'kvm', reason: probe.reason };
  }
  return probe.usable ? { accelerator: 'kvm', reason: probe.reason } : { accelerator: 'tcg', reason: probe.reason };
}
