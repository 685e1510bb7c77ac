/**
 * The report's reference and emulation sections, from a fixture results directory whose
 * summary carries the annotations `up` stores (summaryAnnotations): our mean beside the
 * published value with its label, each ratio from both sides ("-" when a published value is
 * missing), both emulation factors and the warning for a guest swap vs guest fluidmem ratio.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../src/report/build.js';
import { summaryAnnotations } from '../../src/results/summarize.js';
import type { EmulationSummary, Summary } from '../../src/results/types.js';
import { writeFixtureRun } from '../support/report-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'fluidlab-report-annot-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const EMU: EmulationSummary = {
  accelerator: 'tcg',
  userAccess: { guest: 252, host: 70, factor: 3.6, unit: 'ns', what: 'pmbench -p uniform -r 50 -j 1, 16 MiB working set, 3 s: average access latency' },
  kernelPath: { guest: 2.3, host: 0.1, factor: 23, unit: 's', what: 'dd bs=4k count=200000 if=/dev/zero of=/dev/null: wall time, median of 3' },
  cpu: { guest: 1, host: 1, pinned: true },
  note: 'probe method note',
  warnings: [],
};

function annotatedRun(runId: string, withEmulation: boolean): string {
  const { dir, summary } = writeFixtureRun({ root: tmp, runId, variants: [
    { variant: 'fluidmem-redis', arm: 'fluidmem-redis', kind: 'fluidmem', metrics: { 'latency.ns.average': [30_000, 32_000] } },
    { variant: 'swap-tmpfs', arm: 'swap-tmpfs', kind: 'swap', metrics: { 'latency.ns.average': [40_000, 40_000] } },
  ] });
  const extra = summaryAnnotations({
    arms: [{ name: 'fluidmem-redis', kind: 'fluidmem' }, { name: 'swap-tmpfs', kind: 'swap' }],
    reference: {
      name: 'FluidMem seed (KVM guest)', metric: 'latency.ns.average', unit: 'us',
      values: { 'fluidmem-redis': { value: 24.87, label: 'FluidMem (RAMCloud)' } },
      ratios: [['fluidmem-redis', 'swap-tmpfs']],
    },
  }, summary.variants, 'tcg', withEmulation ? EMU : undefined);
  const full: Summary = { ...summary, ...extra };
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(full));
  return dir;
}

describe('report: reference and emulation sections', () => {
  it('sets the published value beside our mean and shows both ratios and both factors', async () => {
    const html = readFileSync(await writeReport({ runDir: annotatedRun('run-annot', true) }), 'utf8');
    expect(html).toContain('<a href="#reference">Beside the published reference</a>');
    expect(html).toContain('FluidMem seed (KVM guest): <code>latency.ns.average</code> in us');
    expect(html).toContain('<tr><td class="metric">fluidmem-redis</td><td>31.00 ±1.41</td><td>24.87</td><td class="metric">FluidMem (RAMCloud)</td></tr>');
    expect(html).toContain('<tr><td class="metric">swap-tmpfs</td><td>40.00</td><td>-</td><td class="metric"></td></tr>');
    // Ours 31/40; the reference has no swap-tmpfs value, so its side is "-".
    expect(html).toContain('<tr><td class="metric">fluidmem-redis / swap-tmpfs</td><td>0.78</td><td>-</td></tr>');
    expect(html).toContain('<td><strong>3.6x</strong></td>');
    expect(html).toContain('<td><strong>23x</strong></td>');
    expect(html).toContain('guest (QEMU, all threads) and host pinned to CPU 1');
    expect(html).toMatch(/<div class="banner bad">fluidmem-redis vs swap-tmpfs \(both in TCG guests\): swap-tmpfs&#39;s swap path runs in the emulated guest kernel \(kernel-path factor 23x\)/);
  });

  it('leaves the sections out when the summary has neither', async () => {
    const { dir } = writeFixtureRun({ root: tmp, runId: 'run-plain', variants: [
      { variant: 'dram', arm: 'dram', kind: 'none', metrics: { 'latency.ns.average': [100] } }] });
    const html = readFileSync(await writeReport({ runDir: dir }), 'utf8');
    expect(html).not.toContain('id="reference"');
    expect(html).not.toContain('id="emulation"');
  });

  it('shows the handler floor a host fluidmem run measured, and leaves it out otherwise', async () => {
    const dir = annotatedRun('run-floor', false);
    const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
    expect(readFileSync(await writeReport({ runDir: dir }), 'utf8')).not.toContain('id="handler-floor"');
    s.handlerFloor = { floor: { cpu: 1, pages: 2048, kernelFaultNs: 10_000, uffdProcessNs: 35_000, uffdThreadNs: 15_000 } };
    writeFileSync(join(dir, 'summary.json'), JSON.stringify(s));
    const html = readFileSync(await writeReport({ runDir: dir }), 'utf8');
    expect(html).toContain('<a href="#handler-floor">Handler floor on this host</a>');
    expect(html).toContain('userfaultfd round trip to another process 35.0 us (3.5x)');
  });

  it('says when the probe did not run, and still warns', async () => {
    const dir = annotatedRun('run-noprobe', false);
    const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
    // summaryAnnotations adds no emulation block without a probe result; a skipped probe records one.
    expect(s.emulation).toBeUndefined();
    s.emulation = { ...EMU, userAccess: undefined, kernelPath: undefined, cpu: { guest: null, host: null, pinned: false }, skipped: 'emulation_probe: false in the config',
      warnings: summaryAnnotations({ arms: s.arms! }, s.variants, 'tcg', { ...EMU, userAccess: undefined, kernelPath: undefined }).emulation!.warnings };
    writeFileSync(join(dir, 'summary.json'), JSON.stringify(s));
    const html = readFileSync(await writeReport({ runDir: dir }), 'utf8');
    expect(html).toContain('<span class="bad">emulation_probe: false in the config</span>');
    expect(html).toContain('<td colspan="4" class="metric muted">not measured</td>');
    expect(html).toContain('(kernel-path factor not measured)');
  });
});
