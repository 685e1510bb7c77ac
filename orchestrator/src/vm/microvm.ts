/**
 * One guest and everything it owns: the QEMU process (recorded in the run's lease), its
 * QMP connection, serial log and SSH session. Boots paused (-S) so the caller can attach
 * memory before `resume()`; `shutdown()` goes system_powerdown → quit → SIGKILL.
 */
import { join } from 'node:path';
import { GuestShell, type ExecOptions, type ExecResult } from '../guest/ssh.js';
import { ManagedChild } from '../process/child.js';
import type { Lease } from '../process/lease.js';
import { waitFor, WaitAbortedError, WaitTimeoutError } from '../process/wait.js';
import { QmpClient } from '../qmp/client.js';
import { freePort } from './ports.js';
import { qemuArgs, type Accelerator, type DiskSpec } from './qemu-args.js';
import { SerialLog } from './serial.js';

export interface GuestImageFiles {
  kernel: string;
  initrd: string;
  privateKeyPath: string;
  /** The guest's SSH host key, pinned when given. */
  hostPublicKeyPath?: string;
}

export interface MicroVMOptions {
  name: string;
  runDir: string;
  lease?: Lease;
  image: GuestImageFiles;
  memoryMiB: number;
  vcpus: number;
  accelerator: Accelerator;
  cmdline: string;
  disks?: DiskSpec[];
  extraArgs?: string[];
  /** Extra environment for QEMU (e.g. LD_PRELOAD of the attach library). */
  env?: Record<string, string>;
  timeouts: { bootMs: number; sshMs: number; shutdownMs: number };
  qemuBinary?: string;
}

export class GuestBootError extends Error {
  override name = 'GuestBootError';
}

export class MicroVM {
  readonly qmpSocket: string;
  readonly serial: SerialLog;
  readonly logFile: string;
  sshPort = 0;
  private child: ManagedChild | undefined;
  private qmpClient: QmpClient | undefined;
  private shell: GuestShell | undefined;
  private stopped = false;

  constructor(readonly opts: MicroVMOptions) {
    this.qmpSocket = join(opts.runDir, `${opts.name}.qmp`);
    this.serial = new SerialLog(join(opts.runDir, `${opts.name}.serial.log`));
    this.logFile = join(opts.runDir, `${opts.name}.qemu.log`);
  }

