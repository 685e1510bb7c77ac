/**
 * Exit paths of an embedded Redis Cluster owned by a run: an orchestrator-like child process
 * starts one in a RunContext, then gets SIGINT (its own teardown stops every node and
 * removes the run directory) or SIGKILL (nothing runs in it: the lease lists every node and
 * reapRunDir, what `orchestrate down` calls, kills whatever of them is left).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { readLease } from '../../src/process/lease.js';
import { reapRunDir } from '../../src/run/reap.js';
import { waitFor } from '../../src/process/wait.js';

const runsDir = mkdtempSync(join(tmpdir(), 'fl-cluster-exit-'));
const src = resolve(import.meta.dirname, '../../src');
const script = join(runsDir, 'owner.mts'); // .mts: ESM (top-level await) outside the package
writeFileSync(script, `
import { RunContext } from '${src}/run/context.ts';
import { EmbeddedRedisCluster } from '${src}/kvstore/redis-cluster.ts';
const ctx = new RunContext(process.argv[2]!);
const cluster = ctx.own(await EmbeddedRedisCluster.start({ runDir: ctx.runDir, lease: ctx.lease, masters: 3, replicas: 1 }));
console.log(JSON.stringify({ runDir: ctx.runDir, pids: cluster.nodes.map((n) => n.pid) }));
setInterval(() => undefined, 1000);
`);
const started: ResultPromise[] = [];
afterAll(async () => {
  for (const p of started) p.kill('SIGKILL');
  for (const d of [join(runsDir, 'sigint'), join(runsDir, 'sigkill')]) if (existsSync(d)) await reapRunDir(d, { force: true });
  rmSync(runsDir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}

/** Starts the owner; resolves with its run dir and node pids once the cluster is healthy. */
async function owner(runId: string): Promise<{ proc: ResultPromise; runDir: string; pids: number[] }> {
  const proc = execa('node', ['--import', 'tsx', script, runId], { env: { FLUIDLAB_RUNS_DIR: runsDir }, reject: false, cwd: resolve(src, '../..') });
  started.push(proc);
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  const line = await waitFor(() => out.split('\n').find((l) => l.startsWith('{')), {
    timeoutMs: 60_000, what: 'the owner to start its cluster', abortIf: () => (proc.exitCode !== null ? `owner exited ${proc.exitCode}` : undefined), intervalMs: 100,
  });
  return { proc, ...(JSON.parse(line) as { runDir: string; pids: number[] }) };
}

describe('embedded cluster exit paths', () => {
  it('SIGINT of the owner stops every node and removes the run directory', async () => {
    const { proc, runDir, pids } = await owner('sigint');
    expect(pids).toHaveLength(6);
    expect(readLease(runDir)!.processes.map((p) => p.role).filter((r) => r.startsWith('redis:cluster:'))).toHaveLength(6);
    proc.kill('SIGINT');
    const r = await proc;
    expect(r.exitCode).toBe(130);
    for (const pid of pids) expect(alive(pid), `node pid ${pid}`).toBe(false);
    expect(existsSync(runDir)).toBe(false);
  }, 90_000);

  it('after SIGKILL of the owner, the lease lets down reap every node', async () => {
    const { proc, runDir, pids } = await owner('sigkill');
    expect(readLease(runDir)!.processes.filter((p) => p.role.startsWith('redis:cluster:')).map((p) => p.pid).sort()).toEqual([...pids].sort());
    proc.kill('SIGKILL');
    await proc;
    // Nothing ran in the killed owner; nodes may die with it (a parent-death signal, when
    // process/child.ts sets one) or stay until reaped: either way none is left after down.
    const reaped = await reapRunDir(runDir);
    expect(reaped!.ownerAlive).toBe(false);
    for (const p of reaped!.killed) expect(pids).toContain(p.pid);
    for (const pid of pids) expect(alive(pid), `node pid ${pid}`).toBe(false);
    expect(existsSync(runDir)).toBe(false);
  }, 90_000);
});
