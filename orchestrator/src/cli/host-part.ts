/**
 * A lab host's part of an experiment: the program the control host starts on a lab host
 * over SSH (hosts/remote-part.ts), from that host's FluidLab checkout:
 *
 *   cd ROOT && node --import tsx orchestrator/src/cli/host-part.ts WORK_DIR/RUN-ID
 *
 * It reads its job (hosts/part-protocol.ts: the host's run id, results root, sub-config)
 * from the first line of stdin, runs it with the same runExperiment as `orchestrate up`,
 * and reports on stdout as JSON lines (phases, workload output, each run's record, then
 * `done`); everything for humans goes to stderr. Ending: when stdin closes before `done`
 * (the control host closed the channel, was killed, or lost the connection) the part sends
 * itself SIGTERM, so the signal path of `up` runs: every RunContext tears down newest
 * first and leases are cleared. No pdeathsig reaches across SSH; this is its stand-in.
 */
import { pathToFileURL } from 'node:url';
import { ConfigError, parseConfigWithWarnings } from '../config/load.js';
import { runExperiment } from '../experiment/runner.js';
import { PART_ENV, type PartEvent, type PartJob } from '../hosts/part-protocol.js';

/** Writes one event line; a closed stdout (the channel is gone) is ignored here: stdin's
 * end stops the part. */
function emit(e: PartEvent): void {
  try { process.stdout.write(`${JSON.stringify(e)}\n`); } catch { /* channel gone */ }
}

/** The first line of stdin, parsed as the job; rejects if stdin ends first. */
function readJob(): Promise<PartJob> {
  return new Promise((ok, fail) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      try { ok(JSON.parse(buf.slice(0, nl)) as PartJob); } catch (err) { fail(new Error(`the job line is not JSON: ${(err as Error).message}`)); }
    };
    const onEnd = () => fail(new Error('stdin closed before the job arrived'));
    process.stdin.on('data', onData);
    process.stdin.on('end', onEnd);
  });
}

/** Runs the part; resolves with the exit status. */
export async function hostPart(): Promise<number> {
  // stdout carries the protocol alone: anything printed with console.log goes to stderr.
  console.log = (...args: unknown[]) => console.error(...args);
  // Once the channel is gone, writes fail with EPIPE: ignored (an unhandled stream error
  // would end the process in the middle of its teardown); stdin's end stops the part.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  let done = false;
  let job: PartJob;
  try {
    job = await readJob();
  } catch (err) {
    emit({ ev: 'error', message: (err as Error).message });
    return 2;
  }
  process.env[PART_ENV] = `${job.workDir}/${job.runId}`;
  emit({ ev: 'start', pid: process.pid, nowMs: Date.now() });
  // Whatever else arrives on stdin is ignored; its end means: stop.
  // Once: a second SIGTERM would make the signal path exit without finishing the teardown.
  let stopping = false;
  const stop = () => {
    if (done || stopping) return;
    stopping = true;
    console.error(`host-part ${job.host}: stdin closed (the control host went away): stopping`);
    process.kill(process.pid, 'SIGTERM');
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();

  let loaded;
  try {
    loaded = { file: job.configFile, source: job.config, ...parseConfigWithWarnings(job.config, job.configFile) };
  } catch (err) {
    emit({ ev: 'error', message: err instanceof ConfigError ? `the sub-config is refused here (another FluidLab revision?):\n${err.message}` : (err as Error).message });
    return 2;
  }
  for (const w of loaded.warnings) console.error(w);
  try {
    const result = await runExperiment(loaded, {
      resultsRoot: job.workDir,
      runId: job.runId,
      events: {
        log: (line) => emit({ ev: 'log', line }),
        phase: (run, phase) => emit({ ev: 'phase', variant: run.variant, repetition: run.repetition, phase }),
        output: (run, chunk) => emit({ ev: 'output', variant: run.variant, repetition: run.repetition, chunk }),
        runDone: (_run, record) => emit({ ev: 'run', record }),
      },
    });
    done = true;
    emit({ ev: 'done', dir: result.dir, failed: result.summary.failed });
    return 0;
  } catch (err) {
    done = true;
    emit({ ev: 'error', message: (err as Error).stack ?? String(err) });
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  hostPart().then(
    (code) => { process.exitCode = code; process.stdin.pause(); process.stdin.destroy(); },
    (err) => { console.error(`host-part: ${(err as Error).message}`); process.exitCode = 1; process.stdin.destroy(); },
  );
}
