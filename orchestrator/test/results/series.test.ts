import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSeries, seriesFileFor, writeSeries, type SeriesRow } from '../../src/results/series.js';

const dir = mkdtempSync(join(tmpdir(), 'fluidlab-series-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('run series file', () => {
  it('sits next to the run JSON: logs/ID -> runs/ID.series.jsonl', () => {
    expect(seriesFileFor('/r/exp-1/logs/001-fm-r1')).toBe('/r/exp-1/runs/001-fm-r1.series.jsonl');
  });

  it('writes JSON lines in time order and reads them back', () => {
    const file = join(dir, 'a.series.jsonl');
    const rows: SeriesRow[] = [
      { type: 'phase', t_ms: 956, phase: 'run' },
      { type: 'guest', t_ms: 0, vm: 'vm0', vmstat: { pswpin: 1 }, latency_ms: 30 },
      { type: 'action', t_ms: 500, index: 0, kind: 'resize', at_ms: 500, fired_ms: 500, ok: true, reached_ms: 12 },
    ];
    writeSeries(file, rows);
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')).toHaveLength(4);
    expect(text.endsWith('\n')).toBe(true);
    expect(readSeries(file).map((r) => r.t_ms)).toEqual([0, 500, 956]);
    expect(readSeries(file)[1]).toEqual(rows[2]);
  });

  it('reads a missing file as empty and names a bad line', () => {
    expect(readSeries(join(dir, 'none.jsonl'))).toEqual([]);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"type":"phase","t_ms":1,"phase":"run"}\n{oops\n');
    expect(() => readSeries(bad)).toThrow(`${bad}:2: not a JSON line`);
  });
});
