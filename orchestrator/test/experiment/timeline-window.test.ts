/** The pure parts of a run's timeline window: one handler sample from two control-socket
 * stats (interval rates, latency quantiles of the interval's faults only), and whether a
 * guest answered over SSH while held to 1 MiB. (The window in a real run: configs/elastic.yaml.) */
import { describe, expect, it } from 'vitest';
import { answeredAt1MiB, handlerRow } from '../../src/experiment/timeline-window.js';
import type { VmStats } from '../../src/handler/control.js';
import type { ActionRecord } from '../../src/results/series.js';

function stats(faults: number, fetches: number, evictions: number, resident: number, histogram: Array<[number, number]>): VmStats {
  const zero = { zero_fills: 0, backend_writes: 0, remote_pages: 0, evicting_pages: 0, fetching_pages: 0, removed_pages: 0, queue_hits: 0, bytes_written: 0, bytes_read: 0 };
  return {
    ...zero, id: 'vm0', pid: 1, region_bytes: 0, tracked_pages: 0, meta_bytes: 0,
    faults, remote_fetches: fetches, evictions, resident_pages: resident,
    fault_latency_ns: { p50: 0, p99: 0, count: histogram.reduce((n, [, c]) => n + c, 0), histogram },
  };
}

describe('timeline window', () => {
  it('a handler sample: rates over the interval and p50/p99 of its faults only', () => {
    const before = stats(1000, 800, 500, 32768, [[4096, 900], [8192, 100]]);
    // 200 new faults in 100 ms: 100 at 16 us, 98 at 32 us, 2 at 1 ms; the old ones do not count
    const now = stats(1200, 990, 700, 256, [[4096, 900], [8192, 100], [16384, 100], [32768, 98], [1048576, 2]]);
    expect(handlerRow('vm0', 256, now, before, 1300, 100)).toEqual({
      type: 'handler', t_ms: 1300, vm: 'vm0', capacity_pages: 256, resident_pages: 256, resident_mib: 1,
      faults: 1200, remote_fetches: 990, evictions: 700,
      fault_rate: 2000, fetch_rate: 1900, eviction_rate: 2000,
      p50_ns: 16384, p99_ns: 32768,
    });
  });

  it('the first sample has no interval: no rates', () => {
    const row = handlerRow('vm0', 4096, stats(10, 5, 0, 10, [[4096, 10]]), undefined, 0, 0);
    expect(row).toMatchObject({ fault_rate: 0, fetch_rate: 0, eviction_rate: 0, p50_ns: 4096 });
  });

  it('answered at 1 MiB: only answers while the handler held <= 256 pages per guest count', () => {
    const exec = (answers: ActionRecord['answers']): ActionRecord => ({ index: 0, kind: 'exec', at_ms: 0, fired_ms: 0, ok: true, answers });
    expect(answeredAt1MiB([exec([{ vm: 'vm0', code: 0, ms: 2534, capacity_pages: 256, resident_pages: 235 }])], 1)).toBe(true);
    expect(answeredAt1MiB([exec([{ vm: 'vm0', code: null, ms: 120000, error: 'timed out', capacity_pages: 256 }])], 1)).toBe(false);
    expect(answeredAt1MiB([exec([{ vm: 'vm0', code: 0, ms: 20, capacity_pages: 32768 }])], 1)).toBeUndefined();
    expect(answeredAt1MiB([exec([{ vm: 'vm0', code: 0, ms: 20, capacity_pages: 512 }])], 2)).toBe(true);
    expect(answeredAt1MiB([], 1)).toBeUndefined();
  });
});
