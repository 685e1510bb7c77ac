import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { describeTimeline, timelineArms } from '../../src/config/timeline.js';

const base = `name: t
vms:
  - name: vm0
    memory: 256M
arms:
  - { name: fm, kind: fluidmem, backend: redis, resident: 64M }
  - { name: fmd, kind: fluidmem, backend: dram, resident: 64M }
  - { name: sw, kind: swap, resident: 128M, swap_on: tmpfs }
workload:
  pmbench: { duration: 30, setsize: 32M }
timeline:
`;

function problems(timeline: string): string[] {
  try {
    parseConfig(base + timeline, 'x.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('config was accepted');
}

describe('timeline config', () => {
  it('parses every action kind into ms and MiB', () => {
    const c = parseConfig(`${base}  - { at: 0, resize: 1M, arms: [fm] }
  - { at: 10s, balloon: 64M, arms: [sw] }
  - { at: 500ms, store: pause, for: 2s }
  - { at: 12, exec: [uname, -r], timeout: 30s }
`, 'x.yaml');
    expect(c.timeline).toEqual([
      { atMs: 0, kind: 'resize', mib: 1, arms: ['fm'] },
      { atMs: 10_000, kind: 'balloon', mib: 64, arms: ['sw'] },
      { atMs: 500, kind: 'store', op: 'pause', forMs: 2000 },
      { atMs: 12_000, kind: 'exec', argv: ['uname', '-r'], timeoutMs: 30_000 },
    ]);
    expect(Math.round(c.timeline[0]!.kind === 'resize' ? c.timeline[0]!.mib * 256 : 0)).toBe(256);
  });

  it('defaults to no timeline', () => {
    expect(parseConfig(base.replace('timeline:\n', ''), 'x.yaml').timeline).toEqual([]);
  });

  it('reports malformed actions at their line and column', () => {
    expect(problems('  - { at: soon, resize: 1M }\n')).toEqual([
      'x.yaml:12:11: timeline[0].at: expected a time such as 10s, 500ms or a number of seconds, got "soon"',
    ]);
    expect(problems('  - { at: 1s }\n')).toEqual(['x.yaml:12:5: timeline[0]: an action needs one of: resize, balloon, store, exec']);
    expect(problems('  - { at: 1s, resize: 1M, balloon: 2M }\n')).toEqual([
      'x.yaml:12:5: timeline[0]: one action per entry (got resize and balloon): split it into entries at the same time',
    ]);
    expect(problems('  - at: 1s\n    store: pause\n')).toEqual(['x.yaml:13:12: timeline[0].store: store: pause needs for: (how long, e.g. 2s)']);
    expect(problems('  - at: 1s\n    resize: 1M\n    for: 2s\n')).toEqual(['x.yaml:14:10: timeline[0].for: for: applies to store: pause only']);
    expect(problems('  - at: 1s\n    resize: none\n')).toEqual(['x.yaml:13:13: timeline[0].resize: expected a size such as 1M, 64M or 4K, got "none"']);
    expect(problems('  - at: 1s\n    resise: 1M\n')).toEqual([
      "x.yaml:13:5: timeline[0].resise: unknown key 'resise' (did you mean 'resize'?)",
      'x.yaml:12:5: timeline[0]: an action needs one of: resize, balloon, store, exec',
    ]);
  });

  it('names an unknown key with a suggestion', () => {
    const p = problems('  - at: 1s\n    resize: 1M\n    arm: [fm]\n');
    expect(p).toEqual(["x.yaml:14:5: timeline[0].arm: unknown key 'arm' (did you mean 'arms'?)"]);
  });

  it('checks actions against the arms at file:line', () => {
    expect(problems('  - at: 1s\n    resize: 1M\n    arms: [fm, sw]\n')).toEqual([
      "x.yaml:14:16: timeline[0].arms[1]: arm 'sw': resize changes the fault handler's resident limit: fluidmem arms only (use balloon for the others)",
    ]);
    expect(problems('  - at: 1s\n    balloon: 1M\n    arms: [fn]\n')).toEqual([
      "x.yaml:14:12: timeline[0].arms[0]: 'fn' is not an arm of this experiment (did you mean 'fm'? arms: fm, fmd, sw)",
    ]);
    expect(problems('  - at: 1s\n    store: pause\n    for: 1s\n    arms: [fmd]\n')).toEqual([
      "x.yaml:15:12: timeline[0].arms[0]: arm 'fmd': store: pause pauses the Redis store: fluidmem arms with backend: redis only",
    ]);
    // the swap arm's guest has only its resident limit, 128 MiB
    expect(problems('  - at: 1s\n    balloon: 200M\n')).toEqual([
      "x.yaml:13:14: timeline[0].balloon: 200 MiB is above the guest memory of arm 'sw' (128 MiB): a balloon can only take memory back",
    ]);
  });

  it('refuses an action no arm can take', () => {
    const swapOnly = base.replace(/  - \{ name: fm.*\n  - \{ name: fmd.*\n/, '');
    let p: string[] = [];
    try { parseConfig(`${swapOnly}  - { at: 1s, resize: 1M }\n`, 'x.yaml'); } catch (err) { p = (err as ConfigError).problems; }
    expect(p).toEqual(['x.yaml:10:23: timeline[0].resize: no arm of this experiment can take this action: it needs a guest-placed fluidmem arm']);
  });

  it('describes the timeline for --dry-run, in time order, with the arms of each action', () => {
    const c = parseConfig(`${base}  - { at: 20s, resize: 64M }
  - { at: 10s, resize: 1M, arms: [fm] }
  - { at: 10s, balloon: 1M, arms: [sw] }
`, 'x.yaml');
    expect(describeTimeline(c.timeline, timelineArms(c.arms, c.vms))).toEqual([
      't+10s    resize handler resident limit to 1 MiB (256 pages) per guest [arms: fm]',
      't+10s    balloon each guest to 1 MiB [arms: sw]',
      't+20s    resize handler resident limit to 64 MiB (16384 pages) per guest [arms: fm, fmd]',
    ]);
  });
});
