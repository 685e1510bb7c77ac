import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { withLock } from '../../src/image/lock.js';

const dir = mkdtempSync(path.join(tmpdir(), 'fluidlab-lock-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('withLock', () => {
  it('serialises holders and removes the lock file afterwards', async () => {
    const file = path.join(dir, 'a.lock');
    const events: string[] = [];
    const holder = (name: string) => withLock(file, { timeoutMs: 60_000, pollMs: 10 }, async () => {
      events.push(`${name}+`);
      await sleep(50);
      events.push(`${name}-`);
    });
    await Promise.all([holder('x'), holder('y')]);
    expect(events.join(' ')).toMatch(/^(x\+ x- y\+ y-|y\+ y- x\+ x-)$/);
    expect(existsSync(file)).toBe(false);
  });

  it('takes over a lock whose holder process is gone', async () => {
    const file = path.join(dir, 'b.lock');
    // pid 2^22+1 is above the largest possible pid_max (2^22): no such process.
    writeFileSync(file, JSON.stringify({ pid: 4194305, host: hostname(), since: 'then' }));
    expect(await withLock(file, { timeoutMs: 60_000, pollMs: 10 }, async () => 'ran')).toBe('ran');
  });

  it('says who holds the lock when waiting times out', async () => {
    const file = path.join(dir, 'c.lock');
    writeFileSync(file, JSON.stringify({ pid: process.pid, host: hostname(), since: 'now' }));
    await expect(withLock(file, { timeoutMs: 50, pollMs: 10 }, async () => 'ran')).rejects.toThrow(`held by pid ${process.pid}`);
  });
});
