/**
 * `hosts:` and an arm's `host:` (config/hosts.ts): accepted shapes and defaults, and every
 * refusal as a FILE:LINE:COL line pointing at the offending YAML node.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configProblems } from '../support/config-problems.js';

const base = (hosts: string, arms: string) => [
  'name: lab',
  ...(hosts ? ['hosts:', hosts] : []),
  'arms:',
  arms,
  'workload:',
  '  pmbench: { setsize: 16M }',
  '',
].join('\n');

const LAB2 = '  - { name: lab2, ssh: { host: 10.0.0.12, identity: ~/.ssh/fluidlab } }';

describe('hosts: config', () => {
  it('accepts a control host and an SSH host, with defaults', () => {
    const c = parseConfig(base(`  - { name: local }\n${LAB2}`, '  - { name: dram, kind: none, placement: host }\n  - { name: fm, kind: fluidmem, backend: dram, resident: 8M, placement: host, host: lab2 }'), 'x.yaml');
    expect(c.hosts).toEqual([
      { name: 'local' },
      { name: 'lab2', ssh: { host: '10.0.0.12', port: 22, user: 'root', identity: '~/.ssh/fluidlab', work_dir: '/var/tmp/fluidlab-parts' } },
    ]);
    expect(c.arms.map((a) => a.host)).toEqual([undefined, 'lab2']);
  });

  it('refuses an unknown host with a suggestion, at the arm\'s host:', () => {
    expect(configProblems(base(`  - { name: local }\n${LAB2}`, '  - { name: dram, kind: none, placement: host, host: lab3 }'), 'x.yaml'))
      .toEqual(["x.yaml:6:54: arms[0].host: 'lab3' is not a host of hosts: (did you mean 'lab2'? hosts: local, lab2)"]);
  });

  it('refuses an arm naming a host without hosts:', () => {
    expect(configProblems(base('', '  - { name: dram, kind: none, placement: host, host: lab2 }'), 'x.yaml'))
      .toEqual(["x.yaml:3:54: arms[0].host: arm 'dram' names host 'lab2', but the config has no hosts: list (add hosts: with a host of that name)"]);
  });

  it('refuses duplicate names, two control hosts, and an arm with no host when every host is SSH', () => {
    expect(configProblems(base(`  - { name: a }\n  - { name: a }`, '  - { name: dram, kind: none, placement: host }'), 'x.yaml')).toEqual([
      "x.yaml:4:13: hosts[1].name: duplicate host name 'a'",
      "x.yaml:4:5: hosts[1]: hosts 'a' and 'a' both lack ssh:; only one host is the control host (where up runs), give the others ssh:",
    ]);
    expect(configProblems(base(LAB2, '  - { name: dram, kind: none, placement: host }'), 'x.yaml'))
      .toEqual(["x.yaml:5:5: arms[0]: arm 'dram' has no host: and every host of hosts: has ssh: (no control host); name its host (lab2)"]);
  });

  it('refuses bad ssh: fields at their line', () => {
    expect(configProblems(base('  - { name: lab2, ssh: { host: 10.0.0.12, identity: k, port: 70000, root: opt/fl, usr: x } }', '  - { name: dram, kind: none, placement: host, host: lab2 }'), 'x.yaml')).toEqual([
      'x.yaml:3:62: hosts[0].ssh.port: Number must be less than or equal to 65535',
      'x.yaml:3:75: hosts[0].ssh.root: an absolute path on that host (/...)',
      "x.yaml:3:83: hosts[0].ssh.usr: unknown key 'usr' (did you mean 'user'?)",
    ]);
  });
});
