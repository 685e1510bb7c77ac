/** Progress line (pure logic, injected clock and stream): TTY redraws, estimates, non-TTY quiet/lines. */
import { describe, expect, it } from 'vitest';
import { Progress, formatDuration, parseProgressLine } from '../../src/ui/progress.js';

function sink(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns, write: (c: string) => chunks.push(c) } };
}

describe('Progress', () => {
  it('draws one status line in place on a TTY, with elapsed time and an estimate from finished runs', () => {
    let t = 0;
    const { chunks, stream } = sink(true);
    const p = new Progress({ total: 3, stream, now: () => t, tickMs: 0 });
    p.phase(1, '001-dram-r1', 'boot');
    expect(chunks.at(-1)).toBe('\r\x1b[2K[1/3] 001-dram-r1 · boot 0s · 0s elapsed · time left unknown');
    t = 20_000;
    p.phase(1, '001-dram-r1', 'run');
    t = 60_000;
    p.done(1, '001-dram-r1', 'ok');
    expect(chunks.slice(-2)).toEqual(['\r\x1b[2K', '[1/3] 001-dram-r1: ok in 1m00s\n']);
    p.phase(2, '002-dram-r2', 'boot');
    t = 75_000;
    p.phase(2, '002-dram-r2', 'warm-up');
    // One run of 60 s done: 45 s left of this one, 60 s for the third.
    expect(p.estimateLeftMs()).toBe(105_000);
    expect(chunks.at(-1)).toBe('\r\x1b[2K[2/3] 002-dram-r2 · warm-up 0s · 1m15s elapsed · ~1m45s left');
    // A caller-supplied estimate for the current run wins over the average.
    p.phase(2, '002-dram-r2', 'run', 10_000);
    expect(p.estimateLeftMs()).toBe(70_000);
    p.finish();
    expect(chunks.at(-1)).toBe('\r\x1b[2K');
    const n = chunks.length;
    p.phase(3, 'x', 'boot');
    expect(chunks.length).toBe(n);
  });

  it('fits the line to the terminal width', () => {
    const { chunks, stream } = sink(true, 30);
    const p = new Progress({ total: 1, stream, now: () => 0, tickMs: 0 });
    p.phase(1, '001-a-very-long-run-id-with-parameters', 'attach');
    expect(chunks.at(-1)!.replace('\r\x1b[2K', '').length).toBe(29);
    p.finish();
  });

  it('is quiet without a TTY, or prints one plain line per phase change', () => {
    const quiet = sink(false);
    const q = new Progress({ total: 2, stream: quiet.stream, now: () => 0 });
    q.phase(1, 'r1', 'boot');
    q.done(1, 'r1');
    q.finish();
    expect(quiet.chunks).toEqual([]);

    const plain = sink(false);
    const l = new Progress({ total: 2, stream: plain.stream, now: () => 0, nonTty: 'lines' });
    l.phase(1, 'r1', 'boot');
    l.phase(1, 'r1', 'boot', 5000);
    l.phase(1, 'r1', 'run');
    l.done(1, 'r1', 'failed', 'guest did not boot');
    l.finish();
    expect(plain.chunks).toEqual(['[1/2] r1: boot\n', '[1/2] r1: run\n', '[1/2] r1: failed in 0s (guest did not boot)\n']);
  });

  it('plain lines parse back into their events (a parent reading a child run)', () => {
    const plain = sink(false);
    let t = 0;
    const l = new Progress({ total: 2, stream: plain.stream, now: () => t, nonTty: 'lines' });
    l.phase(2, '002-fluidmem-dram-r2', 'warm-up');
    t = 61_000;
    l.done(2, '002-fluidmem-dram-r2', 'failed', 'handler crashed (exit 70)');
    l.phase(1, '001-a', 'run');
    l.done(1, '001-a', 'ok');
    expect(plain.chunks.map((c) => parseProgressLine(c))).toEqual([
      { kind: 'phase', index: 2, total: 2, runId: '002-fluidmem-dram-r2', phase: 'warm-up' },
      { kind: 'done', index: 2, total: 2, runId: '002-fluidmem-dram-r2', status: 'failed', note: 'handler crashed (exit 70)' },
      { kind: 'phase', index: 1, total: 2, runId: '001-a', phase: 'run' },
      { kind: 'done', index: 1, total: 2, runId: '001-a', status: 'ok' },
    ]);
    expect(parseProgressLine('[setup] accelerator: tcg')).toBeUndefined();
    expect(parseProgressLine('[1/2] x: rebooting')).toBeUndefined();
  });

  it('formats durations', () => {
    expect([formatDuration(0), formatDuration(59_400), formatDuration(61_000), formatDuration(3_725_000)]).toEqual(['0s', '59s', '1m01s', '1h02m']);
  });
});
