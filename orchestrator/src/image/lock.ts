/**
 * An exclusive lock file (O_EXCL create) shared by processes on this host. A lock whose
 * owner pid is gone is stale and taken over. Used so that concurrent image builders of the
 * same hash build once.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LockOptions {
  /** Give up waiting after this long (ms). */
  timeoutMs: number;
  /** Poll interval while another process holds the lock (ms). */
  pollMs?: number;
  /** Called once when we start waiting for another holder. */
  onWait?: (holder: LockHolder) => void;
}

export interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const h = JSON.parse(await readFile(file, 'utf8')) as LockHolder;
    return typeof h.pid === 'number' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Runs fn while holding the lock file; always removes it afterwards. */
export async function withLock<T>(file: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let waited = false;
  let unreadable = 0;
  for (;;) {
    try {
      const fh = await open(file, 'wx', 0o644);
      const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      await fh.writeFile(JSON.stringify(me));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readHolder(file);
    // A holder that died (same host, pid gone) leaves a stale lock; so does a file that stays
    // unreadable (a holder killed between create and write).
    const stale = holder ? holder.host === hostname() && !alive(holder.pid) : ++unreadable > 20;
    if (stale) {
      await unlink(file).catch(() => undefined);
      unreadable = 0;
      continue;
    }
    if (holder && !waited) {
      waited = true;
      opts.onWait?.(holder);
    }
    if (Date.now() > deadline) {
      throw new Error(`lock ${file} is still held by pid ${holder?.pid ?? '?'} on ${holder?.host ?? '?'}; ` +
        'wait for that build to finish, or remove the file if that process is gone');
    }
    await sleep(opts.pollMs ?? 250);
  }
  try {
    return await fn();
  } finally {
    await unlink(file).catch(() => undefined);
  }
}
