/**
 * Starts helpers/bin/fluidmem-monitor as a child process: argument array, output to a
 * log file, waits for its "fluidmem-monitor: ready" line, then connects the control
 * client. stop() sends SIGTERM (the monitor detaches VMs, deletes its remote keys and
 * removes its sockets) and SIGKILLs after a grace period.
 */
import { closeSync, createWriteStream, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
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

function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Environment for a process (QEMU, harness) whose guest RAM the monitor should manage. */
export function attachEnv(opts: { socketPath: string; regionBytes: number; vmId: string; library?: string }): Record<string, string> {
  return {
    LD_PRELOAD: opts.library ?? ATTACH_LIBRARY,
    FLUIDMEM_SOCKET: opts.socketPath,
    FLUIDMEM_REGION_BYTES: String(opts.regionBytes),
    FLUIDMEM_VM_ID: opts.vmId,
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
  closeSync(openSync(opts.logFile, 'a', 0o600));
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const env: Record<string, string | undefined> = { FLUIDMEM_REDIS_PASSWORD: opts.redisPassword };
  let proc: ResultPromise;
  try {
    proc = execa(binary, args, { env, extendEnv: true, stdin: 'ignore', buffer: false, reject: false, cleanup: true });
  } catch (err) {
    throw new MonitorStartError(`cannot run ${binary}: ${(err as Error).message} (build it with 'make -C helpers')`);
  }
  const exited = proc.then((r) => ({ code: r.exitCode, signal: r.signal }));
  proc.stderr?.pipe(log, { end: false });
  const timeoutMs = opts.startTimeoutMs ?? 10_000;

  await new Promise<void>((resolveReady, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new MonitorStartError(`fluidmem-monitor did not report ready within ${timeoutMs} ms\n${logTail(opts.logFile)}`));
    }, timeoutMs);
    proc.stdout?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      out += chunk.toString();
      if (out.includes('fluidmem-monitor: ready\n')) {
        clearTimeout(timer);
        resolveReady();
      }
    });
    void exited.then((e) => {
      clearTimeout(timer);
      // give the log stream a moment to receive the last stderr lines
      setTimeout(() => reject(new MonitorStartError(
        `fluidmem-monitor exited before it was ready (code ${e.code ?? '-'}, signal ${e.signal ?? '-'}); ` +
        `check --backend and socket paths. Log ${opts.logFile}:\n${logTail(opts.logFile)}`,
      )), 50);
    });
    proc.catch(() => undefined);
    if (proc.pid === undefined) {
      clearTimeout(timer);
      reject(new MonitorStartError(`cannot run ${binary} (build it with 'make -C helpers')`));
    }
  });

  let control: MonitorControl;
  try {
    control = await MonitorControl.connect(opts.controlPath, { timeoutMs: 5_000 });
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  const pid = proc.pid!;
  let stopping: Promise<void> | undefined;
  return {
    pid,
    socketPath: opts.socketPath,
    controlPath: opts.controlPath,
    control,
    exited,
    stop() {
      stopping ??= (async () => {
        control.close();
        proc.kill('SIGTERM');
        const grace = opts.stopTimeoutMs ?? 10_000;
        const timer = setTimeout(() => proc.kill('SIGKILL'), grace);
        await exited;
        clearTimeout(timer);
        log.end();
      })();
      return stopping;
    },
  };
}
