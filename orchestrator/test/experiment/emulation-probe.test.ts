/**
 * Integration: the emulation probe boots a real all-DRAM guest (TCG here), runs pmbench and
 * dd in it and on the host pinned to one CPU, and leaves nothing running; small sizes keep
 * it short. The skip rules (probe disabled, every arm host-placed) boot nothing.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { hasGuestArms, probeCpu, probeEmulation, probePmbenchOptions } from '../../src/experiment/emulation-probe.js';
import { ensureImage } from '../../src/image/ensure.js';
import { defaultWorkloadsDir } from '../../src/image/paths.js';
import { resolveAccelerator } from '../../src/vm/launch.js';

const runsDir = mkdtempSync(join(tmpdir(), 'fluidlab-runs-'));
process.env.FLUIDLAB_RUNS_DIR = runsDir;
const logRoot = mkdtempSync(join(tmpdir(), 'fluidlab-emu-logs-'));

const CONFIG = `name: emu
vms:
  - name: vm0
    memory: 256M
    timeouts: { boot: 150s }
arms:
  - { name: fluidmem-dram, kind: fluidmem, backend: dram, resident: 64M }
  - { name: swap-tmpfs, kind: swap, resident: 96M, swap_on: tmpfs, swap_size: 256M }
workload:
  pmbench: { duration: 1, setsize: 128M, pattern: [normal, uniform], ratio: 70, jobs: 1 }
`;

/** QEMU processes started by this file (they inherit FLUIDLAB_RUNS_DIR). */
function ourQemus(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`FLUIDLAB_RUNS_DIR=${runsDir}`)) return [];
      return /qemu/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8')) ? [Number(pid)] : [];
    } catch { return []; }
  });
}

describe('emulation probe', () => {
  it('takes the experiment\'s pmbench pattern, ratio and jobs with a resident working set', () => {
    const config = parseConfig(CONFIG, 'emu.yaml');
    expect(probePmbenchOptions(config, 2)).toEqual({ durationSec: 2, setsizeMib: 16, mapsizeMib: 16, pattern: 'normal', shape: undefined, jobs: 1, ratio: 70, timestamp: undefined });
  });

  it('boots nothing when disabled or when every arm is host-placed', async () => {
    const off = parseConfig(`${CONFIG}emulation_probe: false\n`, 'emu.yaml');
    const r = await probeEmulation({ config: off, image: undefined, accelerator: 'tcg', runId: 'emu-off', logDir: join(logRoot, 'off') });
    expect(r?.skipped).toBe('emulation_probe: false in the config');
    expect(r?.userAccess).toBeUndefined();
    const host = parseConfig(CONFIG.replace(/resident: 64M \}/, 'resident: 64M, placement: host }').replace(/swap_size: 256M \}/, 'swap_size: 256M, placement: host }'), 'emu.yaml');
    expect(hasGuestArms(host)).toBe(false);
    expect(await probeEmulation({ config: host, image: undefined, accelerator: 'host', runId: 'emu-host', logDir: join(logRoot, 'host') })).toBeUndefined();
    expect(existsSync(join(logRoot, 'off'))).toBe(false);
  });

  it('measures both factors in a real guest and on the host, on one CPU, and cleans up', async () => {
    const config = parseConfig(CONFIG, 'emu.yaml');
    const image = await ensureImage({ workloadsDir: defaultWorkloadsDir });
    const { accelerator } = await resolveAccelerator(config.vms[0]!, image);
    const logDir = join(logRoot, 'real');
    const lines: string[] = [];
    const r = await probeEmulation({
      config, image, accelerator, runId: `emu-${process.pid}`, logDir, log: (l) => lines.push(l),
      sizes: { durationSec: 1, ddCount: 20_000, ddRepeats: 1 },
    });
    expect(r, lines.join('\n')).toBeDefined();
    expect(r!.skipped, lines.join('\n')).toBeUndefined();
    expect(r!.accelerator).toBe(accelerator);
    expect(r!.cpu).toEqual({ guest: probeCpu(), host: probeCpu(), pinned: true });
    for (const f of [r!.userAccess!, r!.kernelPath!]) {
      expect(f.guest).toBeGreaterThan(0);
      expect(f.host).toBeGreaterThan(0);
      expect(f.factor).toBeCloseTo(f.guest / f.host, 9);
    }
    expect(r!.userAccess).toMatchObject({ unit: 'ns', what: 'pmbench -p normal -r 70 -j 1, 16 MiB working set, 1 s: average access latency' });
    expect(r!.kernelPath).toMatchObject({ unit: 's', what: 'dd bs=4k count=20000 if=/dev/zero of=/dev/null: wall time, median of 1' });
    // The guest's console log is kept with the results; no QEMU and no run directory remain.
    expect(readdirSync(logDir)).toContain('vm0-emu.serial.log');
    expect(ourQemus()).toEqual([]);
    expect(readdirSync(runsDir)).toEqual([]);
  });
});
