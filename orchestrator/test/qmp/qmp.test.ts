/**
 * The QMP client against a real QEMU (no guest: -machine none): greeting and capability
 * negotiation, id matching with several commands in flight, error replies, per-command
 * timeouts, and a clean error when QEMU dies. Framing is also checked as pure logic.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient, QmpClosedError, QmpError } from '../../src/qmp/client.js';
import { LineSplitter } from '../../src/qmp/framing.js';

let qemu: ResultPromise | undefined;

async function startQemu(): Promise<QmpClient> {
  const sock = join(mkdtempSync(join(tmpdir(), 'qmp-')), 'qmp.sock');
  qemu = execa('qemu-system-x86_64', ['-machine', 'none', '-nodefaults', '-display', 'none', '-S', '-qmp', `unix:${sock},server=on,wait=off`], { reject: false });
  for (let i = 0; ; i++) {
    try {
      return await QmpClient.connect(sock, { timeoutMs: 2000 });
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

afterEach(async () => {
  qemu?.kill('SIGKILL');
  await qemu;
  qemu = undefined;
});

describe('QMP framing', () => {
  it('splits CRLF-terminated messages across chunk boundaries', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\r\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(':2}\r\n\r\n{"c":3}\r')).toEqual(['{"b":2}']);
    expect(s.push('\n')).toEqual(['{"c":3}']);
  });
});

describe('QMP client with a real QEMU', () => {
  it('negotiates capabilities and matches replies to ids', async () => {
    const qmp = await startQemu();
    expect(qmp.greeting?.QMP.version.qemu.major).toBeGreaterThanOrEqual(7);
    const [status, version, kvm] = await Promise.all([
      qmp.execute('query-status'),
      qmp.execute('query-version'),
      qmp.execute('query-kvm'),
    ]);
    expect(status).toMatchObject({ status: 'prelaunch', running: false });
    expect(version.qemu.major).toBe(qmp.greeting?.QMP.version.qemu.major);
    expect(kvm).toHaveProperty('enabled');
    qmp.close();
  });

  it('turns error replies into QmpError with the class', async () => {
    const qmp = await startQemu();
    expect(await qmp.execute('human-monitor-command', { 'command-line': 'info status' })).toMatch(/VM status: paused \(prelaunch\)/);
    const bad = await qmp.execute('no-such-command' as 'stop').catch((e: Error) => e);
    expect(bad).toBeInstanceOf(QmpError);
    expect((bad as QmpError).errorClass).toBe('CommandNotFound');
    qmp.close();
  });

  it('fails pending commands and event waits cleanly when QEMU dies', async () => {
    const qmp = await startQemu();
    const waiting = qmp.waitForEvent('RESUME', { timeoutMs: 30_000 }).catch((e: Error) => e);
    qemu!.kill('SIGKILL');
    expect(await waiting).toBeInstanceOf(QmpClosedError);
    const after = await qmp.execute('query-status').catch((e: Error) => e);
    expect(after).toBeInstanceOf(QmpClosedError);
    expect((after as Error).message).toMatch(/QEMU closed the QMP connection/);
  });

  it('delivers events (STOP/RESUME) and SHUTDOWN on quit', async () => {
    const qmp = await startQemu();
    const resume = qmp.waitForEvent('RESUME', { timeoutMs: 5000 });
    await qmp.execute('cont');
    expect((await resume).event).toBe('RESUME');
    const shutdown = qmp.waitForEvent('SHUTDOWN', { timeoutMs: 5000 });
    await qmp.execute('quit');
    expect((await shutdown).data).toMatchObject({ guest: false, reason: 'host-qmp-quit' });
  });
});
