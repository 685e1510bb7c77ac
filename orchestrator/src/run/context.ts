/**
 * A run context: the run id, its private run directory (sockets, logs, lease) and the
 * resources it owns (OwnedProcesses such as MicroVM, Monitor and EmbeddedRedis, and
 * plain Disposables). `dispose()` tears them down newest first; it is also registered for
 * SIGINT/SIGTERM, so Ctrl-C leaves no QEMU, handler or Redis behind.
 *
 * The run directory (with its lease) is removed only when everything was undone: no
 * dispose threw and the lease records nothing any more. Otherwise it is kept, and the
 * error says where, so that `orchestrate down` can reap what is left.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { onSignalExit } from '../process/cleanup.js';
import { Lease, readLease, runsRoot } from '../process/lease.js';
import { reapRunDir } from './reap.js';

export interface Disposable {
  dispose(): Promise<void>;
}

export function newRunId(prefix: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${prefix}-${stamp}-${randomBytes(2).toString('hex')}`;
}

export class RunContext {
  readonly runDir: string;
  readonly lease: Lease;
  private readonly owned: Disposable[] = [];
  private readonly unregister: () => void;

  /** `archive` is called with the run directory after teardown, before it is removed
   * (on every path, signals included), e.g. to keep its logs with the results. */
  constructor(readonly runId: string, private readonly opts: { archive?: (runDir: string) => void } = {}) {
    this.runDir = join(runsRoot(), runId);
    this.lease = new Lease(this.runDir, runId);
    this.unregister = onSignalExit(() => this.dispose());
  }

  /** Takes ownership of a resource; returns it for chaining. */
  own<T extends Disposable>(resource: T): T {
    this.owned.push(resource);
    return resource;
  }

  /** Tears everything down once; concurrent callers (a signal during a normal teardown)
   * share the same teardown, which stays registered for signals until it is done. */
  dispose(): Promise<void> {
    this.disposing ??= this.teardown();
    return this.disposing;
  }

  private disposing: Promise<void> | undefined;

  private async teardown(): Promise<void> {
    const errors: string[] = [];
    for (const r of this.owned.reverse()) {
      try { await r.dispose(); } catch (err) { errors.push((err as Error).message); }
    }
    this.owned.length = 0;
    try {
      this.opts.archive?.(this.runDir);
    } catch (err) {
      errors.push(`archiving ${this.runDir}: ${(err as Error).message}`);
    }
    this.unregister();
    let left = this.lease.remaining();
    if (left.length && this.lease.processes.length === 0) {
      // Host changes or files no disposer got to (a signal arrived between a lease entry and
      // its ctx.own(), e.g. while a swap file was preallocated): the lease says what they
      // are, so undo them the way `down` would. A process still alive is left to `down`.
      try {
        await reapRunDir(this.runDir);
      } catch (err) {
        errors.push(`reaping what the lease still lists: ${(err as Error).message}`);
      }
      left = readLease(this.runDir) ? left : [];
    }
    if (left.length === 0) {
      rmSync(this.runDir, { recursive: true, force: true });
      if (errors.length === 0) return;
      throw new Error(`cleanup of run ${this.runId} had errors (everything it leased was undone): ${errors.join('; ')}`);
    }
    // Something may still run or sit on the host: the lease is how `down` finds it.
    errors.push(`still in the lease: ${left.join(', ')}`);
    throw new Error(`cleanup of run ${this.runId} had errors: ${errors.join('; ')}; lease kept at ${this.lease.file}; run \`orchestrate down\` to reap`);
  }
}
