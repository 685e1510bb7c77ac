/**
 * The OwnedProcess surface (process/owned.ts) of an object that owns exactly one
 * ManagedChild: pid, exit and log are the child's, delegated here once. Subclasses (Monitor,
 * EmbeddedRedis, MicroVM) add their static start(), their own dispose() (the graceful step
 * differs: SIGTERM for the monitor and Redis, QMP powerdown for QEMU) and what they serve.
 */
import type { ManagedChild } from './child.js';
import type { ChildExit, OwnedProcess } from './owned.js';

export abstract class ChildOwner implements OwnedProcess {
  /** The process this object owns. */
  protected abstract readonly child: ManagedChild;

  abstract dispose(): Promise<void>;

  get pid(): number {
    return this.child.pid;
  }

  get exited(): Promise<ChildExit> {
    return this.child.exited;
  }

  get hasExited(): boolean {
    return this.child.hasExited;
  }

  describeExit(): string {
    return this.child.describeExit();
  }

  /** The last `lines` lines (default 20) of the process's log. */
  logTail(lines?: number): string {
    return this.child.logTail(lines);
  }
}
