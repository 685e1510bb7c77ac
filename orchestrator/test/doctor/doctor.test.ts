/**
 * `orchestrate doctor` with its real checks on this machine (real QEMU, Redis, the
 * userfaultfd probe, the KVM boot probe when the guest image exists): userfaultfd works
 * here; KVM is not usable here and the check says why; a missing helper binary (a helpers
 * directory without it) is reported as a required failure with the fix, and the exit
 * status follows the required checks.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { DEFAULT_HELPERS_DIR, type Check } from '../../src/doctor/checks.js';

const tmp = mkdtempSync(join(tmpdir(), 'fluidlab-doctor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => { vi.restoreAllMocks(); });

/** Runs `orchestrate doctor ARGS` in-process; returns the exit status and stdout lines. */
async function doctor(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { lines.push(a.map(String).join(' ')); });
  const code = await main(['doctor', ...args]);
  vi.restoreAllMocks();
  return { code, out: lines.join('\n') };
}

async function doctorJson(args: string[] = []): Promise<{ code: number; ok: boolean; checks: Map<string, Check> }> {
  const { code, out } = await doctor(['--json', ...args]);
  const parsed = JSON.parse(out) as { ok: boolean; checks: Check[] };
  return { code, ok: parsed.ok, checks: new Map(parsed.checks.map((c) => [c.name, c])) };
}

describe('orchestrate doctor on this machine', () => {
  it('userfaultfd works; KVM is not usable, with the reason; the exit status follows the required checks', async () => {
    const { code, ok, checks } = await doctorJson();
    expect([...checks.keys()]).toEqual(['qemu', 'guest image', 'kvm', 'accelerator', 'userfaultfd', 'redis', 'helpers', 'workloads']);
    const uffd = checks.get('userfaultfd')!;
    expect(uffd, JSON.stringify(uffd)).toMatchObject({ ok: true, required: true });
    expect(uffd.detail).toMatch(/^available; features: .*\bmove\b/);
    expect(checks.get('qemu')).toMatchObject({ ok: true, detail: expect.stringMatching(/^qemu-system-x86_64 \d+\.\d+/) });
    expect(checks.get('redis')).toMatchObject({ ok: true, detail: expect.stringMatching(/^redis-server 7\./) });
    expect(checks.get('helpers')).toMatchObject({ ok: true, detail: 'built' });

    // KVM: never usable on this host (TCG only). With the guest image, the detail is the
    // boot probe's reason; without it, that it was not probed and how to get the image.
    const kvm = checks.get('kvm')!;
    const image = checks.get('guest image')!;
    expect(kvm, JSON.stringify(kvm)).toMatchObject({ ok: false, required: false });
    expect(kvm.fix).toBeTruthy();
    if (image.ok) expect(kvm.data).toMatchObject({ usable: false, reason: kvm.detail });
    else expect(kvm).toMatchObject({ detail: 'not probed: needs the guest image', fix: image.fix });
    expect(checks.get('accelerator')).toMatchObject({ ok: true, detail: expect.stringMatching(/^tcg/) });

    const requiredFailed = [...checks.values()].some((c) => c.required && !c.ok);
    expect(ok).toBe(!requiredFailed);
    expect(code).toBe(requiredFailed ? 1 : 0);
  });

  it('a missing helper binary is a required failure with its fix', async () => {
    // A helpers directory holding only uffd-probe: the userfaultfd probe still runs from
    // it, and the other two helpers are reported missing.
    const dir = join(tmp, 'helpers-bin');
    mkdirSync(dir);
    copyFileSync(join(DEFAULT_HELPERS_DIR, 'uffd-probe'), join(dir, 'uffd-probe'));
    const { code, ok, checks } = await doctorJson(['--helpers-dir', dir]);
    expect(code).toBe(1);
    expect(ok).toBe(false);
    const fix = `make -C helpers, then copy helpers/bin/* into ${dir}`;
    expect(checks.get('helpers')).toEqual({
      name: 'helpers', ok: false, required: true,
      detail: `missing ${join(dir, 'fluidmem-monitor')}, ${join(dir, 'libfluidmem-attach.so')}`, fix,
    });
    expect(checks.get('userfaultfd')).toMatchObject({ ok: true });

    // Without uffd-probe the userfaultfd check cannot run and says so, with the same fix;
    // the text output prints the fix under the failure.
    rmSync(join(dir, 'uffd-probe'));
    const text = await doctor(['--helpers-dir', dir]);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(new RegExp(`^FAIL userfaultfd  not probed: ${join(dir, 'uffd-probe')} is not built\\n {18}fix: make -C helpers, then copy`, 'm'));
    expect(text.out).toMatch(new RegExp(`^FAIL helpers +missing ${join(dir, 'fluidmem-monitor')}, .*uffd-probe\\n {18}fix: ${fix.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
  });
});
