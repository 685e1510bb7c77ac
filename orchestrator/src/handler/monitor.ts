/**
 * helpers/bin/fluidmem-monitor as an OwnedProcess (process/owned.ts): `Monitor.start()`
 * runs it from an argument array with output to a log file, waits for its
 * "fluidmem-monitor: ready" line, then connects the control client. `dispose()` closes
 * the control client and sends SIGTERM (the monitor detaches VMs, deletes its remote keys
 * and removes its sockets), then SIGKILL after a grace period.
 *
 * Restart without loss (issue 9): with `restarts: N` (Redis backends only), a monitor that
 * crashes (ends by a signal: SIGKILL, SIGSEGV, ...) is started again on the same sockets with the same key
 * nonce (FLUIDMEM_KEY_NONCE, chosen here once), up to N times; the attach libraries of its
 * running processes reattach to it (helpers/src/proto.h) and lose nothing. Each restart is
 * recorded in `restarts`. The same Monitor object keeps serving: `control`, `pid` and
 * `exited` name the current process. The dram backend cannot survive its process, so it
 * is never restarted (its processes exit 70, as they always did).
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinCpus } from '../process/affinity.js';
import { findExecutable, ManagedChild } from '../process/child.js';
import type { Lease } from '../process/lease.js';
import { ChildOwner } from '../process/child-owner.js';
import { MonitorControl } from './control.js';

export const HELPERS_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../../helpers/bin');
export const MONITOR_BINARY = join(HELPERS_BIN, 'fluidmem-monitor');
export const ATTACH_LIBRARY = join(HELPERS_BIN, 'libfluidmem-attach.so');

export interface MonitorOptions {
  binary?: string;
  /** where attach libraries connect (FLUIDMEM_SOCKET) */
  socketPath: string;
  controlPath: string;
  /** 'dram', 'redis://HOST:PORT' or 'unix:///PATH' */
  backend: string;
  capacityPages: number;
  keyPrefix?: string;
  redisPassword?: string;
  /** Redis requests unanswered (or Redis unreachable) this long fail closed (monitor default 10 s). */
  redisTimeoutMs?: number;
  /** An EVICT the agent leaves unanswered this long drops its VM (monitor default 10 s). */
  evictTimeoutMs?: number;
  logFile: string;
  /** Redis key nonce (1..16 of [0-9a-z]); default: a random one, kept across restarts. */
  keyNonce?: string;
  /** CPUs the monitor runs on (taskset at every start, restarts included); default: any. */
  cpus?: number[];
  /** Restarts after the monitor exits on its own (default 0; ignored for dram). */
  restarts?: number;
  /** Told about each restart once it succeeded or failed. */
  onRestart?: (r: MonitorRestart) => void;
  /** Records the monitor's pid in the run's lease (see process/lease.ts). */
  lease?: Lease;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

export class MonitorStartError extends Error {
  override name = 'MonitorStartError';
}

/** One automatic restart of a crashed monitor. */
export interface MonitorRestart {
  /** when the crash was seen (ISO 8601) */
  at: string;
  /** how the previous process ended: 'killed by SIGKILL' (only crashes are restarted) */
  exit: string;
  oldPid: number;
  newPid?: number;
  ok: boolean;
  error?: string;
  /** ms from the crash being seen to the new monitor answering its control socket */
  ms: number;
}

/**
 * Environment for a process (QEMU, harness, host benchmark) whose memory the monitor should
 * manage. capture: 'qemu' (default) takes QEMU's MAP_FIXED guest RAM, 'anon' the first
 * private anonymous mapping of regionBytes (a host benchmark's working set).
 */
export function attachEnv(opts: {
  socketPath: string; regionBytes: number; vmId: string; library?: string; capture?: 'qemu' | 'anon';
}): Record<string, string> {
  return {
    LD_PRELOAD: opts.library ?? ATTACH_LIBRARY,
    FLUIDMEM_SOCKET: opts.socketPath,
    FLUIDMEM_REGION_BYTES: String(opts.regionBytes),
    FLUIDMEM_VM_ID: opts.vmId,
    ...(opts.capture ? { FLUIDMEM_CAPTURE: opts.capture } : {}),
  };
}

export class Monitor extends ChildOwner {
  private disposing: Promise<void> | undefined;
  private restarting: Promise<void> | undefined;
  /** Automatic restarts so far (see `restarts` in MonitorOptions). */
  readonly restarts: MonitorRestart[] = [];
  /** Told about each restart (initially MonitorOptions.onRestart), e.g. to pin the new pid. */
  onRestart: ((r: MonitorRestart) => void) | undefined;

  private constructor(protected child: ManagedChild, private controlClient: MonitorControl, private readonly opts: MonitorOptions & { keyNonce: string }) {
    super();
    this.onRestart = opts.onRestart;
    this.supervise();
  }

  /** The control client of the current monitor process. */
  get control(): MonitorControl {
    return this.controlClient;
  }

  /** The Redis key nonce (the same across restarts). */
  get keyNonce(): string {
    return this.opts.keyNonce;
  }

  /** Resolves once no restart is in progress (immediately if none is). */
  async settled(): Promise<void> {
    while (this.restarting) await this.restarting;
  }

  private supervise(): void {
    const child = this.child;
    void child.exited.then((e) => {
      if (this.disposing || child !== this.child) return;
      const allowed = this.opts.backend === 'dram' ? 0 : this.opts.restarts ?? 0;
      // an exit with a status is deliberate (e.g. failing closed on Redis): it sent its VMs
      // FM_BYE and they stopped, so only a crash (a signal) is worth a restart
      if (this.restarts.length >= allowed || !e.signal) return;
      const exit = e.signal ? `killed by ${e.signal}` : `exited with status ${e.code}`;
      this.restarting = this.restartAfter(exit, child).finally(() => { this.restarting = undefined; });
    });
  }

