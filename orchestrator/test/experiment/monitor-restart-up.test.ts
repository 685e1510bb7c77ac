/**
 * Issue 9, "restart without loss", done-when item (f): `orchestrate up` of a host-placed
 * memverify experiment (fluidmem arm on Redis, working set 8x the resident limit) whose
 * fluidmem-monitor is SIGKILLed mid-run completes with status ok: the orchestrator restarts
 * the monitor on the same sockets and key nonce (handler/monitor.ts, once per run by
 * default), the benchmark's attach library reattaches, memverify reads back every word
 * (0 mismatches), and the run records the restart (monitorRestarts, handler.monitor_restarts).
 * Real orchestrator CLI, monitor, Redis, userfaultfd; nothing mocked.
 */
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../src/process/wait.js';
import { readResults } from '../../src/results/store.js';

const ROOT = join(import.meta.dirname, '../../..');
/** The CLI from source (tsx), not dist/: the code under test, without a build step. */
const CLI_SRC = join(ROOT, 'orchestrator/src/cli/main.ts');

/** Live processes started for runsDir (they inherit FLUIDLAB_RUNS_DIR) whose argv[0] matches. */
function processes(runsDir: string, cmd: RegExp): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid).flatMap((pid) => {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`FLUIDLAB_RUNS_DIR=${runsDir}`)) return [];
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) return [];
      return cmd.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!) ? [Number(pid)] : [];
    } catch { return []; }
  });
}

describe('orchestrate up survives a monitor crash', () => {
  it('a host memverify run whose monitor is SIGKILLed mid-run ends ok, 0 mismatches, the restart recorded', async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'fl-restart-runs-'));
    const results = mkdtempSync(join(tmpdir(), 'fl-restart-results-'));
    const cfg = join(mkdtempSync(join(tmpdir(), 'fl-restart-cfg-')), 'c.yaml');
    writeFileSync(cfg, [
      'name: monitor-restart',
      'description: memverify on the host, monitor killed mid-run',
      'arms:',
      '  - { name: fluidmem-redis, kind: fluidmem, backend: redis, resident: 16M, placement: host }',
      'workload:',
      '  memverify:',
      '    size: 128M',
      '    passes: 3',
      'repetitions: 1',
      '',
    ].join('\n'));
    const up = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      `import { main } from ${JSON.stringify(CLI_SRC)}; main(['up', ${JSON.stringify(cfg)}, '--results-dir', ${JSON.stringify(results)}]).then((c) => { process.exitCode = c; });`],
    { cwd: ROOT, reject: false, env: { FLUIDLAB_RUNS_DIR: runsDir } });
    let killed: number | undefined;
    try {
      // mid-run: the benchmark runs (attached) and pages have been going to Redis for a while
      const [monitor] = await waitFor(() => {
        const m = processes(runsDir, /fluidmem-monitor$/);
        return m.length === 1 && processes(runsDir, /memverify/).length > 0 ? m : undefined;
      }, { timeoutMs: 120_000, what: 'the monitor and memverify of the run', abortIf: () => (up.exitCode !== null ? 'orchestrate exited' : undefined) });
      await new Promise((r) => setTimeout(r, 3000));
      expect(processes(runsDir, /memverify/).length, 'memverify still running when the monitor is killed').toBeGreaterThan(0);
      killed = monitor!;
      process.kill(killed, 'SIGKILL');
    } finally {
      const r = await up;
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    }
    const dir = join(results, readdirSync(results).find((d) => !d.startsWith('.'))!);
    const { runs } = readResults(dir);
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.status, run.error).toBe('ok');
    expect(run.metrics['memverify.mismatches']).toBe(0);
    expect(run.metrics['handler.monitor_restarts']).toBe(1);
    expect(run.monitorRestarts).toHaveLength(1);
    expect(run.monitorRestarts![0]).toMatchObject({ oldPid: killed, exit: 'killed by SIGKILL', ok: true });
    const log = readFileSync(join(dir, 'logs', run.id, 'monitor.log'), 'utf8');
    expect(log).toMatch(/vm host reattached: \d+ resident pages/);
    expect(processes(runsDir, /fluidmem-monitor|redis-server|memverify/)).toEqual([]);
  }, 600_000);
});
