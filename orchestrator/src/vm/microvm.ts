/**
 * One guest and everything it owns: the QEMU process (recorded in the run's lease), its
 * QMP connection, serial log and SSH session. An OwnedProcess (process/owned.ts):
 * `MicroVM.start()` boots it paused (-S) with QMP connected, so the caller can attach
 * memory before `resume()`; `dispose()` is `shutdown()`: system_powerdown → quit →
 * SIGTERM → SIGKILL, idempotent.
 */
import { join } from 'node:path';
import { GuestShell, type ExecOptions, type ExecResult } from '../guest/ssh.js';
import { ManagedChild } from '../process/child.js';
import type { Lease } from '../process/lease.js';
import { ChildOwner } from '../process/child-owner.js';
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

export class MicroVM extends ChildOwner {
  readonly qmpSocket: string;
  readonly serial: SerialLog;
  readonly logFile: string;
  protected readonly child: ManagedChild;
  private qmpClient: QmpClient | undefined;
  private shell: GuestShell | undefined;
  private stopping: Promise<void> | undefined;

  /** Spawns QEMU (paused); `start()` is the way in. */
  private constructor(readonly opts: MicroVMOptions, readonly sshPort: number) {
    super();
    this.qmpSocket = join(opts.runDir, `${opts.name}.qmp`);
    this.serial = new SerialLog(join(opts.runDir, `${opts.name}.serial.log`));
    this.logFile = join(opts.runDir, `${opts.name}.qemu.log`);
    const args = qemuArgs({
      name: opts.name,
      memoryMiB: opts.memoryMiB,
      vcpus: opts.vcpus,
      accelerator: opts.accelerator,
      kernel: opts.image.kernel,
      initrd: opts.image.initrd,
      cmdline: opts.cmdline,
      qmpSocket: this.qmpSocket,
      serialLog: this.serial.path,
      sshPort,
      disks: opts.disks,
      extraArgs: opts.extraArgs,
    });
    this.child = new ManagedChild({
      role: `qemu:${opts.name}`,
      file: opts.qemuBinary ?? 'qemu-system-x86_64',
      args,
      logFile: this.logFile,
      lease: opts.lease,
      env: opts.env,
      graceMs: 2000,
    });
  }

  /** Starts QEMU paused and connects QMP. On failure QEMU is gone and the error
   * (GuestBootError) says why, with the QEMU log and console. */
  static async start(opts: MicroVMOptions): Promise<MicroVM> {
    const vm = new MicroVM(opts, await freePort());
    try {
      vm.qmpClient = await waitFor(() => QmpClient.connect(vm.qmpSocket, { timeoutMs: 5000 }), {
        timeoutMs: 15_000,
        what: `VM ${opts.name}: QMP socket ${vm.qmpSocket}`,
        abortIf: () => (vm.child.hasExited ? vm.deathReason() : undefined),
        retryIf: () => true, // not listening yet
      });
      return vm;
    } catch (err) {
      await vm.child.dispose();
      if (err instanceof WaitAbortedError) throw new GuestBootError(err.reason);
      throw new GuestBootError(`${(err as Error).message}\n${vm.child.logTail()}`);
    }
  }

  get qmp(): QmpClient {
    if (!this.qmpClient) throw new Error(`VM ${this.opts.name} is not started`);
    return this.qmpClient;
  }


  /** Why the guest can no longer be reached, if it can't. */
  private deathReason(): string | undefined {
    if (this.child.hasExited) {
      const panicked = this.qmpClient?.events.some((e) => e.event === 'GUEST_PANICKED') ? ' after a guest panic (QMP GUEST_PANICKED)' : '';
      const failure = this.serial.failure();
      return `VM ${this.opts.name}: ${this.child.describeExit()}${panicked}${failure ? `; guest console: ${failure}` : ''}\n--- QEMU log (${this.logFile}) ---\n${this.child.logTail()}\n--- serial console (${this.serial.path}) ---\n${this.serial.tail()}`;
    }
    const failure = this.serial.failure();
    if (failure) return `VM ${this.opts.name}: guest failed to boot: ${failure}\n--- serial console (${this.serial.path}) ---\n${this.serial.tail()}`;
    return undefined;
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

  /** The graceful path: system_powerdown, then quit, each given half the shutdown
   * timeout, then SIGTERM and SIGKILL. Idempotent: later calls share the first. */
  shutdown(): Promise<void> {
    this.stopping ??= this.powerOff();
    return this.stopping;
  }

  /** Same as shutdown(): the OwnedProcess teardown. */
  dispose(): Promise<void> {
    return this.shutdown();
  }

  private async powerOff(): Promise<void> {
    this.shell?.close();
    const child = this.child;
    try {
      if (!child.hasExited && this.qmpClient) {
        const share = Math.max(1000, this.opts.timeouts.shutdownMs / 2);
        const exitedWithin = (ms: number) => waitFor(() => child.hasExited, { timeoutMs: ms, intervalMs: 20, what: `QEMU of VM ${this.opts.name} to exit` }).then(() => true, () => false);
        try {
          await this.qmpClient.execute('system_powerdown', undefined, { timeoutMs: 2000 });
          if (!(await exitedWithin(share))) {
            await this.qmpClient.execute('quit', undefined, { timeoutMs: 2000 });
            await exitedWithin(share);
          }
        } catch {
          // QMP gone: fall through to the signals.
        }
      }
    } finally {
      this.qmpClient?.close();
      await child.dispose();
    }
  }
}
