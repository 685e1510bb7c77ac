/** Timeline actions against real things where the host has them: a resize on a real
 * fluidmem-monitor (timed to its answer), a store pause on a real redis-server; the
 * balloon watch (reached, not reached, superseded) against a scripted QMP stand-in,
 * pure logic: only a guest with a virtio-balloon driver really inflates. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TimelineAction } from '../../src/config/timeline.js';
import { MonitorControl } from '../../src/handler/control.js';
import { Monitor } from '../../src/handler/monitor.js';
import { EmbeddedRedis } from '../../src/kvstore/redis-server.js';
import type { QmpClient } from '../../src/qmp/client.js';
import { resizePages, runAction, type ActionGuest, type ActionTargets } from '../../src/timeline/actions.js';

let dir: string;
let monitor: Monitor | undefined;
let redis: EmbeddedRedis | undefined;

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'fluidlab-actions-')); });
afterAll(async () => {
  await monitor?.dispose();
  await redis?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** A guest whose balloon moves `stepMiB` toward the target per query-balloon. */
function scriptedGuest(name: string, startMiB: number, stepMiB: number, floorMiB: number): ActionGuest & { queries: number } {
  let actual = startMiB * 2 ** 20;
  let target = actual;
  const g = {
    queries: 0,
    opts: { name },
    exec: async () => ({ code: 0, stdout: '', stderr: '' }),
    qmp: {
      execute: async (cmd: string, args?: { value: number }) => {
        if (cmd === 'balloon') { target = args!.value; return {}; }
        g.queries++;
        const step = stepMiB * 2 ** 20;
        actual = target < actual ? Math.max(target, actual - step, floorMiB * 2 ** 20) : Math.min(target, actual + step);
        return { actual };
      },
    } as unknown as QmpClient,
  };
  return g;
}

const never = new AbortController().signal;
const balloon = (mib: number): TimelineAction => ({ atMs: 0, kind: 'balloon', mib });

describe('timeline actions', () => {
  it('pages of a footprint: 1 MiB is 256 pages per guest', () => {
    expect(resizePages(1, 1)).toBe(256);
    expect(resizePages(1, 2)).toBe(512);
    expect(resizePages(1 / 256, 1)).toBe(1);
  });

  it('resizes a real fluidmem-monitor to 256 pages and times it to the answer', async () => {
    monitor = await Monitor.start({ socketPath: join(dir, 'fm.sock'), controlPath: join(dir, 'fm.ctl'), backend: 'dram', capacityPages: 4096, logFile: join(dir, 'monitor.log') });
    const control = await MonitorControl.connect(monitor.control.path);
    try {
      const targets: ActionTargets = { guests: [scriptedGuest('vm0', 256, 1, 0)], control };
      const r = await runAction({ atMs: 0, kind: 'resize', mib: 1 }, targets, never);
      expect(r).toMatchObject({ ok: true, target_mib: 1, target_pages: 256 });
      expect(typeof r.reached_ms).toBe('number');
      expect((await control.stats()).capacity).toBe(256);
    } finally {
      control.close();
    }
  });

  it('says why a resize cannot run on an arm without a handler', async () => {
    const r = await runAction({ atMs: 0, kind: 'resize', mib: 1 }, { guests: [] }, never);
    expect(r).toEqual({ ok: false, error: 'resize: resize: this arm has no fault handler' });
  });

  it('pauses a real Redis for the given time', async () => {
    redis = await EmbeddedRedis.start({ runDir: dir });
    const r = await runAction({ atMs: 0, kind: 'store', op: 'pause', forMs: 400 }, { guests: [], store: { url: redis.url } }, never);
    expect(r).toEqual({ ok: true, for_ms: 400 });
    const client = new Redis({ path: redis.url.slice('unix://'.length) });
    try {
      const start = performance.now();
      await client.set('k', 'v'); // a write waits out the pause (Redis's guarantee, a lower bound)
      expect(performance.now() - start).toBeGreaterThan(250);
    } finally {
      client.disconnect();
    }
  });

  it('watches a balloon until query-balloon reaches the target', async () => {
    const g = scriptedGuest('vm0', 128, 16, 0);
    const r = await runAction(balloon(64), { guests: [g] }, never);
    expect(r).toMatchObject({ ok: true, target_mib: 64 });
    expect(typeof r.reached_ms).toBe('number');
    expect(g.queries).toBe(1 + 4); // before, then 112, 96, 80, 64
  });

  it('a balloon that stalls is not reached: null, with the closest it came, once the window ends', async () => {
    const g = scriptedGuest('vm0', 128, 16, 76);
    const ac = new AbortController();
    const pending = runAction(balloon(1), { guests: [g] }, ac.signal);
    await new Promise((r) => setTimeout(r, 700));
    ac.abort();
    expect(await pending).toEqual({ ok: true, target_mib: 1, reached_ms: null, closest_mib: 76 });
  });

  it('a newer balloon action ends the watch of the older one', async () => {
    const g = scriptedGuest('vm0', 128, 16, 76);
    const targets: ActionTargets = { guests: [g] };
    const older = runAction(balloon(1), targets, never);
    await new Promise((r) => setTimeout(r, 500));
    const newer = await runAction(balloon(128), targets, never);
    expect(newer).toMatchObject({ ok: true, target_mib: 128 });
    expect(typeof newer.reached_ms).toBe('number');
    expect(await older).toMatchObject({ reached_ms: null, closest_mib: 76 });
  });
});

describe('timeline actions, listeners', () => {
  it('a long balloon watch leaves no abort listeners behind', async () => {
    const g = scriptedGuest('vm0', 128, 1, 120);
    const ac = new AbortController();
    const added: string[] = [];
    const removed: string[] = [];
    const add = ac.signal.addEventListener.bind(ac.signal);
    const remove = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((t: string, l: EventListener, o?: AddEventListenerOptions) => { added.push(t); add(t, l, o); }) as typeof ac.signal.addEventListener;
    ac.signal.removeEventListener = ((t: string, l: EventListener) => { removed.push(t); remove(t, l); }) as typeof ac.signal.removeEventListener;
    const pending = runAction(balloon(1), { guests: [g] }, ac.signal);
    await new Promise((r) => setTimeout(r, 650)); // 6 polls
    expect(added.length - removed.length).toBeLessThanOrEqual(1);
    ac.abort();
    await pending;
  });
});
