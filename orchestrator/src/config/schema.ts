/**
 * The experiment config schema (zod). YAML keys are snake_case; sizes are MiB after
 * parsing, durations milliseconds. A scalar workload parameter may be a list: the
 * experiment expands into one run per combination (see experiment/expand.ts).
 */
import { z } from 'zod';
import { closest } from './suggest.js';
import { parsedWith } from './parsed-field.js';
import { parseDurationMs, parseSizeMiB } from './units.js';
import { geometryIssues, sizeLimitProblem } from './geometry.js';
import { checkTimeline, timelineSchema } from './timeline.js';
import { checkArmStores, storeSchema } from './store.js';
import { armHostSchema, checkHosts, hostsSchema } from './hosts.js';
import { placementSchema } from './placement.js';


/** Refuses a size beyond what FluidLab can express (config/geometry.ts). */
function boundedSize(mib: number, ctx: z.RefinementCtx): void {
  const problem = sizeLimitProblem(mib);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem, fatal: true });
}

const sizeMiB = parsedWith(parseSizeMiB, 'a size such as 512M, 1G or a number of MiB').superRefine(boundedSize);
const durationMs = parsedWith(parseDurationMs, 'a duration such as 90s, 2m or a number of seconds');

/** "25%" of guest memory, or an absolute size. */
export type ResidentLimit = { percent: number } | { mib: number };
function parseResidentLimit(v: unknown): ResidentLimit | undefined {
  if (typeof v === 'string' && /^\s*\d+(\.\d+)?\s*%\s*$/.test(v)) {
    const percent = parseFloat(v);
    return percent > 0 && percent <= 100 ? { percent } : undefined;
  }
  const mib = parseSizeMiB(v);
  return mib === undefined ? undefined : { mib };
}
const residentLimit = parsedWith(parseResidentLimit, 'a percentage of guest memory (25%) or a size (128M)')
  .superRefine((r, ctx) => { if ('mib' in r) boundedSize(r.mib, ctx); });

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'use lower-case letters, digits, - and _ (at most 40)');

const timeouts = z.object({
  boot: durationMs.default(180),
  ssh: durationMs.default(180),
  command: durationMs.default(1800),
  shutdown: durationMs.default(20),
}).strict();

export const vmSchema = z.object({
  name,
  memory: sizeMiB,
  vcpus: z.number().int().min(1).max(64).default(1),
  accelerator: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
  image: z.literal('default').default('default'),
  qemu_args: z.array(z.string()).default([]),
  timeouts: timeouts.default({}),
}).strict();

/** Where the workload runs: in QEMU guests (default) or directly on the host, where the
 * same benchmark's working-set mapping is served by the handler (fluidmem) or limited by a
 * memory cgroup with a swap device made for the run (swap). See experiment/host-run.ts. */
const placement = z.enum(['guest', 'host']).default('guest');

const fluidmemArm = z.object({
  name,
  kind: z.literal('fluidmem'),
  backend: z.enum(['redis', 'dram']),
  resident: residentLimit,
  placement,
  /** The lab host that runs this arm (config/hosts.ts); default: the control host. */
  host: armHostSchema,
  /** CPU placement of this arm's guest runs (config/placement.ts), over the top-level cpus:. */
  cpus: placementSchema.optional(),
  /** Instead of the top-level redis: (config/store.ts): a Redis Cluster. */
  store: storeSchema.optional(),
}).strict();

const swapArm = z.object({
  name,
  kind: z.literal('swap'),
  resident: residentLimit,
  /** nbd: a guest disk served by qemu-storage-daemon over NBD on 127.0.0.1 from a file on
   * /dev/shm (vm/nbd-export.ts), standing for a remote DRAM-backed target. */
  swap_on: z.enum(['tmpfs', 'disk', 'zram', 'nbd']),
  swap_size: sizeMiB.optional(),
  placement,
  host: armHostSchema,
  cpus: placementSchema.optional(),
}).strict();

const noneArm = z.object({ name, kind: z.literal('none'), placement, cpus: placementSchema.optional(), host: armHostSchema }).strict();

export const armSchema = z.discriminatedUnion('kind', [fluidmemArm, swapArm, noneArm]);

function oneOrMany<T extends z.ZodTypeAny>(t: T) {
  return z.union([t, z.array(t).min(1)]);
}

