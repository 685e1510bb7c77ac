/**
 * The results-root rule (results/root.ts) as pure logic: flag > FLUIDLAB_RESULTS_DIR >
 * the config's results_dir > 'results', empty values skipped, relative paths against the
 * current directory (never the config file's). The commands that use it are tested in
 * test/cli/results-root.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { describeSource, resolveResultsRoot } from '../../src/results/root.js';

const cwd = '/work/lab';

describe('resolveResultsRoot', () => {
  it('takes the first given of flag, variable, config, default', () => {
    const env = { FLUIDLAB_RESULTS_DIR: '/env/results' };
    const config = { results_dir: '/config/results' };
    expect(resolveResultsRoot({ flag: '/flag/results', env, config, cwd })).toEqual({ dir: '/flag/results', source: 'flag' });
    expect(resolveResultsRoot({ env, config, cwd })).toEqual({ dir: '/env/results', source: 'env' });
    expect(resolveResultsRoot({ env: {}, config, cwd })).toEqual({ dir: '/config/results', source: 'config' });
    expect(resolveResultsRoot({ env: {}, cwd })).toEqual({ dir: '/work/lab/results', source: 'default' });
  });

  it('skips empty values (FLUIDLAB_RESULTS_DIR= is unset)', () => {
    expect(resolveResultsRoot({ flag: '', env: { FLUIDLAB_RESULTS_DIR: '' }, config: { results_dir: '' }, cwd }))
      .toEqual({ dir: '/work/lab/results', source: 'default' });
  });

  it('resolves relative paths from every source against the current directory', () => {
    expect(resolveResultsRoot({ flag: 'out', env: {}, cwd }).dir).toBe('/work/lab/out');
    expect(resolveResultsRoot({ env: { FLUIDLAB_RESULTS_DIR: '../shared' }, cwd }).dir).toBe('/work/shared');
    // A config's relative results_dir is not relative to configs/: the default 'results'
    // and an explicit 'results' in configs/x.yaml name the same directory.
    expect(resolveResultsRoot({ env: {}, config: { results_dir: 'results' }, cwd }).dir).toBe('/work/lab/results');
  });

  it('reads process.env and process.cwd() when not given', () => {
    const prev = process.env.FLUIDLAB_RESULTS_DIR;
    process.env.FLUIDLAB_RESULTS_DIR = 'from-env';
    try {
      expect(resolveResultsRoot()).toEqual({ dir: `${process.cwd()}/from-env`, source: 'env' });
    } finally {
      if (prev === undefined) delete process.env.FLUIDLAB_RESULTS_DIR;
      else process.env.FLUIDLAB_RESULTS_DIR = prev;
    }
  });

  it('names each source for messages', () => {
    expect(['flag', 'env', 'config', 'default'].map((s) => describeSource(s as 'flag'))).toEqual(
      ['--results-dir', 'FLUIDLAB_RESULTS_DIR', "the config's results_dir", 'the default']);
  });
});
