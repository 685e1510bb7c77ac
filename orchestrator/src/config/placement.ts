/**
 * `cpus:` — where a guest run's processes run (issue 11 item 4). On a small shared host a
 * wake-up of an idle CPU costs 100 us or more, so whether the faulting vCPU thread, the
 * handler and the store share a CPU decides a fault's latency as much as the handler's own
 * code; results record the placement as LKP and mmtests record theirs.
 *
 *   cpus:                # top level: every guest run; an arm's own `cpus:` overrides keys
 *     vcpus: 1           # QEMU's vCPU threads (under TCG, the emulation itself)
 *     emulator: 1        # QEMU's other threads (main loop, I/O)
 *     monitor: 1         # fluidmem-monitor
 *     store: 0           # redis-server, or every node of an embedded Redis Cluster
 *
 * A value is a CPU number, a list ("0,1", "0-1"), `last` (the highest-numbered CPU) or
 * `float` (not pinned: the scheduler decides). Host-placed arms keep `host.cpu`. Which
 * placement is the default was chosen by measurement: see DEFAULT_PLACEMENT.
 */
import { z } from 'zod';

const cpuList = z.string().regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, "a CPU list such as '1', '0,1' or '0-1'");
export const cpuSetSchema = z.union([z.number().int().min(0), z.literal('last'), z.literal('float'), cpuList]);
export type CpuSet = z.infer<typeof cpuSetSchema>;

export const PLACED = ['vcpus', 'emulator', 'monitor', 'store'] as const;
export type Placed = typeof PLACED[number];

export const placementSchema = z.object({
  vcpus: cpuSetSchema.optional(),
  emulator: cpuSetSchema.optional(),
  monitor: cpuSetSchema.optional(),
  store: cpuSetSchema.optional(),
}).strict();
export type PlacementConfig = z.infer<typeof placementSchema>;

/** Where guest runs' processes go unless the config says otherwise: a guest's whole fault
 * path (vCPU threads, QEMU, handler, store) on the last CPU, the other CPU(s) left to the
 * orchestrator and everything else. Chosen by measurement on the 2-CPU lab VMs
 * (bench/fault-latency/README.md "CPU placement"): with everything on one CPU a fault costs
 * context switches only, the lowest absolute latency; splitting handler and faulter over
 * two CPUs pays a cross-CPU wake-up (100+ us here) per fault; keeping CPUs awake lowers the
 * handler/bare ratio but not the latency. configs/placement.yaml compares them in guests
 * (one run, TCG: Redis 101 us average on one CPU vs 141 split and 137 floating). */
export const DEFAULT_PLACEMENT: Record<Placed, CpuSet> = { vcpus: 'last', emulator: 'last', monitor: 'last', store: 'last' };

/** A placement resolved against a host: CPU numbers per process kind, undefined = float. */
export type ResolvedPlacement = Record<Placed, number[] | undefined>;

/** The CPUs `set` names on a host with `ncpus` CPUs; undefined for float. Throws (naming
 * `what`) for a CPU the host does not have. */
export function resolveCpuSet(set: CpuSet, ncpus: number, what: string): number[] | undefined {
  if (set === 'float') return undefined;
  if (set === 'last') return [ncpus - 1];
  const out = new Set<number>();
  for (const part of String(set).split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) out.add(c);
  }
  const bad = [...out].filter((c) => c >= ncpus);
  if (bad.length) throw new Error(`${what}: CPU ${bad.join(', ')} is not a CPU of this host (it has ${ncpus}: 0-${ncpus - 1})`);
  if (out.size === 0) throw new Error(`${what}: '${set}' names no CPU`);
  return [...out].sort((x, y) => x - y);
}

/** The run's placement: the defaults, then the config's `cpus:`, then the arm's. A CPU
 * the host lacks is refused naming the key that asked for it (arms.NAME.cpus.K or cpus.K). */
export function resolvePlacement(top: PlacementConfig | undefined, arm: { name: string; cpus?: PlacementConfig } | undefined, ncpus: number): ResolvedPlacement {
  const out = {} as ResolvedPlacement;
  for (const k of PLACED) {
    const own = arm?.cpus?.[k];
    const set = own ?? top?.[k] ?? DEFAULT_PLACEMENT[k];
    out[k] = resolveCpuSet(set, ncpus, own !== undefined ? `arms.${arm!.name}.cpus.${k}` : `cpus.${k}`);
  }
  return out;
}

/** "1", "0-1"-style text of a resolved set, "float" when unpinned (for records). */
export function describeCpus(cpus: number[] | undefined): string {
  return cpus ? cpus.join(',') : 'float';
}
