/**
 * Issue 10's guest check: a TCG guest whose RAM the handler evicts to an embedded 3-master,
 * 3-replica Redis Cluster runs memverify at 8x the resident limit through `runExperiment`:
 * zero mismatches, the run's pages spread over all three masters (each >= 20%), every SET
 * acknowledged by a replica (WAIT rounds, few repeated after a timeout), and nothing left running.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { runExperiment } from '../../src/experiment/runner.js';
import { isolatedRunDirs } from '../support/run-dirs.js';

const { resultsRoot, leftovers } = isolatedRunDirs();

describe('a guest on a Redis Cluster pool', () => {
  it('memverify at 8x overcommit: zero mismatches, pages on all three masters, replicas acknowledged', async () => {
    const cfg = join(mkdtempSync(join(tmpdir(), 'fl-cfg-')), 'cluster-guest.yaml');
    writeFileSync(cfg, `name: cluster-guest
vms:
  - { name: vm0, memory: 320M, vcpus: 1, timeouts: { boot: 150s, command: 600s } }
arms:
  - { name: cluster, kind: fluidmem, backend: redis, resident: 24M, store: { kind: redis-cluster, masters: 3, replicas: 1 } }
workload:
  memverify: { size: 192M, passes: 2 }
emulation_probe: false
`);
    const { records } = await runExperiment(loadConfig(cfg), { resultsRoot });
    const r = records[0]!;
    expect(r.status, r.error).toBe('ok');
    const m = r.metrics;
    expect(m['memverify.mismatches']).toBe(0);
    expect(m['memverify.pages']).toBe(192 * 256);
    expect(m['handler.evictions']).toBeGreaterThan(7 * 24 * 256); // the working set went through the pool
    expect(m['redis.masters']).toBe(3);
    for (const i of [0, 1, 2]) expect(m[`redis.master.${i}.keys_share`]).toBeGreaterThanOrEqual(0.2);
    expect(m['handler.cluster.replicas']).toBe(3);
    expect(m['handler.cluster.wait_rounds']).toBeGreaterThan(0);
    // a WAIT that times out is sent again (the page stays buffered): most must not need it
    expect(m['handler.cluster.wait_timeouts']).toBeLessThan(m['handler.cluster.wait_rounds']! / 2);
    expect(leftovers()).toEqual([]);
  }, 900_000);
});
