/**
 * The `timeline:` of a config: timed actions applied while the workload runs, each at
 * `at` after the workload command starts (the same clock in every arm):
 *   { at: 10s, resize: 32M }            handler resident limit per guest (fluidmem arms)
 *   { at: 20s, balloon: 64M }           virtio-balloon target of each guest (guest arms)
 *   { at: 30s, store: pause, for: 2s }  Redis CLIENT PAUSE (fluidmem arms with redis)
 *   { at: 12s, exec: [uname, -r] }      a command over the guest's SSH connection, to
 *                                        show the guest still answers (guest arms)
 * `arms: [NAME, ...]` limits an action to those arms; without it an action applies to
 * every arm it can apply to. The schema checks each action alone; timelineIssues() checks
 * it against the experiment's arms and guests (paths point into the YAML, so load.ts
 * reports each problem at FILE:LINE:COL). Host-placed arms have no timeline.
 */
import { z } from 'zod';
import { closest } from './suggest.js';
import { parsedWith } from './parsed-field.js';
import { parseDurationMs, parseSizeMiB } from './units.js';
import { sizeLimitProblem } from './geometry.js';

/** A time offset: like a duration, but 0 is allowed. */
function parseOffsetMs(v: unknown): number | undefined {
  if (v === 0 || (typeof v === 'string' && /^\s*0+(\.0+)?\s*(ms|s|m|min|h)?\s*$/.test(v))) return 0;
  return parseDurationMs(v);
}


/** Sizes down to one 4 KiB page (1M = 256 pages). */
const footprint = parsedWith(parseSizeMiB, 'a size such as 1M, 64M or 4K').superRefine((mib, ctx) => {
  const problem = sizeLimitProblem(mib);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem, fatal: true });
  else if (Math.round(mib * 256) < 1) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'a footprint needs at least one 4 KiB page (4K)', fatal: true });
});
const offsetMs = parsedWith(parseOffsetMs, 'a time such as 10s, 500ms or a number of seconds');
const durationMs = parsedWith(parseDurationMs, 'a duration such as 2s or 500ms');
const armName = z.string().min(1);

export const ACTION_KINDS = ['resize', 'balloon', 'store', 'exec'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

const rawAction = z.object({
  at: offsetMs,
  resize: footprint.optional(),
  balloon: footprint.optional(),
  store: z.enum(['pause']).optional(),
  exec: z.array(z.string()).min(1).optional(),
  /** store: pause only: how long the store stays paused. */
  for: durationMs.optional(),
  /** exec only: how long the command may take (default 60 s). */
  timeout: durationMs.optional(),
  arms: z.array(armName).min(1).optional(),
}).strict().superRefine((a, ctx) => {
  const kinds = ACTION_KINDS.filter((k) => a[k] !== undefined);
  if (kinds.length !== 1) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom, fatal: true,
      message: kinds.length === 0 ? `an action needs one of: ${ACTION_KINDS.join(', ')}` : `one action per entry (got ${kinds.join(' and ')}): split it into entries at the same time`,
    });
    return;
  }
  if (a.store !== undefined && a.for === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['store'], message: 'store: pause needs for: (how long, e.g. 2s)' });
  if (a.store === undefined && a.for !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['for'], message: 'for: applies to store: pause only' });
  if (a.exec === undefined && a.timeout !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['timeout'], message: 'timeout: applies to exec only' });
});

/** One validated action; sizes in MiB, times in ms. */
export type TimelineAction =
  | { atMs: number; kind: 'resize'; mib: number; arms?: string[] }
  | { atMs: number; kind: 'balloon'; mib: number; arms?: string[] }
  | { atMs: number; kind: 'store'; op: 'pause'; forMs: number; arms?: string[] }
  | { atMs: number; kind: 'exec'; argv: string[]; timeoutMs: number; arms?: string[] };

export const timelineActionSchema = rawAction.transform((a): TimelineAction => {
  const base = { atMs: a.at, ...(a.arms ? { arms: a.arms } : {}) };
  if (a.resize !== undefined) return { ...base, kind: 'resize', mib: a.resize };
  if (a.balloon !== undefined) return { ...base, kind: 'balloon', mib: a.balloon };
  if (a.store !== undefined) return { ...base, kind: 'store', op: a.store, forMs: a.for ?? 0 };
  return { ...base, kind: 'exec', argv: a.exec ?? [], timeoutMs: a.timeout ?? 60_000 };
});

export const timelineSchema = z.array(timelineActionSchema).default([]);

/** What timelineIssues needs to know of an arm and the guests. */
export interface TimelineArm {
  name: string;
  kind: 'fluidmem' | 'swap' | 'none';
  backend?: 'redis' | 'dram';
  placement: 'guest' | 'host';
  /** Memory QEMU gives each guest of this arm, MiB (smallest over the VMs). */
  guestMiB?: number;
}

