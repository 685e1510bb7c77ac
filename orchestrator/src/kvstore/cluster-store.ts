/**
 * The orchestrator's view of a Redis Cluster (embedded or external): its topology, stats
 * per master (keys, memory, commands, slots), and the count and removal of a run's keys.
 * It talks to each node with its own short-lived ioredis client rather than through an
 * ioredis Cluster, so stats name the node they came from and a dead node is skipped, not
 * retried. Page keys carry a hash tag per chunk (kvstore/key-slot.ts), so keys of one run
 * live on every master: counting and removal SCAN each master, and UNLINK goes one key per
 * command (keys of different slots cannot share one).
 */
import { Redis } from 'ioredis';
import { parseClusterNodes, servingMasters, slotCount, type ClusterNodeInfo } from './cluster-nodes.js';

/** One master's figures, as INFO and DBSIZE give them. */
export interface MasterStats {
  /** Position among serving masters, by lowest slot (kvstore/cluster-nodes.ts). */
  index: number;
  id: string;
  address: string;
  /** INFO role as the node itself says it ('master'; 'slave' only mid-failover). */
  role: string;
  slots: number;
  /** Replicas following it (connected or not). */
  replicas: number;
  /** DBSIZE: every key on the master. */
  keys: number;
  /** Keys under the run's prefix (SCAN), when a prefix was given. */
  prefixKeys?: number;
  usedMemory: number;
  totalCommandsProcessed: number;
}

export interface ClusterStoreOptions {
  /** host:port of nodes to ask (any subset of the cluster). */
  nodes: string[];
  password?: string;
  connectTimeoutMs?: number;
}

/** host:port → {host, port}; throws naming the address when it is not one. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`'${address}' is not HOST:PORT`);
  return { host: m[1]!, port };
}

/** INFO text as a flat record. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export class ClusterStore {
  constructor(private readonly opts: ClusterStoreOptions) {
    if (opts.nodes.length === 0) throw new Error('a Redis Cluster needs at least one node address');
    opts.nodes.forEach(parseAddress);
  }

  /** Runs `fn` with a fresh client of `address`; the client is closed afterwards. */
  async onNode<T>(address: string, fn: (r: Redis) => Promise<T>): Promise<T> {
    const redis = new Redis({
      ...parseAddress(address),
      password: this.opts.password,
      lazyConnect: true,
      connectTimeout: this.opts.connectTimeoutMs ?? 2000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    // A refused AUTH surfaces as "Connection is closed." from connect(); the reason
    // (WRONGPASS, NOAUTH) only through the error event: keep it for the message.
    let reason: Error | undefined;
    redis.on('error', (err: Error) => { reason ??= err; });
    try {
      try {
        await redis.connect();
      } catch (err) {
        throw reason && reason.message !== (err as Error).message ? new Error(`${reason.message} (${(err as Error).message})`) : err;
      }
      return await fn(redis);
    } finally {
      redis.disconnect();
    }
  }

  /** CLUSTER NODES as the first answering node sees it; throws naming every node tried. */
  async topology(): Promise<ClusterNodeInfo[]> {
    const errors: string[] = [];
    for (const address of this.opts.nodes) {
      try {
        return parseClusterNodes(await this.onNode(address, (r) => r.call('CLUSTER', 'NODES') as Promise<string>));
      } catch (err) {
        errors.push(`${address}: ${(err as Error).message}`);
      }
    }
    throw new Error(`no Redis Cluster node answered CLUSTER NODES (${errors.join('; ')})`);
  }

  /** Stats of every serving master, in slot order; prefix keys counted when `prefix` is given. */
  async masterStats(prefix?: string): Promise<MasterStats[]> {
    const nodes = await this.topology();
    return Promise.all(servingMasters(nodes).map(async (m, index) => this.onNode(m.address, async (r) => {
      const info = parseInfo(await r.info());
      const stats: MasterStats = {
        index,
        id: m.id,
        address: m.address,
        role: info.role ?? 'unknown',
        slots: slotCount(m.slots),
        replicas: nodes.filter((n) => n.masterId === m.id).length,
        keys: await r.dbsize(),
        usedMemory: Number(info.used_memory ?? 0),
        totalCommandsProcessed: Number(info.total_commands_processed ?? 0),
      };
      if (prefix !== undefined) stats.prefixKeys = await countOn(r, prefix);
      return stats;
    })));
  }

  /** Keys under `prefix` (a plain string prefix, glob characters escaped) on all masters. */
  async countKeys(prefix: string): Promise<number> {
    const counts = await this.forEachMaster((r) => countOn(r, prefix));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Removes every key starting with `prefix` from every master; returns how many. */
  async deleteKeys(prefix: string): Promise<number> {
    const counts = await this.forEachMaster((r) => scanOn(r, prefix, async (keys) => {
      const pipe = r.pipeline();
      for (const k of keys) pipe.unlink(k);
      const res = (await pipe.exec()) ?? [];
      const failed = res.find(([err]) => err);
      if (failed) throw failed[0]!;
      return res.reduce((n, [, v]) => n + Number(v), 0);
    }));
    return counts.reduce((a, b) => a + b, 0);
  }

  private async forEachMaster<T>(fn: (r: Redis) => Promise<T>): Promise<T[]> {
    return Promise.all(servingMasters(await this.topology()).map((m) => this.onNode(m.address, fn)));
  }
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** SCANs the keys on one node that start with `prefix`, `each` batch by batch; sums its results. */
async function scanOn(r: Redis, prefix: string, each: (keys: string[]) => Promise<number>): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) n += await each(keys);
  } while (cursor !== '0');
  return n;
}

function countOn(r: Redis, prefix: string): Promise<number> {
  return scanOn(r, prefix, async (keys) => keys.length);
}
