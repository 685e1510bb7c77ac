/** Preflight (pure, fake host facts): each run's memory, /dev/shm and disk needs against
 * what the host has; the message says who needs how much and what is available. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import {
  checkPreflight, HOST_HEADROOM_MIB, memAvailableMiB, QEMU_OVERHEAD_MIB, readHostCapacity, REDIS_BYTES_PER_PAGE, runNeeds, type HostCapacity, type PreflightIO,
} from '../../src/experiment/preflight.js';
import { expandRuns } from '../../src/experiment/expand.js';

const GiB = 1024;
const roomy: HostCapacity = {
  memAvailableMiB: 64 * GiB,
  shm: { path: '/dev/shm', freeMiB: 32 * GiB, dev: 1 },
  vartmp: { path: '/var/tmp', freeMiB: 100 * GiB, dev: 2 },
  results: { path: '/lab/results', freeMiB: 100 * GiB, dev: 2 },
};

const config = (arms: string, memory = '4G', workload = '  pmbench:\n    setsize: 3G') => parseConfig(`name: p
vms:
  - name: vm0
    memory: ${memory}
arms:
${arms}
workload:
${workload}
`, 'p.yaml');

describe('preflight', () => {
  it('counts only resident pages of a fluidmem guest, and the evicted rest in Redis at ~5.2 KB a page', () => {
    const c = config('  - { name: fm, kind: fluidmem, backend: redis, resident: 1G }');
    const needs = runNeeds(expandRuns(c)[0]!);
    const mem = needs.filter((n) => n.resource === 'memory');
    expect(mem.find((n) => n.what.includes('resident pages'))?.mib).toBe(1024);
    // 3 GiB evicted = 786432 pages at 5200 bytes.
    expect(mem.find((n) => n.what.includes('Redis store'))?.mib).toBeCloseTo((786432 * REDIS_BYTES_PER_PAGE) / 2 ** 20, 6);
    expect(needs.some((n) => n.resource !== 'memory')).toBe(false);
    expect(checkPreflight(c, roomy).ok).toBe(true);
  });

  it('judges only the runs of this host: an SSH lab host\'s runs need that host\'s memory', () => {
    const src = (on: string) => `name: p
hosts:
  - { name: here }
  - { name: lab2, ssh: { host: 10.0.0.2, user: root, identity: /k, root: /opt/fluidlab } }
arms:
  - { name: small, kind: none, placement: host }
  - { name: big, kind: fluidmem, backend: redis, resident: 1G, placement: host, host: ${on} }
workload:
  pmbench: { setsize: 8G }
`;
    const small = { ...roomy, memAvailableMiB: 10 * GiB };
    expect(checkPreflight(parseConfig(src('here'), 'p.yaml'), small).ok).toBe(false);
    expect(checkPreflight(parseConfig(src('lab2'), 'p.yaml'), small).ok).toBe(true);
  });

  it('refuses a run that does not fit the available memory, saying what needs how much', () => {
    const c = config('  - { name: dram, kind: none }\n  - { name: fm, kind: fluidmem, backend: dram, resident: 1G }');
    const r = checkPreflight(c, { ...roomy, memAvailableMiB: 3 * GiB });
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(1);
    // The all-DRAM guest needs its 4 GiB plus QEMU; the fluidmem one about as much.
    expect(r.problems[0]).toMatch(new RegExp(`^memory: run 00[12]-\\S+ needs 4\\.\\d+G \\(guest vm0: QEMU itself ${QEMU_OVERHEAD_MIB}M; guest vm0: .*\\); available: 2\\.75G \\(MemAvailable 3G less ${HOST_HEADROOM_MIB} MiB for the host\\)$`));
  });

  it('the new user\'s 900T guest is refused by the host even before geometry would be', () => {
    const c = config('  - { name: dram, kind: none }', '900T', '  command: [uname]');
    const r = checkPreflight(c, roomy);
    expect(r.problems).toEqual([expect.stringMatching(/^memory: run 001-dram-r1 needs 900T .*RAM 900T.*; available: 63\.75G/)]);
  });

  it('tmpfs swap files count against memory and /dev/shm; disk swap files against /var/tmp', () => {
    const c = config('  - { name: st, kind: swap, resident: 1G, swap_on: tmpfs, swap_size: 4G }\n  - { name: sn, kind: swap, resident: 1G, swap_on: nbd, swap_size: 3G }\n  - { name: sd, kind: swap, resident: 1G, swap_on: disk, swap_size: 8G }');
    const [st, sn, sd] = expandRuns(c).map((run) => runNeeds(run));
    expect(st!.filter((n) => n.resource === 'shm').map((n) => n.mib)).toEqual([4096]);
    expect(st!.filter((n) => n.resource === 'memory').map((n) => n.mib)).toEqual([QEMU_OVERHEAD_MIB, 1024, 4096]);
    expect(sn!.filter((n) => n.resource === 'shm').map((n) => [n.what, n.mib])).toEqual([['guest vm0: swap file on /dev/shm (NBD export)', 3072]]);
    expect(sd!.filter((n) => n.resource === 'vartmp').map((n) => n.mib)).toEqual([8192]);
    expect(sd!.some((n) => n.resource === 'shm')).toBe(false);

    const r = checkPreflight(c, { ...roomy, shm: { ...roomy.shm, freeMiB: 3 * GiB }, vartmp: { path: '/var/tmp', freeMiB: 6 * GiB, dev: 3 } });
    expect(r.problems).toEqual([
      '/dev/shm: run 001-st-r1 needs 4G (guest vm0: swap file on /dev/shm 4G); free there: 3G',
      'disk /var/tmp: needs 8G (run 003-sd-r1: guest vm0: swap file on /var/tmp 8G); free there: 6G',
    ]);
  });

  it('adds the results of all runs to swap files on the same filesystem', () => {
    const c = parseConfig(`name: p
vms: [{ name: vm0, memory: 1G }]
arms: [{ name: sd, kind: swap, resident: 256M, swap_on: disk, swap_size: 1G }]
workload: { command: [uname] }
repetitions: 10
`, 'p.yaml');
    const r = checkPreflight(c, { ...roomy, vartmp: { path: '/var/tmp', freeMiB: 1100, dev: 2 }, results: { path: '/lab/results', freeMiB: 1100, dev: 2 } });
    expect(r.problems).toEqual(['disk /var/tmp (with /lab/results): needs 1.16G (run 001-sd-r1: guest vm0: swap file on /var/tmp 1G; results of 10 run(s) at ~16 MiB each 160M under /lab/results); free there: 1.07G']);
  });

  it('host-placed arms count the working set, not the guest', () => {
    const c = parseConfig(`name: h
arms:
  - { name: fm, kind: fluidmem, backend: dram, resident: 1G, placement: host }
  - { name: sz, kind: swap, resident: 1G, swap_on: zram, placement: host }
workload: { pmbench: { setsize: 4G } }
`, 'h.yaml');
    const [fm, sz] = expandRuns(c).map((run) => runNeeds(run));
    expect(fm!.filter((n) => n.resource === 'memory').map((n) => n.what)).toEqual([
      'host benchmark (4G working set): resident limit', 'host benchmark (4G working set): handler DRAM store of 3G evicted', 'host benchmark (4G working set): handler metadata', 'handler and store processes',
    ]);
    expect(sz!.map((n) => [n.resource, n.mib])).toEqual([['memory', 1024], ['memory', 4096]]);
    expect(checkPreflight(c, { ...roomy, memAvailableMiB: 4 * GiB }).problems).toEqual([expect.stringMatching(/^memory: run 002-sz-r1 needs 5G /)]);
  });

  it('reads MemAvailable and free space through its I/O wrapper, from the nearest existing directory', () => {
    expect(memAvailableMiB('MemTotal: 100 kB\nMemAvailable:    2097152 kB\n')).toBe(2048);
    expect(() => memAvailableMiB('MemTotal: 1 kB\n')).toThrow(/no MemAvailable/);
    const seen: string[] = [];
    const io: PreflightIO = {
      meminfo: () => 'MemAvailable: 1048576 kB\n',
      statfs: (p) => { seen.push(p); return { bavail: 1000, bsize: 1 << 20 }; },
      dev: (p) => { if (p.startsWith('/lab/new')) throw new Error('ENOENT'); return p === '/dev/shm' ? 9 : 2; },
      cpus: () => 3,
    };
    const host = readHostCapacity('/lab/new/results', io);
    expect(host).toEqual({
      memAvailableMiB: 1024,
      shm: { path: '/dev/shm', freeMiB: 1000, dev: 9 },
      vartmp: { path: '/var/tmp', freeMiB: 1000, dev: 2 },
      results: { path: '/lab/new/results', freeMiB: 1000, dev: 2 },
      cpus: 3,
    });
    expect(seen).toEqual(['/dev/shm', '/var/tmp', '/lab']);
  });
});
