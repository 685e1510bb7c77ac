/**
 * `orchestrate doctor`: each check says what it found, whether the run needs it, and how
 * to fix it. KVM is judged by a real boot (vm/accel.ts), never by /dev/kvm alone. The
 * directories of the built helpers and workloads can be pointed elsewhere (DoctorOptions,
 * `doctor --helpers-dir DIR`): to check another build, and for tests of a missing binary.
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

export const DEFAULT_HELPERS_DIR = join(repoRoot, 'helpers', 'bin');
export const DEFAULT_WORKLOADS_DIR = join(repoRoot, 'workloads', 'bin');

export interface DoctorOptions {
  /** Where fluidmem-monitor, libfluidmem-attach.so and uffd-probe are (default helpers/bin). */
  helpersDir?: string;
  /** Where pmbench and memverify are (default workloads/bin). */
  workloadsDir?: string;
}

/** How to get the binaries of `folder` (helpers, workloads) into `dir`. */
function buildFix(folder: 'helpers' | 'workloads', dir: string, defaultDir: string): string {
  return dir === defaultDir ? `make -C ${folder} (or npm run setup)` : `make -C ${folder}, then copy ${folder}/bin/* into ${dir}`;
}

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

async function checkUffd(helpersDir: string): Promise<Check> {
  const probe = join(helpersDir, 'uffd-probe');
  if (!usable(probe)) return { name: 'userfaultfd', ok: false, required: true, detail: `not probed: ${probe} is not built`, fix: buildFix('helpers', helpersDir, DEFAULT_HELPERS_DIR) };
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

/** Every check, in display order: qemu, guest image, kvm, accelerator, userfaultfd, redis,
 * helpers, workloads. Never throws for a failed check; `required` says which ones stop a run. */
export async function runChecks(opts: DoctorOptions = {}): Promise<Check[]> {
  const helpersDir = opts.helpersDir ?? DEFAULT_HELPERS_DIR;
  const workloadsDir = opts.workloadsDir ?? DEFAULT_WORKLOADS_DIR;
  const [qemu, redis, uffd] = await Promise.all([checkQemu(), checkRedis(), checkUffd(helpersDir)]);
  const helpers = checkBuilt('helpers', ['fluidmem-monitor', 'libfluidmem-attach.so', 'uffd-probe'].map((n) => join(helpersDir, n)), buildFix('helpers', helpersDir, DEFAULT_HELPERS_DIR));
  const workloads = checkBuilt('workloads', ['pmbench', 'memverify'].map((n) => join(workloadsDir, n)), buildFix('workloads', workloadsDir, DEFAULT_WORKLOADS_DIR));
  return [qemu, ...(await checkImageAndKvm()), uffd, redis, helpers, workloads];
}
