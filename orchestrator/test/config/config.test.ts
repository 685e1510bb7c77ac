import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configProblems } from '../support/config-problems.js';

const good = `name: t
vms:
  - name: vm0
    memory: 256M
workload:
  command: [uname, -r]
`;

const problems = (src: string): string[] => configProblems(src);

describe('config', () => {
  it('accepts a minimal config and applies defaults', () => {
    const c = parseConfig(good, 'x.yaml');
    expect(c.vms[0]).toMatchObject({ name: 'vm0', memory: 256, vcpus: 1, accelerator: 'auto' });
    expect(c.vms[0]!.timeouts.boot).toBe(180_000);
    expect(c.arms).toEqual([{ name: 'dram', kind: 'none', placement: 'guest' }]);
  });

  it('names file:line:col and suggests a key for an unknown key', () => {
    const p = problems(good.replace('memory: 256M', 'memory: 256M\n    memroy: 1'));
    expect(p).toEqual(["x.yaml:5:5: vms[0].memroy: unknown key 'memroy' (did you mean 'memory'?)"]);
  });

  it('reports wrong types at the value', () => {
    expect(problems(good.replace('memory: 256M', 'memory: lots'))).toEqual([
      'x.yaml:4:13: vms[0].memory: expected a size such as 512M, 1G or a number of MiB, got "lots"',
    ]);
    expect(problems(good.replace('- name: vm0', '- name: vm0\n    vcpus: two'))).toEqual([
      'x.yaml:4:12: vms[0].vcpus: expected number, got string',
    ]);
  });

  it('reports a missing field at its parent', () => {
    expect(problems(good.replace('    memory: 256M\n', ''))).toEqual([
      'x.yaml:3:5: vms[0].memory: missing required field (expected number)',
    ]);
  });

  it('reports bad enum values with the allowed ones', () => {
    expect(problems(good.replace('memory: 256M', 'memory: 256M\n    accelerator: hvf'))).toEqual([
      "x.yaml:5:18: vms[0].accelerator: expected one of 'auto', 'kvm', 'tcg', got 'hvf'",
    ]);
  });

  it('reports YAML syntax errors with a position', () => {
    const p = problems('name: t\nvms: [\n');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^x\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('follows discriminated unions for unknown keys', () => {
    const src = `${good}arms:\n  - name: a\n    kind: swap\n    resident: 25%\n    swap_onn: tmpfs\n`;
    expect(problems(src)).toContain("x.yaml:11:5: arms[0].swap_onn: unknown key 'swap_onn' (did you mean 'swap_on'?)");
  });

  it('keeps run socket paths within the Unix limit', () => {
    const long = good.replace('name: t', `name: ${'e'.repeat(40)}`).replace('name: vm0', `name: ${'v'.repeat(20)}`);
    expect(problems(long)).toEqual([
      'x.yaml:3:11: vms[0].name: the experiment name and VM name together may have at most 56 characters (they name Unix socket paths); shorten one',
    ]);
  });

  it('requires a password for a TCP Redis', () => {
    expect(problems(`${good}redis:\n  url: redis://127.0.0.1:6379\n`)).toEqual([
      'x.yaml:8:3: redis.password_env: a TCP Redis needs a password: set password_env to the name of an environment variable holding it',
    ]);
  });
});

describe('orchestrate validate (CLI)', () => {
  it('prints one line with file:line per bad config and exits 1', async () => {
    const { execa } = await import('execa');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'fl-validate-'));
    const cases: Record<string, string> = {
      'type.yaml': good.replace('memory: 256M', 'memory: [1, 2]'),
      'unknown.yaml': good.replace('workload:', 'workloads: {}\nworkload:'),
      'missing.yaml': good.replace('name: t\n', ''),
      'syntax.yaml': 'name: t\nvms:\n  - name: vm0\n   memory: 1G\n',
    };
    for (const [name, src] of Object.entries(cases)) {
      const file = join(dir, name);
      writeFileSync(file, src);
      const r = await execa('node', ['orchestrator/bin/orchestrate.js', 'validate', file], { reject: false });
      expect(r.exitCode, name).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines, name).toHaveLength(1);
      expect(lines[0], name).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: `));
    }
    const ok = await execa('node', ['orchestrator/bin/orchestrate.js', 'validate', 'configs/quickstart.yaml'], { reject: false });
    expect(ok.exitCode).toBe(0);
  });
});

describe('config: emulation probe and reference block', () => {
  it('defaults the emulation probe on and accepts a reference block naming existing arms', () => {
    expect(parseConfig(good, 'x.yaml').emulation_probe).toBe(true);
    const src = `${good}emulation_probe: false
arms:
  - { name: fm, kind: fluidmem, backend: dram, resident: 25% }
  - { name: sw, kind: swap, resident: 25%, swap_on: tmpfs }
reference:
  name: seed
  values:
    fm: { value: 24.87, label: FluidMem }
    sw: { value: 26.34 }
  ratios: [[fm, sw]]
`;
    const c = parseConfig(src, 'x.yaml');
    expect(c.emulation_probe).toBe(false);
    expect(c.reference).toEqual({
      name: 'seed', metric: 'latency.ns.average', unit: 'us',
      values: { fm: { value: 24.87, label: 'FluidMem' }, sw: { value: 26.34 } },
      ratios: [['fm', 'sw']],
    });
  });

  it('names unknown arms of the reference block at their line', () => {
    const src = `${good}arms:
  - { name: fluidmem-redis, kind: fluidmem, backend: redis, resident: 25% }
  - { name: swap-tmpfs, kind: swap, resident: 25%, swap_on: tmpfs }
reference:
  name: seed
  values:
    fluidmem-redis: { value: 24.87 }
    swap-zram: { value: 26.34, label: swap on pmem DRAM }
  ratios:
    - [fluidmem-redis, swap-tmpf]
    - [fluidmem-redis, swap-tmpfs]
`;
    expect(problems(src)).toEqual([
      "x.yaml:14:16: reference.values.swap-zram: 'swap-zram' is not an arm of this experiment (arms: fluidmem-redis, swap-tmpfs)",
      "x.yaml:16:24: reference.ratios[0][1]: 'swap-tmpf' is not an arm of this experiment (did you mean 'swap-tmpfs'? arms: fluidmem-redis, swap-tmpfs)",
    ]);
  });

  it('checks the reference block\'s own keys and values', () => {
    const src = `${good}reference:\n  name: seed\n  values:\n    dram: { value: -1 }\n  ratioz: []\n`;
    const p = problems(src);
    expect(p).toContain("x.yaml:11:3: reference.ratioz: unknown key 'ratioz' (did you mean 'ratios'?)");
    expect(p).toContain('x.yaml:10:20: reference.values.dram.value: Number must be greater than 0');
  });
});
