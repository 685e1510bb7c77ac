/**
 * An embedded Redis Cluster on loopback, owned by a run: `masters` masters and
 * `masters * replicas` replicas, each a redis-server (an OwnedProcess on one ManagedChild,
 * leased as `redis:cluster:PORT`) in its own 0700 directory under the run directory, with
 * `cluster-enabled yes`, `cluster-node-timeout` 2000 ms, persistence off, bound to
 * 127.0.0.1 on ports picked by vm/ports.ts (client port and bus port both, via
 * `cluster-port`). Then `redis-cli --cluster create ... --cluster-replicas R --cluster-yes`
 * joins them, and start() returns once every node says cluster_state:ok with all 16384
 * slots assigned and every replica's link to its master is up.
 *
 * The password: random per cluster, never on a command line (the lease records command
 * lines, and ps shows them): each node reads it (requirepass, masterauth) from its
 * redis.conf (mode 0600, in its 0700 directory), and redis-cli takes it from REDISCLI_AUTH
 * in its environment. Clients get it from `password` (the monitor through
 * FLUIDMEM_REDIS_PASSWORD, as for redis://).
 *
 * Failure: start() disposes every node it started before it throws; dispose() disposes
 * them all (in parallel: nothing to save) and is idempotent. kill() and waitForFailover()
 * are for tests and failure-injection runs.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ManagedChild } from '../process/child.js';
import { ChildOwner } from '../process/child-owner.js';
import type { Lease } from '../process/lease.js';
import { waitFor } from '../process/wait.js';
import { freePort } from '../vm/ports.js';
import { parseClusterNodes, servingMasters, slotCount, type ClusterNodeInfo } from './cluster-nodes.js';
import { ClusterStore, parseInfo } from './cluster-store.js';
import { CLUSTER_SLOTS } from './key-slot.js';

export interface EmbeddedClusterOptions {
  /** The run directory (0700); the cluster lives in RUN_DIR/redis-cluster/. */
  runDir: string;
  masters: number;
  /** Replicas per master. */
  replicas: number;
  lease?: Lease;
  binary?: string;
  cliBinary?: string;
  /** cluster-node-timeout (default 2000 ms: a dead master is replaced in about 4 s). */
  nodeTimeoutMs?: number;
  /** For everything start() waits on (default 60 s). */
  startTimeoutMs?: number;
}

/** One redis-server of the cluster. */
export class ClusterNode extends ChildOwner {
  constructor(protected readonly child: ManagedChild, readonly port: number, readonly busPort: number, readonly dir: string) {
    super();
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }


  /** Idempotent: SIGTERM, SIGKILL after 3 s; resolves once the node is gone. */
  dispose(): Promise<void> {
    return this.child.dispose();
  }
}

function nodeConfig(o: { port: number; busPort: number; dir: string; password: string; nodeTimeoutMs: number }): string {
  return [
    `port ${o.port}`,
    'bind 127.0.0.1',
    'protected-mode yes',
    `cluster-port ${o.busPort}`,
    'cluster-enabled yes',
    'cluster-config-file nodes.conf',
    `cluster-node-timeout ${o.nodeTimeoutMs}`,
    `requirepass ${o.password}`,
    `masterauth ${o.password}`,
    'save ""',
    'appendonly no',
    // Replicas sync at once (the default waits 5 s to batch replicas).
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    `dir ${o.dir}`,
    'daemonize no',
    'logfile ""',
    '',
  ].join('\n');
}

/** Two distinct free ports (client, bus). */
async function portPair(taken: Set<number>): Promise<[number, number]> {
  const pick = async () => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) { taken.add(p); return p; }
    }
  };
  return [await pick(), await pick()];
}

export class EmbeddedRedisCluster {
  private disposing: Promise<void> | undefined;

  private constructor(readonly nodes: ClusterNode[], readonly password: string, readonly dir: string, readonly masterCount: number) {}

  /** A ClusterStore over the live nodes (stats, key counts, per-node clients). */
  get store(): ClusterStore {
    const live = this.live;
    return new ClusterStore({ nodes: (live.length ? live : this.nodes).map((n) => n.address), password: this.password });
  }

  /** Every node's address: clients may start from any of them. */
  get addresses(): string[] {
    return this.nodes.map((n) => n.address);
  }

  /** The backend URL fluidmem-monitor takes: redis-cluster://H:P,H:P,... */
  get url(): string {
    return `redis-cluster://${this.addresses.join(',')}`;
  }

