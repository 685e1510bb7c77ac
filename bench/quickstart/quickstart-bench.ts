/**
 * bench/quickstart: runs configs/quickstart.yaml once and prints, from that one run, the
 * pmbench average latency of each arm and the ratios fluidmem-* / swap-tmpfs (the seed
 * reported FluidMem below DRAM-backed swap: target ratio < 1.0).
 */
import { loadConfig } from '../../orchestrator/src/config/load.js';
import { runExperiment } from '../../orchestrator/src/experiment/runner.js';
import { formatTable, latencyRatios } from '../../orchestrator/src/results/summarize.js';

const file = process.argv[2] ?? 'configs/quickstart.yaml';
const { summary, dir } = await runExperiment(loadConfig(file), {
  events: { runDone: (run, rec) => process.stderr.write(`${run.id}: ${rec.status} (${(rec.durationMs / 1000).toFixed(0)} s)\n`) },
});
console.log(formatTable(summary.variants));
for (const v of summary.variants) {
  const m = v.metrics['latency.ns.average'];
  if (m) console.log(`${v.variant.padEnd(16)} average latency ${(m.mean / 1000).toFixed(2)} us over ${m.n} repetition(s) [${m.values.map((x) => (x / 1000).toFixed(2)).join(', ')}]`);
}
for (const r of latencyRatios(summary.variants)) console.log(`ratio ${r.a} / ${r.b}: ${r.ratio.toFixed(3)} (target < 1.0)`);
console.log(`accelerator ${summary.accelerator}; results ${dir}`);
process.exitCode = summary.failed ? 1 : 0;
