/**
 * The `store:` of a fluidmem arm: where the handler evicts pages when it is not the
 * experiment-wide `redis:` (a single Redis, embedded or external). Today one kind:
 *
 *   store: { kind: redis-cluster, masters: 3, replicas: 1 }
 *     an embedded Redis Cluster on 127.0.0.1, started and removed by each run
 *     (kvstore/redis-cluster.ts); masters >= 3 (Redis Cluster's minimum), replicas per
 *     master 0..3 (default 1);
 *   store: { kind: redis-cluster, nodes: [HOST:PORT, ...], password_env: NAME }
 *     an existing cluster (any of its nodes as seeds); the run's keys live under
 *     `fluidlab:RUN-ID:` and are removed afterwards.
 *
 * It sits on the arm, not at the top level, so one experiment can set a cluster arm beside
 * a single-Redis arm (configs/cluster.yaml). The arm must have backend: redis.
 */
import { z } from 'zod';

const hostPort = z.string().superRefine((s, ctx) => {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : 0;
  if (!m) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `use HOST:PORT (e.g. 10.0.0.5:7000), got '${s}'` });
  else if (port < 1 || port > 65535) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `the port must be 1..65535, got ${port}` });
});

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the name of an environment variable (letters, digits, _)');

export type StoreConfig =
  | { kind: 'redis-cluster'; embedded: true; masters: number; replicas: number }
  | { kind: 'redis-cluster'; embedded: false; nodes: string[]; password_env: string };

export const storeSchema = z.object({
  kind: z.literal('redis-cluster'),
  masters: z.number().int().min(3, 'a Redis Cluster needs at least 3 masters').max(16).optional(),
  replicas: z.number().int().min(0).max(3).optional(),
  nodes: z.array(hostPort).min(1, 'list at least one node (HOST:PORT)').optional(),
  password_env: envName.optional(),
}).strict().superRefine((s, ctx) => {
  if (s.nodes) {
    for (const k of ['masters', 'replicas'] as const) {
      if (s[k] !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [k], message: `${k} describes an embedded cluster; with nodes: (an existing cluster) leave it out` });
    }
    if (!s.password_env) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['password_env'], message: 'an existing Redis Cluster needs a password: set password_env to the name of an environment variable holding it' });
  } else if (s.password_env) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['password_env'], message: 'password_env is for an existing cluster (nodes:); an embedded cluster makes its own password' });
  }
}).transform((s): StoreConfig => (s.nodes
  ? { kind: s.kind, embedded: false, nodes: s.nodes, password_env: s.password_env! }
  : { kind: s.kind, embedded: true, masters: s.masters ?? 3, replicas: s.replicas ?? 1 }));

/** A `store:` needs the arm's backend to be redis (configSchema's refinement). */
export function checkArmStores(c: { arms: ({ kind: string; backend?: string; store?: StoreConfig })[] }, ctx: z.RefinementCtx): void {
  c.arms.forEach((a, i) => {
    if (a.kind === 'fluidmem' && a.store && a.backend !== 'redis') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['arms', i, 'store'], message: `store: is where a redis backend evicts to: set backend: redis (this arm has backend: ${a.backend})` });
    }
  });
}