  private async restartAfter(exit: string, old: ManagedChild): Promise<void> {
    const t0 = Date.now();
    const r: MonitorRestart = { at: new Date(t0).toISOString(), exit, oldPid: old.pid, ok: false, ms: 0 };
    this.controlClient.close();
    try {
      const { child, control } = await spawnMonitor(this.opts);
      if (this.disposing) {
        control.close();
        await child.dispose(0);
        return;
      }
      this.child = child;
      this.controlClient = control;
      r.newPid = child.pid;
      r.ok = true;
      this.supervise();
    } catch (err) {
      r.error = (err as Error).message;
    } finally {
      r.ms = Date.now() - t0;
      this.restarts.push(r);
      await old.dispose(0).catch(() => undefined);
      this.onRestart?.(r);
    }
  }

  /** Pins the running monitor (every thread) to `cpus`, and every restarted one from its
   * start (it is started under taskset), so no restart serves a moment unpinned. */
  async pinTo(cpus: number[]): Promise<void> {
    this.opts.cpus = [...cpus];
    await pinCpus(this.child.pid, cpus, { allThreads: true });
  }

  /** Where attach libraries connect (FLUIDMEM_SOCKET). */
  get socketPath(): string {
    return this.opts.socketPath;
  }

  get controlPath(): string {
    return this.opts.controlPath;
  }


  /** Starts the monitor; resolves once it is ready and its control socket connected.
   * On failure nothing is left running and the error carries the log tail. */
  static async start(options: MonitorOptions): Promise<Monitor> {
    if (!Number.isInteger(options.capacityPages) || options.capacityPages < 1) {
      throw new MonitorStartError(`capacityPages must be a positive integer, got ${options.capacityPages}`);
    }
    if (options.keyNonce !== undefined && !/^[0-9a-z]{1,16}$/.test(options.keyNonce)) {
      throw new MonitorStartError(`keyNonce must be 1..16 characters [0-9a-z], got '${options.keyNonce}'`);
    }
    const opts = { ...options, keyNonce: options.keyNonce ?? randomBytes(8).toString('hex') };
    const { child, control } = await spawnMonitor(opts);
    return new Monitor(child, control, opts);
  }

  /** Idempotent: closes the control client, then SIGTERM, SIGKILL after the grace
   * (`stopTimeoutMs`, default 10 s); resolves once the monitor is gone. A restart in
   * progress is abandoned (its process, if it started, is stopped too). */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      this.controlClient.close();
      await this.restarting?.catch(() => undefined);
      this.controlClient.close();
      await this.child.dispose();
    })();
    return this.disposing;
  }
}

/** Runs one monitor process and connects its control client; on failure nothing is left
 * running and the error carries the log tail. */
async function spawnMonitor(opts: MonitorOptions & { keyNonce: string }): Promise<{ child: ManagedChild; control: MonitorControl }> {
  {
    const binary = opts.binary ?? MONITOR_BINARY;
    const args = ['--socket', opts.socketPath, '--control', opts.controlPath, '--backend', opts.backend,
      '--capacity', String(opts.capacityPages)];
    if (opts.keyPrefix !== undefined) args.push('--key-prefix', opts.keyPrefix);
    let child: ManagedChild;
    try {
      // taskset execs the monitor (same pid), pinned before its first instruction
      if (opts.cpus?.length && !findExecutable(binary)) throw new Error(`${binary}: not found or not executable`);
      const pinned = opts.cpus?.length ? { file: 'taskset', args: ['-c', opts.cpus.join(','), binary, ...args] } : { file: binary, args };
      child = new ManagedChild({
        role: 'monitor',
        ...pinned,
        logFile: opts.logFile,
        lease: opts.lease,
        // The password goes through the environment, never the command line.
        env: {
          FLUIDMEM_REDIS_PASSWORD: opts.redisPassword,
          FLUIDMEM_REDIS_TIMEOUT_MS: opts.redisTimeoutMs === undefined ? undefined : String(opts.redisTimeoutMs),
          FLUIDMEM_EVICT_TIMEOUT_MS: opts.evictTimeoutMs === undefined ? undefined : String(opts.evictTimeoutMs),
          // the same keys across restarts: a restarted monitor finds the pages of its VMs
          FLUIDMEM_KEY_NONCE: opts.keyNonce,
        },
        graceMs: opts.stopTimeoutMs ?? 10_000,
      });
    } catch (err) {
      throw new MonitorStartError(`cannot run ${binary}: ${(err as Error).message} (build it with 'make -C helpers')`);
    }
    try {
      await readyLine(child, opts);
      return { child, control: await MonitorControl.connect(opts.controlPath, { timeoutMs: 5_000 }) };
    } catch (err) {
      await child.dispose(0);
      throw err;
    }
  }
}

/** Resolves when the monitor prints its ready line; rejects on exit or timeout. */
function readyLine(child: ManagedChild, opts: MonitorOptions): Promise<void> {
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  return new Promise<void>((resolveReady, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      reject(new MonitorStartError(`fluidmem-monitor did not report ready within ${timeoutMs} ms\n${child.logTail()}`));
    }, timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('fluidmem-monitor: ready\n')) {
        clearTimeout(timer);
        resolveReady();
      }
    });
    void child.exited.then((e) => {
      clearTimeout(timer);
      // exited resolves once the log has the last stderr lines
      reject(new MonitorStartError(
        `fluidmem-monitor exited before it was ready (code ${e.code ?? '-'}, signal ${e.signal ?? '-'}); ` +
        `check --backend and socket paths. Log ${opts.logFile}:\n${child.logTail()}`,
      ));
    });
  });
}
