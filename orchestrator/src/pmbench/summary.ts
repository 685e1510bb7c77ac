/** Human-readable summary of a parsed pmbench report (for `orchestrate pmbench parse`). */
import type { Percentiles, PmbenchReport } from './types.js';

function ns(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)} ms` : v >= 1e3 ? `${(v / 1e3).toFixed(2)} us` : `${v.toFixed(0)} ns`;
}

function pct(p: Percentiles | null): string {
  return p ? `p50 ${ns(p.p50)}  p90 ${ns(p.p90)}  p99 ${ns(p.p99)}` : '-';
}

export function formatPmbenchSummary(r: PmbenchReport): string {
  const p = r.parameters;
  const net = r.metrics['latency.ns.net_average'];
  const avg = r.metrics['latency.ns.average'];
  const usOf = (ns: number | undefined) => (ns === undefined ? '-' : `${(ns / 1000).toFixed(4)} us`);
  const lines = [
    `${r.signature.version} (${r.format} report) on ${r.signature.kernel}, ${r.signature.date}`,
    `  uuid ${r.signature.uuid}; CPU ${r.machine.cpuModel}, TSC ${(r.machine.tscKhz / 1000).toFixed(0)} MHz`,
    `parameters: ${p.durationSec} s, map ${p.mapsizeMib} MiB, set ${p.setsizeMib} MiB, ${p.pattern} (shape ${p.shape}), ` +
      `${p.ratio}% reads, ${p.jobs} job(s)${p.cold ? ', cold' : ''}${p.initialize ? ', initialized' : ''}, ${p.access}, ${p.tsops}`,
    `net average latency: ${usOf(net)}; incl. generation (LKP latency.ns.average): ${usOf(avg)} (mean over ${r.threads.length} thread(s))`,
    `throughput: ${Math.round(r.throughput.accessesPerSec).toLocaleString('en-US')} accesses/s (from ${r.throughput.source}; ` +
      `std-dev ${r.throughput.stdDevPercent.toFixed(2)}% over threads)`,
    `samples: ${r.samples.total} (read ${r.samples.read}, write ${r.samples.write})`,
    `read latency:     ${pct(r.percentiles.read)}`,
    `write latency:    ${pct(r.percentiles.write)}`,
    `combined latency: ${pct(r.percentiles.combined)}`,
    r.vmstat
      ? `vmstat delta: pgpgin ${r.vmstat.pgpgin}, pgpgout ${r.vmstat.pgpgout}, pswpin ${r.vmstat.pswpin}, pswpout ${r.vmstat.pswpout}, pgmajfault ${r.vmstat.pgmajfault}`
      : 'vmstat delta: -',
    `interrupted: ${r.interrupted ? 'yes (partial report)' : 'no'}`,
  ];
  return lines.join('\n');
}
