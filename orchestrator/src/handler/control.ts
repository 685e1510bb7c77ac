/**
 * Typed client for fluidmem-monitor's control socket (JSON lines over a Unix stream
 * socket; framing in protocol/json-lines.ts). One request at a time; every request has a
 * timeout. See ARCHITECTURE.md, "Fault handler design and protocol".
 */
import { createConnection, type Socket } from 'node:net';
import { encodeJsonLine, LineSplitter } from '../protocol/json-lines.js';

export interface LatencySummary {
  p50: number;
  p99: number;
  count: number;
  /** [upper bound in ns, count] for every non-empty bucket */
  histogram: Array<[number, number]>;
}

export interface Counters {
  faults: number;
  zero_fills: number;
  remote_fetches: number;
  evictions: number;
  backend_writes: number;
  resident_pages: number;
  remote_pages: number;
  evicting_pages: number;
  fetching_pages: number;
  removed_pages: number;
  queue_hits: number;
  bytes_written: number;
  bytes_read: number;
  fault_latency_ns: LatencySummary;
}

export interface VmStats extends Counters {
  id: string;
  pid: number;
  region_bytes: number;
  tracked_pages: number;
  meta_bytes: number;
}

/** The redis-cluster:// backend's counters (monitor-wide; absent with other backends). */
export interface ClusterCounters {
  moved: number;
  ask: number;
  tryagain: number;
  clusterdown: number;
  /** faults that waited for a slot with no reachable master (a failover, a reshard) */
  stalled_faults: number;
  conn_losses: number;
  map_refreshes: number;
  /** WAIT rounds (replica acknowledgements) and those that timed out */
  wait_rounds: number;
  wait_timeouts: number;
  masters: number;
  replicas: number;
}

export interface MonitorStats {
  ok: true;
  cluster?: ClusterCounters;
  capacity: number;
  backend: 'dram' | 'redis';
  tracked_pages: number;
  meta_bytes: number;
  bytes_per_tracked_page: number;
  total: Counters;
  /** the monitor's scheduling policy: "other", "fifo:PRIO", "rr:PRIO", "batch", "idle" */
  sched?: string;
  vms: VmStats[];
}

export interface ControlOptions {
  /** per request (and for connecting); default 10 s. resize/flush may take a while */
  timeoutMs?: number;
}

export class MonitorControlError extends Error {
  override name = 'MonitorControlError';
}

/** A request awaiting its reply line. Replies come back in request order; a request that
 * timed out stays queued (abandoned) so that its late reply is dropped, not mistaken for
 * the answer to the next request. */
interface Pending {
  resolve: (line: string) => void;
  reject: (e: Error) => void;
  abandoned: boolean;
}

export class MonitorControl {
  private readonly lines = new LineSplitter();
  private readonly pending: Pending[] = [];
  /** Requests are sent one at a time, in call order (callers may overlap). */
  private chain: Promise<unknown> = Promise.resolve();
  private closedError: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
    private readonly timeoutMs: number,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      for (const line of this.lines.push(chunk)) {
        const p = this.pending.shift();
        if (p && !p.abandoned) p.resolve(line);
      }
    });
    const onEnd = (err?: Error) => {
      this.closedError = new MonitorControlError(
        `control socket ${path} closed${err ? `: ${err.message}` : ''} (is fluidmem-monitor still running?)`,
      );
      for (const p of this.pending.splice(0)) if (!p.abandoned) p.reject(this.closedError);
    };
    socket.on('error', onEnd);
    socket.on('close', () => onEnd());
  }

  static connect(path: string, opts: ControlOptions = {}): Promise<MonitorControl> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new MonitorControlError(`connecting to control socket ${path} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new MonitorControl(socket, path, timeoutMs));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new MonitorControlError(
          `cannot connect to control socket ${path}: ${err.message} (start fluidmem-monitor with --control ${path})`,
        ));
      });
    });
  }

  private request(req: Record<string, unknown>, timeoutMs = this.timeoutMs): Promise<Record<string, unknown>> {
    const run = this.chain.then(() => this.send(req, timeoutMs));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async send(req: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
    if (this.closedError) throw this.closedError;
    const line = await new Promise<string>((resolve, reject) => {
      const entry: Pending = { resolve, reject, abandoned: false };
      const timer = setTimeout(() => {
        entry.abandoned = true;
        reject(new MonitorControlError(`${String(req.cmd)} on ${this.path} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      entry.resolve = (l) => { clearTimeout(timer); resolve(l); };
      entry.reject = (e) => { clearTimeout(timer); reject(e); };
      this.pending.push(entry);
      this.socket.write(encodeJsonLine(req));
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new MonitorControlError(`monitor sent a line that is not JSON: ${line.slice(0, 200)}`);
    }
    const obj = parsed as Record<string, unknown>;
    if (obj.ok !== true) {
      throw new MonitorControlError(`monitor refused ${String(req.cmd)}: ${String(obj.error ?? line)}`);
    }
    return obj;
  }

  async stats(): Promise<MonitorStats> {
    return (await this.request({ cmd: 'stats' })) as unknown as MonitorStats;
  }

  /** Sets the resident-set limit; shrinking resolves once the resident set fits. */
  async resize(pages: number, opts: ControlOptions = {}): Promise<number> {
    if (!Number.isInteger(pages) || pages < 1) throw new MonitorControlError(`resize: pages must be a positive integer, got ${pages}`);
    const r = await this.request({ cmd: 'resize', pages }, opts.timeoutMs ?? Math.max(this.timeoutMs, 60_000));
    return Number(r.capacity);
  }

  /** Resolves once no eviction is in flight and the write-behind queue is empty. */
  async flush(opts: ControlOptions = {}): Promise<void> {
    await this.request({ cmd: 'flush' }, opts.timeoutMs ?? Math.max(this.timeoutMs, 60_000));
  }

  /** Raw request, for tests of the protocol itself. */
  async raw(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.request(req);
  }

  close(): void {
    this.closedError ??= new MonitorControlError('control connection closed');
    this.socket.destroy();
  }
}
