/**
 * Expands an experiment config into runs, like LKP's job splitting: every list-valued
 * workload parameter multiplies the runs, as do the memory arms and the repetitions.
 * A "variant" is one arm with one combination of parameters; its repetitions are the
 * statistical unit of the summary and of `compare`.
 */
import type { ArmConfig, ExperimentConfig, PmbenchConfig, VmConfig } from '../config/schema.js';

export type ScalarParams = Record<string, string | number | boolean>;

export interface RunSpec {
  /** Position in the expansion, from 1. */
  index: number;
  /** Unique, file-name safe: 001-fluidmem-redis-r1. */
  id: string;
  /** Arm plus the parameters that vary across the experiment: the summary's row key. */
  variant: string;
  arm: ArmConfig;
  repetition: number;
  /** The workload's parameters for this run (lists resolved to one value each). */
  params: ScalarParams;
  /** The guests of the run; empty for a host-placed arm. */
  vms: VmConfig[];
}

/** Every combination of the list-valued entries of `obj` (scalars stay as they are). */
export function cartesian(obj: Record<string, unknown>): ScalarParams[] {
  let combos: ScalarParams[] = [{}];
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v as string | number | boolean })));
  }
  return combos;
}

function listKeys(obj: Record<string, unknown>): string[] {
  return Object.entries(obj).filter(([, v]) => Array.isArray(v) && v.length > 1).map(([k]) => k);
}

function workloadParams(config: ExperimentConfig): Record<string, unknown> {
  const w = config.workload;
  if (w.pmbench) {
    const { binary: _binary, ...rest } = w.pmbench satisfies PmbenchConfig;
    return rest;
  }
  if (w.memverify) return { ...w.memverify };
  return {};
}

export function expandRuns(config: ExperimentConfig): RunSpec[] {
  const params = workloadParams(config);
  const varying = listKeys(params);
  const combos = cartesian(params);
  const runs: RunSpec[] = [];
  for (const arm of config.arms) {
    for (const combo of combos) {
      const suffix = varying.map((k) => `${k}=${String(combo[k])}`).join(',');
      const variant = suffix ? `${arm.name} ${suffix}` : arm.name;
      for (let rep = 1; rep <= config.repetitions; rep++) {
        const index = runs.length + 1;
        const slug = `${arm.name}${suffix ? `-${suffix.replace(/[=,]/g, '-')}` : ''}`;
        runs.push({ index, id: `${String(index).padStart(3, '0')}-${slug}-r${rep}`, variant, arm, repetition: rep, params: combo, vms: arm.placement === 'host' ? [] : config.vms });
      }
    }
  }
  return runs;
}

/** Resident limit of an arm in MiB for a VM (swap and fluidmem arms). */
export function residentMiB(arm: ArmConfig, vm: VmConfig): number | undefined {
  if (arm.kind === 'none') return undefined;
  const r = arm.resident;
  return Math.max(16, Math.floor('percent' in r ? (vm.memory * r.percent) / 100 : r.mib));
}

/** The size of the workload's own mapping in MiB (pmbench's mapsize, else setsize;
 * memverify's size): what a host-placed fluidmem arm hands to the handler. */
export function workingSetMiB(params: ScalarParams): number | undefined {
  const n = (v: unknown) => (typeof v === 'number' ? v : undefined);
  return n(params.mapsize) ?? n(params.setsize) ?? n(params.size);
}

/** Resident limit in MiB of a host-placed arm: a percentage is of the working set. */
export function hostResidentMiB(arm: ArmConfig, params: ScalarParams): number | undefined {
  if (arm.kind === 'none') return undefined;
  const r = arm.resident;
  if (!('percent' in r)) return Math.max(1, Math.floor(r.mib));
  const ws = workingSetMiB(params);
  return ws === undefined ? undefined : Math.max(1, Math.floor((ws * r.percent) / 100));
}

/** The memory QEMU gives the guest: the resident limit for swap, the full size otherwise. */
export function guestMemoryMiB(arm: ArmConfig, vm: VmConfig): number {
  return arm.kind === 'swap' ? residentMiB(arm, vm)! : vm.memory;
}

/** Where a fluidmem arm evicts: 'redis', 'dram', 'redis-cluster 3+3' (masters + replicas), 'redis-cluster 2 nodes'. */
function handlerTarget(a: Extract<ArmConfig, { kind: 'fluidmem' }>): string {
  const s = a.store;
  if (!s) return a.backend;
  return s.embedded ? `${s.kind} ${s.masters}+${s.masters * s.replicas}` : `${s.kind} ${s.nodes.length} node${s.nodes.length === 1 ? '' : 's'}`;
}

/** One line per run, for --dry-run. */
export function describeRuns(runs: RunSpec[]): string[] {
  return runs.map((r) => {
    const vm = r.arm.placement === 'host' ? describeHost(r) : r.vms.map((v) => {
      const resident = residentMiB(r.arm, v);
      const mem = guestMemoryMiB(r.arm, v);
      const armDesc = r.arm.kind === 'fluidmem' ? `handler->${handlerTarget(r.arm)}, resident ${resident} MiB`
        : r.arm.kind === 'swap' ? `swap on ${r.arm.swap_on}, ${r.arm.swap_size ?? v.memory} MiB` : 'all in DRAM';
      return `${v.name}: ${mem} MiB guest, ${armDesc}`;
    }).join('; ');
    const params = Object.entries(r.params).map(([k, v]) => `${k}=${String(v)}`).join(' ');
    return `${r.id.padEnd(32)} ${vm}${params ? ` | ${params}` : ''}`;
  });
}

function describeHost(r: RunSpec): string {
  const resident = hostResidentMiB(r.arm, r.params);
  const ws = workingSetMiB(r.params);
  const a = r.arm;
  const armDesc = a.kind === 'fluidmem' ? `handler->${handlerTarget(a)}, resident ${resident} MiB`
    : a.kind === 'swap' ? `memory cgroup ${resident} MiB, swap on ${a.swap_on}` : 'all in DRAM';
  return `host: ${ws ?? '?'} MiB mapping, ${armDesc}`;
}
