/**
 * Clients of fluidmem-monitor that lie (issue 9, defects 1 and 2), against the real monitor
 * with real userfaultfds: helpers/bin/hostile-client sets up what the attach library does,
 * then breaks the protocol one way per mode. Each lie must be refused or cost only the
 * liar its VM, while the monitor keeps serving an honest VM (uffd-harness with the real
 * attach library, every byte verified), answers `stats` and exits 0 on SIGTERM.
 *
 * FLUIDLAB_HELPERS_OUT=DIR (helpers-build.ts) builds and runs helpers/DIR instead of
 * helpers/bin (e.g. build/dev while a measurement uses helpers/bin).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { attachEnv, Monitor } from '../../src/handler/monitor.js';
import { waitFor } from '../../src/process/wait.js';
import { buildTestHelpers, TEST_ATTACH, TEST_HARNESS, TEST_HELPERS_BIN, TEST_MONITOR } from './helpers-build.js';

const PAGE = 4096;

let dir: string;
const monitors: Monitor[] = [];
const children: ResultPromise[] = [];
let seq = 0;

async function monitor(capacityPages = 64): Promise<{ m: Monitor; log: string }> {
  const n = ++seq;
  const log = join(dir, `m${n}.log`);
  const m = await Monitor.start({
    binary: TEST_MONITOR,
    socketPath: join(dir, `m${n}.sock`),
    controlPath: join(dir, `m${n}.ctl`),
    backend: 'dram',
    capacityPages,
    logFile: log,
  });
  monitors.push(m);
  return { m, log };
}

interface HostileResult { mode: string; answer: string; dropped: boolean; evicts: number }

async function hostile(m: Monitor, mode: string, pages = 1024): Promise<HostileResult> {
  const p = execa(join(TEST_HELPERS_BIN, 'hostile-client'), ['--socket', m.socketPath, '--mode', mode, '--pages', String(pages)],
    { reject: false, timeout: 60_000, cleanup: true });
  children.push(p);
  const r = await p;
  if (r.exitCode !== 0) throw new Error(`hostile-client --mode ${mode} failed (${r.exitCode}, ${r.signal ?? ''}): ${r.stderr}`);
  return JSON.parse(String(r.stdout).trim().split('\n').pop()!) as HostileResult;
}

/** An honest VM: the harness with the real attach library, 4x the capacity, verified. */
function honest(m: Monitor, vmId: string): ResultPromise {
  const region = 1024;
  const p = execa(TEST_HARNESS, ['--region-pages', String(region), '--pages', '256', '--ops', '4000', '--threads', '2'], {
    env: attachEnv({ socketPath: m.socketPath, regionBytes: region * PAGE, vmId, library: TEST_ATTACH }),
    extendEnv: true, reject: false, timeout: 120_000, cleanup: true,
  });
  children.push(p);
  return p;
}

async function expectHonestVmOk(p: ResultPromise): Promise<void> {
  const r = await p;
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  expect(JSON.parse(String(r.stdout).trim().split('\n').pop()!).corrupt_bytes).toBe(0);
}

async function expectExitsOnSigterm(m: Monitor): Promise<void> {
  process.kill(m.pid, 'SIGTERM');
  const exit = await Promise.race([m.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000))]);
  expect(exit).toEqual({ code: 0, signal: undefined });
}

beforeAll(async () => {
  await buildTestHelpers();
  dir = mkdtempSync(join(tmpdir(), 'fluidlab-hostile-'));
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(monitors.map((m) => m.dispose().catch(() => undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the hello is verified, not trusted', () => {
  const refusals: [string, RegExp][] = [
    ['other-pid', /hello names pid \d+ but the peer is pid \d+/],
    ['wrong-base', /is not private anonymous writable memory of pid \d+/],
    ['not-uffd', /the first descriptor is not a userfaultfd/],
    ['big-hello', /hello longer than 1024 bytes/],
    ['huge-region', /unsupported region .*at most 274877906944 bytes/],
  ];
  it('refuses a hello naming another pid, a wrong base, a non-uffd, too many bytes or a huge region; an honest VM is served meanwhile', async () => {
    const { m, log } = await monitor();
    const vm = honest(m, 'honest-1');
    for (const [mode, why] of refusals) {
      const r = await hostile(m, mode);
      expect(r.answer, mode).toMatch(/"ok":false/);
      expect(r.answer, mode).toMatch(why);
      expect(r.dropped, mode).toBe(true);
    }
    expect((await m.control.stats()).vms.map((v) => v.id).filter((id) => id.startsWith('hostile-'))).toEqual([]);
    await expectHonestVmOk(vm);
    await waitFor(() => refusals.every(([, why]) => new RegExp(`refused attach.*${why.source}`).test(readFileSync(log, 'utf8'))),
      { timeoutMs: 10_000, what: 'the monitor to log every refusal' });
    await expectExitsOnSigterm(m);
  });

  it('hangs up on a connection that sends no hello', async () => {
    const { m, log } = await monitor();
    const r = await hostile(m, 'idle');
    expect(r.dropped).toBe(true);
    await waitFor(() => /refused attach: no hello within 5000 ms/.test(readFileSync(log, 'utf8')),
      { timeoutMs: 10_000, what: 'the monitor to log the idle connection' });
    expect((await m.control.stats()).ok).toBe(true);
  });
});

describe('an agent that lies costs only its own VM', () => {
  it('answering EVICT with slots the monitor did not assign drops that VM; the monitor serves on', async () => {
    const { m, log } = await monitor();
    const vm = honest(m, 'honest-2');
    const r = await hostile(m, 'bad-slot');
    expect(r.answer).toMatch(/^\{"ok":true[,}]/);
    expect(r.evicts).toBeGreaterThan(0);
    expect(r.dropped).toBe(true);
    await waitFor(() => /vm hostile-bad-slot detached: agent answered a page or slot the monitor did not assign/.test(readFileSync(log, 'utf8')),
      { timeoutMs: 10_000, what: 'the monitor to log why it dropped the VM' });
    await expectHonestVmOk(vm);
    expect((await m.control.stats()).vms.map((v) => v.id)).toEqual([]);
    await expectExitsOnSigterm(m);
  });

  it('reporting unpopulated staging slots (registered on the region uffd) as moved cannot block the monitor', async () => {
    const { m } = await monitor();
    const r = await hostile(m, 'unpopulated');
    expect(r.answer).toMatch(/^\{"ok":true[,}]/);
    expect(r.evicts).toBeGreaterThan(0);
    // An unfixed monitor reads that staging with process_vm_readv, faults on the uffd only
    // it serves, and sleeps in D state: the client's faults, stats and SIGTERM all hang.
    const s = await m.control.stats();
    expect(s.ok).toBe(true);
    await expectHonestVmOk(honest(m, 'honest-3'));
    await waitFor(async () => (await m.control.stats()).vms.length === 0, { timeoutMs: 20_000, what: 'both VMs to leave' });
    await expectExitsOnSigterm(m);
  });
});
