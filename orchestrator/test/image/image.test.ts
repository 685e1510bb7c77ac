// Guest image: build via ensureImage (once, also when two callers race; then from the cache),
// boot it with bare QEMU under TCG, reach it over SSH with the image key, swap on a virtio
// disk, and power it off (ACPI system_powerdown and `poweroff` over SSH).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImage, kernelCommandLine, resolveInputs, type GuestImage } from '../../src/image/index.js';
import { defaultCacheDir } from '../../src/image/paths.js';
import { freePort } from '../../src/vm/ports.js';

const work = mkdtempSync(path.join(tmpdir(), 'fluidlab-image-test-'));
const cacheDir = path.join(work, 'cache');
// Share the kernel .deb download with the repository's cache.
const debCacheDir = path.join(defaultCacheDir, 'debs');
const workloadsDir = path.join(work, 'workloads');
const started = new Set<ChildProcess>();

let image: GuestImage;
let buildLog: string[] = [];

interface Booted {
  qemu: ChildProcess;
  port: number;
  serialLog: string;
  qmpSocket: string;
  exited: Promise<unknown>;
}

async function boot(name: string, cmdline: string, extraArgs: string[] = []): Promise<Booted> {
  const port = await freePort();
  const serialLog = path.join(work, `${name}.serial.log`);
  const qmpSocket = path.join(work, `${name}.qmp`);
  const args = [
    '-M', 'pc', '-accel', 'tcg', '-cpu', 'max', '-m', '256', '-smp', '1',
    '-nodefaults', '-display', 'none', '-no-reboot',
    '-serial', `file:${serialLog}`,
    '-qmp', `unix:${qmpSocket},server=on,wait=off`,
    '-kernel', image.kernel, '-initrd', image.initrd, '-append', cmdline,
    '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`,
    '-device', 'virtio-net-pci,netdev=n0',
    ...extraArgs,
  ];
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  started.add(qemu);
  let stderr = '';
  qemu.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = once(qemu, 'exit').finally(() => started.delete(qemu));
  // Wait for the init's verdict on the serial console (bounded: a hang fails, not a timing).
  for (let i = 0; i < 1800; i++) {
    const log = existsSync(serialLog) ? readFileSync(serialLog, 'utf8') : '';
    if (log.includes('FLUIDLAB-READY')) return { qemu, port, serialLog, qmpSocket, exited };
    if (log.includes('FLUIDLAB-INIT-ERROR') || qemu.exitCode !== null) {
      throw new Error(`guest ${name} did not get ready:\n${log}\n${stderr}`);
    }
    await sleep(100);
  }
  throw new Error(`guest ${name}: no FLUIDLAB-READY after 180 s:\n${readFileSync(serialLog, 'utf8')}`);
}

async function ssh(port: number, command: string) {
  return execa('ssh', [
    '-i', image.privateKeyPath,
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=30',
    '-p', String(port), 'root@127.0.0.1', command,
  ], { reject: false, timeout: 120_000, stdin: 'ignore' });
}

async function qmp(socket: string, command: string): Promise<void> {
  const conn = createConnection(socket);
  await once(conn, 'connect');
  let buf = '';
  const replies: string[] = [];
  conn.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) { replies.push(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
  });
  const waitFor = async (pred: (l: string) => boolean) => {
    for (let i = 0; i < 300 && !replies.some(pred); i++) await sleep(100);
  };
  await waitFor((l) => l.includes('"QMP"'));
  conn.write('{"execute":"qmp_capabilities"}\n');
  await waitFor((l) => l.includes('"return"'));
  conn.write(`{"execute":"${command}"}\n`);
  await waitFor((l) => l.includes('"return"') && replies.filter((r) => r.includes('"return"')).length >= 2);
  conn.destroy();
}

async function waitExit(b: Booted): Promise<void> {
  const timeout = sleep(120_000).then(() => { throw new Error('QEMU did not exit after the guest powered off'); });
  await Promise.race([b.exited, timeout]);
}

beforeAll(async () => {
  mkdirSync(workloadsDir);
  writeFileSync(path.join(workloadsDir, 'hello'), '#!/bin/sh\necho "hello-workload $*"\n', { mode: 0o755 });
  const log = (l: string) => buildLog.push(l);
  // Two concurrent callers: one builds, the other waits on the lock and gets the same image.
  const [a, b] = await Promise.all([
    ensureImage({ workloadsDir, cacheDir, debCacheDir, log }),
    ensureImage({ workloadsDir, cacheDir, debCacheDir, log }),
  ]);
  expect(b.dir).toBe(a.dir);
  image = a;
});

