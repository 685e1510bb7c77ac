/**
 * CLI, real guest: `up --json` with stdout and stderr piped (no TTY) prints one progress
 * line on stderr as the run starts and one as it ends (run id, status, elapsed, time left),
 * no escape codes, and stdout stays one parseable JSON document.
 */
import { execa } from 'execa';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MAIN = join(process.cwd(), 'orchestrator/src/cli/main.ts');

describe('up without a TTY', () => {
  it('prints a line per run start and end on stderr; --json stdout stays parseable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-piped-'));
    const config = join(dir, 'piped.yaml');
    writeFileSync(config, 'name: piped\nvms:\n  - { name: vm0, memory: 256M, timeouts: { boot: 150s } }\narms:\n  - { name: dram, kind: none }\nworkload:\n  command: [uname, -r]\nemulation_probe: false\n');
    const runs = join(dir, 'runs');
    const r = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      `import { main } from ${JSON.stringify(MAIN)}; process.exitCode = await main(['up', ${JSON.stringify(config)}, '--json', '--results-dir', ${JSON.stringify(join(dir, 'results'))}]);`,
    ], { reject: false, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', env: { FLUIDLAB_RUNS_DIR: runs } });
    expect(r.exitCode, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { runs: { id: string; status: string }[] };
    expect(summary.runs).toEqual([expect.objectContaining({ id: '001-dram-r1', status: 'ok' })]);
    const progress = r.stderr.split('\n').filter((l) => l.startsWith('[1/1] '));
    expect(progress).toEqual([
      expect.stringMatching(/^\[1\/1\] 001-dram-r1: started · \d+s elapsed · time left unknown$/),
      expect.stringMatching(/^\[1\/1\] 001-dram-r1: ok in (\d+m)?\d+s · (\d+m)?\d+s elapsed · ~0s left$/),
    ]);
    expect(r.stderr).not.toMatch(/\x1b|\r/);
    expect(readdirSync(runs)).toEqual([]);
  });
});
