/**
 * One results root for every command: `up` (--dry-run: no guest), `report`, `compare` and
 * `nightly` (--dry-run) see the same directory under each rule of results/root.ts: the
 * --results-dir flag (over a set FLUIDLAB_RESULTS_DIR), the variable (over the config),
 * and the config's results_dir. Three candidate roots each hold a real (synthetic) run of
 * the same experiment with a different run id, so the run `report` and `compare` find
 * says which root they read; `up` and `nightly` print the root they would write to.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { writeFixtureRun } from '../support/report-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'fluidlab-roots-'));
const roots = { flag: join(tmp, 'flag-root'), env: join(tmp, 'env-root'), config: join(tmp, 'config-root') };
const config = join(tmp, 'roots-demo.yaml');
const prevEnv = process.env.FLUIDLAB_RESULTS_DIR;

beforeAll(() => {
  // configs/hello.yaml (one tiny guest; never booted here) with a results_dir.
  const hello = readFileSync(join(process.cwd(), 'configs/hello.yaml'), 'utf8').replace(/^name: hello$/m, 'name: roots-demo');
  writeFileSync(config, `${hello}results_dir: ${roots.config}\n`);
  for (const [where, root] of Object.entries(roots)) {
    writeFixtureRun({ root, runId: `run-in-${where}`, experiment: 'roots-demo', variants: [
      { variant: 'dram', arm: 'dram', kind: 'none', metrics: { 'latency.ns.average': [100, 101, 99], 'throughput.aps': [1e6, 1.01e6, 0.99e6] } },
    ] });
  }
});

afterEach(() => {
  vi.restoreAllMocks();
  if (prevEnv === undefined) delete process.env.FLUIDLAB_RESULTS_DIR;
  else process.env.FLUIDLAB_RESULTS_DIR = prevEnv;
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI in-process; returns the exit code and everything written to stdout. */
async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { chunks.push(`${a.map(String).join(' ')}\n`); });
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => { chunks.push(String(c)); return true; });
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const code = await main(argv);
  vi.restoreAllMocks();
  return { code, out: chunks.join('') };
}

/** The root each command uses, observed from its output. */
async function rootsSeen(flag: string[]): Promise<Record<string, string>> {
  const up = await cli(['up', config, '--dry-run', ...flag]);
  expect(up.code, up.out).toBe(0);
  const nightly = await cli(['nightly', config, '--dry-run', ...flag]);
  expect(nightly.code, nightly.out).toBe(0);
  const report = await cli(['report', config, ...flag]);
  expect(report.code, report.out).toBe(0);
  const compare = await cli(['compare', config, config, '--json', ...flag]);
  expect(compare.code, compare.out).toBe(0);
  const printedRoot = (out: string) => /^results: (.*) \(from .*\)$/m.exec(out)?.[1] ?? `(no results line in: ${out})`;
  // report writes RUN-DIR/report.html and prints it; compare names the runs it compared.
  const reportRoot = report.out.trim().replace(/\/run-in-\w+\/report\.html$/, '');
  const compared = JSON.parse(compare.out) as { a: { runId: string }; b: { runId: string } };
  expect(compared.a.runId).toBe(compared.b.runId);
  const root = Object.entries(roots).find(([w]) => compared.a.runId === `run-in-${w}`)?.[1] ?? `(unknown run ${compared.a.runId})`;
  return { up: printedRoot(up.out), nightly: printedRoot(nightly.out), report: reportRoot, compare: root };
}

const all = (dir: string) => ({ up: dir, nightly: dir, report: dir, compare: dir });

describe('the results root is the same for up, report, compare and nightly', () => {
  it('--results-dir wins over FLUIDLAB_RESULTS_DIR and the config', async () => {
    process.env.FLUIDLAB_RESULTS_DIR = roots.env;
    expect(await rootsSeen(['--results-dir', roots.flag])).toEqual(all(roots.flag));
    // The older spelling --results is the same flag.
    expect(await rootsSeen([`--results=${roots.flag}`])).toEqual(all(roots.flag));
  });

  it('FLUIDLAB_RESULTS_DIR wins over the config', async () => {
    process.env.FLUIDLAB_RESULTS_DIR = roots.env;
    expect(await rootsSeen([])).toEqual(all(roots.env));
  });

  it("the config's results_dir applies without flag and variable", async () => {
    delete process.env.FLUIDLAB_RESULTS_DIR;
    expect(await rootsSeen([])).toEqual(all(roots.config));
  });

  it('up and nightly say where the root came from', async () => {
    delete process.env.FLUIDLAB_RESULTS_DIR;
    const up = await cli(['up', config, '--dry-run']);
    expect(up.out).toContain(`results: ${roots.config} (from the config's results_dir)`);
    process.env.FLUIDLAB_RESULTS_DIR = roots.env;
    const nightly = await cli(['nightly', config, '--dry-run']);
    expect(nightly.out).toContain(`results: ${roots.env} (from FLUIDLAB_RESULTS_DIR)`);
    expect(nightly.out).toContain('baseline: none yet');
  });
});
