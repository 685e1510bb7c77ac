/**
 * Issue 9, defect 6: a frozen process whose agent never answers EVICT must not hold the
 * monitor's capacity forever. The monitor gives every EVICT a deadline
 * (FLUIDMEM_EVICT_TIMEOUT_MS), then drops that VM (it fails closed: the process exits 70
 * when it runs again) and the capacity is free for the others. Real monitor, real attach
 * library, uffd-harness frozen with SIGSTOP.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { attachEnv, Monitor } from '../../src/handler/monitor.js';
import { waitFor } from '../../src/process/wait.js';
import { buildTestHelpers, TEST_ATTACH, TEST_HARNESS, TEST_MONITOR } from './helpers-build.js';

const PAGE = 4096;
let dir: string;
let m: Monitor | undefined;
let proc: ResultPromise | undefined;

beforeAll(async () => {
  await buildTestHelpers();
  dir = mkdtempSync(join(tmpdir(), 'fluidlab-evict-deadline-'));
});

afterAll(async () => {
  proc?.kill('SIGKILL');
  await proc?.catch(() => undefined);
  await m?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('EVICT deadline', () => {
  it('a frozen process that never answers EVICT is dropped and its capacity freed; the monitor serves on', async () => {
    const log = join(dir, 'monitor.log');
    m = await Monitor.start({
      binary: TEST_MONITOR, socketPath: join(dir, 'm.sock'), controlPath: join(dir, 'm.ctl'),
      backend: 'dram', capacityPages: 512, logFile: log, evictTimeoutMs: 1000,
    });
    proc = execa(TEST_HARNESS, ['--region-pages', '1024', '--pages', '400', '--ops', '1000', '--until-signal'], {
      env: attachEnv({ socketPath: m.socketPath, regionBytes: 1024 * PAGE, vmId: 'frozen', library: TEST_ATTACH }),
      extendEnv: true, reject: false, stdin: 'ignore', buffer: false, cleanup: true,
    });
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    let err = '';
    proc.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    await waitFor(() => out.includes('phase1 done'), { timeoutMs: 60_000, what: 'phase 1' });
    proc.kill('SIGSTOP');
    // shrinking below the frozen VM's resident set sends it an EVICT it cannot answer
    expect(await m.control.resize(64)).toBe(64);
    const s = await m.control.stats();
    expect(s.vms.map((v) => v.id)).not.toContain('frozen');
    expect(s.total.resident_pages + s.total.evicting_pages).toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(/vm frozen: agent left EVICT batch \d+ \(\d+ pages\) unanswered for \d+ ms .*dropping the VM to free its capacity/);
    proc.kill('SIGCONT');
    const r = await proc;
    expect(r.exitCode).toBe(70);
    expect(err).toContain('lost connection to fluidmem-monitor');
    expect(out).not.toContain('"ok":');
    // the capacity serves another process
    const other = await execa(TEST_HARNESS, ['--region-pages', '256', '--pages', '256', '--ops', '4000'], {
      env: attachEnv({ socketPath: m.socketPath, regionBytes: 256 * PAGE, vmId: 'other', library: TEST_ATTACH }),
      extendEnv: true, reject: false, stdin: 'ignore',
    });
    expect(other.exitCode, String(other.stderr)).toBe(0);
    expect(JSON.parse(String(other.stdout).split('\n').find((l) => l.startsWith('{'))!).corrupt_bytes).toBe(0);
  });
});
