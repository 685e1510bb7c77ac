/**
 * The guest side of the time series: /proc/meminfo and /proc/vmstat in one SSH round trip
 * (`cat` of both, over the VM's existing connection), parsed into a GuestSample.
 */
import type { GuestSample } from '../results/series.js';

/** The vmstat counters the series keeps (swap traffic, faults, balloon moves). */
export const SERIES_VMSTAT_KEYS = ['pswpin', 'pswpout', 'pgmajfault', 'pgfault', 'pgpgin', 'pgpgout', 'balloon_inflate', 'balloon_deflate'];

const MEMINFO: Record<string, keyof GuestSample> = {
  MemTotal: 'mem_total_kib', MemFree: 'mem_free_kib', MemAvailable: 'mem_available_kib', Cached: 'cached_kib', SwapFree: 'swap_free_kib',
};

/** The command a guest sample runs. */
export const GUEST_SAMPLE_ARGV = ['cat', '/proc/meminfo', '/proc/vmstat'];

/** Parses `cat /proc/meminfo /proc/vmstat` output (meminfo lines end in ':', vmstat's
 * do not); unknown lines are ignored. */
export function parseGuestSample(text: string, vm: string, tMs: number, latencyMs: number): GuestSample {
  const out: GuestSample = { type: 'guest', t_ms: Math.round(tMs), vm, vmstat: {}, latency_ms: Math.round(latencyMs) };
  for (const line of text.split('\n')) {
    const m = /^(\w+)(:?)\s+(\d+)/.exec(line.trim());
    if (!m) continue;
    const [, key, colon, value] = m;
    if (colon) {
      const field = MEMINFO[key!];
      if (field) (out as unknown as Record<string, number>)[field] = Number(value);
    } else if (SERIES_VMSTAT_KEYS.includes(key!)) {
      out.vmstat[key!] = Number(value);
    }
  }
  return out;
}
