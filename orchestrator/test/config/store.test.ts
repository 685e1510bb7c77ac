/** The `store:` key of fluidmem arms (config/store.ts): an embedded or existing Redis
 * Cluster, with FILE:LINE:COL errors for what cannot work. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configProblems } from '../support/config-problems.js';

function config(store: string, backend = 'redis'): string {
  return `name: t
vms:
  - name: vm0
    memory: 256M
arms:
  - name: single
    kind: fluidmem
    backend: redis
    resident: 50%
  - name: cluster
    kind: fluidmem
    backend: ${backend}
    resident: 50%
    store: ${store}
workload:
  command: [uname, -r]
`;
}

const problems = (src: string): string[] => configProblems(src);

describe('arm store: redis-cluster', () => {
  it('defaults an embedded cluster to 3 masters with 1 replica each, beside a single-Redis arm', () => {
    const c = parseConfig(config('{ kind: redis-cluster }'), 'x.yaml');
    const [single, cluster] = c.arms;
    expect(single).not.toHaveProperty('store');
    expect(cluster).toMatchObject({ name: 'cluster', store: { kind: 'redis-cluster', embedded: true, masters: 3, replicas: 1 } });
    expect(parseConfig(config('{ kind: redis-cluster, masters: 5, replicas: 0 }'), 'x.yaml').arms[1])
      .toMatchObject({ store: { embedded: true, masters: 5, replicas: 0 } });
  });

  it('takes an existing cluster by nodes and password_env', () => {
    const c = parseConfig(config('{ kind: redis-cluster, nodes: [10.0.0.5:7000, "redis-a.lab:7001"], password_env: LAB_REDIS_PW }'), 'x.yaml');
    expect(c.arms[1]).toMatchObject({ store: { kind: 'redis-cluster', embedded: false, nodes: ['10.0.0.5:7000', 'redis-a.lab:7001'], password_env: 'LAB_REDIS_PW' } });
  });

  it('names the line of each problem', () => {
    expect(problems(config('{ kind: redis-cluster, masters: 2 }'))).toEqual([
      'x.yaml:14:44: arms[1].store.masters: a Redis Cluster needs at least 3 masters',
    ]);
    expect(problems(config('{ kind: redis-cluster, nodes: [10.0.0.5:7000] }'))).toEqual([
      'x.yaml:14:12: arms[1].store.password_env: an existing Redis Cluster needs a password: set password_env to the name of an environment variable holding it',
    ]);
    expect(problems(config('{ kind: redis-cluster, nodes: [10.0.0.5], password_env: PW, replicas: 1 }'))).toEqual([
      "x.yaml:14:43: arms[1].store.nodes[0]: use HOST:PORT (e.g. 10.0.0.5:7000), got '10.0.0.5'",
      'x.yaml:14:82: arms[1].store.replicas: replicas describes an embedded cluster; with nodes: (an existing cluster) leave it out',
    ]);
    expect(problems(config('{ kind: redis-cluster, nodes: ["h:70000"], password_env: PW }'))).toEqual([
      'x.yaml:14:43: arms[1].store.nodes[0]: the port must be 1..65535, got 70000',
    ]);
    expect(problems(config('{ kind: redis-cluster, password_env: PW }'))).toEqual([
      'x.yaml:14:49: arms[1].store.password_env: password_env is for an existing cluster (nodes:); an embedded cluster makes its own password',
    ]);
    expect(problems(config('{ kind: redis-cluster }', 'dram'))).toEqual([
      'x.yaml:14:12: arms[1].store: store: is where a redis backend evicts to: set backend: redis (this arm has backend: dram)',
    ]);
    expect(problems(config('{ kind: memcached }'))).toEqual(['x.yaml:14:20: arms[1].store.kind: expected "redis-cluster", got "memcached"']);
    expect(problems(config('{ kind: redis-cluster, master: 3 }'))).toEqual(["x.yaml:14:35: arms[1].store.master: unknown key 'master' (did you mean 'masters'?)"]);
  });
});
