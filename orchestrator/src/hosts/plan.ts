/**
 * Which runs each lab host runs. With `hosts:` every run's variant names its host
 * (`fluidmem-dram@lab2`, `dram@local uniform ...`), so the summary, `compare` and the
 * report show one row per arm and host; the ids stay those of the whole experiment's
 * expansion (the control host's numbering), whichever host runs them. Without `hosts:`
 * nothing changes: every run is local, variants as before.
 *
 * Pure logic over the expanded runs (experiment/expand.ts) and config/hosts.ts.
 */
import { armHostName, controlHostName, type LabHostConfig, type SshTargetConfig } from '../config/hosts.js';

/** The parts of a run spec the plan reads and rewrites (experiment/expand.ts RunSpec). */
export interface PlannedRun {
  index: number;
  id: string;
  variant: string;
  repetition: number;
  arm: { name: string; host?: string };
}

export interface SshHostPlan<R> {
  name: string;
  ssh: SshTargetConfig;
  runs: R[];
}

export interface HostPlan<R> {
  /** The control host's name (undefined without hosts:). */
  local: string | undefined;
  /** Runs this process runs, labelled. */
  localRuns: R[];
  /** Per SSH host with at least one run, its runs, labelled. */
  remote: SshHostPlan<R>[];
  /** Every run, labelled, in expansion order. */
  all: R[];
}

/** `arm@host` in place of the variant's leading arm name. */
export function labelVariant(variant: string, arm: string, host: string): string {
  return variant.startsWith(arm) ? `${arm}@${host}${variant.slice(arm.length)}` : `${variant}@${host}`;
}

/** The variant of a labelled one as its host's sub-config names it (labelVariant undone). */
export function unlabelVariant(variant: string, arm: string, host: string): string {
  const tag = `${arm}@${host}`;
  return variant.startsWith(tag) ? `${arm}${variant.slice(tag.length)}` : variant;
}

/** Splits `runs` over `hosts` (see the file comment). */
export function planHosts<R extends PlannedRun>(hosts: readonly LabHostConfig[] | undefined, runs: readonly R[]): HostPlan<R> {
  if (!hosts) return { local: undefined, localRuns: [...runs], remote: [], all: [...runs] };
  const local = controlHostName(hosts);
  const all = runs.map((r) => {
    const host = armHostName(r.arm, hosts)!;
    return { ...r, variant: labelVariant(r.variant, r.arm.name, host) };
  });
  const hostOf = (r: R) => armHostName(r.arm, hosts)!;
  const remote = hosts.flatMap((h) => {
    if (!h.ssh) return [];
    const mine = all.filter((r) => hostOf(r) === h.name);
    return mine.length ? [{ name: h.name, ssh: h.ssh, runs: mine }] : [];
  });
  return { local, localRuns: all.filter((r) => hostOf(r) === local), remote, all };
}
