/** The periodic sampler with real timers: samples land on the stated interval's grid
 * (tMs = k * interval, each taken within 200 ms of its grid point), never overlap, and
 * a slow sample makes the sampler skip ticks (counted) instead of queueing them. */
import { describe, expect, it } from 'vitest';
import { Sampler } from '../../src/timeline/sampler.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('timeline sampler', () => {
  it('samples every 100 ms on the grid', async () => {
    const t0 = performance.now();
    const taken: { tMs: number; at: number }[] = [];
    const s = Sampler.start({ intervalMs: 100, t0, sample: async (tMs) => { taken.push({ tMs, at: performance.now() - t0 }); } });
    await sleep(1050);
    const counts = await s.stop();
    // 0, 100, ..., 1000 on a quiet host; a busy shared host may skip a tick, never add one
    expect(taken.length).toBeGreaterThanOrEqual(8);
    expect(taken.length).toBeLessThanOrEqual(11);
    expect(counts.taken + counts.skipped).toBe(11);
    for (const [i, x] of taken.entries()) {
      expect(x.tMs % 100).toBe(0);
      if (i > 0) expect(x.tMs).toBeGreaterThan(taken[i - 1]!.tMs);
      expect(x.at - x.tMs).toBeGreaterThanOrEqual(0); // never early
      expect(x.at - x.tMs).toBeLessThan(200);
    }
    expect(taken[0]!.tMs).toBe(0);
  });

  it('skips ticks while a slow sample runs and never runs two at once', async () => {
    let running = 0;
    let maxRunning = 0;
    const tMs: number[] = [];
    const s = Sampler.start({
      intervalMs: 100,
      sample: async (t) => { running++; maxRunning = Math.max(maxRunning, running); tMs.push(t); await sleep(250); running--; },
    });
    await sleep(1000);
    const counts = await s.stop();
    expect(maxRunning).toBe(1);
    expect(counts.skipped).toBeGreaterThanOrEqual(4);
    expect(tMs.length).toBeLessThanOrEqual(5);
    expect(tMs.every((t) => t % 100 === 0)).toBe(true);
    expect(running).toBe(0); // stop() waited for the sample in flight
  });

  it('counts a failing sample and keeps sampling', async () => {
    let n = 0;
    const s = Sampler.start({ intervalMs: 50, sample: async () => { n++; if (n === 1) throw new Error('ssh: channel open failure'); } });
    await sleep(300);
    const counts = await s.stop();
    expect(counts.failed).toBe(1);
    expect(counts.lastError).toBe('ssh: channel open failure');
    expect(counts.taken).toBeGreaterThanOrEqual(2);
  });

  it('refuses a zero interval', () => {
    expect(() => Sampler.start({ intervalMs: 0, sample: async () => undefined })).toThrow('sampler: interval must be positive, got 0');
  });
});
