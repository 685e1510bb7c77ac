/**
 * The topology of a Redis Cluster as one node sees it: CLUSTER NODES text parsed into
 * nodes (id, address, role, the master a replica follows, failure flags, slot ranges).
 * Pure, so the stats, the embedded cluster's readiness and failover checks, and tests
 * share one reading of it. CLUSTER NODES (not CLUSTER SHARDS) because it is the same on
 * every Redis since 3.0, and it names failed nodes, which a failover check needs.
 */

export interface ClusterNodeInfo {
  id: string;
  /** host:port clients use (the @bus-port and ,hostname parts removed). */
  address: string;
  role: 'master' | 'replica';
  /** The master a replica follows (its id), undefined for a master. */
  masterId?: string;
  /** The node the answer came from. */
  myself: boolean;
  /** Flagged `fail` (agreed down) or `fail?` (suspected by the node asked). */
  failed: boolean;
  connected: boolean;
  /** Inclusive slot ranges served (masters only; importing/migrating markers skipped). */
  slots: [number, number][];
}

/** Parses CLUSTER NODES output; throws naming the line when a line is malformed. */
export function parseClusterNodes(text: string): ClusterNodeInfo[] {
  const out: ClusterNodeInfo[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const f = line.split(' ');
    if (f.length < 8) throw new Error(`CLUSTER NODES: malformed line '${line}' (expected at least 8 fields)`);
    const [id, addr, flagText, master, , , , link, ...slotFields] = f as [string, string, string, string, string, string, string, string, ...string[]];
    const flags = flagText.split(',');
    const slots: [number, number][] = [];
    for (const s of slotFields) {
      if (s.startsWith('[')) continue; // [slot->-node] migrating, [slot-<-node] importing
      const m = /^(\d+)(?:-(\d+))?$/.exec(s);
      if (!m) throw new Error(`CLUSTER NODES: bad slot range '${s}' in line '${line}'`);
      slots.push([Number(m[1]), Number(m[2] ?? m[1])]);
    }
    const replica = flags.includes('slave') || flags.includes('replica');
    out.push({
      id,
      address: addr.split('@')[0]!.split(',')[0]!,
      role: replica ? 'replica' : 'master',
      masterId: replica && master !== '-' ? master : undefined,
      myself: flags.includes('myself'),
      failed: flags.includes('fail') || flags.includes('fail?'),
      connected: link === 'connected',
      slots,
    });
  }
  return out;
}

/** Number of slots in `ranges`. */
export function slotCount(ranges: [number, number][]): number {
  return ranges.reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
}

/** The masters that serve at least one slot and are not flagged failed, ordered by their
 * lowest slot: master 0 serves slot 0, and a promoted replica takes its master's index. */
export function servingMasters(nodes: ClusterNodeInfo[]): ClusterNodeInfo[] {
  const lowest = (n: ClusterNodeInfo) => Math.min(...n.slots.map(([lo]) => lo));
  return nodes.filter((n) => n.role === 'master' && !n.failed && n.slots.length > 0)
    .sort((a, b) => lowest(a) - lowest(b));
}
