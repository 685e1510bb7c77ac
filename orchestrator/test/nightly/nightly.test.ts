/**
 * Integration: `orchestrate nightly` with real small experiments (the child `orchestrate
 * up CONFIG --json` boots real guests; TCG where KVM does not work). A first night writes
 * the history index, report and JUnit with no baseline; a night after a good one compares
 * with it and gives a verdict; a synthetic faster pinned baseline makes a regression
 * (exit 1); a guest that cannot boot is exit 2; a crashed run's lease is reaped first.
 * Every test has its own results root and makes the earlier nights it needs itself
 * (synthetic runs in the history index), so each runs alone and in any order.
 * Needs the built CLI (npm run build / scripts/setup.sh).
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { appendHistory, readHistory, type HistoryEntry } from '../../src/results/history.js';
import { CLI_PATH } from '../../src/nightly/launch-experiment.js';
import { resolveBaseline } from '../../src/nightly/baseline.js';
import { runNightly } from '../../src/nightly/nightly.js';
import { LEASE_NAME, type LeaseFile } from '../../src/process/lease.js';
import { isSameProcess, processStartTime } from '../../src/process/procfs.js';
import { noisy, writeFixtureRun } from '../support/report-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'fluidlab-nightly-'));
let roots = 0;
/** A results root of its own for one test. */
function freshRoot(): string {
  const dir = join(tmp, `results-${++roots}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
// Leases of this test's runs (and the fake crashed one) stay out of the real runs dir.
process.env.FLUIDLAB_RUNS_DIR = join(tmp, 'runs');
const started: number[] = [];

afterAll(() => {
  for (const pid of started) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  rmSync(tmp, { recursive: true, force: true });
});

const TINY = `name: nightly-tiny
description: two arms, 3 repetitions of a 1 s pmbench (nightly tests)
vms:
  - name: vm0
    memory: 256M
    vcpus: 1
    accelerator: auto
    timeouts: { boot: 150s, command: 300s }
arms:
  - { name: dram, kind: none }
  - { name: fluidmem-dram, kind: fluidmem, backend: dram, resident: 64M }
workload:
  pmbench:
    duration: 1
    setsize: 96M
repetitions: 3
`;
const config = join(tmp, 'tiny.yaml');
writeFileSync(config, TINY);

/** A synthetic earlier night of nightly-tiny in `root`: a results directory with both
 * arms and an ok history line, with latency and throughput scaled by `speed` from figures
 * far from any real TCG run (speed 1e-4: absurdly slow, any real night is better; 1e4:
 * absurdly fast, any real night is worse). */
function earlierNight(root: string, runId: string, speed: number, verdict: HistoryEntry['verdict'] = 'no-baseline'): HistoryEntry {
  writeFixtureRun({ root, runId, experiment: 'nightly-tiny', variants: ['dram', 'fluidmem-dram'].map((arm) => ({
    variant: arm, arm, kind: arm === 'dram' ? 'none' as const : 'fluidmem' as const,
    metrics: { 'latency.ns.average': noisy(1000 / speed, 3), 'throughput.aps': noisy(1e6 * speed, 3) },
  })) });
  const entry: HistoryEntry = { runId, experiment: 'nightly-tiny', time: new Date().toISOString(), status: 'ok', verdict,
    regressions: verdict === 'regression' ? ['dram: latency.ns.average +50.0%'] : [] };
  appendHistory(root, entry);
  return entry;
}

function lastEntry(root: string): HistoryEntry {
  const h = readHistory(root);
  expect(h.length).toBeGreaterThan(0);
  return h.at(-1)!;
}

function count(xml: string, re: RegExp): number {
  return (xml.match(re) ?? []).length;
}

describe('nightly', () => {
  it('needs the built CLI', () => {
    expect(existsSync(CLI_PATH), `${CLI_PATH}: run 'npm run build' (or scripts/setup.sh) first`).toBe(true);
  });

  it('first night: runs the experiment, writes report, JUnit and history; no baseline yet -> exit 0', async () => {
    const root = freshRoot();
    const code = await main(['nightly', config, '--results-dir', root]);
    const night1 = lastEntry(root);
    expect(readHistory(root)).toHaveLength(1);
    expect(night1, JSON.stringify(night1)).toMatchObject({ experiment: 'nightly-tiny', status: 'ok', verdict: 'no-baseline', regressions: [] });
    expect(code).toBe(0);
    expect(night1.gitRevision).toMatch(/^[0-9a-f]{40}$/);
    const dir = join(root, night1.runId);
    expect(night1.report).toBe(join(dir, 'report.html'));
    expect(readFileSync(night1.report!, 'utf8')).toContain('<svg');
    const junit = readFileSync(join(dir, 'junit.xml'), 'utf8');
    expect(count(junit, /<testcase /g)).toBe(6); // one per run
    expect(junit).toMatch(/<testsuite name="nightly-tiny" tests="6" failures="0" errors="0"/);
    expect(readFileSync(join(dir, 'nightly.log'), 'utf8')).toMatch(/\[6\/6\] 006-fluidmem-dram-r3: ok in /);
    // The headline figures of the night are in its history line; the trend page is beside the report.
    expect(Object.keys(night1.headline!.values).sort()).toEqual(['dram', 'fluidmem-dram']);
    expect(night1.headline!.values['dram']!['latency.ns.average']!.n).toBe(3);
    expect(night1.trend).toBe(join(dir, 'trend.html'));
    expect(readFileSync(night1.trend!, 'utf8')).toContain('nightly-tiny: verdict per night');
  });

  it('a night after a good one: compares with the last good run; no regression -> exit 0', async () => {
    const root = freshRoot();
    // Two earlier nights: a good one, then a regressed one (never "last good").
    const night1 = earlierNight(root, 'night-1-slow', 1e-4);
    earlierNight(root, 'night-1b-regressed', 1e-4, 'regression');
    const code = await main(['nightly', config, '--results-dir', root]);
    const night2 = lastEntry(root);
    expect(night2).toMatchObject({ status: 'ok', baseline: night1.runId, verdict: 'ok', regressions: [] });
    expect(code).toBe(0);
    const junit = readFileSync(night2.junit!, 'utf8');
    expect(junit).toContain(`<property name="baseline" value="${night1.runId}"/>`);
    expect(count(junit, /<failure /g)).toBe(0);
    expect(junit).toMatch(/<testcase classname="nightly-tiny\.fluidmem-dram" name="latency\.ns\.average"/);
    const html = readFileSync(night2.report!, 'utf8');
    expect(html).toContain('Comparison with the baseline');
    expect(html).toContain(night1.runId);
  });

  it('against a pinned, synthetically faster baseline: regression -> exit 1', async () => {
    const root = freshRoot();
    // The pinned baseline: ten thousand times faster than any TCG guest (a margin no load
    // swing on a shared machine comes near); a slow good night that last-good would pick.
    const fast = 'baseline-fast';
    earlierNight(root, fast, 1e4);
    const slow = earlierNight(root, 'night-slow', 1e-4);
    writeFileSync(join(root, 'baseline-pinned.nightly-tiny'), `${fast}\n`);

    // A TTY-like progress stream: the child's progress lines drive the status line.
    const drawn: string[] = [];
    const tty = { isTTY: true, write: (c: string) => drawn.push(c) };
    const result = await runNightly({ config, resultsRoot: root, baseline: 'pinned', log: () => {}, progressStream: tty });
    expect(drawn.join('')).toMatch(/\[6\/6\] 006-fluidmem-dram-r3 · (boot|attach|warm-up|run|collect) /);
    expect(drawn.join('')).toMatch(/\[6\/6\] 006-fluidmem-dram-r3: ok in \d+s\n/);
    expect(result.exitCode).toBe(1);
    expect(result.entry).toMatchObject({ status: 'ok', verdict: 'regression', baseline: fast });
    // Each variant regressed on a headline metric. Latency and throughput of a variant say the
    // same thing, and on a loaded host one of them can stay undecided at 99% with 3 runs
    // (its spread over repetitions), so one of the two is required, in the right direction.
    for (const variant of ['dram', 'fluidmem-dram']) {
      const got = JSON.stringify(result.entry.regressions);
      expect(result.entry.regressions.filter((r) => r.startsWith(`${variant}: latency.ns.average +`) || r.startsWith(`${variant}: throughput.aps -`)).length, got).toBeGreaterThan(0);
      expect(result.entry.regressions.filter((r) => r.startsWith(`${variant}: latency.ns.average -`) || r.startsWith(`${variant}: throughput.aps +`)), got).toEqual([]);
    }
    const junit = readFileSync(result.junit, 'utf8');
    expect(junit).toMatch(/<testcase classname="nightly-tiny\.dram" name="latency\.ns\.average" time="0">\n\s*<failure type="regression"/);
    expect(readFileSync(result.report!, 'utf8')).toMatch(/class="banner bad">\d+ regressions? against baseline baseline-fast/);
    expect(result.entry.verdicts!.filter((v) => v.verdict === 'worse')).toHaveLength(result.entry.regressions.length);
    expect(result.entry.verdicts!.filter((v) => v.verdict === 'better')).toEqual([]);
    // Three nights on the trend page; tonight's regression is marked.
    const trend = readFileSync(result.trend!, 'utf8');
    expect(trend).toContain('nightly-tiny (3 nights)');
    expect(trend).toMatch(/<td class="metric bad">regression<\/td>/);
    // A regressed night is not "last good": the next last-good baseline is still the slow one.
    expect(readHistory(root).at(-1)).toMatchObject({ runId: result.entry.runId, verdict: 'regression' });
    expect(resolveBaseline('last-good', 'nightly-tiny', root)).toBe(join(root, slow.runId));
  });

  it('a guest that cannot boot: the run failed -> exit 2 (and the crashed run before it is reaped first)', async () => {
    // A crashed earlier run: its orchestrator is gone, its "QEMU" (a sleep) still runs.
    const sleeper = execa('sleep', ['600'], { reject: false });
    started.push(sleeper.pid!);
    const exited = execa('true');
    const deadPid = exited.pid!;
    await exited;
    const crashedDir = join(process.env.FLUIDLAB_RUNS_DIR!, 'crashed-run');
    mkdirSync(crashedDir, { recursive: true });
    const lease: LeaseFile = {
      runId: 'crashed-run', owner: { pid: deadPid, startTime: 1 }, createdAt: new Date().toISOString(),
      processes: [{ role: 'qemu:vm0', pid: sleeper.pid!, startTime: processStartTime(sleeper.pid!), command: 'sleep 600' }],
    };
    writeFileSync(join(crashedDir, LEASE_NAME), JSON.stringify(lease));

    const broken = join(tmp, 'broken.yaml');
    writeFileSync(broken, TINY.replace('name: nightly-tiny', 'name: nightly-broken')
      .replace('    vcpus: 1\n', '    vcpus: 1\n    qemu_args: [-device, fluidlab-no-such-device]\n').replace('repetitions: 3', 'repetitions: 1'));
    const logs: string[] = [];
    const result = await runNightly({ config: broken, resultsRoot: freshRoot(), log: (l) => logs.push(l) });
    await sleeper;
    expect(isSameProcess(sleeper.pid!, lease.processes[0]!.startTime)).toBe(false);
    expect(existsSync(crashedDir)).toBe(false);
    expect(logs.join('\n')).toContain('reaped crashed run crashed-run');

    expect(result.exitCode).toBe(2);
    expect(result.entry).toMatchObject({ experiment: 'nightly-broken', status: 'failed', verdict: 'run-failed' });
    expect(result.entry.error).toMatch(/2 of 2 runs failed/);
    const junit = readFileSync(result.junit, 'utf8');
    expect(junit).toMatch(/<testsuite name="nightly-broken" tests="2" failures="0" errors="2"/);
    expect(junit).toContain('<error type="run-failed"');
  });

  it('a config that does not load: exit 2 with the error in history and JUnit', async () => {
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, 'name: nightly-bad\nvms: []\n');
    const root = freshRoot();
    const code = await main(['nightly', bad, '--results-dir', root, '--junit', join(tmp, 'bad-junit.xml')]);
    expect(code).toBe(2);
    const e = lastEntry(root);
    expect(e).toMatchObject({ runId: '', experiment: 'bad', status: 'failed', verdict: 'run-failed' });
    expect(e.error).toMatch(/bad\.yaml/);
    const junit = readFileSync(join(tmp, 'bad-junit.xml'), 'utf8');
    expect(junit).toMatch(/<testsuite name="bad" tests="1" failures="0" errors="1"/);
  });

  it('pinned without a pinned run says how to pin one', async () => {
    const other = join(tmp, 'other.yaml');
    writeFileSync(other, TINY.replace('name: nightly-tiny', 'name: nightly-other'));
    const root = freshRoot();
    // A pin for another experiment does not count.
    writeFileSync(join(root, 'baseline-pinned.nightly-tiny'), 'some-run\n');
    const result = await runNightly({ config: other, resultsRoot: root, baseline: 'pinned', log: () => {} });
    expect(result.exitCode).toBe(2);
    expect(result.entry.error).toMatch(/no pinned baseline: write a run id into .*baseline-pinned\.nightly-other/);
    expect(readHistory(root)).toEqual([result.entry]);
  });
});
