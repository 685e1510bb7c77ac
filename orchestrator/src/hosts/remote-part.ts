/**
 * The control host's side of one lab host's part: connect (hosts/ssh-host.ts), check the
 * checkout, read the host's clock, start cli/host-part.ts there with the job on stdin,
 * relay its events (phases, output prefixed `[NAME] `, each run's record as it finishes),
 * then copy the part's results directory back into the local run directory
 * (results/RUN/hosts/NAME/) and remove it there.
 *
 * Failure of the host (refused key, no checkout, the part dying, the connection lost)
 * never throws: `done` resolves with ok: false and an error naming the host; runs that
 * produced no record are then recorded as failed by the caller (hosts/merge.ts). `stop()`
 * closes the channel and the connection: the part sees its stdin close and tears down.
 */
import { mkdirSync } from 'node:fs';
import type { ClientChannel } from 'ssh2';
import type { SshTargetConfig } from '../config/hosts.js';
import type { RunRecord } from '../results/types.js';
import { PART_ENTRY, parsePartEvent, type PartEvent, type PartJob } from './part-protocol.js';
import { describeTarget, SshHost } from './ssh-host.js';

export interface RemotePartOptions {
  name: string;
  ssh: SshTargetConfig;
  /** The FluidLab checkout there. */
  root: string;
  job: Omit<PartJob, 'host' | 'workDir'>;
  /** Local directory the part's results are copied into (created). */
  into: string;
  log: (line: string) => void;
  phase: (variant: string, repetition: number, phase: string) => void;
  output: (variant: string, repetition: number, chunk: string) => void;
  record: (record: RunRecord) => void;
}

/** The host's clock against ours, read once before the part starts: offset = theirs -
 * ours at the midpoint of one `date` round trip (rttMs bounds the error). */
export interface ClockReading { offsetMs: number; rttMs: number }

export interface PartOutcome {
  ok: boolean;
  /** What went wrong, naming the host (`host lab2 (root@10.0.0.12:22): ...`). */
  error?: string;
  /** The results were copied into `into`. */
  pulled: boolean;
  fingerprint?: string;
  clock?: ClockReading;
  /** The part's pid there. */
  pid?: number;
  startedAt: string;
  durationMs: number;
}

const TAIL_LINES = 8;

export class RemotePart {
  readonly done: Promise<PartOutcome>;
  private host: SshHost | undefined;
  private channel: ClientChannel | undefined;
  private stopped: string | undefined;
  private readonly stderrTail: string[] = [];

  constructor(private readonly o: RemotePartOptions) {
    this.done = this.run();
  }

  get label(): string {
    return `host ${this.o.name} (${describeTarget(this.o.ssh)})`;
  }

  /** Stops the part (idempotent): the channel and the connection close, so the part's
   * stdin ends and it tears down there. */
  stop(reason: string): void {
    this.stopped ??= reason;
    try { this.channel?.signal('TERM'); } catch { /* not every sshd takes signals */ }
    this.channel?.close();
    this.host?.close();
  }

