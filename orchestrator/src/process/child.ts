/**
 * A child process owned by a run: started from an argument array, its output appended to
 * a log file, its pid recorded in the run's lease, and stopped with SIGTERM then SIGKILL.
 */
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import type { Lease } from './lease.js';

export interface ChildOptions {
  role: string;
  file: string;
  args: string[];
  logFile: string;
  lease?: Lease;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export interface ChildExit {
  code: number | undefined;
  signal: string | undefined;
}

export class ManagedChild {
  readonly pid: number;
  readonly exited: Promise<ChildExit>;
  private exitInfo: ChildExit | undefined;
  private readonly log: WriteStream;
  private readonly proc: ResultPromise;

  constructor(readonly opts: ChildOptions) {
    this.log = createWriteStream(opts.logFile, { flags: 'a', mode: 0o600 });
    this.proc = execa(opts.file, opts.args, {
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
    this.exited = this.proc.then((r) => {
      this.exitInfo = { code: r.exitCode, signal: r.signal ?? undefined };
      opts.lease?.remove(this.pid);
      return this.exitInfo;
    });
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

  describeExit(): string {
    const e = this.exitInfo;
    if (!e) return `${this.opts.role} is running`;
    return e.signal ? `${this.opts.role} (pid ${this.pid}) was killed by ${e.signal}` : `${this.opts.role} (pid ${this.pid}) exited with status ${e.code}`;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process is gone. */
  async stop(graceMs = 5000): Promise<ChildExit> {
    if (!this.exitInfo) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    this.log.end();
    return this.exitInfo!;
  }
}
