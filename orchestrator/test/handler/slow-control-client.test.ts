/**
 * A control client that never reads (issue 9, defect 5): it sends `stats` requests in a
 * loop while an honest VM (uffd-harness with the real attach library, 8x the capacity,
 * every byte verified) pages through the same monitor. The monitor's one thread also
 * serves every fault, so replies must never block it: the VM finishes byte-exact, the
 * client is dropped once its unread replies pass the bound, and other control clients
 * are answered throughout. (Before: each reply blocked up to 2 s once the client's socket
 * was full, fault service stalled and the client was never dropped.)
 *
 * FLUIDLAB_HELPERS_OUT=DIR (helpers-build.ts) builds and runs helpers/DIR instead of
 * helpers/bin.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { attachEnv, Monitor } from '../../src/handler/monitor.js';
import { waitFor } from '../../src/process/wait.js';
import { buildTestHelpers, TEST_ATTACH, TEST_HARNESS, TEST_MONITOR } from './helpers-build.js';

const PAGE = 4096;

let dir: string;
let monitor: Monitor | undefined;
const children: ResultPromise[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  await buildTestHelpers();
  dir = mkdtempSync(join(tmpdir(), 'fluidlab-slowctl-'));
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const c of children) c.kill('SIGKILL');
  await monitor?.dispose().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Connects, never reads, and writes `stats` requests until the monitor hangs up.
 * Resolves with the number of requests written once the connection is closed. */
function floodingClient(path: string): { closed: Promise<number>; sent: () => number } {
  const sock = createConnection(path);
  sockets.push(sock);
  sock.pause(); // never read: replies pile up in the kernel, then in the monitor
  let sent = 0;
  let done = false;
  const closed = new Promise<number>((res) => {
    const end = () => { done = true; res(sent); };
    sock.once('close', end);
    sock.on('error', () => undefined); // EPIPE / ECONNRESET once dropped: 'close' follows
  });
  const line = '{"cmd":"stats"}\n'.repeat(64);
  sock.once('connect', async () => {
    while (!done) {
      sent += 64;
      if (!sock.write(line)) {
        await new Promise<void>((r) => {
          sock.once('drain', r);
          sock.once('close', r);
        });
      }
    }
  });
  return { closed, sent: () => sent };
}

describe('control clients cannot stall fault service', () => {
  it('a client that sends stats in a loop and never reads is dropped; the VM pages on byte-exact', async () => {
    const log = join(dir, 'monitor.log');
    monitor = await Monitor.start({
      binary: TEST_MONITOR,
      socketPath: join(dir, 'm.sock'),
      controlPath: join(dir, 'm.ctl'),
      backend: 'dram',
      capacityPages: 128,
      logFile: log,
    });
    const region = 2048;
    const vm = execa(TEST_HARNESS,
      ['--region-pages', String(region), '--pages', '1024', '--ops', '4000', '--threads', '2', '--until-signal'], {
        env: attachEnv({ socketPath: monitor.socketPath, regionBytes: region * PAGE, vmId: 'paging-vm', library: TEST_ATTACH }),
        extendEnv: true, reject: false, timeout: 180_000, cleanup: true,
      });
    children.push(vm);
    const before = await waitFor(async () => (await monitor!.control.stats()).vms[0]?.remote_fetches || undefined,
      { timeoutMs: 30_000, what: 'the VM to page' });

    const flood = floodingClient(monitor.controlPath);
    const sent = await flood.closed;
    expect(sent).toBeGreaterThan(100);
    await waitFor(() => /control client dropped: it does not read its replies/.test(readFileSync(log, 'utf8')),
      { timeoutMs: 10_000, what: 'the monitor to log the dropped client' });
    // faults were served during the flood, and another control client is answered
    const during = (await monitor.control.stats()).vms.find((v) => v.id === 'paging-vm');
    expect(during?.remote_fetches).toBeGreaterThan(before);

    vm.kill('SIGUSR1'); // --until-signal: finish and verify every byte
    const r = await vm;
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const result = JSON.parse(String(r.stdout).trim().split('\n').pop()!);
    expect(result.corrupt_bytes).toBe(0);
    expect(result.ops).toBeGreaterThanOrEqual(4000);
    const total = (await monitor.control.stats()).total;
    expect(total.evictions).toBeGreaterThan(1024);
  });
});
