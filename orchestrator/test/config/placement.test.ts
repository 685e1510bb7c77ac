/** cpus: placement (config/placement.ts): parsing, file:line errors, resolution against a
 * host's CPU count, and preflight refusing a CPU the host lacks. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { resolveCpuSet, resolvePlacement } from '../../src/config/placement.js';
import { checkPreflight } from '../../src/experiment/preflight.js';
import { configProblems } from '../support/config-problems.js';

const base = (extra: string, armExtra = '') => `name: t
vms: [{ name: vm0, memory: 64M }]
arms:
  - { name: fm, kind: fluidmem, backend: dram, resident: 32M${armExtra} }
workload: { command: ["true"] }
${extra}`;

describe('cpus: placement', () => {
  it('accepts numbers, lists, ranges, last and float, top level and per arm', () => {
    const c = parseConfig(base('cpus: { vcpus: 0, emulator: "0,1", monitor: last, store: float }\n', ', cpus: { monitor: "0-1" }'), 'x.yaml');
    expect(c.cpus).toEqual({ vcpus: 0, emulator: '0,1', monitor: 'last', store: 'float' });
    const arm = c.arms[0]!;
    expect(arm.cpus).toEqual({ monitor: '0-1' });
    // the arm's keys win, the others come from the top level
    expect(resolvePlacement(c.cpus, arm, 2)).toEqual({ vcpus: [0], emulator: [0, 1], monitor: [0, 1], store: undefined });
  });

  it('names a bad value and an unknown key at their line', () => {
    expect(configProblems(base('cpus:\n  vcpus: first\n'))).toEqual([
      expect.stringMatching(/^x\.yaml:7:\d+: cpus\.vcpus: /),
    ]);
    const unknown = configProblems(base('cpus:\n  monitr: 1\n'));
    expect(unknown).toEqual(["x.yaml:7:3: cpus.monitr: unknown key 'monitr' (did you mean 'monitor'?)"]);
  });

  it('resolves against the host and refuses CPUs it does not have', () => {
    expect(resolveCpuSet('last', 4, 'cpus.vcpus')).toEqual([3]);
    expect(resolveCpuSet('float', 4, 'cpus.vcpus')).toBeUndefined();
    expect(resolveCpuSet('2,0-1', 4, 'cpus.vcpus')).toEqual([0, 1, 2]);
    expect(() => resolveCpuSet(3, 2, 'arms.fm.cpus.monitor')).toThrow('arms.fm.cpus.monitor: CPU 3 is not a CPU of this host (it has 2: 0-1)');
    // the default: a guest's whole fault path on the last CPU
    expect(resolvePlacement(undefined, undefined, 2)).toEqual({ vcpus: [1], emulator: [1], monitor: [1], store: [1] });
  });

  it('preflight refuses a placement on a CPU the host lacks, naming where it was asked for', () => {
    const c = parseConfig(base('', ', cpus: { vcpus: 5 }'), 'x.yaml');
    const space = { path: '/x', freeMiB: 1e6, dev: 1 };
    const r = checkPreflight(c, { memAvailableMiB: 1e6, shm: space, vartmp: space, results: space, cpus: 2 });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(['cpu placement: arms.fm.cpus.vcpus: CPU 5 is not a CPU of this host (it has 2: 0-1)']);
    expect(checkPreflight(c, { memAvailableMiB: 1e6, shm: space, vartmp: space, results: space, cpus: 8 }).ok).toBe(true);
  });
});
