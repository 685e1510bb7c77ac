/**
 * Geometry checks of an experiment config: sizes that cannot work together are refused at
 * validation, before anything starts, each at the YAML node that is wrong.
 *  - a size beyond what FluidLab can express (more than 8 PiB: byte counts stop being exact);
 *  - a guest arm's resident limit above the guest's memory;
 *  - a working set (pmbench setsize and mapsize, memverify size) that does not fit the
 *    guest's memory less GUEST_KERNEL_RESERVE_MIB for the guest kernel and init, nor, for a
 *    swap arm, the guest's RAM (the resident limit) plus its swap disk less that reserve;
 *  - a pmbench mapsize smaller than the setsize it must hold.
 * Host-placed arms map the working set in a host process, so the guest does not bound it;
 * a resident limit that is not below the working set only earns a warning there (nothing
 * would ever be evicted or swapped).
 * Inputs are structural (sizes in MiB, as parsed), so schema.ts can call this from its
 * superRefine without a type cycle.
 */

/** Memory a guest keeps for its kernel, initramfs and init; a working set gets the rest. */
export const GUEST_KERNEL_RESERVE_MIB = 64;

/** The largest size a config may give: 8 PiB, i.e. 2^53 bytes (exact in a JS number). */
export const MAX_SIZE_MIB = 2 ** 33;

export type Path = (string | number)[];

export interface GeometryIssue {
  path: Path;
  message: string;
  severity: 'error' | 'warning';
}

type OneOrMany = number | number[];

export interface GeometryInput {
  vms: { name: string; memory: number }[];
  arms: { name: string; kind: string; placement?: string; resident?: { percent: number } | { mib: number }; swap_size?: number }[];
  workload: {
    pmbench?: { setsize: OneOrMany; mapsize?: OneOrMany };
    memverify?: { size: number };
  };
}

/** A size in MiB for messages: 512M, 1.5G, 4000T. */
export function formatMiB(mib: number): string {
  const units: [number, string][] = [[2 ** 20, 'T'], [2 ** 10, 'G'], [1, 'M']];
  for (const [f, u] of units) {
    if (mib >= f) return `${Number((mib / f).toFixed(2))}${u}`;
  }
  return `${Number((mib * 1024).toFixed(2))}K`;
}

/** Why `mib` is not a usable size, or undefined when it is. */
export function sizeLimitProblem(mib: number): string | undefined {
  return mib > MAX_SIZE_MIB ? `${formatMiB(mib)} is beyond what sizes can express here (at most ${formatMiB(MAX_SIZE_MIB)}, 2^53 bytes)` : undefined;
}

interface SizeAt { mib: number; path: Path; label: string }

/** Each value of a one-or-many size field, with its path (an index for list elements). */
function sizesAt(value: OneOrMany | undefined, path: Path): SizeAt[] {
  if (value === undefined) return [];
  const label = path.join('.');
  return Array.isArray(value)
    ? value.map((mib, i) => ({ mib, path: [...path, i], label: `${label}[${i}]` }))
    : [{ mib: value, path, label }];
}

/** The working-set sizes of the workload (what must fit in memory), with their paths. */
export function workingSets(w: GeometryInput['workload']): SizeAt[] {
  return [
    ...sizesAt(w.pmbench?.setsize, ['workload', 'pmbench', 'setsize']),
    ...sizesAt(w.pmbench?.mapsize, ['workload', 'pmbench', 'mapsize']),
    ...sizesAt(w.memverify?.size, ['workload', 'memverify', 'size']),
  ];
}

export function geometryIssues(c: GeometryInput): GeometryIssue[] {
  const issues: GeometryIssue[] = [];
  const error = (path: Path, message: string) => issues.push({ path, message, severity: 'error' });
  const sets = workingSets(c.workload);
  const guestArms = c.arms.map((a, i) => ({ a, i })).filter(({ a }) => a.placement !== 'host');
  const hostArms = c.arms.map((a, i) => ({ a, i })).filter(({ a }) => a.placement === 'host');

  // pmbench touches setsize bytes inside a mapping of mapsize bytes.
  const setsizes = sizesAt(c.workload.pmbench?.setsize, ['workload', 'pmbench', 'setsize']);
  const largestSet = Math.max(0, ...setsizes.map((s) => s.mib));
  for (const m of sizesAt(c.workload.pmbench?.mapsize, ['workload', 'pmbench', 'mapsize'])) {
    if (m.mib < largestSet) error(m.path, `mapsize ${formatMiB(m.mib)} is smaller than setsize ${formatMiB(largestSet)}: pmbench's working set lives inside its mapping, so mapsize must be at least setsize`);
  }

  if (guestArms.length > 0) {
    c.vms.forEach((vm, k) => {
      const room = vm.memory - GUEST_KERNEL_RESERVE_MIB;
      for (const s of sets) {
        if (s.mib > room) {
          error(s.path, `${s.label} ${formatMiB(s.mib)} does not fit VM ${vm.name}'s memory (${formatMiB(vm.memory)}, vms[${k}].memory): a working set gets at most the memory less ${GUEST_KERNEL_RESERVE_MIB} MiB for the guest kernel (${room > 0 ? formatMiB(room) : 'nothing'}); lower it or raise the VM's memory`);
        }
      }
    });
    for (const { a, i } of guestArms) {
      if (!a.resident || !('mib' in a.resident)) continue;
      const resident = a.resident.mib;
      c.vms.forEach((vm, k) => {
        if (resident > vm.memory) {
          error(['arms', i, 'resident'], `resident limit ${formatMiB(resident)} is above VM ${vm.name}'s memory (${formatMiB(vm.memory)}, vms[${k}].memory): a guest cannot keep more resident than it has; lower resident or raise the VM's memory`);
          return;
        }
        if (a.kind !== 'swap') return;
        // A swap guest has the resident limit as RAM plus its swap disk (default: the VM's memory).
        const swap = a.swap_size ?? vm.memory;
        const room = resident + swap - GUEST_KERNEL_RESERVE_MIB;
        const largest = sets.reduce<SizeAt | undefined>((m, s) => (!m || s.mib > m.mib ? s : m), undefined);
        if (largest && largest.mib > room && largest.mib <= vm.memory - GUEST_KERNEL_RESERVE_MIB) {
          error(['arms', i, a.swap_size === undefined ? 'resident' : 'swap_size'], `${largest.label} ${formatMiB(largest.mib)} does not fit arm ${a.name}'s guest on VM ${vm.name}: ${formatMiB(resident)} of RAM plus ${formatMiB(swap)} of swap, less ${GUEST_KERNEL_RESERVE_MIB} MiB for the guest kernel, holds ${formatMiB(Math.max(0, room))}; raise swap_size`);
        }
      });
    }
  }

  // Host-placed arms: the working set is the host process's mapping; a resident limit
  // that does not stay below it measures nothing.
  const hostSet = Math.min(...sets.map((s) => s.mib));
  for (const { a, i } of hostArms) {
    if (!a.resident || sets.length === 0) continue;
    const resident = 'mib' in a.resident ? a.resident.mib : undefined;
    const always = 'percent' in a.resident && a.resident.percent >= 100;
    if (always || (resident !== undefined && resident >= hostSet)) {
      issues.push({
        path: ['arms', i, 'resident'],
        severity: 'warning',
        message: `resident limit ${resident !== undefined ? formatMiB(resident) : '100%'} is not below the working set (${formatMiB(hostSet)}): arm ${a.name} would never ${a.kind === 'swap' ? 'swap' : 'evict'}`,
      });
    }
  }
  return issues;
}
