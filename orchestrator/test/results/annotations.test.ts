/**
 * The summary's reference comparison and emulation caveats, from fixture variants: the
 * values and ratios stored in summary.json (what `up --json` prints), and the terminal
 * lines `up` prints from them.
 */
import { describe, expect, it } from 'vitest';
import type { ReferenceConfig } from '../../src/config/schema.js';
import { armPlacements, emulationWarnings, formatEmulation } from '../../src/results/emulation.js';
import { compareReference, formatReference, unitScale } from '../../src/results/reference.js';
import { metricStats, summaryAnnotations } from '../../src/results/summarize.js';
import type { EmulationSummary, VariantSummary } from '../../src/results/types.js';

function variant(name: string, arm: string, avgNs: number[]): VariantSummary {
  return { variant: name, arm, runs: avgNs.length, failed: 0, metrics: { 'latency.ns.average': metricStats(avgNs), 'throughput.aps': metricStats(avgNs.map((x) => 1e9 / x)) } };
}

const VARIANTS: VariantSummary[] = [
  variant('fluidmem-redis', 'fluidmem-redis', [30_000, 32_000]),
  variant('fluidmem-dram', 'fluidmem-dram', [20_000, 20_000]),
  variant('swap-zram', 'swap-zram', [25_000, 27_000]),
  variant('swap-tmpfs', 'swap-tmpfs', [40_000]),
];

const SEED: ReferenceConfig = {
  name: 'FluidMem seed',
  metric: 'latency.ns.average',
  unit: 'us',
  values: {
    'fluidmem-redis': { value: 24.87, label: 'FluidMem (RAMCloud)' },
    'swap-zram': { value: 26.34, label: 'swap on pmem DRAM' },
  },
  ratios: [['fluidmem-redis', 'swap-zram'], ['fluidmem-dram', 'swap-zram'], ['fluidmem-redis', 'swap-tmpfs']],
};

const ARMS = [
  { name: 'fluidmem-redis', kind: 'fluidmem' as const },
  { name: 'fluidmem-dram', kind: 'fluidmem' as const, placement: 'guest' },
  { name: 'swap-zram', kind: 'swap' as const, placement: 'host' },
  { name: 'swap-tmpfs', kind: 'swap' as const, placement: 'guest' },
];

const EMU: EmulationSummary = {
  accelerator: 'tcg',
  userAccess: { guest: 250, host: 70, factor: 250 / 70, unit: 'ns', what: 'pmbench -p uniform -r 50 -j 1, 16 MiB working set, 3 s: average access latency' },
  kernelPath: { guest: 2.3, host: 0.1, factor: 23, unit: 's', what: 'dd bs=4k count=200000 if=/dev/zero of=/dev/null: wall time, median of 3' },
  cpu: { guest: 1, host: 1, pinned: true },
  note: 'n',
  warnings: [],
};

describe('reference comparison', () => {
  it('converts ns metrics to the reference unit and leaves other metrics alone', () => {
    expect(unitScale('latency.ns.average', 'us')).toBe(1e-3);
    expect(unitScale('latency.ns.p99', 'ns')).toBe(1);
    expect(unitScale('throughput.aps', 'us')).toBe(1);
  });

  it('sets our means beside the published values and computes each ratio twice', () => {
    const c = compareReference(VARIANTS, SEED);
    expect(c).toMatchObject({ name: 'FluidMem seed', metric: 'latency.ns.average', unit: 'us' });
    expect(c.rows).toEqual([
      { variant: 'fluidmem-redis', arm: 'fluidmem-redis', ours: 31, oursStdev: expect.closeTo(1.414, 3), reference: 24.87, label: 'FluidMem (RAMCloud)' },
      { variant: 'fluidmem-dram', arm: 'fluidmem-dram', ours: 20, oursStdev: 0, reference: null, label: null },
      { variant: 'swap-zram', arm: 'swap-zram', ours: 26, oursStdev: expect.closeTo(1.414, 3), reference: 26.34, label: 'swap on pmem DRAM' },
      { variant: 'swap-tmpfs', arm: 'swap-tmpfs', ours: 40, oursStdev: 0, reference: null, label: null },
    ]);
    expect(c.ratios).toEqual([
      { a: 'fluidmem-redis', b: 'swap-zram', variantA: 'fluidmem-redis', variantB: 'swap-zram', ours: 31 / 26, reference: 24.87 / 26.34 },
      // fluidmem-dram has no published value: the reference side of its ratio is missing.
      { a: 'fluidmem-dram', b: 'swap-zram', variantA: 'fluidmem-dram', variantB: 'swap-zram', ours: 20 / 26, reference: null },
      { a: 'fluidmem-redis', b: 'swap-tmpfs', variantA: 'fluidmem-redis', variantB: 'swap-tmpfs', ours: 31 / 40, reference: null },
    ]);
  });

  it('pairs variants with the same parameters and keeps a ratio whose arm has no results', () => {
    const vs = [
      variant('fluidmem-redis ratio=0', 'fluidmem-redis', [10_000]), variant('fluidmem-redis ratio=100', 'fluidmem-redis', [30_000]),
      variant('swap-zram ratio=0', 'swap-zram', [20_000]), variant('swap-zram ratio=100', 'swap-zram', [20_000]),
    ];
    const c = compareReference(vs, { ...SEED, ratios: [['fluidmem-redis', 'swap-zram'], ['fluidmem-dram', 'swap-zram']] });
    expect(c.ratios.map((r) => [r.variantA, r.variantB, r.ours, r.reference])).toEqual([
      ['fluidmem-redis ratio=0', 'swap-zram ratio=0', 0.5, 24.87 / 26.34],
      ['fluidmem-redis ratio=100', 'swap-zram ratio=100', 1.5, 24.87 / 26.34],
      ['fluidmem-dram', 'swap-zram ratio=0', null, null],
    ]);
  });

  it('prints the reference beside our mean with its label, and "-" for a missing side', () => {
    const text = formatReference(compareReference(VARIANTS, SEED)).join('\n');
    expect(text).toBe([
      'reference: FluidMem seed (latency.ns.average, in us)',
      'variant             ours us  reference us  reference label',
      '--------------  -----------  ------------  -------------------',
      'fluidmem-redis  31.00 ±1.41         24.87  FluidMem (RAMCloud)',
      'fluidmem-dram         20.00             -',
      'swap-zram       26.00 ±1.41         26.34  swap on pmem DRAM',
      'swap-tmpfs            40.00             -',
      '',
      'ratio                        ours  reference',
      '---------------------------  ----  ---------',
      'fluidmem-redis / swap-zram   1.19       0.94',
      'fluidmem-dram / swap-zram    0.77          -',
      'fluidmem-redis / swap-tmpfs  0.78          -',
    ].join('\n'));
  });
});

