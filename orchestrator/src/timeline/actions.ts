/**
 * What each timeline action does to a running run, and how long the new footprint took:
 *  - resize: `{"cmd":"resize","pages":N}` on the handler's control socket (N = the size
 *    per guest x the guests); the monitor answers once resident+fetching+evicting fits N,
 *    so the answer is the moment the footprint is reached (growing answers at once).
 *  - balloon: QMP `balloon` to the target on every guest, then `query-balloon` every
 *    100 ms until `actual` is at the target (the driver inflates at its own pace, best
 *    effort): reached, or not before the next balloon action or the window's end (null,
 *    with the closest it came).
 *  - store pause: Redis `CLIENT PAUSE ms ALL` on a connection of its own.
 *  - exec: the command over each guest's SSH connection, with its round trip and the
 *    handler's capacity and resident pages when the answer came (the proof that a guest
 *    shrunk to 1 MiB resident still answers).
 * Each action is given its own connections (control socket, Redis): a resize waiting for
 * the resident set never queues behind the sampler's requests, nor they behind it.
 */
import { Redis } from 'ioredis';
import type { TimelineAction } from '../config/timeline.js';
import type { ExecOptions, ExecResult } from '../guest/ssh.js';
import type { MonitorControl } from '../handler/control.js';
import { redisConnectionOptions } from '../kvstore/redis-client.js';
import type { QmpClient } from '../qmp/client.js';
import type { ActionRecord, ExecAnswer } from '../results/series.js';

export const PAGES_PER_MIB = 256;
const BALLOON_POLL_MS = 100;

/** A guest as the actions see it (vm/microvm.ts's MicroVM fits). */
export interface ActionGuest {
  opts: { name: string };
  qmp: QmpClient;
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

export interface ActionTargets {
  guests: ActionGuest[];
  /** a control connection of the actions' own (fluidmem arms) */
  control?: MonitorControl;
  store?: { url: string; password?: string };
}

/** Pages for `mib` per guest, for `guests` guests. */
export function resizePages(mib: number, guests: number): number {
  return Math.max(1, Math.round(mib * PAGES_PER_MIB)) * Math.max(1, guests);
}

/** Resolves with the value, or with undefined once `signal` is raised (the promise's
 * later rejection is swallowed). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  p.catch(() => undefined);
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then((v) => { signal.removeEventListener('abort', onAbort); resolve(v); }, (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); });
  });
}

/** Waits `ms`, or less if `signal` is raised; leaves no listener behind. */
const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const onAbort = () => { clearTimeout(t); resolve(); };
  const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  signal.addEventListener('abort', onAbort, { once: true });
});

async function resize(a: Extract<TimelineAction, { kind: 'resize' }>, t: ActionTargets, signal: AbortSignal): Promise<Partial<ActionRecord>> {
  if (!t.control) throw new Error('resize: this arm has no fault handler');
  const pages = resizePages(a.mib, t.guests.length);
  const start = performance.now();
  const answered = await untilAborted(t.control.resize(pages, { timeoutMs: 30 * 60_000 }), signal);
  return { target_mib: a.mib, target_pages: pages, reached_ms: answered === undefined ? null : Math.round(performance.now() - start) };
}

/** The latest balloon action per set of targets: a newer one ends the watch of the older. */
const balloonGeneration = new WeakMap<ActionTargets, number>();

async function balloonOne(vm: ActionGuest, bytes: number, signal: AbortSignal, superseded: () => boolean): Promise<{ reachedMs: number | null; closest: number }> {
  const before = (await vm.qmp.execute('query-balloon')).actual;
  const start = performance.now();
  await vm.qmp.execute('balloon', { value: bytes });
  const shrinking = bytes < before;
  let closest = before;
  for (;;) {
    const actual = (await vm.qmp.execute('query-balloon')).actual;
    closest = shrinking ? Math.min(closest, actual) : Math.max(closest, actual);
    if (shrinking ? actual <= bytes : actual >= bytes) return { reachedMs: Math.round(performance.now() - start), closest };
    if (signal.aborted || superseded()) return { reachedMs: null, closest };
    await sleep(BALLOON_POLL_MS, signal);
  }
}

async function balloon(a: Extract<TimelineAction, { kind: 'balloon' }>, t: ActionTargets, signal: AbortSignal): Promise<Partial<ActionRecord>> {
  const bytes = Math.round(a.mib * PAGES_PER_MIB) * 4096;
  const generation = (balloonGeneration.get(t) ?? 0) + 1;
  balloonGeneration.set(t, generation);
  const superseded = () => balloonGeneration.get(t) !== generation;
  const each = await Promise.all(t.guests.map((vm) => balloonOne(vm, bytes, signal, superseded)));
  const reached = each.every((e) => e.reachedMs !== null) ? Math.max(...each.map((e) => e.reachedMs!)) : null;
  const closest = Math.max(...each.map((e) => e.closest)) / 2 ** 20;
  return { target_mib: a.mib, reached_ms: reached, ...(reached === null ? { closest_mib: +closest.toFixed(2) } : {}) };
}

async function pauseStore(a: Extract<TimelineAction, { kind: 'store' }>, t: ActionTargets): Promise<Partial<ActionRecord>> {
  if (!t.store) throw new Error('store: pause: this arm has no Redis store');
  const redis = new Redis({ ...redisConnectionOptions(t.store.url), password: t.store.password, lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => { /* surfaced by the command */ });
  try {
    await redis.connect();
    await redis.call('CLIENT', 'PAUSE', String(Math.round(a.forMs)), 'ALL');
  } finally {
    redis.disconnect();
  }
  return { for_ms: a.forMs };
}

async function execAll(a: Extract<TimelineAction, { kind: 'exec' }>, t: ActionTargets): Promise<Partial<ActionRecord>> {
  const answers = await Promise.all(t.guests.map(async (vm): Promise<ExecAnswer> => {
    const start = performance.now();
    let answer: ExecAnswer;
    try {
      const r = await vm.exec(a.argv, { timeoutMs: a.timeoutMs });
      answer = { vm: vm.opts.name, code: r.code, ms: Math.round(performance.now() - start), stdout: r.stdout.trim().slice(0, 200) };
    } catch (err) {
      answer = { vm: vm.opts.name, code: null, ms: Math.round(performance.now() - start), error: (err as Error).message };
    }
    if (t.control) {
      const s = await t.control.stats().catch(() => undefined);
      const mine = s?.vms.find((v) => v.id === vm.opts.name);
      if (s) answer.capacity_pages = s.capacity;
      if (mine) answer.resident_pages = mine.resident_pages;
    }
    return answer;
  }));
  const failed = answers.find((x) => x.code !== 0);
  return { answers, ...(failed ? { ok: false, error: `${failed.vm}: ${failed.error ?? `exit status ${failed.code}`}` } : {}) };
}

/** Runs one action on the run's targets; never throws: a failure is `ok: false, error`. */
export async function runAction(a: TimelineAction, t: ActionTargets, signal: AbortSignal): Promise<Partial<ActionRecord> & { ok: boolean }> {
  try {
    const r = a.kind === 'resize' ? await resize(a, t, signal)
      : a.kind === 'balloon' ? await balloon(a, t, signal)
        : a.kind === 'store' ? await pauseStore(a, t)
          : await execAll(a, t);
    return { ok: true, ...r };
  } catch (err) {
    return { ok: false, error: `${a.kind}: ${(err as Error).message}` };
  }
}
