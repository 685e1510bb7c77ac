/** Writes a run's results directory: config.yaml, runs/ID.json, logs/ID/, summary.json. */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SUMMARY_SCHEMA, type RunRecord, type Summary } from './types.js';

export class ResultsDir {
  readonly dir: string;

  constructor(root: string, readonly runId: string) {
    this.dir = resolve(root, runId);
    mkdirSync(join(this.dir, 'runs'), { recursive: true });
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
  }

  logDir(id: string): string {
    return join(this.dir, 'logs', id);
  }

  writeConfig(source: string): void {
    writeFileSync(join(this.dir, 'config.yaml'), source);
  }

  writeRun(record: RunRecord): string {
    const file = join('runs', `${record.id}.json`);
    writeFileSync(join(this.dir, file), `${JSON.stringify(record, null, 2)}\n`);
    return file;
  }

  writeSummary(summary: Omit<Summary, 'schema'>): Summary {
    const full: Summary = { schema: SUMMARY_SCHEMA, ...summary };
    writeFileSync(join(this.dir, 'summary.json'), `${JSON.stringify(full, null, 2)}\n`);
    return full;
  }
}

/** Reads results/RUN-ID (or a path) back. */
export function readResults(dir: string): { summary: Summary; runs: RunRecord[] } {
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
  const runs = readdirSync(join(dir, 'runs')).filter((f) => f.endsWith('.json')).sort()
    .map((f) => JSON.parse(readFileSync(join(dir, 'runs', f), 'utf8')) as RunRecord);
  return { summary, runs };
}
