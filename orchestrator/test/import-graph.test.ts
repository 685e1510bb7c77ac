/**
 * The import graph of orchestrator/src has no circle, between files or between folders
 * (report/ and nightly/ imported each other before the history index and run lookup moved
 * to results/). Pure logic over the source text: every relative `import ... from`,
 * `export ... from`, side-effect `import '...'` and dynamic `import('...')`; type-only
 * statements (`import type`, `export type`) are left out because they are erased at
 * compile time and never load a module. Lives at the top of test/ because it covers all
 * of src/, not one folder.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** Relative value imports of one TypeScript source, as absolute .ts paths. */
function valueImports(file: string, text: string): string[] {
  const specs: string[] = [];
  const statement = /^\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?'(\.{1,2}\/[^']+)'/gm;
  for (const m of text.matchAll(statement)) if (!m[1]) specs.push(m[2]!);
  for (const m of text.matchAll(/\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)) specs.push(m[1]!);
  return specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every circle of `graph` found by depth-first search, as paths [a, b, ..., a]. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const out: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open') out.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return out;
}

describe('import graph of orchestrator/src', () => {
  const files = new Map(sourceFiles(SRC).map((f) => [f, valueImports(f, readFileSync(f, 'utf8'))]));
  const folderOf = (f: string) => relative(SRC, f).split('/')[0]!;
  const folders = new Map<string, string[]>();
  for (const [f, deps] of files) {
    const from = folderOf(f);
    const to = [...new Set(deps.map(folderOf).filter((d) => d !== from))];
    folders.set(from, [...new Set([...(folders.get(from) ?? []), ...to])]);
  }

  it('reads the imports (sanity: known arrows are found, type-only ones are not)', () => {
    expect(files.get(join(SRC, 'nightly/baseline.ts'))).toContain(join(SRC, 'results/locate-run.ts'));
    expect(valueImports('/x/a.ts', "import type { A } from './b.js';\nimport {\n  c,\n  type D,\n} from '../c.js';\nexport * from './e.js';\nconst f = await import('./f.js');\n"))
      .toEqual(['/c.ts', '/x/e.ts', '/x/f.ts']);
    expect(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('has no circle between files', () => {
    expect(findCycles(files).map((c) => c.map((f) => relative(SRC, f)).join(' -> '))).toEqual([]);
  });

  it('has no circle between folders, and report/ does not import nightly/', () => {
    expect(findCycles(folders).map((c) => c.join(' -> '))).toEqual([]);
    expect(folders.get('report')).not.toContain('nightly');
  });
});
