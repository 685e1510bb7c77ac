/**
 * CLI: `up` of a config that validates but cannot fit this host (a 900T guest) exits
 * non-zero with the preflight's message, before it starts anything: no run directory, no
 * results directory, no process of its own.
 */
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MAIN = join(process.cwd(), 'orchestrator/src/cli/main.ts');

describe('up refuses what the host cannot hold', () => {
  it('sees a child process when there is one (the watch below can fail)', async () => {
    const parent = execa(process.execPath, ['-e', "const c = require('node:child_process').spawn('sleep', ['30'], { stdio: 'ignore' }); console.log('spawned'); process.stdin.on('data', () => { c.kill(); process.exit(0); });"], { reject: false, stdin: 'pipe' });
    await new Promise<void>((resolve) => parent.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('spawned')) resolve(); }));
    expect(childrenOf(parent.pid!)).toHaveLength(1);
    parent.stdin!.end('stop\n');
    await parent;
  });

  it('exits 1 with what needs how much, before starting any process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-preflight-'));
    const config = join(dir, 'huge.yaml');
    writeFileSync(config, 'name: huge\nvms:\n  - name: vm0\n    memory: 900T\narms:\n  - { name: dram, kind: none }\nworkload:\n  command: [uname, -r]\nemulation_probe: false\n');
    const runs = join(dir, 'runs');
    const results = join(dir, 'results');
    const spawned: string[] = [];
    const child = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      `import { main } from ${JSON.stringify(MAIN)}; process.exitCode = await main(['up', ${JSON.stringify(config)}, '--results-dir', ${JSON.stringify(results)}]);`,
    ], { reject: false, env: { FLUIDLAB_RUNS_DIR: runs } });
    // Watch for any child of the CLI while it runs (QEMU, redis-server, an image build...).
    const watch = setInterval(() => spawned.push(...childrenOf(child.pid!)), 20);
    const r = await child;
    clearInterval(watch);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toContain(`${config}: refused before starting anything: this host cannot hold the experiment`);
    expect(r.stderr).toMatch(/^ {2}memory: run 001-dram-r1 needs 900T \(guest vm0: QEMU itself 192M; guest vm0: RAM 900T\); available: [\d.]+[MGT] \(MemAvailable [\d.]+[MGT] less 256 MiB for the host\)$/m);
    expect(spawned).toEqual([]);
    expect(existsSync(runs) ? readdirSync(runs) : []).toEqual([]);
    expect(existsSync(results)).toBe(false);
  });
});

/** Child pids of `pid` (any of its threads), from /proc/PID/task/TID/children; none once it exited. */
export function childrenOf(pid: number): string[] {
  let tasks: string[];
  try { tasks = readdirSync(`/proc/${pid}/task`); } catch { return []; }
  return tasks.flatMap((t) => {
    try { return readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean); } catch { return []; }
  });
}
