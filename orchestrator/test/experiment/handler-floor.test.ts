/**
 * The handler floor probe with the real helper (fluidlab-floor) on this host: measured when
 * a host-placed fluidmem arm runs, on the CPU the host runs share, and recorded as skipped
 * (never failing the experiment) when the helper is missing.
 */
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { parseConfig } from '../../src/config/load.js';
import { FLOOR_PAGES, probeHandlerFloor } from '../../src/experiment/handler-floor.js';

const ROOT = join(import.meta.dirname, '../../..');
const cfg = (arm: string) => parseConfig(`name: floor
host: { cpu: last }
arms:
  - ${arm}
workload: { pmbench: { duration: 1, setsize: 32M } }
repetitions: 1
`, 'floor.yaml');

describe('handler floor probe', () => {
  it('sets a kernel fault beside the round trips to a handler process and thread, on the host CPU', async () => {
    await execa('make', ['-C', join(ROOT, 'helpers')]);
    const s = await probeHandlerFloor({ config: cfg('{ name: dram, kind: fluidmem, backend: dram, resident: 8M, placement: host }') });
    expect(s?.skipped).toBeUndefined();
    const f = s!.floor!;
    expect(f.cpu).toBe(cpus().length - 1);
    expect(f.pages).toBe(FLOOR_PAGES);
    // a round trip holds a fault and two wake-ups: it costs more than the fault alone
    expect(f.uffdProcessNs).toBeGreaterThan(f.kernelFaultNs);
    expect(f.uffdThreadNs).toBeGreaterThan(f.kernelFaultNs);
  }, 60_000);

  it('is not measured without a host fluidmem arm', async () => {
    expect(await probeHandlerFloor({ config: cfg('{ name: z, kind: swap, resident: 8M, swap_on: zram, placement: host }') })).toBeUndefined();
  });

  it('records why when the helper is not built, without failing', async () => {
    const s = await probeHandlerFloor({ config: cfg('{ name: dram, kind: fluidmem, backend: dram, resident: 8M, placement: host }'), helpersDir: join(tmpdir(), 'no-such-helpers') });
    expect(s).toEqual({ skipped: expect.stringMatching(/fluidlab-floor is not built/) });
  });
});
