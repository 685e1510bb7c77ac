/**
 * Which way is better for a metric: latency-like metrics (the name contains 'latency')
 * lower, throughput higher; everything else (vmstat, handler counters) is informational.
 * Histogram band shares (read.latency.ns.256-512%: the percentage of accesses in a band)
 * are informational too: more accesses in a band is neither better nor worse by itself.
 */
export type Direction = 'lower-is-better' | 'higher-is-better' | 'informational';

export function metricDirection(name: string): Direction {
  if (isBandShare(name)) return 'informational';
  if (name.includes('latency')) return 'lower-is-better';
  if (name.startsWith('throughput')) return 'higher-is-better';
  return 'informational';
}

/** A histogram band's share of the accesses, e.g. read.latency.ns.256-512%. */
export function isBandShare(name: string): boolean {
  return /\.\d+-\d+%$/.test(name);
}
