/**
 * Sets up the memory side of one run, per arm kind:
 *  - fluidmem: the key-value store (embedded Redis on a Unix socket, an external Redis under
 *    a per-run key prefix, the arm's `store:` Redis Cluster, embedded on 127.0.0.1 or
 *    external, or none for DRAM), then fluidmem-monitor with the resident limit; each guest
 *    gets the attach library in its environment. A cluster arm first asks the monitor
 *    binary whether it has the redis-cluster backend (handler/backends.ts).
 *  - swap: a raw swap disk per guest on tmpfs (/dev/shm) or on disk (/var/tmp), or (nbd) a
 *    file on /dev/shm exported by a qemu-storage-daemon over NBD on 127.0.0.1 that QEMU's
 *    NBD client attaches (the remote-swap arm); the guest's memory is the resident limit.
 *  - none: nothing; the guest's memory is all in DRAM.
 * Everything is owned by the run context, so every exit path removes it.
 */
import { mkdirSync, openSync, closeSync, ftruncateSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ArmConfig, ExperimentConfig, VmConfig } from '../config/schema.js';
import type { StoreConfig } from '../config/store.js';
import { requireMonitorBackend } from '../handler/backends.js';
import { attachEnv, Monitor } from '../handler/monitor.js';
import { ClusterStore } from '../kvstore/cluster-store.js';
import { pageKeyStart } from '../kvstore/key-slot.js';
import { EmbeddedRedisCluster } from '../kvstore/redis-cluster.js';
import { EmbeddedRedis } from '../kvstore/redis-server.js';
import { RedisStore } from '../kvstore/redis-client.js';
import type { RunContext } from '../run/context.js';
import { NbdServer } from '../vm/nbd-export.js';
import type { DiskSpec } from '../vm/qemu-args.js';
import { guestMemoryMiB, residentMiB } from './expand.js';

export const PAGES_PER_MIB = 256;

export interface GuestMemoryPlan {
  memoryMiB: number;
  env?: Record<string, string>;
  disks?: DiskSpec[];
  swapDevice?: string;
}

export interface MemoryArm {
  arm: ArmConfig;
  monitor?: Monitor;
  /** The store the handler writes to (fluidmem + redis), for INFO and key counts. */
  store?: { url: string; password?: string; keyPrefix: string };
  /** Instead of `store`, when the arm evicts to a Redis Cluster: per-master stats. */
  cluster?: ClusterHandle;
  plan(vm: VmConfig): GuestMemoryPlan;
}

/** A Redis Cluster a run evicts to: its stats source and what its page keys start with. */
export interface ClusterHandle {
  store: ClusterStore;
  /** Every page key of the run starts with this (kvstore/key-slot.ts pageKeyStart). */
  keyStart: string;
  embedded: boolean;
}

function redisPassword(config: ExperimentConfig): string | undefined {
  const name = config.redis.password_env;
  if (!name) return undefined;
  const value = process.env[name];
  if (!value) throw new Error(`redis.password_env names ${name}, but that environment variable is empty: export it before the run`);
  return value;
}

async function startStore(ctx: RunContext, config: ExperimentConfig): Promise<{ url: string; password?: string; keyPrefix: string }> {
  const keyPrefix = `fluidlab:${ctx.runId}:`;
  if (config.redis.url === 'embedded') {
    const redis = ctx.own(await EmbeddedRedis.start({ runDir: ctx.runDir, lease: ctx.lease }));
    return { url: redis.url, keyPrefix };
  }
  const password = redisPassword(config);
  const store = await RedisStore.connect({ url: config.redis.url, password });
  // Keys of this run live under the prefix; remove them when the run ends.
  ctx.own({ dispose: async () => { await store.deleteKeys(keyPrefix); await store.close(); } });
  return { url: config.redis.url, password, keyPrefix };
}