describe('emulation caveats', () => {
  it('records arms with placement defaulting to guest', () => {
    expect(armPlacements(ARMS).map((a) => `${a.name}:${a.kind}:${a.placement}`)).toEqual([
      'fluidmem-redis:fluidmem:guest', 'fluidmem-dram:fluidmem:guest', 'swap-zram:swap:host', 'swap-tmpfs:swap:guest']);
  });

  it('warns for guest fluidmem vs guest swap and for guest vs host, once per pair, only under TCG', () => {
    const arms = armPlacements(ARMS);
    const pairs: [string, string][] = [['fluidmem-redis', 'swap-tmpfs'], ['swap-tmpfs', 'fluidmem-redis'], ['fluidmem-redis', 'swap-zram'], ['fluidmem-redis', 'fluidmem-dram']];
    const w = emulationWarnings(arms, pairs, 'tcg', EMU);
    expect(w).toEqual([
      "fluidmem-redis vs swap-tmpfs (both in TCG guests): swap-tmpfs's swap path runs in the emulated guest kernel (kernel-path factor 23x) while fluidmem-redis's fault handler runs natively on the host; the ratio is flattered in fluidmem-redis's favour",
      'fluidmem-redis vs swap-zram: fluidmem-redis runs in a TCG guest (user-access factor 3.6x, kernel-path factor 23x) and swap-zram natively on the host; the ratio mostly measures the emulation',
    ]);
    expect(emulationWarnings(arms, pairs, 'kvm', EMU)).toEqual([]);
    // Without a probe the caveat stays, without the number.
    expect(emulationWarnings(arms, [['fluidmem-dram', 'swap-tmpfs']], 'tcg', undefined)[0]).toContain('(kernel-path factor not measured)');
  });

  it('stores arms, emulation with warnings and the reference in the summary (the --json content)', () => {
    const a = summaryAnnotations({ arms: ARMS, reference: SEED }, VARIANTS, 'tcg', EMU);
    const json = JSON.parse(JSON.stringify(a)) as typeof a;
    expect(json.arms).toHaveLength(4);
    expect(json.emulation?.userAccess?.factor).toBeCloseTo(3.571, 3);
    expect(json.emulation?.kernelPath).toMatchObject({ guest: 2.3, host: 0.1, factor: 23, unit: 's' });
    expect(json.emulation?.cpu).toEqual({ guest: 1, host: 1, pinned: true });
    // latencyRatios shows fluidmem x swap (4 pairs) and the reference adds fluidmem-dram / swap-zram, already among them.
    expect(json.emulation?.warnings.map((w) => w.split(':')[0])).toEqual([
      'fluidmem-redis vs swap-zram', 'fluidmem-redis vs swap-tmpfs (both in TCG guests)', 'fluidmem-dram vs swap-zram', 'fluidmem-dram vs swap-tmpfs (both in TCG guests)']);
    expect(json.reference?.ratios.map((r) => r.reference)).toEqual([24.87 / 26.34, null, null]);
    const none = summaryAnnotations({ arms: ARMS }, VARIANTS, 'host', undefined);
    expect(none).toEqual({ arms: armPlacements(ARMS) });
  });

  it('prints both factors, the CPU and the warnings', () => {
    const lines = formatEmulation({ emulation: { ...EMU, warnings: ['x vs y (both in TCG guests): ...'] } });
    expect(lines).toEqual([
      'emulation (tcg; guest (QEMU) and host pinned to CPU 1)',
      '  user-level access: guest 250 ns / host 70.0 ns = 3.6x  [pmbench -p uniform -r 50 -j 1, 16 MiB working set, 3 s: average access latency]',
      '  guest-kernel path: guest 2.300 s / host 0.100 s = 23x  [dd bs=4k count=200000 if=/dev/zero of=/dev/null: wall time, median of 3]',
      'warning: x vs y (both in TCG guests): ...',
    ]);
    expect(formatEmulation({ emulation: { ...EMU, userAccess: undefined, kernelPath: undefined, cpu: { guest: null, host: null, pinned: false }, skipped: 'emulation_probe: false in the config' } }))
      .toEqual(['emulation (tcg; not pinned): emulation_probe: false in the config']);
    expect(formatEmulation({})).toEqual([]);
  });
});
