/**
 * A remote block device for guests' swap: one qemu-storage-daemon owned by the run,
 * exporting raw files (on /dev/shm, standing for the seed's DRAM-backed NVMe-oF target)
 * over NBD on 127.0.0.1 only, one export per guest. QEMU attaches each export with its
 * built-in NBD client (vm/qemu-args.ts), so the guest sees a virtio disk whose every I/O
 * crosses a socket to another process. The daemon is recorded in the run's lease under the
 * role 'nbd' (reaped after QEMU) and stopped on dispose.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { ManagedChild } from '../process/child.js';
import type { Lease } from '../process/lease.js';
import { freePort } from './ports.js';

export const NBD_HOST = '127.0.0.1';

export interface NbdExportSpec {
  /** Export name (letters, digits, - and _), e.g. the VM's name. */
  name: string;
  /** The raw image served (it must exist). */
  file: string;
}

export interface NbdServerOptions {
  runDir: string;
  exports: NbdExportSpec[];
  lease?: Lease;
  binary?: string;
  startTimeoutMs?: number;
}

/** qemu's key=value option syntax: a comma inside a value is written ',,'. */
const kv = (v: string) => v.replace(/,/g, ',,');

/** The argument array of qemu-storage-daemon serving `exports` on NBD_HOST:`port`. */
export function nbdServerArgs(exports: NbdExportSpec[], port: number): string[] {
  const args: string[] = [];
  exports.forEach((e, i) => {
    if (!/^[A-Za-z0-9_-]+$/.test(e.name)) throw new Error(`NBD export name '${e.name}': use letters, digits, - and _`);
    args.push('--blockdev', `driver=file,node-name=file${i},filename=${kv(e.file)}`);
  });
  args.push('--nbd-server', `addr.type=inet,addr.host=${NBD_HOST},addr.port=${port}`);
  exports.forEach((e, i) => args.push('--export', `type=nbd,id=export${i},node-name=file${i},name=${e.name},writable=on`));
  return args;
}

/** Resolves true once the server on NBD_HOST:`port` sends the newstyle NBD greeting
 * ("NBDMAGIC" "IHAVEOPT" + 2 flag bytes): the daemon sends it only from its main loop, after
 * every export of its command line exists. The probe then leaves cleanly (client flags,
 * NBD_OPT_ABORT), so the daemon's log shows no failed negotiation. */
function greetsAsNbd(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: NBD_HOST, port });
    let got = Buffer.alloc(0);
    let greeted = false;
    const finish = (ok: boolean) => { clearTimeout(timer); sock.destroy(); resolve(ok); };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (d: Buffer) => {
      if (greeted) return;
      got = Buffer.concat([got, d]);
      if (got.length < 18) return;
      if (got.subarray(0, 16).toString('latin1') !== 'NBDMAGICIHAVEOPT') { finish(false); return; }
      greeted = true;
      const abort = Buffer.alloc(20);
      abort.writeUInt32BE(1, 0); // client flags: fixed newstyle
      abort.write('IHAVEOPT', 4, 'latin1');
      abort.writeUInt32BE(2, 12); // NBD_OPT_ABORT, no data
      abort.writeUInt32BE(0, 16);
      sock.end(abort);
      // The server acknowledges and closes; either way the probe succeeded.
      setTimeout(() => finish(true), 200);
    });
    sock.on('error', () => finish(greeted));
    sock.on('close', () => finish(greeted));
  });
}

export class NbdServer {
  private constructor(private readonly child: ManagedChild, readonly port: number) {}

  get pid(): number {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.child.hasExited;
  }

  /** nbd://127.0.0.1:PORT/NAME, the URL QEMU's NBD client opens. */
  url(name: string): string {
    return `nbd://${NBD_HOST}:${this.port}/${name}`;
  }

  /** Starts the daemon on a free port and returns once it answers as an NBD server.
   * A port taken between picking and binding is retried on another one. */
  static async start(opts: NbdServerOptions): Promise<NbdServer> {
    const timeoutMs = opts.startTimeoutMs ?? 10_000;
    let lastError = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const child = new ManagedChild({
        role: 'nbd',
        file: opts.binary ?? 'qemu-storage-daemon',
        args: nbdServerArgs(opts.exports, port),
        logFile: join(opts.runDir, 'nbd.log'),
        lease: opts.lease,
      });
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.hasExited) break;
        if (await greetsAsNbd(port, 1000)) return new NbdServer(child, port);
        if (Date.now() > deadline) {
          await child.dispose();
          throw new Error(`qemu-storage-daemon did not serve NBD on ${NBD_HOST}:${port} within ${timeoutMs} ms (see nbd.log)\n${child.logTail()}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await child.dispose();
      lastError = `qemu-storage-daemon failed to start: ${child.describeExit()}\n${child.logTail()}`;
      if (!/Address already in use/i.test(lastError)) break;
    }
    throw new Error(`${lastError}\n(qemu-storage-daemon comes with qemu-system-x86: apt-get install -y qemu-system-x86, or npm run setup)`);
  }

  async dispose(): Promise<void> {
    await this.child.dispose(3000);
  }
}
