/**
 * The QMP client against a real QEMU (no guest: -machine none): greeting and capability
 * negotiation, id matching with several commands in flight, error replies, and a clean
 * error when QEMU dies. Protocol violations QEMU does not produce on demand (an error
 * reply without an id, a line that is not JSON) come from a fake QMP peer: a net.Server
 * on a real Unix socket that speaks the greeting and capability negotiation, then answers
 * the next command with the bad message. Framing is tested in test/protocol/.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient, QmpClosedError, QmpError, QmpProtocolError, QmpTimeoutError } from '../../src/qmp/client.js';
import { LineSplitter } from '../../src/protocol/json-lines.js';

let qemu: ResultPromise | undefined;
let qemuDir: string | undefined;
let fake: { server: Server; dir: string; peers: Socket[] } | undefined;

/** A QMP peer that greets, accepts qmp_capabilities, then answers every later command
 * with `reply(id)` (raw text, sent as is). */
async function startFakeQmp(reply: (id: unknown) => string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'qmp-fake-'));
  const path = join(dir, 'qmp.sock');
  const peers: Socket[] = [];
  const server = createServer((sock) => {
    peers.push(sock);
    sock.setEncoding('utf8');
    sock.write('{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}}\r\n');
    const lines = new LineSplitter();
    sock.on('data', (chunk: string) => {
      for (const line of lines.push(chunk)) {
        const msg = JSON.parse(line) as { execute: string; id: unknown };
        sock.write(msg.execute === 'qmp_capabilities' ? `${JSON.stringify({ return: {}, id: msg.id })}\r\n` : reply(msg.id));
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve); });
  fake = { server, dir, peers };
  return path;
}

async function startQemu(): Promise<QmpClient> {
  qemuDir = mkdtempSync(join(tmpdir(), 'qmp-'));
  const sock = join(qemuDir, 'qmp.sock');
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
  if (qemuDir) rmSync(qemuDir, { recursive: true, force: true });
  qemuDir = undefined;
  if (fake) {
    for (const p of fake.peers) p.destroy();
    await new Promise((r) => fake!.server.close(r));
    rmSync(fake.dir, { recursive: true, force: true });
    fake = undefined;
  }
});

describe('QMP client against a peer that breaks the protocol', () => {
  // The command timeout is long (60 s) against a 1 s budget for the failure: a client that
  // left the command to its timeout would fail this test with the test-level timeout below,
  // and one that timed out early would reject with QmpTimeoutError, not QmpProtocolError.
  const commandTimeoutMs = 60_000;

  it('an error reply without an id fails the pending command with QmpProtocolError', { timeout: 1000 }, async () => {
    const path = await startFakeQmp(() => '{"error": {"class": "GenericError", "desc": "JSON parse error, invalid keyword"}}\r\n');
    const qmp = await QmpClient.connect(path, { timeoutMs: 1000, commandTimeoutMs });
    const err = await qmp.execute('query-status').catch((e: Error) => e);
    expect(err).toBeInstanceOf(QmpProtocolError);
    expect(err).toBeInstanceOf(QmpClosedError);
    expect((err as Error).message).toMatch(/error reply without an id .*GenericError: JSON parse error, invalid keyword.*\(while waiting for query-status\)/);
    // The connection is closed: later commands fail at once with the same cause.
    expect(qmp.closed).toBe(true);
    const later = await qmp.execute('cont').catch((e: Error) => e);
    expect(later).toBeInstanceOf(QmpProtocolError);
    expect((later as Error).message).toMatch(/error reply without an id.*\(cannot send cont\)/);
  });

  it('a line that is not JSON fails every pending command and event wait with QmpProtocolError', { timeout: 1000 }, async () => {
    const path = await startFakeQmp(() => 'this is not json\r\n');
    const qmp = await QmpClient.connect(path, { timeoutMs: 1000, commandTimeoutMs });
    const waiting = qmp.waitForEvent('RESUME', { timeoutMs: commandTimeoutMs }).catch((e: Error) => e);
    const [a, b] = await Promise.all([
      qmp.execute('query-status').catch((e: Error) => e),
      qmp.execute('query-version').catch((e: Error) => e),
    ]);
    for (const err of [a, b]) {
      expect(err).toBeInstanceOf(QmpProtocolError);
      expect((err as Error).message).toMatch(/QMP sent a line that is not a JSON object: this is not json/);
    }
    expect(await waiting).toBeInstanceOf(QmpProtocolError);
  });

  it('a peer that answers correctly but late is a timeout, not a protocol error', async () => {
    const path = await startFakeQmp(() => '');
    const qmp = await QmpClient.connect(path, { timeoutMs: 1000, commandTimeoutMs: 200 });
    expect(await qmp.execute('query-status').catch((e: Error) => e)).toBeInstanceOf(QmpTimeoutError);
    expect(qmp.closed).toBe(false);
    qmp.close();
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
    // This QEMU runs TCG (-machine none picks no accelerator); 'present' says whether the
    // binary has KVM compiled in, which `-accel help` lists independently.
    const accels = (await execa('qemu-system-x86_64', ['-accel', 'help'])).stdout.split('\n').map((l) => l.trim());
    expect(kvm).toEqual({ enabled: false, present: accels.includes('kvm') });
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