/** Why `action` cannot apply to `arm`, if it cannot. */
function unfit(action: TimelineAction, arm: TimelineArm): string | undefined {
  if (arm.placement === 'host') return 'a host-placed arm has no timeline';
  if (action.kind === 'resize' && arm.kind !== 'fluidmem') return 'resize changes the fault handler\'s resident limit: fluidmem arms only (use balloon for the others)';
  if (action.kind === 'store' && !(arm.kind === 'fluidmem' && arm.backend === 'redis')) return 'store: pause pauses the Redis store: fluidmem arms with backend: redis only';
  return undefined;
}

/** The arms `action` applies to: its `arms:`, else every arm it fits. */
export function armsOfAction(action: TimelineAction, arms: TimelineArm[]): TimelineArm[] {
  if (action.arms) return arms.filter((a) => action.arms!.includes(a.name));
  return arms.filter((a) => unfit(action, a) === undefined);
}

export interface TimelineIssue {
  path: (string | number)[];
  message: string;
}

/** Problems of a timeline against the experiment's arms (each at a YAML path). */
export function timelineIssues(timeline: TimelineAction[], arms: TimelineArm[]): TimelineIssue[] {
  const issues: TimelineIssue[] = [];
  const names = arms.map((a) => a.name);
  timeline.forEach((action, i) => {
    const at = (...p: (string | number)[]) => ['timeline', i, ...p];
    (action.arms ?? []).forEach((name, j) => {
      const arm = arms.find((a) => a.name === name);
      if (!arm) {
        const hint = closest(name, names);
        issues.push({ path: at('arms', j), message: `'${name}' is not an arm of this experiment (${hint ? `did you mean '${hint}'? ` : ''}arms: ${names.join(', ')})` });
        return;
      }
      const why = unfit(action, arm);
      if (why) issues.push({ path: at('arms', j), message: `arm '${name}': ${why}` });
    });
    const targets = armsOfAction(action, arms).filter((a) => unfit(action, a) === undefined);
    if (!action.arms && targets.length === 0) {
      const needs = action.kind === 'resize' ? 'a guest-placed fluidmem arm' : action.kind === 'store' ? 'a guest-placed fluidmem arm with backend: redis' : 'a guest-placed arm';
      issues.push({ path: at(action.kind), message: `no arm of this experiment can take this action: it needs ${needs}` });
    }
    if (action.kind === 'balloon') {
      for (const arm of targets) {
        if (arm.guestMiB !== undefined && action.mib > arm.guestMiB) {
          issues.push({ path: at('balloon'), message: `${action.mib} MiB is above the guest memory of arm '${arm.name}' (${arm.guestMiB} MiB): a balloon can only take memory back` });
        }
      }
    }
  });
  return issues;
}

/** The arm fields the checks read (config/schema.ts's arms and VMs). */
interface ArmLike {
  name: string;
  kind: 'fluidmem' | 'swap' | 'none';
  backend?: 'redis' | 'dram';
  placement: 'guest' | 'host';
  resident?: { percent: number } | { mib: number };
}

/** The arms as the timeline sees them. A swap arm's guest gets only its resident limit
 * (experiment/expand.ts guestMemoryMiB: at least 16 MiB), the others the VM's memory. */
export function timelineArms(arms: ArmLike[], vms: { memory: number }[]): TimelineArm[] {
  return arms.map((a) => {
    const per = vms.map((vm) => {
      if (a.kind !== 'swap' || !a.resident) return vm.memory;
      const r = a.resident;
      return Math.max(16, Math.floor('percent' in r ? (vm.memory * r.percent) / 100 : r.mib));
    });
    return { name: a.name, kind: a.kind, backend: a.backend, placement: a.placement, guestMiB: per.length ? Math.min(...per) : undefined };
  });
}

/** configSchema's refinement: every timeline issue at its path. */
export function checkTimeline(c: { timeline: TimelineAction[]; arms: ArmLike[]; vms: { memory: number }[] }, ctx: z.RefinementCtx): void {
  for (const issue of timelineIssues(c.timeline, timelineArms(c.arms, c.vms))) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: issue.path, message: issue.message });
  }
}

function size(mib: number): string {
  return mib >= 1 ? `${+mib.toFixed(2)} MiB` : `${Math.round(mib * 1024)} KiB`;
}

/** One line per action, for `up --dry-run`. */
export function describeTimeline(timeline: TimelineAction[], arms: TimelineArm[]): string[] {
  return [...timeline].sort((a, b) => a.atMs - b.atMs).map((a) => {
    const t = `t+${(a.atMs / 1000).toFixed(a.atMs % 1000 ? 1 : 0)}s`.padEnd(8);
    const what = a.kind === 'resize' ? `resize handler resident limit to ${size(a.mib)} (${Math.round(a.mib * 256)} pages) per guest`
      : a.kind === 'balloon' ? `balloon each guest to ${size(a.mib)}`
        : a.kind === 'store' ? `pause the store for ${a.forMs} ms`
          : `exec ${a.argv.join(' ')} over SSH (timeout ${a.timeoutMs / 1000} s)`;
    const on = armsOfAction(a, arms).map((x) => x.name);
    return `${t} ${what} [arms: ${on.join(', ') || 'none'}]`;
  });
}