function envPassword(name: string, what: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${what} names ${name}, but that environment variable is empty: export it before the run`);
  return value;
}

/** Starts (embedded) or checks (external) the arm's Redis Cluster, owned by `ctx` (an
 * external cluster's keys of the run are removed when `ctx` is disposed); the monitor's
 * backend URL lists every node so it can refresh the slot map from any. */
export async function startCluster(ctx: RunContext, store: StoreConfig): Promise<{ url: string; password: string; keyPrefix: string; cluster: ClusterHandle }> {
  const keyPrefix = `fluidlab:${ctx.runId}:`;
  const keyStart = pageKeyStart(keyPrefix);
  if (store.embedded) {
    const cluster = ctx.own(await EmbeddedRedisCluster.start({ runDir: ctx.runDir, lease: ctx.lease, masters: store.masters, replicas: store.replicas }));
    return { url: cluster.url, password: cluster.password, keyPrefix, cluster: { store: cluster.store, keyStart, embedded: true } };
  }
  const password = envPassword(store.password_env, 'store.password_env');
  const client = new ClusterStore({ nodes: store.nodes, password });
  await client.topology().catch((err: Error) => { // reachable, a cluster, the password right
    throw new Error(`store: redis-cluster nodes ${store.nodes.join(', ')}: ${err.message}`);
  });
  // Keys of this run live under the prefix (hash-tagged: `{PREFIX`); remove them afterwards.
  ctx.own({ dispose: async () => { await client.deleteKeys(keyStart); await client.deleteKeys(keyPrefix); } });
  return { url: `redis-cluster://${store.nodes.join(',')}`, password, keyPrefix, cluster: { store: client, keyStart, embedded: false } };
}

function swapDir(on: 'tmpfs' | 'disk'): string {
  return on === 'tmpfs' ? '/dev/shm/fluidlab' : '/var/tmp/fluidlab';
}

function createSwapImage(ctx: RunContext, on: 'tmpfs' | 'disk', name: string, sizeMiB: number): string {
  const dir = swapDir(on);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${ctx.runId}-${name}.swap`);
  ctx.lease.addFile(path); // so that `orchestrate down` removes it after a crash
  const fd = openSync(path, 'w', 0o600);
  try { ftruncateSync(fd, sizeMiB * 2 ** 20); } finally { closeSync(fd); }
  ctx.own({ dispose: async () => { rmSync(path, { force: true }); ctx.lease.removeFile(path); } });
  return path;
}

export interface Handler {
  monitor: Monitor;
  store?: { url: string; password?: string; keyPrefix: string };
  /** The arm's Redis Cluster (`store:`), when it has one. */
  cluster?: ClusterHandle;
  /** Where attach libraries connect (FLUIDMEM_SOCKET). */
  socketPath: string;
}

/** Starts the store (redis backend: the arm's `store:` cluster if it has one, else the
 * top-level redis:) and fluidmem-monitor with `capacityPages` resident pages, all owned by
 * `ctx`: the handler that guests' RAM or a host benchmark's working set is attached to.
 * A cluster store is refused before anything starts when the monitor lacks the backend.
 * A Redis-backed monitor that crashes is restarted on the same sockets and key nonce up to
 * `restarts` times (default 1 per run); its guests reattach and lose nothing. DRAM: never
 * (the pages die with the process; guests exit 70). */
export async function startHandler(ctx: RunContext, config: ExperimentConfig, backend: 'redis' | 'dram', capacityPages: number, armStore?: StoreConfig, restarts = 1): Promise<Handler> {
  if (backend === 'redis' && armStore) await requireMonitorBackend(armStore.kind);
  const clustered = backend === 'redis' && armStore ? await startCluster(ctx, armStore) : undefined;
  const store = clustered ?? (backend === 'redis' ? await startStore(ctx, config) : undefined);
  const socketPath = join(ctx.runDir, 'fm.sock');
  const monitor = ctx.own(await Monitor.start({
    socketPath,
    controlPath: join(ctx.runDir, 'fm.ctl'),
    backend: store ? store.url : 'dram',
    capacityPages,
    keyPrefix: store?.keyPrefix,
    redisPassword: store?.password,
    logFile: join(ctx.runDir, 'monitor.log'),
    lease: ctx.lease,
    restarts: backend === 'redis' ? restarts : 0,
  }));
  if (clustered) return { monitor, cluster: clustered.cluster, socketPath };
  return { monitor, store, socketPath };
}

export async function setUpMemoryArm(ctx: RunContext, config: ExperimentConfig, arm: ArmConfig): Promise<MemoryArm> {
  if (arm.kind === 'fluidmem') {
    // One handler serves every VM of the run; its capacity is the sum of their limits.
    const capacityPages = config.vms.reduce((n, vm) => n + residentMiB(arm, vm)! * PAGES_PER_MIB, 0);
    const { monitor, store, cluster, socketPath } = await startHandler(ctx, config, arm.backend, capacityPages, arm.store);
    return {
      arm, monitor, store, cluster,
      plan: (vm) => ({
        memoryMiB: vm.memory,
        env: attachEnv({ socketPath, regionBytes: vm.memory * 2 ** 20, vmId: vm.name }),
      }),
    };
  }
  if (arm.kind === 'swap') {
    if (arm.swap_on === 'zram') throw new Error(`arm ${arm.name}: swap_on: zram is a host swap device (placement: host)`);
    if (arm.swap_on === 'nbd') {
      // One daemon per run, one export per guest, each backed by a file on /dev/shm.
      const exports = config.vms.map((vm) => ({ name: vm.name, file: createSwapImage(ctx, 'tmpfs', vm.name, arm.swap_size ?? vm.memory) }));
      const server = ctx.own(await NbdServer.start({ runDir: ctx.runDir, exports, lease: ctx.lease }));
      return {
        arm,
        plan: (vm) => ({ memoryMiB: guestMemoryMiB(arm, vm), disks: [{ nbd: server.url(vm.name) }], swapDevice: '/dev/vda' }),
      };
    }
    const swapOn = arm.swap_on;
    return {
      arm,
      plan: (vm) => {
        const path = createSwapImage(ctx, swapOn, vm.name, arm.swap_size ?? vm.memory);
        return {
          memoryMiB: guestMemoryMiB(arm, vm),
          disks: [{ path, cache: swapOn === 'disk' ? 'none' : 'writeback' }],
          swapDevice: '/dev/vda',
        };
      },
    };
  }
  return { arm, plan: (vm) => ({ memoryMiB: vm.memory }) };
}
