/** CLUSTER NODES parsing (pure): roles, failure flags, slot ranges with migration markers,
 * and the serving masters in slot order. */
import { describe, expect, it } from 'vitest';
import { parseClusterNodes, servingMasters, slotCount } from '../../src/kvstore/cluster-nodes.js';

const TEXT = [
  'aaa 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460 [5461->-ccc]',
  'bbb 127.0.0.1:7002@17002,host-b master - 0 0 2 connected 10923-16383',
  'ccc 127.0.0.1:7003@17003 master - 0 0 3 connected 5461-10921 10922 [10922-<-aaa]',
  'ddd 127.0.0.1:7004@17004 slave aaa 0 0 1 connected',
  'eee 127.0.0.1:7005@17005 master,fail - 0 0 2 disconnected',
  'fff 127.0.0.1:7006@17006 slave,fail? bbb 0 0 2 disconnected',
  '',
].join('\n');

describe('parseClusterNodes', () => {
  it('reads roles, addresses, failure flags and slot ranges', () => {
    const nodes = parseClusterNodes(TEXT);
    expect(nodes.map((n) => n.address)).toEqual(['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003', '127.0.0.1:7004', '127.0.0.1:7005', '127.0.0.1:7006']);
    expect(nodes[0]).toMatchObject({ id: 'aaa', role: 'master', myself: true, failed: false, connected: true, slots: [[0, 5460]] });
    expect(nodes[2]!.slots).toEqual([[5461, 10921], [10922, 10922]]);
    expect(nodes[3]).toMatchObject({ role: 'replica', masterId: 'aaa', myself: false });
    expect(nodes[4]).toMatchObject({ role: 'master', failed: true, connected: false, slots: [] });
    expect(nodes[5]).toMatchObject({ role: 'replica', masterId: 'bbb', failed: true });
    expect(slotCount(nodes.flatMap((n) => n.slots))).toBe(16384);
  });

  it('orders serving masters by lowest slot and leaves out failed and slot-less ones', () => {
    expect(servingMasters(parseClusterNodes(TEXT)).map((n) => n.id)).toEqual(['aaa', 'ccc', 'bbb']);
  });

  it('names a malformed line', () => {
    expect(() => parseClusterNodes('aaa 127.0.0.1:7001 master')).toThrow(/malformed line 'aaa 127.0.0.1:7001 master'/);
    expect(() => parseClusterNodes('aaa 127.0.0.1:7001@1 master - 0 0 1 connected 12x')).toThrow(/bad slot range '12x'/);
  });
});
