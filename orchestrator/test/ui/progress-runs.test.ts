/** Progress without a TTY, 'runs' mode (what `up` prints when piped): one plain line as
 * each run starts and one as it ends, with the experiment's elapsed time and time left. */
import { describe, expect, it } from 'vitest';
import { parseProgressLine, Progress } from '../../src/ui/progress.js';

function sink() {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY: false, write: (c: string) => chunks.push(c) } };
}

describe('Progress without a TTY (runs mode)', () => {
  it('prints a start and an end line per run, with elapsed time and an estimate of the time left', () => {
    let t = 0;
    const { chunks, stream } = sink();
    const p = new Progress({ total: 3, stream, now: () => t, nonTty: 'runs' });
    p.start(1, '001-dram-r1');
    t = 10_000;
    p.phase(1, '001-dram-r1', 'boot');
    t = 40_000;
    p.phase(1, '001-dram-r1', 'run', 5000);
    t = 60_000;
    p.done(1, '001-dram-r1', 'ok');
    t = 61_000;
    p.start(2, '002-swap-r1');
    p.phase(2, '002-swap-r1', 'boot');
    t = 80_000;
    p.done(2, '002-swap-r1', 'failed', 'guest did not boot');
    p.start(3, '003-fm-r1');
    t = 200_000;
    p.done(3, '003-fm-r1', 'ok');
    p.finish();
    expect(chunks).toEqual([
      '[1/3] 001-dram-r1: started · 0s elapsed · time left unknown\n',
      '[1/3] 001-dram-r1: ok in 1m00s · 1m00s elapsed · ~2m00s left\n',
      // One run of 60 s done: about 60 s for this one and 60 s for the third.
      '[2/3] 002-swap-r1: started · 1m01s elapsed · ~2m00s left\n',
      '[2/3] 002-swap-r1: failed in 19s (guest did not boot) · 1m20s elapsed · ~40s left\n',
      '[3/3] 003-fm-r1: started · 1m20s elapsed · ~40s left\n',
      '[3/3] 003-fm-r1: ok in 2m00s · 3m20s elapsed · ~0s left\n',
    ]);
    expect(chunks.join('')).not.toMatch(/\x1b|\r/);
  });

  it('end lines still parse for a parent process; start lines are not events', () => {
    expect(parseProgressLine('[2/3] 002-swap-r1: failed in 19s (guest did not boot (exit 1)) · 1m20s elapsed · ~40s left')).toEqual(
      { kind: 'done', index: 2, total: 3, runId: '002-swap-r1', status: 'failed', note: 'guest did not boot (exit 1)' },
    );
    expect(parseProgressLine('[1/3] 001-dram-r1: ok in 1m00s · 1m00s elapsed · time left unknown')).toEqual(
      { kind: 'done', index: 1, total: 3, runId: '001-dram-r1', status: 'ok' },
    );
    expect(parseProgressLine('[1/3] 001-dram-r1: started · 0s elapsed · time left unknown')).toBeUndefined();
  });

  it('the other modes are unchanged: quiet prints nothing, lines one line per phase', () => {
    const quiet = sink();
    const q = new Progress({ total: 1, stream: quiet.stream, now: () => 0 });
    q.start(1, 'r1');
    q.phase(1, 'r1', 'boot');
    q.done(1, 'r1');
    expect(quiet.chunks).toEqual([]);
    const lines = sink();
    const l = new Progress({ total: 1, stream: lines.stream, now: () => 0, nonTty: 'lines' });
    l.start(1, 'r1');
    l.phase(1, 'r1', 'boot');
    l.done(1, 'r1');
    expect(lines.chunks).toEqual(['[1/1] r1: boot\n', '[1/1] r1: ok in 0s\n']);
  });
});
