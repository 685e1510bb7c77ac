/** Impossible geometries are refused at validation, each at the YAML line that is wrong;
 * host-placed arms whose resident limit cannot bite only warn. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigWithWarnings } from '../../src/config/load.js';
import { configProblems } from '../support/config-problems.js';
import { GUEST_KERNEL_RESERVE_MIB } from '../../src/config/geometry.js';

const problems = (src: string): string[] => configProblems(src, 'g.yaml');

const yaml = (o: { memory?: string; arms: string; workload: string }) => `name: g
vms:
  - name: vm0
    memory: ${o.memory ?? '512M'}
arms:
${o.arms}
workload:
${o.workload}
`;

describe('config geometry', () => {
  it("refuses the new user's 900T guest, 2000T resident limit and 4000T working set", () => {
    expect(problems(yaml({
      memory: '900T',
      arms: '  - { name: fm, kind: fluidmem, backend: dram, resident: 2000T }',
      workload: '  pmbench:\n    setsize: 4000T',
    }))).toEqual([
      "g.yaml:9:14: workload.pmbench.setsize: workload.pmbench.setsize 4000T does not fit VM vm0's memory (900T, vms[0].memory): a working set gets at most the memory less 64 MiB for the guest kernel (900T); lower it or raise the VM's memory",
      "g.yaml:6:58: arms[0].resident: resident limit 2000T is above VM vm0's memory (900T, vms[0].memory): a guest cannot keep more resident than it has; lower resident or raise the VM's memory",
    ]);
  });

  it('leaves the guest kernel its reserve', () => {
    const at = (setsize: string) => yaml({ arms: '  - { name: dram, kind: none }', workload: `  pmbench:\n    setsize: ${setsize}` });
    expect(GUEST_KERNEL_RESERVE_MIB).toBe(64);
    expect(parseConfigWithWarnings(at('448M'), 'g.yaml').warnings).toEqual([]);
    expect(problems(at('449M'))).toEqual([
      "g.yaml:9:14: workload.pmbench.setsize: workload.pmbench.setsize 449M does not fit VM vm0's memory (512M, vms[0].memory): a working set gets at most the memory less 64 MiB for the guest kernel (448M); lower it or raise the VM's memory",
    ]);
    // memverify's size and each element of a list, at its own line.
    expect(problems(yaml({ arms: '  - { name: dram, kind: none }', workload: '  memverify:\n    size: 1G' }))[0]).toMatch(/^g\.yaml:9:11: workload\.memverify\.size: workload\.memverify\.size 1G does not fit/);
    expect(problems(yaml({ arms: '  - { name: dram, kind: none }', workload: '  pmbench:\n    setsize:\n      - 128M\n      - 2G' }))).toEqual([
      expect.stringMatching(/^g\.yaml:11:9: workload\.pmbench\.setsize\[1\]: workload\.pmbench\.setsize\[1\] 2G does not fit VM vm0's memory/),
    ]);
  });

  it('refuses a swap guest whose RAM plus swap disk cannot hold the working set', () => {
    expect(problems(yaml({
      arms: '  - { name: swap, kind: swap, resident: 96M, swap_on: tmpfs,\n      swap_size: 128M }',
      workload: '  pmbench:\n    setsize: 384M',
    }))).toEqual([
      "g.yaml:7:18: arms[0].swap_size: workload.pmbench.setsize 384M does not fit arm swap's guest on VM vm0: 96M of RAM plus 128M of swap, less 64 MiB for the guest kernel, holds 160M; raise swap_size",
    ]);
  });

  it('refuses a mapsize smaller than the setsize', () => {
    expect(problems(yaml({ memory: '1G', arms: '  - { name: dram, kind: none }', workload: '  pmbench:\n    setsize: 256M\n    mapsize: [512M, 128M]' }))).toEqual([
      "g.yaml:10:21: workload.pmbench.mapsize[1]: mapsize 128M is smaller than setsize 256M: pmbench's working set lives inside its mapping, so mapsize must be at least setsize",
    ]);
  });

  it('refuses sizes beyond what units can express', () => {
    expect(problems(yaml({ memory: '99999999T', arms: '  - { name: dram, kind: none }', workload: '  command: [uname]' }))).toEqual([
      'g.yaml:4:13: vms[0].memory: 99999999T is beyond what sizes can express here (at most 8192T, 2^53 bytes)',
    ]);
    expect(problems(yaml({ arms: '  - { name: fm, kind: fluidmem, backend: dram, resident: 1e300 }', workload: '  command: [uname]' }))).toEqual([
      expect.stringMatching(/^g\.yaml:6:58: arms\[0\]\.resident: .* is beyond what sizes can express here/),
    ]);
  });

  it('host-placed arms: the guest does not bound the working set; a resident limit at or above it warns', () => {
    const { config, warnings } = parseConfigWithWarnings(`name: h
arms:
  - { name: fm, kind: fluidmem, backend: dram, resident: 8G, placement: host }
  - { name: sw, kind: swap, resident: 1G, swap_on: zram, placement: host }
  - { name: all, kind: swap, resident: 100%, swap_on: tmpfs, placement: host }
workload:
  pmbench:
    setsize: 4G
`, 'h.yaml');
    expect(config.arms).toHaveLength(3);
    expect(warnings).toEqual([
      'h.yaml:3:58: arms[0].resident: warning: resident limit 8G is not below the working set (4G): arm fm would never evict',
      'h.yaml:5:40: arms[2].resident: warning: resident limit 100% is not below the working set (4G): arm all would never swap',
    ]);
  });

  it('the shipped configs have sane geometry', () => {
    for (const f of ['quickstart', 'test-tiny', 'integrity', 'seed-table', 'hello', 'host-tiny']) {
      expect(parseConfigWithWarnings(readFileSync(`configs/${f}.yaml`, 'utf8'), f).warnings, f).toEqual([]);
    }
  });
});
