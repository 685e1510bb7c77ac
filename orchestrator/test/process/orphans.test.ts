/**
 * Issue 9, defect 7: children never outlive a killed orchestrator. ManagedChild starts every
 * child through `setpriv --pdeathsig SIGKILL`, so SIGKILL of the orchestrator (no teardown
 * runs) still takes QEMU, fluidmem-monitor and Redis down with it, while the lease keeps
 * what can survive a process (run dir, host changes) for `orchestrate down`. Real processes:
 * a Node process owning a ManagedChild, then a real `orchestrate up` of a FluidMem guest.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { isSameProcess } from '../../src/process/procfs.js';
import { waitFor } from '../../src/process/wait.js';

const ROOT = join(import.meta.dirname, '../../..');
const CLI_SRC = join(ROOT, 'orchestrator/src/cli/main.ts');
const started: ResultPromise[] = [];

/** A Node process running `code` (ESM, TypeScript via tsx) with FLUIDLAB_RUNS_DIR=runsDir. */
function node(code: string, runsDir: string): ResultPromise {
  const p = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT, env: { FLUIDLAB_RUNS_DIR: runsDir }, reject: false, buffer: false, stdin: 'ignore',
  });
  started.push(p);
  return p;
}

/** Live processes whose environment names runsDir, with their argv[0]. */
function processesOf(runsDir: string): { pid: number; cmd: string }[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid).flatMap((pid) => {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`FLUIDLAB_RUNS_DIR=${runsDir}`)) return [];
      if (!isSameProcess(Number(pid), undefined)) return []; // zombie
      return [{ pid: Number(pid), cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]! }];
    } catch { return []; }
  });
}

const CHILDREN = /qemu|fluidmem-monitor|redis-server/;

/** Every process named by a lease under runsDir (role, pid, start time). */
function leasedChildren(runsDir: string): { role: string; pid: number; startTime?: number }[] {
  return readdirSync(runsDir).flatMap((run) => {
    try {
      return (JSON.parse(readFileSync(join(runsDir, run, 'lease.json'), 'utf8')) as { processes: { role: string; pid: number; startTime?: number }[] }).processes;
    } catch { return []; }
  });
}

afterAll(async () => {
  for (const p of started) p.kill('SIGKILL');
  await Promise.all(started.map((p) => p.catch(() => undefined)));
});

describe('children of a SIGKILLed orchestrator', () => {
  it('a ManagedChild dies with the Node process that owns it; its lease entry stays for down', async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'fl-orphan-'));
    const owner = node(`
      import { mkdirSync } from 'node:fs';
      import { join } from 'node:path';
      import { ManagedChild } from './orchestrator/src/process/child.ts';
      import { Lease } from './orchestrator/src/process/lease.ts';
      const dir = join(process.env.FLUIDLAB_RUNS_DIR, 'owner');
      mkdirSync(dir);
      const lease = new Lease(dir, 'owner');
      const c = new ManagedChild({ role: 'sleeper', file: 'sleep', args: ['600'], logFile: join(dir, 'sleeper.log'), lease });
      console.log('child ' + c.pid);
      setInterval(() => {}, 1000);
    `, runsDir);
    let out = '';
    owner.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    const pid = Number(await waitFor(() => /child (\d+)/.exec(out)?.[1], { timeoutMs: 30_000, what: 'the child pid' }));
    expect(isSameProcess(pid, undefined)).toBe(true);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toBe('sleep'); // setpriv exec'd it: same pid
    owner.kill('SIGKILL');
    await owner;
    await waitFor(() => !isSameProcess(pid, undefined), { timeoutMs: 10_000, what: `child ${pid} to die with its owner` });
    const lease = JSON.parse(readFileSync(join(runsDir, 'owner', 'lease.json'), 'utf8')) as { processes: { pid: number }[] };
    expect(lease.processes.map((p) => p.pid)).toEqual([pid]); // down still finds (and skips) it
  });

  it('SIGKILL of `orchestrate up` mid-run leaves no QEMU, monitor or Redis of that run, without down', async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'fl-orphan-up-'));
    const results = mkdtempSync(join(tmpdir(), 'fl-orphan-results-'));
    const cfg = join(mkdtempSync(join(tmpdir(), 'fl-orphan-cfg-')), 'c.yaml');
    const tiny = readFileSync(join(ROOT, 'configs/test-tiny.yaml'), 'utf8')
      .replace(/arms:[\s\S]*?workload:/, 'arms:\n  - { name: fluidmem-redis, kind: fluidmem, backend: redis, resident: 64M }\nworkload:')
      .replace(/duration: 1\b/, 'duration: 600');
    writeFileSync(cfg, `${tiny}\nemulation_probe: false\n`);
    const up = node(`
      import { main } from ${JSON.stringify(CLI_SRC)};
      main(['up', ${JSON.stringify(cfg)}, '--json', '--results', ${JSON.stringify(results)}]).then((c) => { process.exitCode = c; });
    `, runsDir);
    let err = '';
    up.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    try {
      // Redis rewrites its process title over its environment: the lease names every child
      const kids = await waitFor(() => {
        const k = leasedChildren(runsDir);
        return ['qemu', 'monitor', 'redis'].every((role) => k.some((p) => p.role.includes(role))) ? k : undefined;
      }, { timeoutMs: 120_000, what: `QEMU, monitor and Redis of the run in its lease (orchestrate stderr: ${err})`,
        abortIf: () => (up.exitCode !== null ? `orchestrate exited: ${err}` : undefined) });
      expect(kids.every((p) => isSameProcess(p.pid, p.startTime))).toBe(true);
      await new Promise((r) => setTimeout(r, 2000)); // the guest is booting: mid-run
      up.kill('SIGKILL');
      await up;
      await waitFor(() => kids.every((p) => !isSameProcess(p.pid, p.startTime)), {
        timeoutMs: 10_000,
        what: `the children of the killed orchestrator to end (${kids.map((k) => `${k.role} ${k.pid}`).join(', ')})`,
      });
      expect(processesOf(runsDir).filter((p) => CHILDREN.test(p.cmd))).toEqual([]);
    } finally {
      for (const p of leasedChildren(runsDir)) if (isSameProcess(p.pid, p.startTime)) process.kill(p.pid, 'SIGKILL');
      // what can outlive a process (run dir, host changes) stays leased: down reaps it
      const down = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
        `import { main } from ${JSON.stringify(CLI_SRC)}; main(['down', '--all']).then((c) => { process.exitCode = c; });`],
      { cwd: ROOT, env: { FLUIDLAB_RUNS_DIR: runsDir }, reject: false });
      expect(down.exitCode, down.stderr).toBe(0);
    }
  });
});
