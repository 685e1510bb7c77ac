/**
 * The emulation probe: how much slower a guest is than the host it runs on, measured once
 * per experiment (one extra small guest boot, before the runs), so that guest results can
 * be read for what they are. Under TCG the guest's user code and its kernel are emulated
 * while the fault handler (fluidmem arms) runs natively, so a guest fluidmem / guest swap
 * ratio is flattered by an unknown factor; this module measures two such factors:
 *  - userAccess: our static pmbench with the experiment's pattern, ratio and jobs, but a
 *    working set that stays resident (16 MiB, 3 s), in an all-DRAM guest (arm kind none)
 *    and on the host: guest avg latency / host avg latency;
 *  - kernelPath: `dd bs=4k count=200000 if=/dev/zero of=/dev/null` (a syscall path through
 *    the kernel: read + write of 4 KiB, 200000 times), wall time in the guest / on the host,
 *    median of three each.
 * QEMU (all its threads) and the host commands are pinned to the same CPU with taskset. The
 * probe never fails the experiment: a failure is recorded as `skipped` with the reason.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { pinCpus } from '../process/affinity.js';
import type { ExperimentConfig } from '../config/schema.js';
import type { GuestImage } from '../image/ensure.js';
import { defaultWorkloadsDir } from '../image/paths.js';
import { parsePmbenchReport, pmbenchArgs, type PmbenchOptions } from '../pmbench/index.js';
import type { EmulationFactor, EmulationSummary } from '../results/types.js';
import { RunContext } from '../run/context.js';
import { launchGuest } from '../vm/launch.js';
import type { MicroVM } from '../vm/microvm.js';

export const PROBE_SETSIZE_MIB = 16;

/** How much work each side does (the defaults; tests pass smaller ones). */
export interface ProbeSizes {
  /** pmbench duration, s */
  durationSec: number;
  /** dd blocks of 4 KiB */
  ddCount: number;
  /** dd runs per side (the median counts) */
  ddRepeats: number;
}
export const PROBE_SIZES: ProbeSizes = { durationSec: 3, ddCount: 200_000, ddRepeats: 3 };

export function ddArgv(count: number): string[] {
  return ['dd', 'bs=4k', `count=${count}`, 'if=/dev/zero', 'of=/dev/null'];
}
/** Enough for the guest kernel, pmbench's 16 MiB and dd; at most the config's memory. */
const PROBE_GUEST_MIB = 512;

export interface ProbeOptions {
  config: ExperimentConfig;
  /** Undefined (or accelerator 'host') when no guest is booted in this experiment. */
  image: GuestImage | undefined;
  accelerator: string;
  runId: string;
  /** results/RUN-ID/logs/emulation-probe/ */
  logDir: string;
  log?: (line: string) => void;
  /** CPU to pin both sides to (default: the highest-numbered CPU). */
  cpu?: number;
  sizes?: ProbeSizes;
}

/** True when some arm runs in a guest (an arm is guest-placed unless it says host). */
export function hasGuestArms(config: ExperimentConfig): boolean {
  return config.arms.some((a) => (a as { placement?: string }).placement !== 'host');
}

function first<T>(v: T | T[] | undefined): T | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The probe's pmbench options: the experiment's pattern, ratio, jobs (first value of a
 * list), with a resident 16 MiB working set for 3 s. */
export function probePmbenchOptions(config: ExperimentConfig, durationSec = PROBE_SIZES.durationSec): PmbenchOptions {
  const p = config.workload.pmbench;
  return {
    durationSec,
    setsizeMib: PROBE_SETSIZE_MIB,
    mapsizeMib: PROBE_SETSIZE_MIB,
    pattern: first(p?.pattern) ?? 'uniform',
    shape: first(p?.shape),
    jobs: first(p?.jobs) ?? 1,
    ratio: first(p?.ratio) ?? 50,
    timestamp: p?.timestamp,
  };
}

