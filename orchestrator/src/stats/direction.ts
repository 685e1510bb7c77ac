/**
 * Which way is better for a metric: latency-like metrics (the name contains 'latency')
 * lower, throughput higher; everything else (vmstat, handler counters) is informational.
 * Histogram band shares (read.latency.ns.512-1K%, LKP's names: the percentage of accesses
 * in a band) are informational too: more accesses in a band is neither better nor worse by
 * itself; so is the spread of throughput over threads (throughput.std_dev%).
 */
export type Direction = 'lower-is-better' | 'higher-is-better' | 'informational';

export function metricDirection(name: string): Direction {
  if (isBandShare(name) || name === 'throughput.std_dev%') return 'informational';
  if (name.includes('latency')) return 'lower-is-better';
  if (name.startsWith('throughput')) return 'higher-is-better';
  return 'informational';
}

/** A histogram band's share of the accesses, e.g. read.latency.ns.512-1K%, write.latency.ns.1G-inf%. */
export function isBandShare(name: string): boolean {
  return /\.\d+[KMG]?-(\d+[KMG]?|inf)%$/.test(name);
}
