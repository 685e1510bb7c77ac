/**
 * RunContext teardown: everything undone ⇒ the run directory goes; anything left (a
 * dispose that threw, a process still in the lease) ⇒ the lease stays, the error says
 * where, and `orchestrate down` (reapRunDir) reaps what was left. Real processes.
 */
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManagedChild } from '../../src/process/child.js';
import { readLease } from '../../src/process/lease.js';
import { reapRunDir } from '../../src/run/reap.js';
import { isSameProcess } from '../../src/process/procfs.js';
import { waitFor } from '../../src/process/wait.js';
import { RunContext, newRunId } from '../../src/run/context.js';

const runsDir = mkdtempSync(join(tmpdir(), 'fl-runs-'));
process.env.FLUIDLAB_RUNS_DIR = runsDir;
const CLI = join(process.cwd(), 'orchestrator/bin/orchestrate.js');
const STUBBORN = ['-c', 'trap "" TERM; echo ignoring TERM; exec sleep 600'];
const started: number[] = [];

afterAll(() => {
  for (const pid of started) if (isSameProcess(pid, undefined)) process.kill(pid, 'SIGKILL');
});

describe('RunContext teardown', () => {
  it('removes the run directory when everything was undone', async () => {
    const ctx = new RunContext(newRunId('clean'));
    const child = ctx.own(new ManagedChild({ role: 'helper', file: 'sleep', args: ['600'], logFile: join(ctx.runDir, 'helper.log'), lease: ctx.lease }));
    started.push(child.pid);
    let archived: string[] = [];
    const withArchive = new RunContext(newRunId('archived'), { archive: (dir) => { archived = readdirSync(dir); } });
    await ctx.dispose();
    await withArchive.dispose();
    expect(isSameProcess(child.pid, undefined)).toBe(false);
    expect(existsSync(ctx.runDir)).toBe(false);
    expect(archived).toEqual(['lease.json']);
    expect(existsSync(withArchive.runDir)).toBe(false);
  });

  it('keeps the lease when a dispose fails with its process alive; reapRunDir then reaps it', async () => {
    const ctx = new RunContext(newRunId('stuck'));
    const child = new ManagedChild({ role: 'helper', file: 'sh', args: STUBBORN, logFile: join(ctx.runDir, 'helper.log'), lease: ctx.lease });
    started.push(child.pid);
    await waitFor(() => child.logTail().includes('ignoring TERM'), { timeoutMs: 10_000, what: 'the trap to be set' });
    // An owner whose teardown fails and leaves its process running.
    ctx.own({ dispose: async () => { throw new Error('helper: could not stop it'); } });
    const err = await ctx.dispose().catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toContain('helper: could not stop it');
    expect(message).toContain(`still in the lease: helper (pid ${child.pid})`);
    expect(message).toContain(`lease kept at ${join(ctx.runDir, 'lease.json')}; run \`orchestrate down\` to reap`);
    expect(readLease(ctx.runDir)?.processes.map((p) => p.pid)).toEqual([child.pid]);
    expect(isSameProcess(child.pid, undefined)).toBe(true);

    const reaped = await reapRunDir(ctx.runDir, { graceMs: 200 });
    expect(reaped?.killed.map((p) => p.pid)).toEqual([child.pid]);
    expect((await child.exited).signal).toBe('SIGKILL');
    expect(isSameProcess(child.pid, undefined)).toBe(false);
    expect(existsSync(ctx.runDir)).toBe(false);
  });

  it('a crashed teardown of an orchestrator that then exits: `orchestrate down --all` reaps what it left', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fl-runs-'));
    // The owner: a RunContext whose teardown fails while a helper it leased still runs.
    // Children started by ManagedChild die with their owner (pdeathsig), so the helper here
    // stands for what can outlive it: a detached process (ignoring SIGTERM) in the lease.
    const owner = await execa('node', ['--import', 'tsx', '--input-type=module', '-e', `
      import { spawn } from 'node:child_process';
      import { openSync, readFileSync } from 'node:fs';
      import { join } from 'node:path';
      import { waitFor } from ${JSON.stringify(join(process.cwd(), 'orchestrator/src/process/wait.ts'))};
      import { RunContext } from ${JSON.stringify(join(process.cwd(), 'orchestrator/src/run/context.ts'))};
      const ctx = new RunContext('crashed-teardown');
      const log = join(ctx.runDir, 'helper.log');
      const out = openSync(log, 'a');
      const child = spawn('sh', ${JSON.stringify(STUBBORN)}, { detached: true, stdio: ['ignore', out, out] });
      child.unref();
      ctx.lease.add('helper', child.pid, 'sh');
      await waitFor(() => readFileSync(log, 'utf8').includes('ignoring TERM'), { timeoutMs: 10000, what: 'the trap' });
      ctx.own({ dispose: async () => { throw new Error('helper: could not stop it'); } });
      const error = await ctx.dispose().then(() => '', (e) => e.message);
      console.log(JSON.stringify({ pid: child.pid, error }));
      process.exit(0);
    `], { env: { FLUIDLAB_RUNS_DIR: root } });
    const { pid, error } = JSON.parse(String(owner.stdout).trim().split('\n').pop()!) as { pid: number; error: string };
    started.push(pid);
    expect(error).toContain('run `orchestrate down` to reap');
    expect(isSameProcess(pid, undefined)).toBe(true);
    expect(readdirSync(root)).toEqual(['crashed-teardown']);

    const down = await execa('node', [CLI, 'down', '--all'], { env: { FLUIDLAB_RUNS_DIR: root }, reject: false });
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stdout).toContain(`crashed-teardown: stopped helper (pid ${pid})`);
    await waitFor(() => !isSameProcess(pid, undefined), { timeoutMs: 10_000, what: `pid ${pid} to be gone` });
    expect(readdirSync(root)).toEqual([]);
  });
});
