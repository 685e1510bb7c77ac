/**
 * A host-placed fluidmem arm on an embedded Redis Cluster: every cluster node is pinned
 * with the benchmark and the monitor on host.cpu, and the run records it (host runs once
 * pinned a single Redis only, leaving cluster nodes to float). Real cluster, monitor and
 * pmbench-host.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { runExperiment } from '../../src/experiment/runner.js';
import { readResults } from '../../src/results/store.js';
import { isolatedRunDirs } from '../support/run-dirs.js';

const { resultsRoot, leftovers } = isolatedRunDirs();

describe('host arm on a Redis Cluster', () => {
  it('pins every cluster node with the benchmark and records it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fl-cfg-')), 'c.yaml');
    writeFileSync(file, `name: host-cluster
host: { cpu: last }
arms:
  - { name: cluster, kind: fluidmem, backend: redis, resident: 8M, placement: host, store: { kind: redis-cluster, masters: 3, replicas: 0 } }
workload: { pmbench: { duration: 1, setsize: 32M, pattern: uniform, ratio: 50 } }
repetitions: 1
`);
    const { summary, dir } = await runExperiment(loadConfig(file), { resultsRoot });
    expect(summary.failed, JSON.stringify(summary.runs)).toBe(0);
    const [run] = readResults(dir).runs;
    expect(run!.placement).toMatchObject({ workload: expect.stringMatching(/^cpu \d+$/) });
    expect(run!.placement!.monitor).toBe(run!.placement!.workload);
    expect(run!.placement!.redis).toBe(`${run!.placement!.workload} (all 3 cluster nodes)`);
    expect(run!.metrics['handler.remote_fetches']).toBeGreaterThan(0);
    // a host fluidmem arm: the handler floor was measured on the runs' CPU before them
    expect(summary.handlerFloor?.floor?.uffdProcessNs).toBeGreaterThan(0);
    expect(`cpu ${summary.handlerFloor!.floor!.cpu}`).toBe(run!.placement!.workload);
    expect(leftovers()).toEqual([]);
  }, 180_000);
});