  private async run(): Promise<PartOutcome> {
    const started = Date.now();
    const out: PartOutcome = { ok: false, pulled: false, startedAt: new Date(started).toISOString(), durationMs: 0 };
    const fail = (why: string): PartOutcome => {
      const tail = this.stderrTail.length ? `\n  last output there:\n    ${this.stderrTail.join('\n    ')}` : '';
      return { ...out, ok: false, error: `${this.label}: ${why}${tail}`, durationMs: Date.now() - started };
    };
    try {
      this.host = await SshHost.connect(this.o.name, this.o.ssh);
    } catch (err) {
      return fail((err as Error).message.replace(`${this.label}: `, ''));
    }
    const host = this.host;
    out.fingerprint = host.fingerprint;
    try {
      if (this.stopped) return fail(`stopped before it started (${this.stopped})`);
      const entry = `${this.o.root}/${PART_ENTRY}`;
      const probe = await host.exec(['test', '-f', entry]);
      if (probe.code !== 0) return fail(`no FluidLab checkout at ${this.o.root} there (${entry} is missing); set ssh.root to its checkout`);
      out.clock = await readClock(host);
      const workDir = this.o.ssh.work_dir;
      const partDir = `${workDir}/${this.o.job.runId}`;
      const code = await this.runPart(host, entry, { ...this.o.job, host: this.o.name, workDir }, partDir, out);
      if (this.stopped) return fail(`stopped: ${this.stopped}`);
      // The results there (complete, or as far as the part got) come back either way.
      const exists = await host.exec(['test', '-d', partDir]);
      if (exists.code === 0) {
        mkdirSync(this.o.into, { recursive: true });
        await host.pull(partDir, this.o.into);
        out.pulled = true;
        await host.exec(['rm', '-rf', '--', partDir]);
      }
      if (code.error) return fail(code.error);
      out.ok = true;
      out.durationMs = Date.now() - started;
      return out;
    } catch (err) {
      const lost = host.lost();
      return fail(this.stopped ? `stopped: ${this.stopped}` : lost ? `${lost} (${(err as Error).message})` : (err as Error).message);
    } finally {
      host.close();
    }
  }

  /** Starts the part, relays its events until the channel closes; the error, if the part
   * did not report `done`. */
  private async runPart(host: SshHost, entry: string, job: PartJob, partDir: string, out: PartOutcome): Promise<{ error?: string }> {
    const channel = await host.open(['env', '-C', this.o.root, 'node', '--import', 'tsx', entry, partDir]);
    this.channel = channel;
    let done = false;
    let reported: string | undefined;
    const onEvent = (e: PartEvent) => {
      switch (e.ev) {
        case 'start': out.pid = e.pid; this.o.log(`part started there (pid ${e.pid})`); break;
        case 'log': this.o.log(e.line); break;
        case 'phase': this.o.phase(e.variant, e.repetition, e.phase); break;
        case 'output': this.o.output(e.variant, e.repetition, e.chunk); break;
        case 'run': this.o.record(e.record); break;
        case 'done': done = true; break;
        case 'error': reported = e.message; break;
      }
    };
    lines(channel, (line) => { const e = parsePartEvent(line); if (e) onEvent(e); else this.o.log(line); });
    lines(channel.stderr, (line) => {
      this.o.log(line);
      this.stderrTail.push(line);
      if (this.stderrTail.length > TAIL_LINES) this.stderrTail.shift();
    });
    const closed = new Promise<{ code: number | null; signal?: string }>((ok) => channel.on('close', (code: number | null, signal?: string) => ok({ code, signal })));
    channel.write(`${JSON.stringify(job)}\n`); // stdin stays open: its end stops the part
    const { code, signal } = await closed;
    this.channel = undefined;
    if (done) return {};
    const how = signal ? `signal ${signal}` : code === null ? 'no exit status' : `exit status ${code}`;
    const lost = host.lost();
    if (reported) return { error: `the part failed there (${how}): ${reported.split('\n').slice(0, 6).join('\n  ')}` };
    return { error: `the part ended there before finishing (${how}${lost ? `; ${lost}` : ''})` };
  }
}

/** Calls `onLine` for each complete line of a stream (a trailing partial line at its end). */
function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buf = '';
  stream.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  stream.on('end', () => { if (buf) onLine(buf); buf = ''; });
}

/** One `date +%s%N` round trip (see ClockReading). */
async function readClock(host: SshHost): Promise<ClockReading | undefined> {
  const t0 = Date.now();
  const r = await host.exec(['date', '+%s%N']);
  const t1 = Date.now();
  const ns = /^\d+$/.test(r.stdout.trim()) ? BigInt(r.stdout.trim()) : undefined;
  if (r.code !== 0 || ns === undefined) return undefined;
  return { offsetMs: Number(ns / 1_000_000n) - (t0 + t1) / 2, rttMs: t1 - t0 };
}
