/**
 * Integration (real QEMU, real qemu-storage-daemon): a swap-nbd arm boots a guest whose
 * swap disk is an NBD export on 127.0.0.1, the guest swaps over it during pmbench, and
 * no daemon, QEMU or swap file is left afterwards.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { runExperiment } from '../../src/experiment/runner.js';
import { isolatedRunDirs } from '../support/run-dirs.js';
import { readResults } from '../../src/results/store.js';

const { runsDir, resultsRoot, leftovers } = isolatedRunDirs();

describe('swap over NBD', () => {
  it('the guest swaps to a qemu-storage-daemon export, which is gone afterwards', async () => {
    const cfg = join(mkdtempSync(join(tmpdir(), 'fl-cfg-')), 'c.yaml');
    const src = readFileSync('configs/test-tiny.yaml', 'utf8')
      .replace(/arms:[\s\S]*?workload:/, 'arms:\n  - { name: swap-nbd, kind: swap, resident: 96M, swap_on: nbd, swap_size: 256M }\nworkload:');
    writeFileSync(cfg, src);
    const { summary, dir } = await runExperiment(loadConfig(cfg), { resultsRoot });
    expect(summary.failed, JSON.stringify(summary.runs)).toBe(0);
    const [run] = readResults(dir).runs;
    expect(run!.arm).toMatchObject({ name: 'swap-nbd', kind: 'swap', swapOn: 'nbd', residentMiB: 96 });
    expect(run!.metrics['guest.vmstat.pswpout']).toBeGreaterThan(1000);
    expect(run!.metrics['guest.vmstat.pswpin']).toBeGreaterThan(1000);
    expect(run!.metrics['latency.ns.average']).toBeGreaterThan(0);
    // The daemon logged into the run directory, archived with the run's logs.
    expect(existsSync(join(dir, 'logs', run!.id, 'nbd.log'))).toBe(true);
    expect(leftovers()).toEqual([]);
    expect(readdirSync(runsDir)).toEqual([]);
    expect(existsSync('/dev/shm/fluidlab') ? readdirSync('/dev/shm/fluidlab').filter((f) => f.startsWith(summary.runId)) : []).toEqual([]);
  });
});
