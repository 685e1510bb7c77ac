/**
 * The resolution of quantized metrics: a value that can only move in steps carries a
 * rounding error the repetitions do not average out (they usually all land in the same
 * bucket), so a comparison treats one step as part of the noise (stats/welch.ts adds its
 * variance; stats/verdict.ts never calls a change of one step or less a verdict).
 *
 * - handler.fault_latency_ns.{p50,p99}: the fault handler's histogram (helpers/src/hist.c)
 *   splits each power of two into 4 equal buckets and reports a bucket's upper bound, so a
 *   one-bucket move is 2^(1/4)-1 ~ 19% on average and at most 25% (from 2^k*2 to 2^k*2.5).
 *   The resolution is the largest step, 25%.
 * - {read,write}.latency.{90,95,99}%.ns: LKP's bucket values, 16 linear sub-buckets per power
 *   of two (pmbench's sub-counts): at most 1/16 = 6.25% per step.
 * Every other metric (means, our interpolated percentiles, counters) is continuous: 0.
 */

/** Largest relative step between adjacent values the metric can take; 0 when continuous. */
export function metricResolution(metric: string): number {
  if (/^handler\.fault_latency_ns\./.test(metric)) return 0.25;
  if (/^(read|write)\.latency\.\d+%\.ns$/.test(metric)) return 1 / 16;
  return 0;
}
