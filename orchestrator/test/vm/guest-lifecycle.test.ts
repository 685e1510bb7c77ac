/**
 * Integration: a real guest under QEMU (TCG where KVM does not work), SSH with the image
 * key, QMP status and events, graceful shutdown, and no QEMU left behind, also after
 * SIGINT and after a crashed orchestrator (lease reaped by `down`).
 */
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ensureImage, type GuestImage } from '../../src/image/ensure.js';
import { GuestShell } from '../../src/guest/ssh.js';
import { isSameProcess } from '../../src/process/procfs.js';
import { waitFor } from '../../src/process/wait.js';
import { RunContext, newRunId } from '../../src/run/context.js';
import { launchGuest, resolveAccelerator } from '../../src/vm/launch.js';
import type { MicroVM } from '../../src/vm/microvm.js';
import type { Accelerator } from '../../src/vm/qemu-args.js';

const CLI = join(process.cwd(), 'orchestrator/bin/orchestrate.js');
const runsDir = mkdtempSync(join(tmpdir(), 'fluidlab-runs-'));
process.env.FLUIDLAB_RUNS_DIR = runsDir;

const vmYaml = (extra = '') => `name: t
vms:
  - name: vm0
    memory: 256M
    timeouts: { boot: 150s, shutdown: 10s }
workload:
  command: [sleep, "600"]
${extra}`;

function configFile(yaml: string): string {
  const cfg = join(mkdtempSync(join(tmpdir(), 'fl-cfg-')), 'c.yaml');
  writeFileSync(cfg, yaml);
  return cfg;
}

function qemuPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`process=fluidlab-`) &&
        readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`FLUIDLAB_RUNS_DIR=${runsDir}`);
    } catch { return false; }
  });
}

let image: GuestImage;
let accelerator: Accelerator;

beforeAll(async () => {
  image = await ensureImage({});
  accelerator = (await resolveAccelerator(parseConfig(vmYaml(), 'x').vms[0]!, image)).accelerator;
});

