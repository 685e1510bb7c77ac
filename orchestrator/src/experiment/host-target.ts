/**
 * The host as a workload target (see workload.ts WorkloadTarget): our benchmark's host
 * builds (workloads/bin/pmbench-host, memverify-host: dynamically linked, so the attach
 * library's LD_PRELOAD reaches them), run from an argument array with a fixed environment,
 * optionally inside a memory cgroup (helpers/bin/fluidlab-cgexec) and pinned to one CPU.
 * Each process is recorded in the run's lease (role 'workload', reaped first by
 * `orchestrate down`) and owned by the run context, so Ctrl-C or a crash of the
 * orchestrator never leaves a benchmark running.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ExecOptions, ExecResult } from '../guest/ssh.js';
import { HELPERS_BIN } from '../handler/monitor.js';
import { defaultWorkloadsDir } from '../image/paths.js';
import type { RunContext } from '../run/context.js';
import type { WorkloadTarget } from './workload.js';
import { withParentDeathSignal } from '../process/child.js';

export const CGEXEC = join(HELPERS_BIN, 'fluidlab-cgexec');

export interface HostTargetOptions {
  ctx: RunContext;
  /** Extra environment of the workload (the attach library's, for fluidmem arms). */
  env?: Record<string, string>;
  /** A cgroup directory to run the workload in (swap arms). */
  cgroupDir?: string;
  /** The CPU the workload is pinned to (undefined: not pinned). */
  cpu?: number;
}

/** The host build of one of our workloads; throws with the fix when it is missing. */
export function hostProgram(name: 'pmbench' | 'memverify'): string {
  const path = join(defaultWorkloadsDir, `${name}-host`);
  if (!existsSync(path)) throw new Error(`${path} is missing: build it with 'make -C workloads'`);
  return path;
}

/** The argument vector that runs `argv` in the cgroup and on the CPU asked for. */
export function placedCommand(argv: readonly string[], o: { cgroupDir?: string; cpu?: number }): string[] {
  if (o.cgroupDir) return [CGEXEC, ...(o.cpu !== undefined ? ['--cpu', String(o.cpu)] : []), o.cgroupDir, '--', ...argv];
  if (o.cpu !== undefined) return ['taskset', '-c', String(o.cpu), ...argv];
  return [...argv];
}

/** Runs `argv` on the host; owned by the run (killed on teardown), its pid leased. */
async function execOnHost(o: HostTargetOptions, argv: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const [file, ...args] = placedCommand(argv, o);
  const run = withParentDeathSignal(file!, args); // dies with the orchestrator, even by SIGKILL
  const child = execa(run.file, run.args, {
    env: o.env, extendEnv: true, stdin: 'ignore', reject: false, buffer: true, encoding: 'utf8',
    timeout: opts.timeoutMs, killSignal: 'SIGKILL', cleanup: true,
  });
  if (child.pid === undefined) throw new Error(`could not start ${file}`);
  const pid = child.pid;
  o.ctx.lease.add('workload', pid, [file, ...args].join(' '));
  o.ctx.own({ dispose: async () => { child.kill('SIGKILL'); await child.catch(() => undefined); } });
  child.stdout?.on('data', (d: Buffer | string) => opts.onStdout?.(String(d)));
  child.stderr?.on('data', (d: Buffer | string) => opts.onStderr?.(String(d)));
  const r = await child;
  o.ctx.lease.remove(pid);
  const timedOut = r.timedOut ? `\n(timed out after ${opts.timeoutMs} ms)` : '';
  return {
    code: r.exitCode ?? (r.signal ? 128 : 1),
    signal: r.signal?.replace(/^SIG/, ''),
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? '') + timedOut,
  };
}

/** A WorkloadTarget that runs on this host. */
export function hostTarget(o: HostTargetOptions): WorkloadTarget {
  return {
    exec: (argv, opts) => execOnHost(o, argv, opts),
    program: hostProgram,
    install: async (localPath) => localPath,
    killHint: 'see dmesg',
  };
}
