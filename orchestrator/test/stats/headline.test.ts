/**
 * The config's `headline:` key (config/schema.ts, read by stats/headline.ts): defaults, one
 * pair or a list of pairs, arms checked with FILE:LINE errors, and a results directory's
 * config.yaml read back the same way.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { DEFAULT_HEADLINE, headlineFromConfig, headlineFromConfigText, readHeadline } from '../../src/stats/headline.js';

const tmp = mkdtempSync(join(tmpdir(), 'fluidlab-headline-cfg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const BASE = `name: hl
vms:
  - name: vm0
    memory: 256M
arms:
  - { name: fluidmem-redis, kind: fluidmem, backend: redis, resident: 64M }
  - { name: swap-tmpfs, kind: swap, resident: 96M, swap_on: tmpfs, swap_size: 256M }
workload:
  pmbench: { duration: 1, setsize: 128M }
`;

function load(extra: string) {
  const file = join(tmp, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, BASE + extra);
  return { file, load: () => loadConfig(file) };
}

describe('headline config', () => {
  it('defaults to average latency and throughput, 3 repetitions, pairs from the summary', () => {
    expect(headlineFromConfig(load('').load().config.headline)).toEqual(DEFAULT_HEADLINE);
    expect(DEFAULT_HEADLINE).toMatchObject({ metrics: ['latency.ns.average', 'throughput.aps'], minRepetitions: 3, source: 'default' });
    expect(DEFAULT_HEADLINE.compare).toBeUndefined();
  });

  it('takes one pair or a list of pairs, metrics and min_repetitions', () => {
    const one = load('headline:\n  compare: [fluidmem-redis, swap-tmpfs]\n  min_repetitions: 5\n').load().config.headline;
    expect(headlineFromConfig(one)).toEqual({ metrics: ['latency.ns.average', 'throughput.aps'], compare: [['fluidmem-redis', 'swap-tmpfs']], minRepetitions: 5, source: 'config' });
    const many = load('headline:\n  metrics: [latency.ns.p99]\n  compare: [[fluidmem-redis, swap-tmpfs], [swap-tmpfs, fluidmem-redis]]\n').load().config.headline;
    expect(headlineFromConfig(many)).toMatchObject({ metrics: ['latency.ns.p99'], compare: [['fluidmem-redis', 'swap-tmpfs'], ['swap-tmpfs', 'fluidmem-redis']] });
  });

  it('refuses an unknown arm, one repetition and unknown keys at FILE:LINE', () => {
    const bad = load('headline:\n  compare: [fluidmem-rdis, swap-tmpfs]\n  min_repetitions: 1\n  metric: [x]\n');
    let err: ConfigError | undefined;
    try { bad.load(); } catch (e) { err = e as ConfigError; }
    expect(err).toBeInstanceOf(ConfigError);
    const text = err!.problems.join('\n');
    expect(text).toMatch(new RegExp(`${bad.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: headline`));
    expect(text).toMatch(/headline\.min_repetitions: .*2/);
    expect(text).toMatch(/metric/);
    // The arm check runs once the shape is valid.
    const arm = load('headline:\n  compare: [fluidmem-rdis, swap-tmpfs]\n');
    expect(() => arm.load()).toThrow(/:11:\d+: headline\.compare\[0\]: 'fluidmem-rdis' is not an arm of this experiment \(did you mean 'fluidmem-redis'\?/);
  });

  it("reads a results directory's config.yaml, and falls back to the default", () => {
    expect(headlineFromConfigText(`${BASE}headline:\n  metrics: [throughput.aps]\n`)).toMatchObject({ metrics: ['throughput.aps'], source: 'config' });
    expect(headlineFromConfigText('headline: {metrics: []}\n')).toEqual(DEFAULT_HEADLINE);
    expect(headlineFromConfigText(': not yaml [')).toEqual(DEFAULT_HEADLINE);
    expect(readHeadline(join(tmp, 'no-such-run'))).toEqual(DEFAULT_HEADLINE);
  });
});