export const pmbenchSchema = z.object({
  duration: oneOrMany(z.number().int().min(1)).default(10),
  mapsize: oneOrMany(sizeMiB).optional(),
  setsize: oneOrMany(sizeMiB),
  pattern: oneOrMany(z.enum(['linear', 'uniform', 'normal', 'pareto', 'zipf'])).default('uniform'),
  shape: oneOrMany(z.number()).optional(),
  jobs: oneOrMany(z.number().int().min(1)).default(1),
  ratio: oneOrMany(z.number().int().min(0).max(100)).default(50),
  cold: z.boolean().default(false),
  initialize: z.boolean().default(false),
  timestamp: z.enum(['rdtsc', 'rdtscp']).optional(),
  binary: z.string().optional(),
}).strict();

export const memverifySchema = z.object({
  size: sizeMiB,
  passes: z.number().int().min(1).default(2),
}).strict();

export const workloadSchema = z.object({
  command: z.array(z.string()).min(1).optional(),
  pmbench: pmbenchSchema.optional(),
  memverify: memverifySchema.optional(),
}).strict().refine((w) => w.command || w.pmbench || w.memverify, {
  message: 'a workload needs one of: command, pmbench, memverify',
});

/** Host-placed runs: the CPU the benchmark, the handler and Redis share (the probe's
 * placement: waking another CPU costs 100 us or more on a shared host; 'none' lets them
 * float), and the benchmark's timeout. */
export const hostSchema = z.object({
  cpu: z.union([z.number().int().min(0), z.literal('last'), z.literal('none')]).default('last'),
  timeout: durationMs.default(10800),
  /** Priority of the swap devices host swap arms make (the kernel fills the highest first):
   * above any ordinary swap; 32767 outranks even another run's device. */
  swap_priority: z.number().int().min(1).max(32767).default(32000),
}).strict();

export const redisSchema = z.object({
  url: z.string().regex(/^(embedded|redis:\/\/.+|unix:\/\/\/.+)$/, "use 'embedded', redis://HOST:PORT or unix:///PATH").default('embedded'),
  password_env: z.string().optional(),
}).strict();

/** Published figures set beside ours: per arm a value of `metric` in `unit` (a metric in
 * ns is converted to us, ms or s), and the ratios a / b to show from both. */
export const referenceSchema = z.object({
  name: z.string().min(1),
  metric: z.string().default('latency.ns.average'),
  unit: z.string().default('us'),
  values: z.record(z.string(), z.object({ value: z.number().positive(), label: z.string().optional() }).strict()),
  ratios: z.array(z.tuple([z.string(), z.string()])).default([]),
}).strict();

/** Every arm the reference block names must be an arm of the experiment. */
function referenceArms(c: { arms: { name: string }[]; reference?: z.infer<typeof referenceSchema> }, ctx: z.RefinementCtx): void {
  if (!c.reference) return;
  const arms = c.arms.map((a) => a.name);
  const check = (arm: string, path: (string | number)[]) => {
    if (arms.includes(arm)) return;
    const hint = closest(arm, arms);
    ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: `'${arm}' is not an arm of this experiment (${hint ? `did you mean '${hint}'? ` : ''}arms: ${arms.join(', ')})` });
  };
  for (const arm of Object.keys(c.reference.values)) check(arm, ['reference', 'values', arm]);
  c.reference.ratios.forEach(([a, b], i) => { check(a, ['reference', 'ratios', i, 0]); check(b, ['reference', 'ratios', i, 1]); });
}

/** What the experiment is about (stats/headline.ts): the metrics whose comparison with a
 * baseline gives verdicts (and the nightly exit code), the arm pair(s) the report's headline
 * shows as a ratio with its interval (one pair [a, b] or a list of pairs), and the fewest
 * repetitions per side for a verdict. */
export const headlineSchema = z.object({
  metrics: z.array(z.string().min(1)).min(1).default(['latency.ns.average', 'throughput.aps']),
  compare: z.union([z.tuple([z.string(), z.string()]), z.array(z.tuple([z.string(), z.string()]))]).optional(),
  min_repetitions: z.number().int().min(2).max(100).default(3),
}).strict();

/** Every arm headline.compare names must be an arm of the experiment. */
function headlineArms(c: { arms: { name: string }[]; headline?: z.infer<typeof headlineSchema> }, ctx: z.RefinementCtx): void {
  const compare = c.headline?.compare;
  if (!compare) return;
  const arms = c.arms.map((a) => a.name);
  const pairs = typeof compare[0] === 'string' ? [compare as [string, string]] : (compare as [string, string][]);
  pairs.forEach((pair, i) => pair.forEach((arm, j) => {
    if (arms.includes(arm)) return;
    const hint = closest(arm, arms);
    const path = typeof compare[0] === 'string' ? ['headline', 'compare', j] : ['headline', 'compare', i, j];
    ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: `'${arm}' is not an arm of this experiment (${hint ? `did you mean '${hint}'? ` : ''}arms: ${arms.join(', ')})` });
  }));
}