  get qmp(): QmpClient {
    if (!this.qmpClient) throw new Error(`VM ${this.opts.name} is not started`);
    return this.qmpClient;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get exited(): boolean {
    return this.child?.hasExited ?? false;
  }

  /** Why the guest can no longer be reached, if it can't. */
  private deathReason(): string | undefined {
    if (this.child?.hasExited) {
      const panicked = this.qmpClient?.events.some((e) => e.event === 'GUEST_PANICKED') ? ' after a guest panic (QMP GUEST_PANICKED)' : '';
      const failure = this.serial.failure();
      return `VM ${this.opts.name}: ${this.child.describeExit()}${panicked}${failure ? `; guest console: ${failure}` : ''}\n--- QEMU log (${this.logFile}) ---\n${this.child.logTail()}\n--- serial console (${this.serial.path}) ---\n${this.serial.tail()}`;
    }
    const failure = this.serial.failure();
    if (failure) return `VM ${this.opts.name}: guest failed to boot: ${failure}\n--- serial console (${this.serial.path}) ---\n${this.serial.tail()}`;
    return undefined;
  }

  /** Starts QEMU paused and connects QMP. */
  async start(): Promise<void> {
    this.sshPort = await freePort();
    const args = qemuArgs({
      name: this.opts.name,
      memoryMiB: this.opts.memoryMiB,
      vcpus: this.opts.vcpus,
      accelerator: this.opts.accelerator,
      kernel: this.opts.image.kernel,
      initrd: this.opts.image.initrd,
      cmdline: this.opts.cmdline,
      qmpSocket: this.qmpSocket,
      serialLog: this.serial.path,
      sshPort: this.sshPort,
      disks: this.opts.disks,
      extraArgs: this.opts.extraArgs,
    });
    this.child = new ManagedChild({
      role: `qemu:${this.opts.name}`,
      file: this.opts.qemuBinary ?? 'qemu-system-x86_64',
      args,
      logFile: this.logFile,
      lease: this.opts.lease,
      env: this.opts.env,
    });
    const child = this.child;
    try {
      this.qmpClient = await waitFor(() => QmpClient.connect(this.qmpSocket, { timeoutMs: 5000 }), {
        timeoutMs: 15_000,
        what: `VM ${this.opts.name}: QMP socket ${this.qmpSocket}`,
        abortIf: () => (child.hasExited ? this.deathReason() : undefined),
        retryIf: () => true, // not listening yet
      });
    } catch (err) {
      if (err instanceof WaitAbortedError) throw new GuestBootError(err.reason);
      await this.kill();
      throw new GuestBootError(`${(err as Error).message}\n${child.logTail()}`);
    }
  }

  async resume(): Promise<void> {
    await this.qmp.execute('cont');
  }

  /** Waits for the guest's sshd and opens a session. Fails early on a panic or QEMU exit. */
  async waitForSsh(): Promise<GuestShell> {
    if (this.shell) return this.shell;
    const deadline = Date.now() + this.opts.timeouts.bootMs;
    // The guest's init prints the marker once sshd listens. Connecting earlier would
    // reach QEMU's user-mode forwarder, which holds the connection until the guest's
    // network is up, so wait for the marker first (fast file polling). Without the marker
    // by the boot timeout, SSH still gets its own try below.
    try {
      await waitFor(() => this.serial.ready, {
        timeoutMs: this.opts.timeouts.bootMs, intervalMs: 20, what: `VM ${this.opts.name}: FLUIDLAB-READY on the serial console`,
        abortIf: () => this.deathReason(),
      });
    } catch (err) {
      if (err instanceof WaitAbortedError) throw new GuestBootError(err.reason);
      if (!(err instanceof WaitTimeoutError)) throw err;
    }
    try {
      this.shell = await GuestShell.connect(
        { host: '127.0.0.1', port: this.sshPort, username: 'root', privateKeyPath: this.opts.image.privateKeyPath, hostPublicKeyPath: this.opts.image.hostPublicKeyPath },
        { timeoutMs: Math.max(this.opts.timeouts.sshMs, deadline - Date.now()), abort: () => this.deathReason() },
      );
    } catch (err) {
      const reason = this.deathReason();
      throw new GuestBootError(reason ?? `VM ${this.opts.name}: ${(err as Error).message}\n--- serial console (${this.serial.path}) ---\n${this.serial.tail()}`);
    }
    // bench/boot reads this to time the orchestrator's path to a usable guest.
    if (process.env.FLUIDLAB_TRACE) process.stderr.write(`fluidlab-trace: ssh-ready ${this.opts.name}\n`);
    return this.shell;
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const shell = await this.waitForSsh();
    return shell.run(argv, opts);
  }

  /** system_powerdown, then quit, then SIGKILL, each after its share of the timeout. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.shell?.close();
    const child = this.child;
    if (!child || child.hasExited) return this.finish();
    const exitedWithin = (ms: number) => Promise.race([child.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
    const share = Math.max(1000, this.opts.timeouts.shutdownMs / 2);
    try {
      await this.qmp.execute('system_powerdown', undefined, { timeoutMs: 2000 });
      if (await exitedWithin(share)) return this.finish();
      await this.qmp.execute('quit', undefined, { timeoutMs: 2000 });
      if (await exitedWithin(share)) return this.finish();
    } catch {
      // QMP gone: fall through to the signal.
    }
    await child.stop(2000);
    return this.finish();
  }

  dispose(): Promise<void> {
    return this.shutdown();
  }

  /** Immediate teardown (error paths and signals). */
  async kill(): Promise<void> {
    this.stopped = true;
    this.shell?.close();
    this.qmpClient?.close();
    await this.child?.stop(2000);
  }

  private async finish(): Promise<void> {
    this.qmpClient?.close();
    await this.child?.stop(2000);
  }
}
