/**
 * Pure logic of lab hosts: which host runs which run and how variants name it
 * (hosts/plan.ts), the sub-config a host gets (hosts/sub-config.ts), and how a host's
 * record becomes the experiment's (hosts/merge.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { expandRuns } from '../../src/experiment/expand.js';
import { adoptRecord } from '../../src/hosts/merge.js';
import { labelVariant, planHosts, unlabelVariant } from '../../src/hosts/plan.js';
import { subConfigSource } from '../../src/hosts/sub-config.js';
import type { RunRecord } from '../../src/results/types.js';

const SOURCE = `# two hosts
name: lab
vms: [{ name: vm1, memory: 256M }]
hosts:
  - { name: local }
  - { name: lab2, ssh: { host: 10.0.0.12, identity: k } }
arms:
  - { name: dram, kind: none }
  # on the lab host
  - { name: fm, kind: fluidmem, backend: dram, resident: 64M, host: lab2 }
workload:
  pmbench: { setsize: 16M, ratio: [50, 90] }
repetitions: 2
headline: { compare: [fm, dram] }
timeline:
  - { at: 1s, resize: 4M, arms: [fm] }
  - { at: 2s, exec: ['true'], arms: [dram] }
`;

describe('lab host plan', () => {
  it('labels every variant with its host and splits the runs, keeping the experiment\'s ids', () => {
    const config = parseConfig(SOURCE, 'x.yaml');
    const plan = planHosts(config.hosts, expandRuns(config));
    expect(plan.local).toBe('local');
    expect(plan.localRuns.map((r) => `${r.id} ${r.variant}`)).toEqual([
      '001-dram-ratio-50-r1 dram@local ratio=50', '002-dram-ratio-50-r2 dram@local ratio=50',
      '003-dram-ratio-90-r1 dram@local ratio=90', '004-dram-ratio-90-r2 dram@local ratio=90',
    ]);
    expect(plan.remote.map((h) => [h.name, h.runs.map((r) => r.id)])).toEqual([['lab2', ['005-fm-ratio-50-r1', '006-fm-ratio-50-r2', '007-fm-ratio-90-r1', '008-fm-ratio-90-r2']]]);
    expect(unlabelVariant(labelVariant('fm ratio=50', 'fm', 'lab2'), 'fm', 'lab2')).toBe('fm ratio=50');
  });

  it('changes nothing without hosts:', () => {
    const config = parseConfig(SOURCE.replace(/hosts:\n(  - .*\n)+/, '').replace(', host: lab2', ''), 'x.yaml');
    const runs = expandRuns(config);
    expect(planHosts(config.hosts, runs)).toEqual({ local: undefined, localRuns: runs, remote: [], all: runs });
  });

  it('cuts a plain sub-config: only the host\'s arms, no hosts:, host:, headline:, and timeline actions of other arms dropped', () => {
    const sub = subConfigSource(SOURCE, ['fm']);
    expect(sub).toContain('# on the lab host');
    expect(sub).not.toMatch(/hosts:|host: lab2|headline|name: dram|exec:/);
    const config = parseConfig(sub, 'sub.yaml'); // an ordinary config again
    expect(config.arms.map((a) => a.name)).toEqual(['fm']);
    expect(config.timeline.map((a) => a.kind)).toEqual(['resize']);
    expect(expandRuns(config).map((r) => r.id)).toEqual(['001-fm-ratio-50-r1', '002-fm-ratio-50-r2', '003-fm-ratio-90-r1', '004-fm-ratio-90-r2']);
  });

  it('keeps what an alias names when the arm holding its anchor is cut', () => {
    const src = `name: t
hosts: [{ name: here }, { name: lab2, ssh: { host: 10.0.0.2, user: root, identity: /k } }]
arms:
  - { name: a, kind: fluidmem, backend: dram, resident: 16M, placement: host, cpus: &pin { monitor: last, store: last } }
  - { name: b, kind: fluidmem, backend: dram, resident: 16M, placement: host, host: lab2, cpus: *pin }
workload: { pmbench: { setsize: 64M } }
`;
    const sub = subConfigSource(src, ['b']);
    expect(sub).not.toMatch(/[&*]pin/);
    expect(parseConfig(sub, 'sub.yaml').arms.map((a) => [a.name, a.cpus])).toEqual([['b', { monitor: 'last', store: 'last' }]]);
  });

  it('adopts a host\'s record as the experiment\'s run with the same variant and repetition', () => {
    const config = parseConfig(SOURCE, 'x.yaml');
    const plan = planHosts(config.hosts, expandRuns(config));
    const theirs = { id: '004-fm-ratio-90-r2', runId: 'lab-B', variant: 'fm ratio=90', repetition: 2, status: 'failed', error: 'monitor died' } as RunRecord;
    const adopted = adoptRecord(theirs, plan.remote[0]!.runs, 'lab2', 'lab-A')!;
    expect(adopted.run.id).toBe('008-fm-ratio-90-r2');
    expect(adopted.record).toMatchObject({ id: '008-fm-ratio-90-r2', runId: 'lab-A', variant: 'fm@lab2 ratio=90', error: 'host lab2: monitor died', lab: { host: 'lab2', runId: 'lab-B', id: '004-fm-ratio-90-r2' } });
    expect(adoptRecord({ ...theirs, variant: 'dram ratio=90' }, plan.remote[0]!.runs, 'lab2', 'lab-A')).toBeUndefined();
  });
});
