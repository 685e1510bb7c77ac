/**
 * Fires timed actions on one clock: each at t0 + atMs, with its own timer (so a slow
 * action never delays the next). An action's work may outlast its moment (a resize
 * waits for the resident set to fit, a balloon is watched until it gets there): it gets
 * an AbortSignal that stop() raises once the workload is over, and stop() waits for
 * every started action to settle. Actions not yet due at stop() never fire. Pure logic
 * over an injected clock: the real targets are in timeline/actions.ts.
 */

export interface Fired<R> {
  index: number;
  atMs: number;
  /** ms after t0 when the action started (absent: stopped before it was due) */
  firedMs?: number;
  result?: R;
  error?: string;
}

export interface ScheduleOptions<A, R> {
  actions: readonly (A & { atMs: number })[];
  /** Runs one action; `firedMs` is its fire time on the schedule's clock. */
  fire: (action: A & { atMs: number }, index: number, firedMs: number, signal: AbortSignal) => Promise<R>;
  /** Called as each action starts (e.g. to write its mark into the series). */
  onFire?: (index: number, firedMs: number) => void;
  /** Milliseconds, monotonic (default performance.now). */
  now?: () => number;
  /** t0 on that clock (default: now at start) */
  t0?: number;
}

export class Schedule<A, R> {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running: Promise<void>[] = [];
  private readonly abort = new AbortController();
  private readonly fired: Fired<R>[];
  private stopped = false;
  readonly t0: number;
  private readonly now: () => number;

  private constructor(private readonly o: ScheduleOptions<A, R>) {
    this.now = o.now ?? (() => performance.now());
    this.t0 = o.t0 ?? this.now();
    this.fired = o.actions.map((a, index) => ({ index, atMs: a.atMs }));
  }

  /** Arms a timer for every action; returns at once. */
  static start<A, R>(o: ScheduleOptions<A, R>): Schedule<A, R> {
    const s = new Schedule(o);
    o.actions.forEach((_a, i) => s.arm(i));
    return s;
  }

  /** Node's timers can fire up to a millisecond early against performance.now(): re-arm
   * for what is left, so that an action never fires before its time. */
  private arm(i: number): void {
    const wait = this.t0 + this.o.actions[i]!.atMs - this.now();
    if (wait <= 0) { this.fireOne(i); return; }
    this.timers.push(setTimeout(() => this.arm(i), Math.ceil(wait)));
  }

  /** Milliseconds since t0. */
  elapsed(): number {
    return this.now() - this.t0;
  }

  private fireOne(i: number): void {
    if (this.stopped) return;
    const action = this.o.actions[i]!;
    const entry = this.fired[i]!;
    const firedMs = this.elapsed();
    entry.firedMs = firedMs;
    this.o.onFire?.(i, firedMs);
    this.running.push((async () => {
      try {
        entry.result = await this.o.fire(action, i, firedMs, this.abort.signal);
      } catch (err) {
        entry.error = (err as Error).message;
      }
    })());
  }

  /** Cancels what is not yet due, tells running actions the window is over, and waits
   * for them to settle. Idempotent. */
  async stop(): Promise<Fired<R>[]> {
    if (!this.stopped) {
      this.stopped = true;
      for (const t of this.timers) clearTimeout(t);
      this.abort.abort();
    }
    await Promise.all(this.running);
    return this.fired;
  }
}
