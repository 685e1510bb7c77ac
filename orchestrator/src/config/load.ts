/**
 * Loads a YAML experiment config and validates it. Every problem becomes one line
 * `FILE:LINE:COL: PATH: MESSAGE`, pointing at the offending node in the YAML source;
 * warnings of a valid config (config/geometry.ts) become `FILE:LINE:COL: PATH: warning: ...`.
 */
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { geometryIssues } from './geometry.js';
import { configSchema, type ExperimentConfig } from './schema.js';
import { closest } from './suggest.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly file: string, readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export interface LoadedConfig {
  file: string;
  source: string;
  config: ExperimentConfig;
  /** Problems that do not stop a run, one `FILE:LINE:COL: PATH: warning: ...` line each. */
  warnings: string[];
}

type Path = (string | number)[];

function formatPath(path: Path): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '') || '(top level)';
}

/** The deepest YAML node that exists along `path` (a missing field points at its parent). */
function nodeAt(doc: Document, path: Path): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (node && typeof node === 'object' && 'range' in node) return node as Node;
  }
  return doc.contents ?? undefined;
}

/** The key node of `key` inside the map at `path` (for unknown-key errors). */
function keyNodeAt(doc: Document, path: Path, key: string): Node | undefined {
  const map = doc.getIn(path, true);
  if (!isMap(map)) return undefined;
  for (const item of map.items) {
    if (isPair(item) && isScalar(item.key) && String(item.key.value) === key) return item.key;
  }
  return undefined;
}

/** The keys a schema allows at `path` of `data`, following objects, arrays, defaults and unions. */
function allowedKeys(schema: z.ZodTypeAny, path: Path, data: unknown): string[] {
  let s: z.ZodTypeAny = schema;
  let d: unknown = data;
  const unwrap = () => {
    for (;;) {
      if (s instanceof z.ZodDefault) s = s._def.innerType;
      else if (s instanceof z.ZodOptional) s = s._def.innerType;
      else if (s instanceof z.ZodEffects) s = s._def.schema;
      else if (s instanceof z.ZodDiscriminatedUnion) {
        const disc = (d as Record<string, unknown> | undefined)?.[s._def.discriminator];
        const option = s._def.optionsMap.get(disc as never) as z.ZodTypeAny | undefined;
        if (!option) return;
        s = option;
      } else return;
    }
  };
  unwrap();
  for (const p of path) {
    if (s instanceof z.ZodArray && typeof p === 'number') s = s._def.type;
    else if (s instanceof z.ZodObject && typeof p === 'string') s = s.shape[p];
    else return [];
    d = (d as Record<string | number, unknown> | undefined)?.[p];
    if (!s) return [];
    unwrap();
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function describeIssue(issue: z.ZodIssue): string {
  if (issue.code === z.ZodIssueCode.invalid_type) {
    return issue.received === 'undefined' ? `missing required field (expected ${issue.expected})` : `expected ${issue.expected}, got ${issue.received}`;
  }
  if (issue.code === z.ZodIssueCode.invalid_enum_value) return `expected one of ${issue.options.map((o) => `'${String(o)}'`).join(', ')}, got '${String(issue.received)}'`;
  if (issue.code === z.ZodIssueCode.invalid_union_discriminator) return `expected one of ${issue.options.map((o) => `'${String(o)}'`).join(', ')}`;
  if (issue.code === z.ZodIssueCode.invalid_literal) return `expected ${JSON.stringify(issue.expected)}, got ${JSON.stringify(issue.received)}`;
  if (issue.code === z.ZodIssueCode.invalid_union) {
    // Report the most specific branch error (e.g. "a size or a list of sizes").
    const inner = issue.unionErrors.flatMap((e) => e.issues).find((i) => i.code !== z.ZodIssueCode.invalid_type) ?? issue.unionErrors[0]?.issues[0];
    return inner ? describeIssue(inner) : issue.message;
  }
  return issue.message;
}

/** Parses and validates a config; throws ConfigError with every problem at FILE:LINE:COL. */
export function parseConfig(source: string, file: string): ExperimentConfig {
  return parseConfigWithWarnings(source, file).config;
}

/** parseConfig, plus the warnings of a valid config at FILE:LINE:COL. */
export function parseConfigWithWarnings(source: string, file: string): { config: ExperimentConfig; warnings: string[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number | undefined) => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => `${where(e.pos[0])}: invalid YAML: ${e.message.split('\n')[0]}`));
  }
  const data: unknown = doc.toJS();
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(file, [`${where(0)}: (top level): expected a mapping with name, vms and workload`]);
  }
  const result = configSchema.safeParse(data);
  if (result.success) {
    const warnings = geometryIssues(result.data).filter((g) => g.severity === 'warning')
      .map((g) => `${where(nodeAt(doc, g.path)?.range?.[0])}: ${formatPath(g.path)}: warning: ${g.message}`);
    return { config: result.data, warnings };
  }

  const problems = result.error.issues.flatMap((issue) => {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      const allowed = allowedKeys(configSchema, issue.path, data);
      return issue.keys.map((key) => {
        const hint = closest(key, allowed);
        const options = hint ? `did you mean '${hint}'?` : `allowed: ${allowed.join(', ')}`;
        return `${where(keyNodeAt(doc, issue.path, key)?.range?.[0])}: ${formatPath([...issue.path, key])}: unknown key '${key}' (${options})`;
      });
    }
    return [`${where(nodeAt(doc, issue.path)?.range?.[0])}: ${formatPath(issue.path)}: ${describeIssue(issue)}`];
  });
  throw new ConfigError(file, problems);
}

export function loadConfig(file: string): LoadedConfig {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`${file}: cannot read config: ${(err as Error).message}`]);
  }
  return { file, source, ...parseConfigWithWarnings(source, file) };
}
