/**
 * Which way is better for a metric: latency-like metrics (the name contains 'latency')
 * lower, throughput higher; everything else (vmstat, handler counters) is informational.
 */
export type Direction = 'lower-is-better' | 'higher-is-better' | 'informational';

export function metricDirection(name: string): Direction {
  if (name.includes('latency')) return 'lower-is-better';
  if (name.startsWith('throughput')) return 'higher-is-better';
  return 'informational';
}
