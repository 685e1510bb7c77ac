/**
 * helpers/bin/fluidmem-monitor as an OwnedProcess (process/owned.ts): `Monitor.start()`
 * runs it from an argument array with output to a log file, waits for its
 * "fluidmem-monitor: ready" line, then connects the control client. `dispose()` closes
 * the control client and sends SIGTERM (the monitor detaches VMs, deletes its remote keys
 * and removes its sockets), then SIGKILL after a grace period.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedChild } from '../process/child.js';
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
  /** Records the monitor's pid in the run's lease (see process/lease.ts). */
  lease?: Lease;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

export class MonitorStartError extends Error {
  override name = 'MonitorStartError';
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

  private constructor(protected readonly child: ManagedChild, readonly control: MonitorControl, private readonly opts: MonitorOptions) {
    super();
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
  static async start(opts: MonitorOptions): Promise<Monitor> {
    if (!Number.isInteger(opts.capacityPages) || opts.capacityPages < 1) {
      throw new MonitorStartError(`capacityPages must be a positive integer, got ${opts.capacityPages}`);
    }
    const binary = opts.binary ?? MONITOR_BINARY;
    const args = ['--socket', opts.socketPath, '--control', opts.controlPath, '--backend', opts.backend,
      '--capacity', String(opts.capacityPages)];
    if (opts.keyPrefix !== undefined) args.push('--key-prefix', opts.keyPrefix);
    let child: ManagedChild;
    try {
      child = new ManagedChild({
        role: 'monitor',
        file: binary,
        args,
        logFile: opts.logFile,
        lease: opts.lease,
        // The password goes through the environment, never the command line.
        env: {
          FLUIDMEM_REDIS_PASSWORD: opts.redisPassword,
          FLUIDMEM_REDIS_TIMEOUT_MS: opts.redisTimeoutMs === undefined ? undefined : String(opts.redisTimeoutMs),
          FLUIDMEM_EVICT_TIMEOUT_MS: opts.evictTimeoutMs === undefined ? undefined : String(opts.evictTimeoutMs),
        },
        graceMs: opts.stopTimeoutMs ?? 10_000,
      });
    } catch (err) {
      throw new MonitorStartError(`cannot run ${binary}: ${(err as Error).message} (build it with 'make -C helpers')`);
    }
    try {
      await readyLine(child, opts);
      return new Monitor(child, await MonitorControl.connect(opts.controlPath, { timeoutMs: 5_000 }), opts);
    } catch (err) {
      await child.dispose(0);
      throw err;
    }
  }

  /** Idempotent: closes the control client, then SIGTERM, SIGKILL after the grace
   * (`stopTimeoutMs`, default 10 s); resolves once the monitor is gone. */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      this.control.close();
      await this.child.dispose();
    })();
    return this.disposing;
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
