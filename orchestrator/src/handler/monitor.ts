/**
 * Starts helpers/bin/fluidmem-monitor as a child process: argument array, output to a
 * log file, waits for its "fluidmem-monitor: ready" line, then connects the control
 * client. stop() sends SIGTERM (the monitor detaches VMs, deletes its remote keys and
 * removes its sockets) and SIGKILLs after a grace period.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedChild } from '../process/child.js';
import type { Lease } from '../process/lease.js';
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
  logFile: string;
  /** Records the monitor's pid in the run's lease (see process/lease.ts). */
  lease?: Lease;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

export interface MonitorHandle {
  pid: number;
  socketPath: string;
  controlPath: string;
  control: MonitorControl;
  /** resolves with the exit once the process is gone */
  exited: Promise<{ code: number | undefined; signal: string | undefined }>;
  stop(): Promise<void>;
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

export async function startMonitor(opts: MonitorOptions): Promise<MonitorHandle> {
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
      env: { FLUIDMEM_REDIS_PASSWORD: opts.redisPassword },
    });
  } catch (err) {
    throw new MonitorStartError(`cannot run ${binary}: ${(err as Error).message} (build it with 'make -C helpers')`);
  }
  const timeoutMs = opts.startTimeoutMs ?? 10_000;

  await new Promise<void>((resolveReady, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void child.stop(0);
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
      // give the log stream a moment to receive the last stderr lines
      setTimeout(() => reject(new MonitorStartError(
        `fluidmem-monitor exited before it was ready (code ${e.code ?? '-'}, signal ${e.signal ?? '-'}); ` +
        `check --backend and socket paths. Log ${opts.logFile}:\n${child.logTail()}`,
      )), 50);
    });
  });

  let control: MonitorControl;
  try {
    control = await MonitorControl.connect(opts.controlPath, { timeoutMs: 5_000 });
  } catch (err) {
    await child.stop(0);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid,
    socketPath: opts.socketPath,
    controlPath: opts.controlPath,
    control,
    exited: child.exited,
    stop() {
      stopping ??= (async () => {
        control.close();
        await child.stop(opts.stopTimeoutMs ?? 10_000);
      })();
      return stopping;
    },
  };
}