  /** Starts the nodes, creates the cluster and waits for it to be healthy; on failure,
   * nothing is left running and the error carries the relevant log tail. */
  static async start(opts: EmbeddedClusterOptions): Promise<EmbeddedRedisCluster> {
    if (!Number.isInteger(opts.masters) || opts.masters < 3) throw new Error(`a Redis Cluster needs at least 3 masters, got ${opts.masters}`);
    if (!Number.isInteger(opts.replicas) || opts.replicas < 0) throw new Error(`replicas must be a non-negative integer, got ${opts.replicas}`);
    const dir = join(opts.runDir, 'redis-cluster');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const password = randomBytes(24).toString('hex');
    const nodeTimeoutMs = opts.nodeTimeoutMs ?? 2000;
    const timeoutMs = opts.startTimeoutMs ?? 60_000;
    const total = opts.masters * (1 + opts.replicas);
    const nodes: ClusterNode[] = [];
    const taken = new Set<number>();
    const cluster = new EmbeddedRedisCluster(nodes, password, dir, opts.masters);
    try {
      for (let i = 0; i < total; i++) {
        const [port, busPort] = await portPair(taken);
        const nodeDir = join(dir, `node-${port}`);
        mkdirSync(nodeDir, { recursive: true, mode: 0o700 });
        const conf = join(nodeDir, 'redis.conf');
        writeFileSync(conf, nodeConfig({ port, busPort, dir: nodeDir, password, nodeTimeoutMs }), { mode: 0o600 });
        const child = new ManagedChild({
          role: `redis:cluster:${port}`,
          file: opts.binary ?? 'redis-server',
          args: [conf],
          logFile: join(nodeDir, 'redis.log'),
          lease: opts.lease,
          graceMs: 3000,
        });
        nodes.push(new ClusterNode(child, port, busPort, nodeDir));
      }
      const store = cluster.store;
      await Promise.all(nodes.map((n) => waitFor(() => store.onNode(n.address, (r) => r.ping()), {
        timeoutMs,
        what: `cluster node ${n.address} to answer`,
        abortIf: () => (n.hasExited ? `${n.describeExit()}\n${n.logTail(10)}` : undefined),
        retryIf: () => true,
      })));
      const create = await execa(opts.cliBinary ?? 'redis-cli', [
        '--cluster', 'create', ...cluster.addresses, '--cluster-replicas', String(opts.replicas), '--cluster-yes',
      ], { env: { REDISCLI_AUTH: password }, extendEnv: true, reject: false, timeout: timeoutMs, stdin: 'ignore', all: true });
      writeFileSync(join(dir, 'create.log'), create.all ?? '', { mode: 0o600 });
      if (create.exitCode !== 0) {
        throw new Error(`redis-cli --cluster create exited with ${create.exitCode ?? create.signal}: ${(create.all ?? '').trim().split('\n').slice(-5).join('\n')}`);
      }
      await cluster.waitHealthy(timeoutMs);
      return cluster;
    } catch (err) {
      await cluster.dispose().catch(() => undefined);
      throw new Error(`embedded Redis Cluster (${opts.masters} masters, ${opts.replicas} replicas each) failed to start in ${dir}: ${(err as Error).message}`);
    }
  }

  /** The nodes that are still running. */
  get live(): ClusterNode[] {
    return this.nodes.filter((n) => !n.hasExited);
  }

  /** The node at `address`. */
  node(address: string): ClusterNode {
    const n = this.nodes.find((x) => x.address === address);
    if (!n) throw new Error(`${address} is not a node of this cluster (${this.addresses.join(', ')})`);
    return n;
  }

  /** The topology as a live node sees it. */
  async topology(): Promise<ClusterNodeInfo[]> {
    return this.store.topology();
  }

  /** The running nodes that serve slots, in slot order (master 0 serves slot 0). */
  async masters(): Promise<ClusterNode[]> {
    return servingMasters(await this.topology()).map((m) => this.node(m.address));
  }

