/**
 * Integration: an experiment over two lab hosts, the control host and an SSH host (a real
 * dropbear on 127.0.0.1, test/hosts/sshd.ts; the "lab host" is this machine and this
 * checkout). One host-placed arm runs here, one there through ssh2 and cli/host-part.ts;
 * both arms' results end up in the one run directory, the summary's table lists both with
 * their host, the host's own results directory comes back under hosts/NAME/ and is removed
 * there. Failures: a wrong checkout path or a refused key fail that host's runs with an
 * error naming the host; a part killed there mid-run is reported as such and leaves no
 * process; SIGKILL of the control host's `orchestrate up` makes the part tear down there
 * (its stdin closes) and leaves nothing running and no lease.
 */
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { runExperiment } from '../../src/experiment/runner.js';
import type { LabRecord } from '../../src/hosts/merge.js';
import { PART_ENV } from '../../src/hosts/part-protocol.js';
import { waitFor } from '../../src/process/wait.js';
import { buildReportHtml } from '../../src/report/build.js';
import { readResults } from '../../src/results/store.js';
import { formatTable } from '../../src/results/summarize.js';
import { processesWithEnv, startSshd, type TestSshd } from './sshd.js';

const ROOT = join(import.meta.dirname, '../../..');
const CLI_SRC = join(ROOT, 'orchestrator/src/cli/main.ts');
const runsDir = mkdtempSync(join(tmpdir(), 'fl-hosts-runs-'));
process.env.FLUIDLAB_RUNS_DIR = runsDir;
/** The lab host's part keeps its leases here (dropbear passes it on): its processes carry it. */
const remoteRunsDir = mkdtempSync(join(tmpdir(), 'fl-hosts-remote-runs-'));
const resultsRoot = mkdtempSync(join(tmpdir(), 'fl-hosts-results-'));
let sshd: TestSshd;

/** Processes the lab host's parts started (they inherit the part's FLUIDLAB_RUNS_DIR). */
const remoteProcesses = () => processesWithEnv(`FLUIDLAB_RUNS_DIR=${remoteRunsDir}`).filter((p) => !/dropbear/.test(p.cmd));

/** A two-host config: `dram` here (unless local: false), `fluidmem-dram` on lab2, pmbench
 * for `duration` s. */
function twoHostConfig(o: { duration: number; local?: boolean; ssh?: Record<string, string | number> }): { file: string; workDir: string } {
  const workDir = mkdtempSync(join(tmpdir(), 'fl-hosts-work-'));
  const ssh = { host: '127.0.0.1', port: sshd.port, user: 'root', identity: sshd.identity, host_key: sshd.hostKeyPub, work_dir: workDir, ...o.ssh };
  const file = join(mkdtempSync(join(tmpdir(), 'fl-hosts-cfg-')), 'two-hosts.yaml');
  writeFileSync(file, [
    'name: two-hosts',
    'hosts:',
    '  - { name: local }',
    `  - { name: lab2, ssh: ${JSON.stringify(ssh)} }`,
    'arms:',
    ...(o.local === false ? [] : ['  - { name: dram, kind: none, placement: host }']),
    '  - { name: fluidmem-dram, kind: fluidmem, backend: dram, resident: 16M, placement: host, host: lab2 }',
    'workload:',
    `  pmbench: { duration: ${o.duration}, setsize: 64M, pattern: uniform, ratio: 50 }`,
    '',
  ].join('\n'));
  return { file, workDir };
}

beforeAll(async () => {
  sshd = await startSshd({ FLUIDLAB_RUNS_DIR: remoteRunsDir });
});

afterAll(async () => {
  await sshd?.stop();
});

