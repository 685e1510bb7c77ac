/**
 * The orchestrator's view of the key-value store (ioredis): INFO, key counts under a
 * prefix, and removal of a run's keys. Accepts unix:///PATH and redis://HOST:PORT URLs.
 */
import { Redis } from 'ioredis';

export interface RedisStoreOptions {
  url: string;
  password?: string;
  connectTimeoutMs?: number;
}

export function redisConnectionOptions(url: string): { path: string } | { host: string; port: number } {
  if (url.startsWith('unix://')) return { path: url.slice('unix://'.length) };
  const u = new URL(url);
  if (u.protocol !== 'redis:') throw new Error(`unsupported Redis URL ${url}: use redis://HOST:PORT or unix:///PATH`);
  return { host: u.hostname, port: Number(u.port || 6379) };
}

export class RedisStore {
  private constructor(private readonly redis: Redis) {}

  static async connect(opts: RedisStoreOptions): Promise<RedisStore> {
    const redis = new Redis({
      ...redisConnectionOptions(opts.url),
      password: opts.password,
      lazyConnect: true,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    redis.on('error', () => { /* surfaced through the failing command */ });
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      redis.disconnect();
      throw new Error(`cannot reach Redis at ${opts.url}: ${(err as Error).message} (is it running? for an external Redis check the URL and password_env)`);
    }
    return new RedisStore(redis);
  }

  /** INFO as a flat record (all sections). */
  async info(): Promise<Record<string, string>> {
    const text = await this.redis.info('everything');
    const out: Record<string, string> = {};
    for (const line of text.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  private async scan(prefix: string, each: (keys: string[]) => Promise<void>): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await each(keys);
    } while (cursor !== '0');
  }

  async countKeys(prefix: string): Promise<number> {
    let n = 0;
    await this.scan(prefix, async (keys) => { n += keys.length; });
    return n;
  }

  async deleteKeys(prefix: string): Promise<number> {
    let n = 0;
    await this.scan(prefix, async (keys) => { n += await this.redis.unlink(...keys); });
    return n;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
