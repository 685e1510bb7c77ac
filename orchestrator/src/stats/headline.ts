/**
 * The headline of an experiment: what its config is about. Its metrics are the only ones a
 * comparison with a baseline gives verdicts for (stats/compare.ts: "worse" there is a
 * regression and the nightly's exit code 1); every other metric is shown as informational.
 * Its arm pairs are the ratio the report puts first (report/headline.ts).
 *
 * From the config's `headline:` key (config/schema.ts):
 *   headline:
 *     metrics: [latency.ns.average, throughput.aps]   # the default
 *     compare: [fluidmem-redis, swap-tmpfs]            # or a list of pairs
 *     min_repetitions: 3                               # per side, the default
 * Without `compare`, the pairs are the reference block's ratios (summary.reference), else
 * the first fluidmem arm over the first swap arm. A results directory carries the config as
 * run (config.yaml), so compare and report read the headline from there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { headlineSchema, type HeadlineConfig } from '../config/schema.js';
import type { Summary, VariantSummary } from '../results/types.js';

export const DEFAULT_HEADLINE_METRICS = ['latency.ns.average', 'throughput.aps'];
export const DEFAULT_MIN_REPETITIONS = 3;

export interface HeadlineSpec {
  metrics: string[];
  /** Arm pairs [a, b] for the ratio a / b; undefined: derive from the summary. */
  compare?: [string, string][];
  /** Fewest repetitions per side for a verdict (below it: "not enough runs"). */
  minRepetitions: number;
  /** 'config' when the config has a headline: key, else 'default'. */
  source: 'config' | 'default';
}

export const DEFAULT_HEADLINE: HeadlineSpec = { metrics: DEFAULT_HEADLINE_METRICS, minRepetitions: DEFAULT_MIN_REPETITIONS, source: 'default' };

/** The spec of a validated config's headline key (the default when absent). */
export function headlineFromConfig(h: HeadlineConfig | undefined): HeadlineSpec {
  if (!h) return DEFAULT_HEADLINE;
  const compare = h.compare === undefined ? undefined
    : typeof h.compare[0] === 'string' ? [h.compare as [string, string]] : (h.compare as [string, string][]);
  return { metrics: h.metrics, ...(compare ? { compare } : {}), minRepetitions: h.min_repetitions, source: 'config' };
}

/** The headline of a config's YAML text (the results directory's config.yaml); the default
 * when the text is missing, has no headline key, or the key does not validate. */
export function headlineFromConfigText(text: string | undefined): HeadlineSpec {
  if (!text) return DEFAULT_HEADLINE;
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return DEFAULT_HEADLINE;
  }
  const raw = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).headline : undefined;
  if (raw === undefined) return DEFAULT_HEADLINE;
  const parsed = headlineSchema.safeParse(raw);
  return parsed.success ? headlineFromConfig(parsed.data) : DEFAULT_HEADLINE;
}

/** The headline of a results directory (from its config.yaml). */
export function readHeadline(runDir: string): HeadlineSpec {
  try {
    return headlineFromConfigText(readFileSync(join(runDir, 'config.yaml'), 'utf8'));
  } catch {
    return DEFAULT_HEADLINE;
  }
}

export interface HeadlinePair {
  a: string;
  b: string;
  variantA: VariantSummary;
  variantB: VariantSummary;
}

/** The part of a variant name after its arm ("" for a single-variant arm). */
function suffix(v: VariantSummary): string {
  return v.variant.startsWith(v.arm) ? v.variant.slice(v.arm.length) : v.variant;
}

/** The arm pairs of the headline (config, else reference ratios, else first fluidmem arm over
 * first swap arm), each expanded to its variant pairs with the same parameters. */
export function headlinePairs(spec: HeadlineSpec, summary: Summary): HeadlinePair[] {
  const kindOf = new Map((summary.arms ?? []).map((a) => [a.name, a.kind]));
  const arms = [...new Set(summary.variants.map((v) => v.arm))];
  const isKind = (arm: string, kind: string) => (kindOf.get(arm) ?? (arm.includes(kind) ? kind : undefined)) === kind;
  let pairs: [string, string][] = spec.compare ?? [];
  if (!spec.compare) {
    const ref = summary.reference?.ratios.map((r): [string, string] => [r.a, r.b]) ?? [];
    if (ref.length) pairs = ref;
    else {
      const fm = arms.find((a) => isKind(a, 'fluidmem'));
      const sw = arms.find((a) => isKind(a, 'swap'));
      pairs = fm && sw ? [[fm, sw]] : [];
    }
  }
  const seen = new Set<string>();
  return pairs.flatMap(([a, b]) => {
    if (seen.has(`${a}\u0000${b}`)) return [];
    seen.add(`${a}\u0000${b}`);
    const va = summary.variants.filter((v) => v.arm === a);
    const vb = summary.variants.filter((v) => v.arm === b);
    return va.flatMap((x) => vb.filter((y) => suffix(y) === suffix(x)).map((y) => ({ a, b, variantA: x, variantB: y })));
  });
}
