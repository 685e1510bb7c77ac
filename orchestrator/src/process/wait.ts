/**
 * One wait-with-deadline loop for everything the orchestrator polls: a socket that starts
 * answering (QMP, Redis, SSH), a guest that reports its RAM attached, a process that goes
 * away. It lives in process/ because every caller is waiting on a process it owns (or one
 * a lease names) to reach a state; keeping it next to ManagedChild avoids a grab-bag
 * util folder.
 *
 * Each round: `abortIf` (a reason to give up now, e.g. "QEMU exited"), then `check`. A
 * check result of `undefined`, `null` or `false` means "not yet"; anything else is the
 * answer. An error thrown by `check` ends the wait at once, unless `retryIf` says it only
 * means "not yet" (connection refused); the last such error is named on timeout. The check
 * always runs at least once, and a check in flight at the deadline is awaited, not raced.
 */

export interface WaitOptions {
  /** Give up after this long (measured from the call). */
  timeoutMs: number;
  /** Pause between rounds (default 50 ms; never past the deadline). */
  intervalMs?: number;
  /** What is awaited, for the error message: "QMP socket /run/x.qmp". */
  what: string;
  /** Returns a reason to stop waiting (checked before and after every round). */
  abortIf?: () => string | undefined;
  /** Errors from `check` that mean "not ready yet" rather than failure. */
  retryIf?: (err: Error) => boolean;
}

/** What a round of `check` knows: the time left (to bound a connect attempt) and the round. */
export interface WaitRound {
  remainingMs: number;
  attempt: number;
}

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
  constructor(readonly what: string, readonly timeoutMs: number, readonly lastError?: Error) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}`);
  }
}

export class WaitAbortedError extends Error {
  override name = 'WaitAbortedError';
  constructor(readonly what: string, readonly reason: string) {
    super(`stopped waiting for ${what}: ${reason}`);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it yields a value (resolves with it), `abortIf` gives a reason
 * (rejects with WaitAbortedError), it throws a non-retryable error (rejects with it), or
 * `timeoutMs` passes (rejects with WaitTimeoutError naming `what` and the timeout). */
export async function waitFor<T>(
  check: (round: WaitRound) => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 50;
  let lastError: Error | undefined;
  const aborted = () => {
    const reason = opts.abortIf?.();
    if (reason) throw new WaitAbortedError(opts.what, reason);
  };
  for (let attempt = 1; ; attempt++) {
    aborted();
    try {
      const value = await check({ remainingMs: Math.max(0, deadline - Date.now()), attempt });
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      if (!opts.retryIf?.(e)) throw e;
      lastError = e;
    }
    aborted();
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new WaitTimeoutError(opts.what, opts.timeoutMs, lastError);
    await sleep(Math.min(interval, remaining));
  }
}
