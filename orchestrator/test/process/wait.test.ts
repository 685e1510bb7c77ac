/** waitFor: the one wait-with-deadline loop (pure logic; short real timers). */
import { describe, expect, it } from 'vitest';
import { waitFor, WaitAbortedError, WaitTimeoutError } from '../../src/process/wait.js';

describe('waitFor', () => {
  it('resolves with the first value the check yields (0 is a value; undefined, null, false are not)', async () => {
    const answers = [undefined, null, false, 0, 7];
    const rounds: number[] = [];
    const v = await waitFor(({ attempt }) => { rounds.push(attempt); return answers.shift(); }, { timeoutMs: 5000, intervalMs: 1, what: 'a value' });
    expect(v).toBe(0);
    expect(rounds).toEqual([1, 2, 3, 4]);
  });

  it('awaits async checks', async () => {
    let n = 0;
    await expect(waitFor(async () => (++n === 3 ? 'ready' : undefined), { timeoutMs: 5000, intervalMs: 1, what: 'x' })).resolves.toBe('ready');
  });

  it('rejects on timeout with an error naming what and the timeout', async () => {
    const err = await waitFor(() => undefined, { timeoutMs: 20, intervalMs: 5, what: 'the redis socket' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toBe('timed out after 20 ms waiting for the redis socket');
  });

  it('runs the check once even with no time at all', async () => {
    let calls = 0;
    await expect(waitFor(() => { calls++; return undefined; }, { timeoutMs: 0, what: 'x' })).rejects.toThrow(WaitTimeoutError);
    expect(calls).toBe(1);
    await expect(waitFor(() => 'now', { timeoutMs: 0, what: 'x' })).resolves.toBe('now');
  });

  it('stops early with the abortIf reason, before running the check again', async () => {
    let calls = 0;
    let dead = false;
    const err = await waitFor(() => { calls++; dead = true; return undefined; }, {
      timeoutMs: 5000, intervalMs: 1, what: 'QMP', abortIf: () => (dead ? 'QEMU exited with status 1' : undefined),
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(WaitAbortedError);
    expect((err as WaitAbortedError).reason).toBe('QEMU exited with status 1');
    expect((err as Error).message).toBe('stopped waiting for QMP: QEMU exited with status 1');
    expect(calls).toBe(1);
  });

  it('passes a check error through at once unless retryIf says it means "not yet"', async () => {
    let calls = 0;
    const fatal = await waitFor(() => { calls++; throw new Error('permission denied'); }, { timeoutMs: 5000, what: 'x' }).catch((e: Error) => e);
    expect((fatal as Error).message).toBe('permission denied');
    expect(calls).toBe(1);

    let n = 0;
    const v = await waitFor(() => { if (++n < 3) throw new Error('ECONNREFUSED'); return 'connected'; }, {
      timeoutMs: 5000, intervalMs: 1, what: 'x', retryIf: (e) => e.message === 'ECONNREFUSED',
    });
    expect(v).toBe('connected');
  });

  it('names the last retried error on timeout', async () => {
    const err = await waitFor(() => { throw new Error('ECONNREFUSED'); }, {
      timeoutMs: 20, intervalMs: 5, what: 'SSH on 127.0.0.1:2222', retryIf: () => true,
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as WaitTimeoutError).lastError?.message).toBe('ECONNREFUSED');
    expect((err as Error).message).toBe('timed out after 20 ms waiting for SSH on 127.0.0.1:2222 (last error: ECONNREFUSED)');
  });

  it('tells each round how much time is left', async () => {
    const left: number[] = [];
    await waitFor(({ remainingMs }) => { left.push(remainingMs); return left.length === 3 ? true : undefined; }, { timeoutMs: 5000, intervalMs: 1, what: 'x' });
    for (const ms of left) expect(ms).toBeGreaterThan(0);
    for (const ms of left) expect(ms).toBeLessThanOrEqual(5000);
  });
});
