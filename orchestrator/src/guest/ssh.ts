/**
 * SSH into a guest with ssh2: connect with the image's private key (retrying until the
 * guest's sshd answers), run commands with streamed output and exit codes, and copy files
 * in through `cat` (the guest's dropbear has no SFTP).
 */
import { readFileSync } from 'node:fs';
import { Client } from 'ssh2';
import { waitFor, WaitAbortedError, WaitTimeoutError } from '../process/wait.js';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  /** The guest's host key (OpenSSH .pub line); when given, any other host key is refused. */
  hostPublicKeyPath?: string;
}

/** A verifier that accepts only the key in an OpenSSH public-key line. */
function pinnedHostKey(pubPath: string): (key: Buffer) => boolean {
  const expected = readFileSync(pubPath, 'utf8').trim().split(/\s+/)[1];
  if (!expected) throw new Error(`${pubPath} is not an OpenSSH public key line: rebuild the image (orchestrate image build)`);
  return (key) => key.toString('base64') === expected;
}

export interface ExecOptions {
  timeoutMs?: number;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  stdin?: Buffer;
}

export interface ExecResult {
  code: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

export class SshTimeoutError extends Error {
  override name = 'SshTimeoutError';
}

/** Quotes one argument for the guest's POSIX shell (commands arrive as a single string). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

export class GuestShell {
  private constructor(private readonly client: Client, readonly target: SshTarget) {}

  private static connectOnce(target: SshTarget, key: Buffer, timeoutMs: number, hostVerifier?: (key: Buffer) => boolean): Promise<Client> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      let settled = false;
      client.once('ready', () => { settled = true; resolve(client); });
      // ssh2 may emit several errors (and more after 'ready' when the guest goes away):
      // the first one before 'ready' fails the attempt, later ones surface via exec/close.
      client.on('error', (err) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(err);
      });
      client.connect({ host: target.host, port: target.port, username: target.username, privateKey: key, readyTimeout: timeoutMs, keepaliveInterval: 5000, hostVerifier });
    });
  }

  /** Connects, retrying refused/reset connections until `timeoutMs`. `abort` stops early
   * (e.g. QEMU exited) with its reason. */
  static async connect(target: SshTarget, opts: { timeoutMs: number; abort?: () => string | undefined }): Promise<GuestShell> {
    const key = readFileSync(target.privateKeyPath);
    const hostVerifier = target.hostPublicKeyPath ? pinnedHostKey(target.hostPublicKeyPath) : undefined;
    try {
      const client = await waitFor(({ remainingMs }) => GuestShell.connectOnce(target, key, Math.min(20_000, Math.max(1000, remainingMs)), hostVerifier), {
        timeoutMs: opts.timeoutMs,
        intervalMs: 200,
        what: `guest SSH on ${target.host}:${target.port}`,
        abortIf: opts.abort,
        // Refused or reset: sshd is not up yet. A wrong key is final.
        retryIf: (err) => !/authentication|host key|verification/i.test(err.message),
      });
      return new GuestShell(client, target);
    } catch (err) {
      if (err instanceof WaitAbortedError) throw new Error(err.reason);
      if (err instanceof WaitTimeoutError) throw new SshTimeoutError(err.message);
      const message = (err as Error).message;
      if (/authentication/i.test(message)) throw new Error(`guest rejected the image key ${target.privateKeyPath}: rebuild the image (orchestrate image build)`);
      if (/host key|verification/i.test(message)) throw new Error(`guest on ${target.host}:${target.port} presented a host key other than ${target.hostPublicKeyPath}: is another guest on that port?`);
      throw err;
    }
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(err);
        let stdout = '';
        let stderr = '';
        let timer: NodeJS.Timeout | undefined;
        if (opts.timeoutMs) {
          timer = setTimeout(() => {
            stream.close();
            reject(new SshTimeoutError(`guest command timed out after ${opts.timeoutMs} ms: ${command}`));
          }, opts.timeoutMs);
        }
        stream.on('data', (d: Buffer) => { const s = d.toString(); stdout += s; opts.onStdout?.(s); });
        stream.stderr.on('data', (d: Buffer) => { const s = d.toString(); stderr += s; opts.onStderr?.(s); });
        stream.on('close', (code: number | null, signal?: string) => {
          if (timer) clearTimeout(timer);
          resolve({ code: code ?? (signal ? 128 : 255), signal: signal ?? undefined, stdout, stderr });
        });
        if (opts.stdin) stream.end(opts.stdin);
        else stream.end();
      });
    });
  }

  /** Runs argv (quoted for the guest shell). */
  run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec(commandLine(argv), opts);
  }

  /** Writes `data` to `path` in the guest with the given mode. */
  async writeFile(path: string, data: Buffer, mode = 0o755): Promise<void> {
    const r = await this.exec(`cat > ${shellQuote(path)} && chmod ${mode.toString(8)} ${shellQuote(path)}`, { stdin: data, timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`copying ${path} into the guest failed (${r.code}): ${r.stderr.trim()}`);
  }

  close(): void {
    this.client.end();
  }
}