afterAll(() => {
  for (const p of started) p.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe('guest image', () => {
  it('is built once, into CACHE/HASH, with a manifest', () => {
    expect(buildLog.filter((l) => l.startsWith('image: building'))).toHaveLength(1);
    expect(image.dir).toBe(path.join(cacheDir, image.hash));
    expect(image.manifest.inputsHash).toBe(image.hash);
    expect(image.manifest.workloads).toEqual(['hello']);
    expect(image.manifest.modules).toEqual(expect.arrayContaining(['virtio_pci', 'virtio_net', 'virtio_blk']));
    expect(readFileSync(image.privateKeyPath, 'utf8')).toContain('BEGIN OPENSSH PRIVATE KEY');
    // Debian's kernel has a PVH entry: the image ships the uncompressed vmlinux for -kernel.
    expect(image.manifest.bootKernel).toBe('vmlinux');
    expect(image.kernel).toBe(path.join(image.dir, 'vmlinux'));
  });

  it('comes from the cache on the next call', async () => {
    const log: string[] = [];
    const again = await ensureImage({ workloadsDir, cacheDir, debCacheDir, log: (l) => log.push(l) });
    expect(again.dir).toBe(image.dir);
    expect(again.manifest.builtAt).toBe(image.manifest.builtAt);
    expect(log).toEqual([]);
  });

  it('hashes the workload contents', async () => {
    const other = path.join(work, 'workloads2');
    mkdirSync(other);
    writeFileSync(path.join(other, 'hello'), '#!/bin/sh\necho changed\n', { mode: 0o755 });
    const changed = await resolveInputs({ workloadsDir: other, debCacheDir });
    const same = await resolveInputs({ workloadsDir, debCacheDir });
    expect(same.hash).toBe(image.hash);
    expect(changed.hash).not.toBe(image.hash);
  });

  it('boots under TCG, serves SSH with the image key, runs workloads, powers off on system_powerdown', async () => {
    const b = await boot('net', kernelCommandLine());
    try {
      const uname = await ssh(b.port, 'uname -r');
      expect(uname.exitCode, uname.stderr).toBe(0);
      expect(uname.stdout.trim()).toBe(image.manifest.kernelVersion);
      const hello = await ssh(b.port, 'hello there');
      expect(hello.stdout.trim()).toBe('hello-workload there');
      const which = await ssh(b.port, 'ls /opt/fluidlab/bin');
      expect(which.stdout.trim()).toBe('hello');
      const status = await ssh(b.port, 'exit 3');
      expect(status.exitCode).toBe(3);
      await qmp(b.qmpSocket, 'system_powerdown');
      await waitExit(b);
      expect(readFileSync(b.serialLog, 'utf8')).toContain('reboot: Power down');
    } finally {
      b.qemu.kill('SIGKILL');
    }
  });

  it('enables swap on a virtio disk given by fluidlab.swap, and powers off from SSH', async () => {
    const disk = path.join(work, 'swap.img');
    await execa('qemu-img', ['create', '-q', '-f', 'raw', disk, '64M']);
    const b = await boot('swap', kernelCommandLine({ swapDevice: '/dev/vda' }), [
      '-drive', `file=${disk},format=raw,if=none,id=swap0`,
      '-device', 'virtio-blk-pci,drive=swap0',
    ]);
    try {
      expect(readFileSync(b.serialLog, 'utf8')).toMatch(/FLUIDLAB-SWAP: \/dev\/vda partition/);
      const swaps = await ssh(b.port, 'cat /proc/swaps');
      expect(swaps.exitCode, swaps.stderr).toBe(0);
      expect(swaps.stdout).toMatch(/^\/dev\/vda\s+partition\s+\d+/m);
      await ssh(b.port, 'poweroff');
      await waitExit(b);
    } finally {
      b.qemu.kill('SIGKILL');
    }
  });

  it('makes QEMU exit on a guest kernel panic (panic=-1, -no-reboot)', async () => {
    const b = await boot('panic', kernelCommandLine(), ['-device', 'pvpanic']);
    try {
      // The ssh session dies with the guest; its exit status does not matter.
      await ssh(b.port, 'echo c > /proc/sysrq-trigger');
      await waitExit(b);
      expect(readFileSync(b.serialLog, 'utf8')).toContain('Kernel panic');
    } finally {
      b.qemu.kill('SIGKILL');
    }
  });
});