function describePmbench(o: PmbenchOptions): string {
  return `pmbench -p ${o.pattern} -r ${o.ratio} -j ${o.jobs}, ${o.setsizeMib} MiB working set, ${o.durationSec} s: average access latency`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function factor(guest: number, host: number, unit: string, what: string): EmulationFactor {
  return { guest, host, factor: guest / host, unit, what };
}

function avgLatencyNs(stdout: string, where: string): number {
  const v = parsePmbenchReport(stdout).metrics['latency.ns.average'];
  if (v === undefined || !(v > 0)) throw new Error(`emulation probe: pmbench on the ${where} reported no average latency`);
  return v;
}

async function guestPmbench(vm: MicroVM, args: string[]): Promise<number> {
  const r = await vm.exec(['pmbench', ...args], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`emulation probe: pmbench in the guest exited with status ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  return avgLatencyNs(r.stdout, 'guest');
}

async function hostPmbench(cpu: number, args: string[]): Promise<number> {
  const r = await execa('taskset', ['-c', String(cpu), join(defaultWorkloadsDir, 'pmbench'), ...args], { reject: false, timeout: 120_000 });
  if (r.exitCode !== 0) throw new Error(`emulation probe: ${join(defaultWorkloadsDir, 'pmbench')} on the host exited with status ${r.exitCode}: ${String(r.stderr).trim().split('\n').slice(-2).join(' | ')}`);
  return avgLatencyNs(String(r.stdout), 'host');
}

/** Seconds of one dd in the guest: /proc/uptime before and after, in one shell (10 ms
 * resolution; the guest's dd takes seconds under TCG). */
async function guestDdSeconds(vm: MicroVM, dd: string[]): Promise<number> {
  const script = `read a _ < /proc/uptime; ${dd.join(' ')} 2>/dev/null; s=$?; read b _ < /proc/uptime; echo "$a $b $s"`;
  const r = await vm.exec(['sh', '-c', script], { timeoutMs: 300_000 });
  const [a, b, status] = r.stdout.trim().split(/\s+/).map(Number);
  if (r.code !== 0 || status !== 0 || a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) {
    throw new Error(`emulation probe: dd in the guest failed (status ${r.code}, output ${JSON.stringify(r.stdout.trim())}, ${r.stderr.trim()})`);
  }
  return b - a;
}

/** Seconds of one dd on the host, pinned: date +%s%N before and after, in one shell. */
async function hostDdSeconds(cpu: number, dd: string[]): Promise<number> {
  const script = `date +%s%N; ${dd.join(' ')} 2>/dev/null || exit 3; date +%s%N`;
  const r = await execa('taskset', ['-c', String(cpu), 'sh', '-c', script], { reject: false, timeout: 120_000 });
  const [a, b] = String(r.stdout).trim().split(/\s+/).map(Number);
  if (r.exitCode !== 0 || a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) {
    throw new Error(`emulation probe: dd on the host failed (status ${r.exitCode}: ${String(r.stderr).trim()})`);
  }
  return (b - a) / 1e9;
}

function saveLogs(runDir: string, logDir: string): void {
  mkdirSync(logDir, { recursive: true });
  if (!existsSync(runDir)) return;
  for (const f of readdirSync(runDir)) if (f.endsWith('.log')) copyFileSync(join(runDir, f), join(logDir, f));
}

const NOTE = 'guest: one all-DRAM guest (arm kind none) booted before the runs; host: the same static workloads/bin/pmbench and dd run natively; '
  + 'both sides pinned to one CPU (QEMU with all its threads via taskset -a -p, host commands via taskset -c). '
  + 'kernelPath is the dd syscall path (4 KiB read of /dev/zero + write to /dev/null, repeated), wall time, median of the runs '
  + '(guest clock /proc/uptime, 10 ms resolution). Under TCG a guest swap arm runs its swap path in the emulated guest kernel '
  + 'while a fluidmem arm\'s handler runs natively on the host.';

/** The CPU both sides are pinned to: the highest-numbered one (like host.cpu: last). */
export function probeCpu(): number {
  return cpus().length - 1;
}

/**
 * Measures the two emulation factors, or says why not. Returns undefined when every arm is
 * host-placed (nothing runs emulated). Boots and tears down its own guest (own run
 * context, logs archived to `logDir`); never throws for a probe failure.
 */
export async function probeEmulation(o: ProbeOptions): Promise<EmulationSummary | undefined> {
  if (!hasGuestArms(o.config)) return undefined;
  const cpu = o.cpu ?? probeCpu();
  const sizes = o.sizes ?? PROBE_SIZES;
  const dd = ddArgv(sizes.ddCount);
  const base: EmulationSummary = { accelerator: o.accelerator, cpu: { guest: null, host: null, pinned: false }, note: NOTE, warnings: [] };
  if (!o.config.emulation_probe) return { ...base, skipped: 'emulation_probe: false in the config' };
  const vmConfig = o.config.vms[0];
  if (!o.image || !vmConfig || o.accelerator === 'host') return { ...base, skipped: 'no guest image or accelerator' };
  const ctx = new RunContext(`${o.runId}-emu`, { archive: (dir) => saveLogs(dir, o.logDir) });
  const out: EmulationSummary = { ...base };
  try {
    o.log?.('emulation probe: booting one all-DRAM guest');
    const vm = await launchGuest({
      ctx, vm: vmConfig, image: o.image, accelerator: o.accelerator as 'kvm' | 'tcg',
      memoryMiB: Math.min(vmConfig.memory, PROBE_GUEST_MIB), instance: 'emu',
    });
    await vm.resume();
    await vm.waitForSsh();
    if (vm.pid === undefined) throw new Error('emulation probe: QEMU has no pid');
    await pinCpus(vm.pid, [cpu], { allThreads: true });
    out.cpu = { guest: cpu, host: cpu, pinned: true };

    const popts = probePmbenchOptions(o.config, sizes.durationSec);
    const args = pmbenchArgs(popts);
    o.log?.(`emulation probe: ${describePmbench(popts)} (guest, then host, CPU ${cpu})`);
    const gLat = await guestPmbench(vm, args);
    const hLat = await hostPmbench(cpu, args);
    out.userAccess = factor(gLat, hLat, 'ns', describePmbench(popts));

    o.log?.(`emulation probe: ${dd.join(' ')} x${sizes.ddRepeats} (guest, then host)`);
    const gDd: number[] = [];
    const hDd: number[] = [];
    for (let i = 0; i < sizes.ddRepeats; i++) gDd.push(await guestDdSeconds(vm, dd));
    for (let i = 0; i < sizes.ddRepeats; i++) hDd.push(await hostDdSeconds(cpu, dd));
    out.kernelPath = factor(median(gDd), median(hDd), 's', `${dd.join(' ')}: wall time, median of ${sizes.ddRepeats}`);
    o.log?.(`emulation probe: user access ${out.userAccess.factor.toFixed(1)}x, kernel path ${out.kernelPath.factor.toFixed(1)}x`);
  } catch (err) {
    out.skipped = `probe failed: ${(err as Error).message.split('\n')[0]}`;
    o.log?.(`emulation ${out.skipped}`);
  } finally {
    try { await ctx.dispose(); } catch (err) { out.skipped ??= `probe teardown: ${(err as Error).message}`; }
  }
  return out;
}
