/**
 * The docs match the tree: README.md's and ARCHITECTURE.md's "Layout" sections name every
 * folder of orchestrator/src, and ARCHITECTURE.md names no orchestrator folder that does
 * not exist (it once drew a compare/). Pure logic over the files; at the top of test/
 * because it covers all of src/, not one folder.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(REPO, 'orchestrator/src');
const folders = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory()).sort();

/** The text of `## NAME` up to the next `## ` heading. */
function section(file: string, name: string): string {
  const text = readFileSync(join(REPO, file), 'utf8');
  const start = text.indexOf(`\n## ${name}\n`);
  if (start < 0) throw new Error(`${file} has no '## ${name}' section`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

describe('docs name the folders of orchestrator/src', () => {
  it.each(['README.md', 'ARCHITECTURE.md'])('%s "Layout" lists every folder', (file) => {
    const layout = section(file, 'Layout');
    expect(folders.filter((f) => !new RegExp(`\\b${f}/`).test(layout))).toEqual([]);
  });

  it('ARCHITECTURE.md names no orchestrator folder that does not exist', () => {
    const text = readFileSync(join(REPO, 'ARCHITECTURE.md'), 'utf8');
    // Folder-like words `name/` that are not a path's middle or end (orchestrator/src/x/...).
    const named = [...text.matchAll(/(?<![\w./-])([a-z][a-z-]*)\/(?![\w-])/g)].map((m) => m[1]!);
    const known = new Set([...folders, 'orchestrator', 'helpers', 'workloads', 'vm-images', 'configs', 'scripts', 'bench', 'results', 'test', 'support', 'src']);
    expect([...new Set(named.filter((n) => !known.has(n) && !existsSync(join(REPO, n))))]).toEqual([]);
  });
});
