/**
 * The monitor's stats say its scheduling policy ("sched"), so a handler-side latency can be
 * read with it: under SCHED_OTHER a VM woken by UFFDIO_COPY on the monitor's CPU may
 * preempt the monitor inside the ioctl (bench/fault-latency/scale.sh). A real monitor,
 * started plainly and under chrt (SCHED_FIFO and SCHED_BATCH), with no VM attached.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { MonitorControl } from '../../src/handler/control.js';
import { waitFor } from '../../src/process/wait.js';
import { buildTestHelpers, TEST_MONITOR } from './helpers-build.js';

let dir: string;
const procs: ResultPromise[] = [];
let seq = 0;

async function schedOf(prefix: string[]): Promise<string | undefined> {
  const n = ++seq;
  const sock = join(dir, `m${n}.sock`), ctl = join(dir, `m${n}.ctl`);
  const args = [TEST_MONITOR, '--socket', sock, '--control', ctl, '--backend', 'dram', '--capacity', '64'];
  const all = [...prefix, ...args];
  const proc = execa(all[0]!, all.slice(1), { reject: false, buffer: false, stdin: 'ignore', stderr: 'ignore', cleanup: true });
  procs.push(proc);
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  await waitFor(() => out.includes('ready') || proc.exitCode !== null ? true : undefined,
    { timeoutMs: 20_000, what: 'the monitor ready line' });
  const control = await MonitorControl.connect(ctl, { timeoutMs: 10_000 });
  try {
    return (await control.stats()).sched;
  } finally {
    control.close();
    proc.kill('SIGTERM');
    await proc;
  }
}

beforeAll(async () => {
  await buildTestHelpers();
  dir = mkdtempSync(join(tmpdir(), 'fluidlab-sched-'));
});

afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.catch(() => undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Real-time policies need CAP_SYS_NICE and a real-time budget (a container may lack both). */
const canFifo = (await execa('chrt', ['-f', '7', 'true'], { reject: false })).exitCode === 0;

describe('monitor stats: scheduling policy', () => {
  it('reports other and batch as it runs', async () => {
    expect(await schedOf([])).toBe('other');
    expect(await schedOf(['chrt', '-b', '0'])).toBe('batch');
  }, 60_000);

  it.runIf(canFifo)('reports fifo:PRIO, with or without SCHED_RESET_ON_FORK', async () => {
    expect(await schedOf(['chrt', '-f', '7'])).toBe('fifo:7');
    expect(await schedOf(['chrt', '-R', '-f', '5'])).toBe('fifo:5');
  }, 60_000);
});