describe('a booted guest', () => {
  let ctx: RunContext;
  let vm: MicroVM;

  beforeAll(async () => {
    ctx = new RunContext(newRunId('test'));
    vm = await launchGuest({ ctx, vm: parseConfig(vmYaml(), 'x').vms[0]!, image, accelerator });
  });
  afterAll(async () => { await ctx.dispose(); });

  it('starts paused, then runs after cont (QMP status and RESUME event)', async () => {
    expect(await vm.qmp.execute('query-status')).toMatchObject({ status: 'prelaunch', running: false });
    const resumed = vm.qmp.waitForEvent('RESUME', { timeoutMs: 10_000 });
    await vm.resume();
    await resumed;
    expect(await vm.qmp.execute('query-status')).toMatchObject({ status: 'running', running: true });
    expect(ctx.lease.processes.map((p) => p.role)).toEqual(['qemu:vm0']);
  });

  it('runs commands over SSH with output and exit codes', async () => {
    const uname = await vm.exec(['uname', '-r']);
    expect(uname.code).toBe(0);
    expect(uname.stdout.trim()).toBe(image.manifest.kernelVersion);
    const chunks: string[] = [];
    const fail = await vm.exec(['sh', '-c', 'echo out; echo err >&2; exit 7'], { onStdout: (s) => chunks.push(s) });
    expect(fail).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n' });
    expect(chunks.join('')).toBe('out\n');
    const quoted = await vm.exec(['printf', '%s|', "it's", 'a b']);
    expect(quoted.stdout).toBe("it's|a b|");
  });

  it('pins the guest host key: a different key is refused', async () => {
    const wrong = join(mkdtempSync(join(tmpdir(), 'fl-key-')), 'host_key.pub');
    writeFileSync(wrong, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv3Fv0XF7nUF7YJ0xVwzD1kqLJ9h4X5xw0r6Q2bq3kE other\n');
    const target = { host: '127.0.0.1', port: vm.sshPort, username: 'root', privateKeyPath: image.privateKeyPath };
    await expect(GuestShell.connect({ ...target, hostPublicKeyPath: wrong }, { timeoutMs: 20_000 })).rejects.toThrow(/presented a host key other than/);
    const ok = await GuestShell.connect({ ...target, hostPublicKeyPath: image.hostPublicKeyPath }, { timeoutMs: 20_000 });
    expect((await ok.run(['true'])).code).toBe(0);
    ok.close();
  });

  it('reports STOP on a QMP stop and keeps the guest state', async () => {
    const stopped = vm.qmp.waitForEvent('STOP', { timeoutMs: 10_000 });
    await vm.qmp.execute('stop');
    await stopped;
    expect((await vm.qmp.execute('query-status')).status).toBe('paused');
    await vm.resume();
    expect((await vm.exec(['true'])).code).toBe(0);
  });

  it('shuts down gracefully with a SHUTDOWN event and leaves no QEMU', async () => {
    const pid = vm.pid!;
    const shutdown = vm.qmp.waitForEvent('SHUTDOWN', { timeoutMs: 20_000 });
    const done = vm.shutdown();
    expect((await shutdown).data).toMatchObject({ guest: true });
    await done;
    expect(isSameProcess(pid, undefined)).toBe(false);
    expect(ctx.lease.processes).toEqual([]);
  });
});

describe('the CLI', () => {
  it('exec prints the guest kernel version and returns the exit code', async () => {
    const cfg = configFile(vmYaml());
    const ok = await execa('node', [CLI, 'exec', cfg, '--', 'uname', '-r'], { reject: false });
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout.trim()).toBe(image.manifest.kernelVersion);
    const bad = await execa('node', [CLI, 'exec', cfg, '--', 'sh', '-c', 'exit 42'], { reject: false });
    expect(bad.exitCode).toBe(42);
    expect(qemuPids()).toEqual([]);
  });

  it('SIGINT during a guest command tears QEMU down', async () => {
    const cfg = configFile(vmYaml());
    const proc = execa('node', [CLI, 'exec', cfg, '--', 'sh', '-c', 'echo started; sleep 600'], { reject: false });
    await new Promise<void>((resolve) => proc.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('started')) resolve(); }));
    expect(qemuPids()).toHaveLength(1);
    proc.kill('SIGINT');
    const r = await proc;
    expect(r.exitCode).toBe(130);
    expect(qemuPids()).toEqual([]);
    expect(readdirSync(runsDir)).toEqual([]);
  });

  it('a killed orchestrator takes its QEMU with it; down clears the lease it left', async () => {
    const cfg = configFile(vmYaml());
    const proc = execa('node', [CLI, 'exec', cfg, '--', 'sh', '-c', 'echo started; sleep 600'], { reject: false });
    await new Promise<void>((resolve) => proc.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('started')) resolve(); }));
    proc.kill('SIGKILL');
    await proc;
    // QEMU runs under pdeathsig: it ends with the orchestrator, without `down`.
    await waitFor(() => qemuPids().length === 0, { timeoutMs: 10_000, what: 'QEMU to end with its orchestrator' });
    expect(readdirSync(runsDir)).toHaveLength(1);
    const down = await execa('node', [CLI, 'down', '--all'], { reject: false });
    expect(down.exitCode).toBe(0);
    expect(readdirSync(runsDir)).toEqual([]);
  });

  it('a guest that panics at boot fails with the console line, leaving nothing', async () => {
    // init=/nonexistent makes the kernel panic ("No working init found").
    const cfg = configFile(vmYaml().replace('memory: 256M', 'memory: 256M\n    qemu_args: [-append, "console=ttyS0 panic=-1 rdinit=/nonexistent init=/nonexistent"]'));
    const r = await execa('node', [CLI, 'exec', cfg, '--', 'true'], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Kernel panic - not syncing/);
    expect(qemuPids()).toEqual([]);
  });
});