/** /tmp/fluidlab/runs/NAME-YYYYMMDD-HHMMSS-xxxx-NNN/VM.qmp must fit a Unix socket path. */
export const MAX_NAMES_LENGTH = 56;

export const configSchema = z.object({
  name,
  description: z.string().optional(),
  /** Guests; an experiment whose arms are all host-placed needs none. */
  vms: z.array(vmSchema).default([]),
  arms: z.array(armSchema).min(1).default([{ name: 'dram', kind: 'none' }]),
  workload: workloadSchema,
  repetitions: z.number().int().min(1).max(100).default(1),
  redis: redisSchema.default({}),
  host: hostSchema.default({}),
  /** The lab hosts the arms run on (config/hosts.ts); absent: all on this host. */
  hosts: hostsSchema,
  /** Where guest runs' vCPU threads, QEMU, handler and store run (config/placement.ts). */
  cpus: placementSchema.optional(),
  results_dir: z.string().default('results'),
  /** Boot one small all-DRAM guest before the runs to measure the emulation factors. */
  emulation_probe: z.boolean().default(true),
  reference: referenceSchema.optional(),
  /** What the experiment is about: headline metrics and comparison (stats/headline.ts). */
  headline: headlineSchema.optional(),
  /** Timed actions during the workload (config/timeline.ts). */
  timeline: timelineSchema,
}).strict().superRefine((c, ctx) => {
  const seen = new Set<string>();
  c.vms.forEach((vm, i) => {
    if (seen.has(vm.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['vms', i, 'name'], message: `duplicate VM name '${vm.name}'` });
    seen.add(vm.name);
    // Run directories are named after the experiment and hold VM-named Unix sockets,
    // whose paths are limited to 107 bytes.
    if (c.name.length + vm.name.length > MAX_NAMES_LENGTH) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['vms', i, 'name'], message: `the experiment name and VM name together may have at most ${MAX_NAMES_LENGTH} characters (they name Unix socket paths); shorten one` });
    }
  });
  if (c.vms.length === 0 && c.arms.some((a) => a.placement !== 'host')) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['vms'], message: 'guest-placed arms need at least one VM under vms: (or give every arm placement: host)' });
  }
  const arms = new Set<string>();
  c.arms.forEach((a, i) => {
    if (arms.has(a.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['arms', i, 'name'], message: `duplicate arm name '${a.name}'` });
    arms.add(a.name);
    if (a.kind === 'swap' && a.swap_on === 'zram' && a.placement !== 'host') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['arms', i, 'swap_on'], message: "swap_on: zram is a host swap device: it needs placement: host (a guest swaps to a virtio disk: use tmpfs, disk or nbd)" });
    }
    if (a.kind === 'swap' && a.swap_on === 'nbd' && a.placement === 'host') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['arms', i, 'swap_on'], message: 'swap_on: nbd is a guest swap disk (QEMU is the NBD client): it needs placement: guest; host-side remote swap would need the kernel NBD or NVMe-oF modules' });
    }
  });
  if (c.redis.url !== 'embedded' && c.redis.url.startsWith('redis://') && !c.redis.password_env) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['redis', 'password_env'], message: 'a TCP Redis needs a password: set password_env to the name of an environment variable holding it' });
  }
  // Sizes that cannot work together (resident above the guest, a working set that does
  // not fit it, mapsize below setsize); warnings are reported by load.ts.
  for (const g of geometryIssues(c)) {
    if (g.severity === 'error') ctx.addIssue({ code: z.ZodIssueCode.custom, path: g.path, message: g.message });
  }
}).superRefine(referenceArms).superRefine(checkTimeline).superRefine(headlineArms).superRefine(checkArmStores).superRefine(checkHosts);

export type ExperimentConfig = z.infer<typeof configSchema>;
export type VmConfig = z.infer<typeof vmSchema>;
export type ArmConfig = z.infer<typeof armSchema>;
export type PmbenchConfig = z.infer<typeof pmbenchSchema>;
export type WorkloadConfig = z.infer<typeof workloadSchema>;
export type ReferenceConfig = z.infer<typeof referenceSchema>;
export type HeadlineConfig = z.infer<typeof headlineSchema>;
