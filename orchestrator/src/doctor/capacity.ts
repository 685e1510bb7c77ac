/**
 * `orchestrate doctor CONFIG`: whether this host has the memory and disk the experiment
 * needs (experiment/preflight.ts, the same judgement `up` makes before it starts anything).
 */
import type { ExperimentConfig } from '../config/schema.js';
import { preflight } from '../experiment/preflight.js';
import type { Check } from './checks.js';

/** The capacity check of `config` with results under `resultsDir`: what each resource's
 * largest run needs and what is available; a failure names every resource that is short. */
export function capacityCheck(config: ExperimentConfig, resultsDir: string): Check {
  const r = preflight(config, resultsDir);
  const lines = r.ok ? r.summary : r.problems;
  return {
    name: 'capacity',
    ok: r.ok,
    required: true,
    detail: `${config.name}: ${r.ok ? 'fits this host' : 'does not fit this host'}\n${lines.map((l) => `  ${l}`).join('\n')}`,
    fix: r.ok ? undefined : 'free memory or disk, shrink the experiment (guest memory, working set, swap_size, repetitions), or run it on a larger host',
    data: r,
  };
}