  /** Why the cluster is not healthy yet, or undefined when it is: on every live node
   * cluster_state:ok, all slots assigned, `masterCount` serving masters not flagged failed;
   * every live replica's link to its master up. */
  async unhealthy(): Promise<string | undefined> {
    const problems: string[] = [];
    for (const n of this.live) {
      const why = await this.store.onNode(n.address, async (r) => {
        const info = parseInfo(await r.call('CLUSTER', 'INFO') as string);
        if (info.cluster_state !== 'ok') return `cluster_state:${info.cluster_state}`;
        if (Number(info.cluster_slots_assigned) !== CLUSTER_SLOTS) return `${info.cluster_slots_assigned} slots assigned`;
        const repl = parseInfo(await r.info('replication'));
        if (repl.role === 'slave' && repl.master_link_status !== 'up') return `replica link ${repl.master_link_status}`;
        // Its view must have converged too: every node it knows serves slots, follows a
        // master, or is flagged failed (redis-cli returns before gossip has told everyone).
        const view = parseClusterNodes(await r.call('CLUSTER', 'NODES') as string);
        const masters = servingMasters(view).length;
        const idle = view.filter((x) => !x.failed && x.role === 'master' && x.slots.length === 0).length;
        if (masters !== this.masterCount || idle > 0) return `sees ${masters} serving masters and ${idle} masters without slots`;
        return undefined;
      }).catch((err: Error) => err.message);
      if (why) problems.push(`${n.address}: ${why}`);
    }
    if (problems.length === 0) {
      const masters = servingMasters(await this.topology());
      const slots = masters.reduce((s, m) => s + slotCount(m.slots), 0);
      if (masters.length !== this.masterCount || slots !== CLUSTER_SLOTS) problems.push(`${masters.length} serving masters with ${slots} slots`);
    }
    return problems.length ? problems.join('; ') : undefined;
  }

  /** Resolves once unhealthy() is undefined; rejects after `timeoutMs` naming what is not. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    let last = '';
    await waitFor(async () => {
      last = (await this.unhealthy()) ?? '';
      return last === '';
    }, { timeoutMs, intervalMs: 100, what: 'the Redis Cluster to be healthy' }).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
  }

  /** Resolves once every live replica has acknowledged its master's whole replication
   * stream (so that killing a master now loses no write). */
  async waitReplicated(timeoutMs = 10_000): Promise<void> {
    const masters = await this.masters();
    await waitFor(async () => {
      for (const m of masters) {
        const repl = parseInfo(await this.store.onNode(m.address, (r) => r.info('replication')));
        const offset = Number(repl.master_repl_offset);
        const replicas = Object.entries(repl).filter(([k]) => /^slave\d+$/.test(k)).map(([, v]) => v);
        if (replicas.length < Number(repl.connected_slaves ?? 0)) return false;
        if (replicas.some((v) => Number(/offset=(\d+)/.exec(v)?.[1] ?? -1) < offset)) return false;
      }
      return true;
    }, { timeoutMs, intervalMs: 50, what: 'replicas to acknowledge their masters\' writes' });
  }

  /** Sends `signal` (default SIGKILL: a crash, no shutdown step) to `node` and resolves
   * once it has exited. */
  async kill(node: ClusterNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!node.hasExited) process.kill(node.pid, signal);
    await node.exited;
  }

  /** After master `dead` was killed: resolves with the replica that now serves its slots,
   * once the cluster is healthy again (the dead node then shows as failed). */
  async waitForFailover(dead: ClusterNode, deadSlots: [number, number][], timeoutMs = 30_000): Promise<ClusterNode> {
    if (!dead.hasExited) throw new Error(`${dead.address} is still running: kill it first`);
    const first = deadSlots[0]?.[0];
    if (first === undefined) throw new Error(`${dead.address} served no slots`);
    let promoted: ClusterNode | undefined;
    let last = '';
    await waitFor(async () => {
      const nodes = await this.topology().catch(() => []);
      const owner = servingMasters(nodes).find((m) => m.slots.some(([lo, hi]) => lo <= first && first <= hi));
      if (!owner || owner.address === dead.address) { last = `slot ${first} still has no live master`; return false; }
      last = (await this.unhealthy()) ?? '';
      if (last) return false;
      promoted = this.node(owner.address);
      return true;
    }, { timeoutMs, intervalMs: 100, what: `a replica to replace master ${dead.address}` }).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
    return promoted!;
  }

  /** Idempotent: every node SIGTERM then SIGKILL (in parallel); resolves once all are
   * gone; rejects naming the nodes that survived (they stay in the lease). */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      const results = await Promise.allSettled(this.nodes.map((n) => n.dispose()));
      const failed = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
      if (failed.length) throw new Error(`Redis Cluster teardown: ${failed.join('; ')}`);
    })();
    return this.disposing;
  }
}
