/**
 * A child process owned by a run: started from an argument array, its output appended to
 * a log file, its pid recorded in the run's lease (removed once it has exited), and
 * disposed with SIGTERM, then SIGKILL. The base every OwnedProcess (process/owned.ts) is
 * built on: MicroVM, Monitor and EmbeddedRedis each hold one and add their graceful step.
 *
 * A child never outlives the orchestrator: it is started through util-linux
 * `setpriv --pdeathsig SIGKILL -- FILE ARGS`, which sets PR_SET_PDEATHSIG and execs FILE
 * (same pid, same start time, so the lease entry names FILE itself). The kernel sends
 * SIGKILL when the thread that forked it exits; Node forks from its main thread (libuv's
 * uv_spawn runs on the event loop thread), so that is when the orchestrator dies, even by
 * SIGKILL. Host changes that can outlive a process (swap, cgroups, files) stay in the lease
 * for `orchestrate down`. Without setpriv (not util-linux) children start unwrapped, as
 * before, with a one-time warning.
 */
import { accessSync, constants, createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { Lease } from './lease.js';
import type { ChildExit, OwnedProcess } from './owned.js';
import { waitFor } from './wait.js';

export type { ChildExit } from './owned.js';

export interface ChildOptions {
  role: string;
  file: string;
  args: string[];
  logFile: string;
  lease?: Lease;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** SIGTERM → SIGKILL grace of dispose() (default 5 s). */
  graceMs?: number;
}

/** How long dispose() waits for the exit after SIGKILL before it gives up. */
const KILL_WAIT_MS = 5000;

/** The absolute path of an executable `file` (PATH lookup without a slash), or undefined. */
export function findExecutable(file: string): string | undefined {
  const candidates = file.includes('/') ? [file] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, file));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch { /* next */ }
  }
  return undefined;
}

let setprivPath: string | null | undefined;
let warnedNoSetpriv = false;

/**
 * [file, args] that start `file` with SIGKILL as its parent-death signal (setpriv), or
 * unchanged when setpriv is missing. Exported for tests.
 */
export function withParentDeathSignal(file: string, args: string[]): { file: string; args: string[] } {
  if (setprivPath === undefined) setprivPath = findExecutable('setpriv') ?? null;
  if (setprivPath === null) {
    if (!warnedNoSetpriv) {
      warnedNoSetpriv = true;
      process.emitWarning('setpriv (util-linux) not found: child processes may outlive a killed orchestrator; run orchestrate down');
    }
    return { file, args };
  }
  return { file: setprivPath, args: ['--pdeathsig', 'SIGKILL', '--', file, ...args] };
}

export class ManagedChild implements OwnedProcess {
  readonly pid: number;
  readonly exited: Promise<ChildExit>;
  private exitInfo: ChildExit | undefined;
  private disposing: Promise<void> | undefined;
  private readonly log: WriteStream;
  private readonly proc: ResultPromise;

  constructor(readonly opts: ChildOptions) {
    // setpriv would start even when FILE cannot run: check first, keep the early error
    if (!findExecutable(opts.file)) throw new Error(`could not start ${opts.role} (${opts.file}): not found or not executable; check that it is installed (npm run setup)`);
    this.log = createWriteStream(opts.logFile, { flags: 'a', mode: 0o600 });
    const run = withParentDeathSignal(opts.file, opts.args);
    this.proc = execa(run.file, run.args, {
      env: opts.env,
      extendEnv: true,
      cwd: opts.cwd,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      cleanup: true,
    });
    if (this.proc.pid === undefined) throw new Error(`could not start ${opts.role} (${opts.file}): check that it is installed (npm run setup)`);
    this.pid = this.proc.pid;
    this.proc.stdout?.pipe(this.log, { end: false });
    this.proc.stderr?.pipe(this.log, { end: false });
    opts.lease?.add(opts.role, this.pid, [opts.file, ...opts.args].join(' '));
    this.exited = this.proc.then(async (r) => {
      await this.flushLog(); // so that logTail() after the exit has the last lines
      this.exitInfo = { code: r.exitCode, signal: r.signal ?? undefined };
      try {
        opts.lease?.remove(this.pid);
      } catch {
        // The run directory is already gone (a teardown that did not wait for us).
      }
      return this.exitInfo;
    });
  }

  /** Resolves once everything written to the log so far is in the file. */
  private flushLog(): Promise<void> {
    return new Promise((resolve) => {
      if (this.log.writableEnded || this.log.destroyed) return resolve();
      this.log.write('', () => resolve());
    });
  }

  get role(): string {
    return this.opts.role;
  }

  get stdout(): NodeJS.ReadableStream | null {
    return this.proc.stdout;
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  get exit(): ChildExit | undefined {
    return this.exitInfo;
  }

  /** The last `lines` lines of the log, for error messages. */
  logTail(lines = 20): string {
    try {
      return readFileSync(this.opts.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Resolves once the log's last lines match `ready` (a helper's "I am set up" line);
   * rejects after `timeoutMs`, or at once with the exit and last lines if it exits first. */
  async waitForLog(ready: RegExp, what: string, timeoutMs: number): Promise<void> {
    await waitFor(() => ready.test(this.logTail(5)), {
      timeoutMs, what,
      abortIf: () => (this.hasExited ? `${this.describeExit()}: ${this.logTail(3)}` : undefined),
    });
  }

  describeExit(): string {
    const e = this.exitInfo;
    if (!e) return `${this.opts.role} (pid ${this.pid}) is running`;
    return e.signal ? `${this.opts.role} (pid ${this.pid}) was killed by ${e.signal}` : `${this.opts.role} (pid ${this.pid}) exited with status ${e.code}`;
  }

  /** SIGTERM, then SIGKILL after `graceMs` (default: the option, else 5 s). Idempotent:
   * later calls share the first one. Resolves once the process is gone (its lease entry
   * removed); rejects if it survives SIGKILL for 5 s (it then stays in the lease). */
  dispose(graceMs = this.opts.graceMs ?? 5000): Promise<void> {
    this.disposing ??= this.terminate(graceMs).finally(() => this.log.end());
    return this.disposing;
  }

  private async terminate(graceMs: number): Promise<void> {
    if (this.exitInfo) return;
    const gone = () => this.hasExited;
    this.proc.kill('SIGTERM');
    try {
      await waitFor(gone, { timeoutMs: graceMs, intervalMs: 20, what: `${this.opts.role} (pid ${this.pid}) to exit after SIGTERM` });
      return;
    } catch { /* still there: force it */ }
    this.proc.kill('SIGKILL');
    try {
      await waitFor(gone, { timeoutMs: KILL_WAIT_MS, intervalMs: 20, what: `${this.opts.role} (pid ${this.pid}) to exit after SIGKILL` });
    } catch (err) {
      throw new Error(`${(err as Error).message}: it stays in the lease${this.opts.lease ? ` ${this.opts.lease.file}` : ''}`);
    }
  }
}
