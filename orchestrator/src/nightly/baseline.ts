/**
 * The baseline a nightly run is compared with: an explicit run (id or directory), the pinned
 * run (results/baseline-pinned.EXPERIMENT or results/baseline-pinned: a run id), or the last
 * good run (latest history entry of the experiment that finished ok without regression).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readHistory } from '../results/history.js';
import { resolveRunRef } from '../results/locate-run.js';

export type BaselineSpec = 'last-good' | 'pinned' | { run: string };

export class BaselineError extends Error {
  override name = 'BaselineError';
}

/** --baseline as typed: 'last-good' (also when absent), 'pinned', or a run reference. */
export function parseBaselineSpec(value: string | undefined): BaselineSpec {
  if (value === undefined || value === 'last-good') return 'last-good';
  if (value === 'pinned') return 'pinned';
  return { run: value };
}

/** The pin file that applies to `experiment` under `root` (per-experiment first), if any. */
export function pinnedFile(root: string, experiment: string): string | undefined {
  return [join(root, `baseline-pinned.${experiment}`), join(root, 'baseline-pinned')].find((f) => existsSync(f));
}

/** The baseline's results directory, or undefined when there is none yet (first night). */
export function resolveBaseline(spec: BaselineSpec, experiment: string, root: string): string | undefined {
  if (spec === 'last-good') {
    const good = readHistory(root).filter((e) => e.experiment === experiment && e.status === 'ok' && e.verdict !== 'regression');
    for (let i = good.length - 1; i >= 0; i--) {
      const dir = join(root, good[i]!.runId);
      if (existsSync(join(dir, 'summary.json'))) return dir;
    }
    return undefined;
  }
  if (spec === 'pinned') {
    const file = pinnedFile(root, experiment);
    if (!file) {
      throw new BaselineError(`no pinned baseline: write a run id into ${join(root, `baseline-pinned.${experiment}`)} (or ${join(root, 'baseline-pinned')}), or use --baseline last-good`);
    }
    const id = readFileSync(file, 'utf8').trim();
    if (!id) throw new BaselineError(`${file} is empty: write the run id of the baseline into it`);
    return resolvePinned(id, root, file);
  }
  return resolveRunRef(spec.run, root);
}

function resolvePinned(id: string, root: string, file: string): string {
  try {
    return resolveRunRef(id, root);
  } catch (err) {
    throw new BaselineError(`pinned baseline '${id}' (from ${file}) not found: ${(err as Error).message}`);
  }
}
