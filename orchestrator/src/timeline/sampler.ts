/**
 * Takes a sample every `intervalMs` on a fixed grid (t0 + k * interval), one at a time:
 * when a sample is still running at the next tick (a slow SSH round trip under TCG), that
 * tick is skipped and counted, never queued, so samples never pile up or overlap. A
 * failing sample is counted and the sampler goes on (the next tick may work). stop()
 * waits for the sample in flight.
 */

export interface SamplerOptions {
  intervalMs: number;
  /** Takes one sample at `tMs` (ms after t0, on the grid). */
  sample: (tMs: number) => Promise<void>;
  now?: () => number;
  t0?: number;
  /** Take a sample at t0 itself (default true). */
  atStart?: boolean;
}

export interface SamplerCounts {
  taken: number;
  skipped: number;
  failed: number;
  lastError?: string;
}

export class Sampler {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private k: number;
  readonly counts: SamplerCounts = { taken: 0, skipped: 0, failed: 0 };
  private readonly now: () => number;
  readonly t0: number;

  private constructor(private readonly o: SamplerOptions) {
    if (!(o.intervalMs > 0)) throw new Error(`sampler: interval must be positive, got ${o.intervalMs}`);
    this.now = o.now ?? (() => performance.now());
    this.t0 = o.t0 ?? this.now();
    this.k = o.atStart === false ? 1 : 0;
  }

  static start(o: SamplerOptions): Sampler {
    const s = new Sampler(o);
    s.arm();
    return s;
  }

  private arm(): void {
    if (this.stopped) return;
    const due = this.t0 + this.k * this.o.intervalMs;
    // Node's timers can fire up to a millisecond early: wait out the rest, never sample early
    const wait = due - this.now();
    this.timer = setTimeout(() => (this.now() >= due ? this.tick() : this.arm()), Math.max(0, Math.ceil(wait)));
  }

  private tick(): void {
    if (this.stopped) return;
    const tMs = this.k * this.o.intervalMs;
    // the grid point after now: ticks missed while the process was busy are skipped
    const next = Math.max(this.k + 1, Math.floor((this.now() - this.t0) / this.o.intervalMs) + 1);
    if (this.inFlight) {
      this.counts.skipped += next - this.k;
    } else {
      this.counts.skipped += next - this.k - 1;
      this.inFlight = this.o.sample(tMs).then(
        () => { this.counts.taken++; },
        (err: Error) => { this.counts.failed++; this.counts.lastError = err.message; },
      ).finally(() => { this.inFlight = undefined; });
    }
    this.k = next;
    this.arm();
  }

  /** No more ticks; resolves once the sample in flight (if any) is done. */
  async stop(): Promise<SamplerCounts> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
    return this.counts;
  }
}
