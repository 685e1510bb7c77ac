/** The report's "Pages across masters" section (report/cluster.ts): rows from the
 * redis.master.I.* metrics, a rendered stacked-bar SVG, absent without a cluster arm. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../src/report/build.js';
import { clusterSection, masterRows } from '../../src/report/cluster.js';
import { noisy, writeFixtureRun } from '../support/report-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'fluidlab-report-cluster-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const single = { variant: 'redis', arm: 'redis', kind: 'fluidmem' as const, metrics: { 'latency.ns.average': noisy(3000, 2), 'redis.keys': [30000, 30010] } };
const cluster = {
  variant: 'cluster', arm: 'cluster', kind: 'fluidmem' as const, metrics: {
    'latency.ns.average': noisy(3200, 2), 'redis.keys': [30000, 30000],
    'redis.master.0.keys': [10200, 10000], 'redis.master.1.keys': [9600, 9800], 'redis.master.2.keys': [10200, 10200],
    'redis.master.0.used_memory': [52e6, 51e6], 'redis.master.0.commands': [41000, 40000], 'redis.master.0.slots': [5461, 5461],
  },
};

describe('Pages across masters', () => {
  it('gives each master of a cluster variant its mean keys and share', () => {
    const { summary } = writeFixtureRun({ root: join(tmp, 'r'), runId: 'rows', variants: [single, cluster] });
    const rows = masterRows(summary);
    expect(rows.map((r) => [r.variant, r.master, r.keys])).toEqual([['cluster', 0, 10100], ['cluster', 1, 9700], ['cluster', 2, 10200]]);
    expect(rows.reduce((s, r) => s + r.share, 0)).toBeCloseTo(1, 9);
    expect(rows[0]).toMatchObject({ usedMemory: 51.5e6, commands: 40500, slots: 5461 });
    expect(rows[1]!.usedMemory).toBeUndefined();
  });

  it('is a section of the report with a stacked bar chart and a table, only when a variant has a cluster', async () => {
    const { dir } = writeFixtureRun({ root: join(tmp, 'r'), runId: 'with-cluster', variants: [single, cluster] });
    const html = readFileSync(await writeReport({ runDir: dir }), 'utf8');
    expect(html).toContain('Pages across masters');
    const { summary: withCluster } = writeFixtureRun({ root: join(tmp, 'r'), runId: 'with-cluster-2', variants: [single, cluster] });
    const section = (await clusterSection(withCluster))!;
    expect(html).toContain(section);
    // Three bar segments (one per master) in the rendered SVG, and the table rows.
    expect(section.match(/aria-roledescription="bar"/g)).toHaveLength(3);
    expect(section).toContain('<td>cluster</td><td>1</td><td>9,700</td><td>32.3%</td>');
    const { dir: plain } = writeFixtureRun({ root: join(tmp, 'r'), runId: 'no-cluster', variants: [single] });
    expect(readFileSync(await writeReport({ runDir: plain }), 'utf8')).not.toContain('Pages across masters');
    const { summary } = writeFixtureRun({ root: join(tmp, 'r'), runId: 'none', variants: [single] });
    expect(await clusterSection(summary)).toBeUndefined();
  });
});
