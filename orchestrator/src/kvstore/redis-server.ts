/**
 * The embedded key-value store: a redis-server owned by the run, listening only on a Unix
 * socket (mode 0600) in the run directory, with persistence off. An OwnedProcess
 * (process/owned.ts): `EmbeddedRedis.start()` returns once it answers; `dispose()` sends
 * SIGTERM (nothing to save), then SIGKILL.
 */
import { join } from 'node:path';
import { ManagedChild } from '../process/child.js';
import type { Lease } from '../process/lease.js';
import { ChildOwner } from '../process/child-owner.js';
import { waitFor } from '../process/wait.js';
import { RedisStore } from './redis-client.js';

export interface EmbeddedRedisOptions {
  runDir: string;
  lease?: Lease;
  binary?: string;
  startTimeoutMs?: number;
}

export class EmbeddedRedis extends ChildOwner {
  readonly socketPath: string;
  private constructor(protected readonly child: ManagedChild, socketPath: string) {
    super();
    this.socketPath = socketPath;
  }

  get url(): string {
    return `unix://${this.socketPath}`;
  }


  static async start(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
    const socketPath = join(opts.runDir, 'redis.sock');
    const child = new ManagedChild({
      role: 'redis',
      file: opts.binary ?? 'redis-server',
      args: [
        '--port', '0',
        '--unixsocket', socketPath,
        '--unixsocketperm', '600',
        '--save', '',
        '--appendonly', 'no',
        '--dir', opts.runDir,
        '--daemonize', 'no',
        '--protected-mode', 'yes',
      ],
      logFile: join(opts.runDir, 'redis.log'),
      lease: opts.lease,
      graceMs: 3000,
    });
    const server = new EmbeddedRedis(child, socketPath);
    const timeoutMs = opts.startTimeoutMs ?? 10_000;
    try {
      await waitFor(async ({ remainingMs }) => {
        const store = await RedisStore.connect({ url: server.url, connectTimeoutMs: Math.max(100, Math.min(1000, remainingMs)) });
        await store.close();
        return true;
      }, {
        timeoutMs,
        what: `embedded Redis to answer on ${socketPath}`,
        abortIf: () => (child.hasExited ? child.describeExit() : undefined),
        retryIf: () => true, // refused or missing socket: not listening yet
      });
    } catch (err) {
      await child.dispose(0);
      throw new Error(`embedded Redis failed to start: ${(err as Error).message}\n${child.logTail()}`);
    }
    return server;
  }

  /** Idempotent: SIGTERM, SIGKILL after 3 s; resolves once redis-server is gone. */
  dispose(): Promise<void> {
    return this.child.dispose();
  }
}
