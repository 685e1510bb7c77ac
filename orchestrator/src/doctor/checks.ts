/**
 * `orchestrate doctor`: each check says what it found, whether the run needs it, and how
 * to fix it. KVM is judged by a real boot (vm/accel.ts), never by /dev/kvm alone.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { imageStatus, ensureImage } from '../image/ensure.js';
import { repoRoot } from '../image/paths.js';
import { qemuVersion, redisVersion } from '../host/facts.js';
import { probeKvm } from '../vm/accel.js';
import { kvmProbeCacheFile } from '../vm/launch.js';

export interface Check {
  name: string;
  ok: boolean;
  required: boolean;
  detail: string;
  fix?: string;
  data?: unknown;
}

export const helperBin = (name: string) => join(repoRoot, 'helpers', 'bin', name);
export const workloadBin = (name: string) => join(repoRoot, 'workloads', 'bin', name);

/** Programs must be executable; shared libraries (.so, for LD_PRELOAD) readable. */
function usable(path: string): boolean {
  try { accessSync(path, path.endsWith('.so') ? constants.R_OK : constants.X_OK); return true; } catch { return false; }
}

async function checkQemu(): Promise<Check> {
  const v = await qemuVersion();
  return v ? { name: 'qemu', ok: true, required: true, detail: `qemu-system-x86_64 ${v}` }
    : { name: 'qemu', ok: false, required: true, detail: 'qemu-system-x86_64 not found', fix: 'apt-get install -y qemu-system-x86 qemu-utils (or npm run setup)' };
}

async function checkRedis(): Promise<Check> {
  const v = await redisVersion();
  return v ? { name: 'redis', ok: true, required: true, detail: `redis-server ${v}` }
    : { name: 'redis', ok: false, required: true, detail: 'redis-server not found', fix: 'apt-get install -y redis-server (or npm run setup)' };
}

async function checkUffd(): Promise<Check> {
  const probe = helperBin('uffd-probe');
  if (!usable(probe)) return { name: 'userfaultfd', ok: false, required: true, detail: `${probe} is not built`, fix: 'make -C helpers (or npm run setup)' };
  const r = await execa(probe, [], { reject: false, timeout: 10_000 });
  let data: { available?: boolean; features?: Record<string, boolean>; error?: string } = {};
  try { data = JSON.parse(String(r.stdout)) as typeof data; } catch { /* below */ }
  if (!data.available) {
    return { name: 'userfaultfd', ok: false, required: true, detail: `userfaultfd unavailable: ${data.error ?? String(r.stderr).trim()}`, fix: 'run as root or set vm.unprivileged_userfaultfd=1 (sysctl); the kernel needs CONFIG_USERFAULTFD', data };
  }
  const features = Object.entries(data.features ?? {}).filter(([, v]) => v).map(([k]) => k);
  const move = data.features?.move === true;
  return { name: 'userfaultfd', ok: true, required: true, detail: `available; features: ${features.join(', ')}${move ? '' : ' (no MOVE: eviction needs Linux >= 6.8)'}`, data };
}

function checkBuilt(name: string, files: string[], fix: string): Check {
  const missing = files.filter((f) => !usable(f));
  return missing.length === 0 ? { name, ok: true, required: true, detail: 'built' } : { name, ok: false, required: true, detail: `missing ${missing.join(', ')}`, fix };
}

async function checkImageAndKvm(): Promise<Check[]> {
  const status = await imageStatus();
  const image: Check = { name: 'guest image', ok: status.ok, required: true, detail: status.message, fix: status.fix };
  if (!status.ok) {
    return [image, { name: 'kvm', ok: false, required: false, detail: 'not probed: needs the guest image', fix: status.fix }, { name: 'accelerator', ok: true, required: false, detail: 'tcg (KVM not probed)' }];
  }
  const img = await ensureImage();
  const kvm = await probeKvm(img, { cacheFile: kvmProbeCacheFile });
  return [
    image,
    { name: 'kvm', ok: kvm.usable, required: false, detail: kvm.reason, fix: kvm.usable ? undefined : 'optional: guests run under TCG (slower); on a lab host check /dev/kvm permissions and nested virtualisation', data: kvm },
    { name: 'accelerator', ok: true, required: false, detail: kvm.usable ? 'kvm' : 'tcg' },
  ];
}

export async function runChecks(): Promise<Check[]> {
  const [qemu, redis, uffd] = await Promise.all([checkQemu(), checkRedis(), checkUffd()]);
  const helpers = checkBuilt('helpers', [helperBin('fluidmem-monitor'), helperBin('libfluidmem-attach.so'), helperBin('uffd-probe')], 'make -C helpers (or npm run setup)');
  const workloads = checkBuilt('workloads', [workloadBin('pmbench'), workloadBin('memverify')], 'make -C workloads (or npm run setup)');
  return [qemu, ...(await checkImageAndKvm()), uffd, redis, helpers, workloads];
}