describe('lab hosts: the control host and one SSH host', () => {
  it('runs one arm here and one on the SSH host; one run directory and one table hold both, with their host', async () => {
    const { file, workDir } = twoHostConfig({ duration: 2 });
    const logged: string[] = [];
    const { summary, dir } = await runExperiment(loadConfig(file), { resultsRoot, events: { log: (l) => logged.push(l) } });
    expect(summary.failed, JSON.stringify(summary.runs)).toBe(0);

    // Both runs, numbered by the whole experiment, tagged with the host that ran them.
    const { runs } = readResults(dir);
    const byId = Object.fromEntries(runs.map((r) => [r.id, r as LabRecord]));
    expect(Object.keys(byId)).toEqual(['001-dram-r1', '002-fluidmem-dram-r1']);
    expect(byId['001-dram-r1']!.lab).toEqual({ host: 'local' });
    const remote = byId['002-fluidmem-dram-r1']!;
    expect(remote.lab.host).toBe('lab2');
    expect(remote.lab.id).toBe('001-fluidmem-dram-r1'); // its id in the host's own sub-config
    expect(remote.lab.runId).not.toBe(summary.runId); // its own key prefix on a shared store
    expect(remote.metrics['handler.evictions']).toBeGreaterThan(0);
    expect(remote.metrics['latency.ns.average']).toBeGreaterThan(0);

    // One table, one row per arm and host.
    expect(summary.variants.map((v) => v.variant)).toEqual(['dram@local', 'fluidmem-dram@lab2']);
    const table = formatTable(summary.variants);
    expect(table).toMatch(/^dram@local\s+1\/1/m);
    expect(table).toMatch(/^fluidmem-dram@lab2\s+1\/1/m);
    const html = await buildReportHtml({ summary, runs });
    expect(html).toContain('fluidmem-dram@lab2');
    expect(html).toContain('dram@local');

    // The host's own results came back under hosts/lab2/ and were removed there.
    expect(readResults(join(dir, 'hosts', 'lab2')).runs.map((r) => r.id)).toEqual(['001-fluidmem-dram-r1']);
    expect(readFileSync(join(dir, 'hosts', 'lab2', 'config.yaml'), 'utf8')).not.toMatch(/hosts:|host: lab2|\bdram, kind: none/);
    expect(readFileSync(join(dir, 'logs', '002-fluidmem-dram-r1', 'host.workload.txt'), 'utf8')).toContain('Page latency during benchmark');
    expect(realpathSync(join(dir, 'logs', '002-fluidmem-dram-r1'))).toBe(join(realpathSync(dir), 'hosts', 'lab2', 'logs', '001-fluidmem-dram-r1'));
    expect(readdirSync(workDir)).toEqual([]);

    // hosts.json: each host, its address, clock reading and facts.
    const hosts = JSON.parse(readFileSync(join(dir, 'hosts.json'), 'utf8')).hosts as { name: string; ok: boolean; address: string; runs: string[]; clock?: { rttMs: number }; hostKey?: string; facts?: { kernel: string } }[];
    expect(hosts.map((h) => [h.name, h.ok, h.runs])).toEqual([['local', true, ['001-dram-r1']], ['lab2', true, ['002-fluidmem-dram-r1']]]);
    expect(hosts[1]!.address).toBe(`root@127.0.0.1:${sshd.port}`);
    expect(hosts[1]!.hostKey).toMatch(/^SHA256:/);
    expect(hosts[1]!.clock?.rttMs).toBeGreaterThanOrEqual(0);
    expect(hosts[1]!.facts?.kernel).toBeTruthy();
    // Its output was streamed with the host's prefix.
    expect(logged.some((l) => l.startsWith('[lab2] part started there'))).toBe(true);
    expect(remoteProcesses()).toEqual([]);
  });

  it('a wrong checkout path or a refused key fails that host\'s runs with an error naming the host; the local arm still runs', async () => {
    for (const [ssh, why] of [
      [{ root: '/nonexistent/fluidlab' }, /no FluidLab checkout at \/nonexistent\/fluidlab there/],
      [{ identity: sshd.strangerIdentity }, /the server refused the key .*stranger/],
    ] as const) {
      const { file } = twoHostConfig({ duration: 1, ssh });
      const { summary } = await runExperiment(loadConfig(file), { resultsRoot });
      expect(summary.runs.map((r) => [r.id, r.status])).toEqual([['001-dram-r1', 'ok'], ['002-fluidmem-dram-r1', 'failed']]);
      const error = summary.runs[1]!.error!;
      expect(error).toContain(`host lab2 (root@127.0.0.1:${sshd.port}): `);
      expect(error).toMatch(why);
    }
  });

  it('a part killed on the SSH host mid-run is reported as that host\'s failure and leaves nothing running there', async () => {
    const { file, workDir } = twoHostConfig({ duration: 60, local: false });
    const running = runExperiment(loadConfig(file), { resultsRoot });
    // The part runs pmbench there; then it is SIGKILLed (a crash of the lab host's FluidLab).
    const part = await waitFor(() => {
      const all = remoteProcesses();
      const bench = all.find((p) => /pmbench/.test(p.cmd));
      return bench ? all.find((p) => p.cmd.includes('host-part.ts')) : undefined;
    }, { timeoutMs: 120_000, what: 'the part and its pmbench on lab2' });
    process.kill(part.pid, 'SIGKILL');
    const { summary } = await running;
    expect(summary.runs.map((r) => [r.id, r.status])).toEqual([['001-fluidmem-dram-r1', 'failed']]);
    const error = summary.runs[0]!.error!;
    expect(error).toMatch(new RegExp(`^host lab2 \\(root@127\\.0\\.0\\.1:${sshd.port}\\): the part ended there before finishing \\((signal SIGKILL|exit status)`));
    // Its children had pdeathsig: nothing of the part outlives it.
    await waitFor(() => remoteProcesses().length === 0, { timeoutMs: 20_000, what: 'the part\'s processes to end' });
    // A SIGKILLed part cannot clear its lease: `down` on that host reaps it.
    const down = await execa('node', ['orchestrator/bin/orchestrate.js', 'down', '--all'], { cwd: ROOT, reject: false, env: { FLUIDLAB_RUNS_DIR: remoteRunsDir } });
    expect(down.exitCode, down.stderr).toBe(0);
    expect(readdirSync(remoteRunsDir)).toEqual([]);
    // What the part had written came back (its config at least) and was removed there.
    expect(readdirSync(workDir)).toEqual([]);
  });

  it('SIGKILL of the control host\'s orchestrate up ends the part on the SSH host: its stdin closes, it tears down, no process or lease is left', async () => {
    const { file } = twoHostConfig({ duration: 60, local: false });
    const up = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      `import { main } from ${JSON.stringify(CLI_SRC)}; main(['up', ${JSON.stringify(file)}, '--results-dir', ${JSON.stringify(resultsRoot)}]).then((c) => { process.exitCode = c; });`],
    { cwd: ROOT, reject: false, env: { FLUIDLAB_RUNS_DIR: runsDir } });
    const part = await waitFor(() => {
      const all = remoteProcesses();
      return all.some((p) => /pmbench/.test(p.cmd)) ? all.find((p) => p.cmd.includes('host-part.ts')) : undefined;
    }, { timeoutMs: 120_000, what: 'the part and its pmbench on lab2', abortIf: () => (up.exitCode !== null ? `orchestrate up exited: ${String(up.stderr ?? '')}` : undefined) });
    // The part's last argument is its results directory there, WORK_DIR/HOST-RUN-ID.
    const hostRunId = part.cmd.split(' ').pop()!.split('/').pop()!;
    expect(remoteProcesses().find((p) => /pmbench/.test(p.cmd))?.env).toContain(`${PART_ENV}=${part.cmd.split(' ').pop()}`);
    up.kill('SIGKILL');
    expect((await up).signal).toBe('SIGKILL');
    // No pdeathsig crosses SSH: the part ends because its stdin closed, and tears down
    // (its RunContext's signal path), so its lease is gone too, without `down`.
    const leases = () => readdirSync(remoteRunsDir).filter((d) => d.startsWith(hostRunId));
    await waitFor(() => remoteProcesses().length === 0 && leases().length === 0, { timeoutMs: 30_000, what: `the part on lab2 to end and clear its lease after the control host died (left: ${leases().join(', ')})` }).catch((err: Error) => {
      throw new Error(`${err.message}; processes: ${JSON.stringify(remoteProcesses().map((p) => p.cmd))}; lease files: ${leases().map((d) => readdirSync(join(remoteRunsDir, d)).join(',')).join('; ')}`);
    });
  });
});
