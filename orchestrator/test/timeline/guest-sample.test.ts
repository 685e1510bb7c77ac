import { describe, expect, it } from 'vitest';
import { GUEST_SAMPLE_ARGV, parseGuestSample } from '../../src/timeline/guest-sample.js';

describe('guest sample', () => {
  it('reads meminfo fields in KiB and the series vmstat counters from one cat', () => {
    const text = `MemTotal:         118248 kB
MemFree:            2044 kB
MemAvailable:       7720 kB
Buffers:               0 kB
Cached:             9000 kB
SwapTotal:        262140 kB
SwapFree:         200000 kB
nr_free_pages 511
pgpgin 1234
pswpin 66116
pswpout 60816
pgfault 999
pgmajfault 70000
balloon_inflate 12000
balloon_deflate 12000
workingset_refault_anon 5
`;
    expect(parseGuestSample(text, 'vm0', 3000, 41.6)).toEqual({
      type: 'guest', t_ms: 3000, vm: 'vm0', latency_ms: 42,
      mem_total_kib: 118248, mem_free_kib: 2044, mem_available_kib: 7720, cached_kib: 9000, swap_free_kib: 200000,
      vmstat: { pgpgin: 1234, pswpin: 66116, pswpout: 60816, pgfault: 999, pgmajfault: 70000, balloon_inflate: 12000, balloon_deflate: 12000 },
    });
    expect(GUEST_SAMPLE_ARGV).toEqual(['cat', '/proc/meminfo', '/proc/vmstat']);
  });

  it('leaves out what the guest did not print', () => {
    expect(parseGuestSample('garbage\n', 'vm1', 0, 0)).toEqual({ type: 'guest', t_ms: 0, vm: 'vm1', latency_ms: 0, vmstat: {} });
  });
});
