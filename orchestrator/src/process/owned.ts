/**
 * The one shape of every process the orchestrator starts for a run (QEMU via MicroVM, the
 * fault handler via Monitor, the embedded Redis via EmbeddedRedis, and the ManagedChild
 * each of them is built on). Like Firecracker's test framework, where every helper
 * (Microvm, UffdHandler) has one idempotent kill(), an owner here never needs to know
 * which kind of process it holds:
 *  - created by an async static `start(...)` that returns only once the process is ready
 *    (and leaves nothing running when it fails);
 *  - `dispose()`: idempotent; the graceful step first (QMP powerdown, SIGTERM), then the
 *    forced one (SIGKILL); it resolves once the process is gone and its lease entry
 *    removed, and rejects if the process survives even SIGKILL (the lease then keeps it);
 *  - `exited`: resolves with the exit, whoever caused it; `hasExited` / `describeExit()`;
 *  - `logTail(n)`: the last lines of its log, for error messages;
 *  - `pid`.
 * A RunContext owns them as plain Disposables.
 */

export interface ChildExit {
  code: number | undefined;
  signal: string | undefined;
}

export interface OwnedProcess {
  readonly pid: number;
  /** Resolves with the exit once the process is gone (never rejects). */
  readonly exited: Promise<ChildExit>;
  readonly hasExited: boolean;
  /** "monitor (pid 12) was killed by SIGKILL", or "... is running". */
  describeExit(): string;
  /** The last `lines` lines (default 20) of the process's log. */
  logTail(lines?: number): string;
  /** Graceful, then forced; idempotent; resolves when the process is gone. */
  dispose(): Promise<void>;
}
