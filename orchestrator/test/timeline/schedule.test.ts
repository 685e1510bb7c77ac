/** The timeline's scheduler with a fake action target and real timers: every action fires
 * within 200 ms of its time (the bound), a slow action does not delay the next,
 * and stop() ends the window for running actions and cancels those not yet due. */
import { describe, expect, it } from 'vitest';
import { Schedule } from '../../src/timeline/schedule.js';

type Act = { atMs: number; name: string; takesMs?: number };

describe('timeline schedule', () => {
  it('fires each action within 200 ms of its time, measured against the schedule', async () => {
    const actions: Act[] = [
      { atMs: 0, name: 'a' },
      { atMs: 150, name: 'b', takesMs: 600 }, // still running when c and d are due
      { atMs: 300, name: 'c' },
      { atMs: 300, name: 'd' },
      { atMs: 700, name: 'e' },
    ];
    const t0 = performance.now();
    const seen: { name: string; lateMs: number }[] = [];
    const s = Schedule.start<Act, string>({
      actions, t0,
      fire: async (a) => {
        // the target's own view of when it was called, against the wall clock
        seen.push({ name: a.name, lateMs: performance.now() - t0 - a.atMs });
        if (a.takesMs) await new Promise((r) => setTimeout(r, a.takesMs));
        return `${a.name} done`;
      },
    });
    await new Promise((r) => setTimeout(r, 1000));
    const fired = await s.stop();
    expect(seen.map((x) => x.name).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    for (const x of seen) {
      expect(x.lateMs, `${x.name} fired ${x.lateMs.toFixed(1)} ms after its time`).toBeGreaterThanOrEqual(0); // never early
      expect(x.lateMs, `${x.name} fired ${x.lateMs.toFixed(1)} ms after its time`).toBeLessThan(200);
    }
    expect(fired.map((f) => f.result)).toEqual(['a done', 'b done', 'c done', 'd done', 'e done']);
    for (const f of fired) {
      expect(f.firedMs! - f.atMs).toBeGreaterThanOrEqual(0);
      expect(f.firedMs! - f.atMs).toBeLessThan(200);
    }
  });

  it('stop() aborts running actions, waits for them, and never fires what was not due', async () => {
    let aborted = false;
    const s = Schedule.start<Act, string>({
      actions: [{ atMs: 0, name: 'watch' }, { atMs: 60_000, name: 'later' }],
      fire: (a, _i, _t, signal) => new Promise((resolve) => {
        signal.addEventListener('abort', () => { aborted = true; resolve(`${a.name} cut short`); });
      }),
    });
    await new Promise((r) => setTimeout(r, 100));
    const fired = await s.stop();
    expect(aborted).toBe(true);
    expect(fired[0]).toMatchObject({ index: 0, result: 'watch cut short' });
    expect(fired[1]).toEqual({ index: 1, atMs: 60_000 });
    expect(await s.stop()).toBe(fired); // idempotent
  });

  it('records a failing action as an error and goes on', async () => {
    const s = Schedule.start<Act, string>({
      actions: [{ atMs: 0, name: 'bad' }, { atMs: 20, name: 'good' }],
      fire: async (a) => { if (a.name === 'bad') throw new Error('monitor refused resize'); return 'ok'; },
    });
    await new Promise((r) => setTimeout(r, 200));
    const fired = await s.stop();
    expect(fired[0]!.error).toBe('monitor refused resize');
    expect(fired[1]!.result).toBe('ok');
  });
});
