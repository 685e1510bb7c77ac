/**
 * The NBD swap export (real qemu-storage-daemon): listens on 127.0.0.1 only, serves the
 * file writable to QEMU's NBD client, is recorded in the lease as 'nbd' while it runs,
 * and is gone after dispose or after `down` reaps a lease that still names it.
 */
import { execa } from 'execa';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lease, readLease } from '../../src/process/lease.js';
import { reapRunDir } from '../../src/run/reap.js';
import { isSameProcess } from '../../src/process/procfs.js';
import { waitFor } from '../../src/process/wait.js';
import { NbdServer, nbdServerArgs } from '../../src/vm/nbd-export.js';
import { driveArg } from '../../src/vm/qemu-args.js';

function image(dir: string, mib: number): string {
  const path = join(dir, 'swap.img');
  const fd = openSync(path, 'w', 0o600);
  ftruncateSync(fd, mib * 2 ** 20);
  closeSync(fd);
  return path;
}

/** Local addresses (hex ip:port from /proc/net/tcp{,6}) listening on `port`. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1))
    .map((l) => l.trim().split(/\s+/)).filter((c) => c[1]?.endsWith(`:${hexPort}`) && c[3] === '0A').map((c) => c[1]!);
}

describe('NBD swap export', () => {
  it('builds the daemon and drive arguments (loopback only, one export per guest)', () => {
    expect(nbdServerArgs([{ name: 'vm0', file: '/dev/shm/a,b.swap' }], 10809)).toEqual([
      '--blockdev', 'driver=file,node-name=file0,filename=/dev/shm/a,,b.swap',
      '--nbd-server', 'addr.type=inet,addr.host=127.0.0.1,addr.port=10809',
      '--export', 'type=nbd,id=export0,node-name=file0,name=vm0,writable=on',
    ]);
    expect(() => nbdServerArgs([{ name: 'vm 0', file: '/x' }], 1)).toThrow(/export name 'vm 0'/);
    expect(driveArg({ nbd: 'nbd://127.0.0.1:10809/vm0' }, 1)).toBe('file=nbd://127.0.0.1:10809/vm0,if=none,id=disk1,format=raw,cache=writeback');
    expect(() => driveArg({ nbd: 'nbd://0.0.0.0:10809/vm0' }, 0)).toThrow(/expected nbd:\/\/127\.0\.0\.1/);
  });

  it('serves the file on 127.0.0.1 only, writable, and stops on dispose', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'fl-nbd-'));
    const lease = new Lease(runDir, 'nbd-test');
    const file = image(runDir, 16);
    const server = await NbdServer.start({ runDir, exports: [{ name: 'vm0', file }], lease });
    try {
      expect(readLease(runDir)?.processes.map((p) => p.role)).toEqual(['nbd']);
      expect(listeners(server.port)).toEqual(['0100007F:' + server.port.toString(16).toUpperCase().padStart(4, '0')]);
      const url = server.url('vm0');
      expect(url).toBe(`nbd://127.0.0.1:${server.port}/vm0`);
      const info = await execa('qemu-img', ['info', '--output=json', url]);
      expect((JSON.parse(info.stdout) as { 'virtual-size': number })['virtual-size']).toBe(16 * 2 ** 20);
      // A write through NBD lands in the file.
      await execa('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 4096 4096', url]);
      expect(readFileSync(file).subarray(4096, 4100)).toEqual(Buffer.from([0xab, 0xab, 0xab, 0xab]));
    } finally {
      await server.dispose();
    }
    expect(server.alive).toBe(false);
    expect(isSameProcess(server.pid, undefined)).toBe(false);
    expect(readLease(runDir)?.processes).toEqual([]);
    // The readiness probe leaves with NBD_OPT_ABORT: no failed negotiation in the log.
    expect(readFileSync(join(runDir, 'nbd.log'), 'utf8')).not.toMatch(/negotiation failed/);
  });

  it('after the owner is killed, the daemon ends with it and down removes the swap file from the lease', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fl-nbd-'));
    const runDir = join(root, 'run-1');
    const file = image(root, 4);
    const owner = execa('node', ['--import', 'tsx', '--input-type=module', '-e', `
      import { Lease } from ${JSON.stringify(join(process.cwd(), 'orchestrator/src/process/lease.ts'))};
      import { NbdServer } from ${JSON.stringify(join(process.cwd(), 'orchestrator/src/vm/nbd-export.ts'))};
      const lease = new Lease(${JSON.stringify(runDir)}, 'run-1');
      lease.addFile(${JSON.stringify(file)});
      const server = await NbdServer.start({ runDir: ${JSON.stringify(runDir)}, exports: [{ name: 'vm0', file: ${JSON.stringify(file)} }], lease });
      console.log('pid', server.pid);
      setTimeout(() => {}, 600000);
    `], { reject: false });
    const pid = await new Promise<number>((resolve) => owner.stdout!.on('data', (d: Buffer) => { const m = /pid (\d+)/.exec(d.toString()); if (m) resolve(Number(m[1])); }));
    owner.kill('SIGKILL');
    await owner;
    // Children run under pdeathsig: the daemon does not outlive its owner.
    await waitFor(() => !isSameProcess(pid, undefined), { timeoutMs: 10_000, what: 'qemu-storage-daemon to end with its owner' });
    expect(readLease(runDir)?.files).toEqual([file]);
    const r = await reapRunDir(runDir);
    expect(r?.killed).toEqual([]);
    expect(r?.removedFiles).toEqual([file]);
    expect(existsSync(file)).toBe(false);
  });
});
