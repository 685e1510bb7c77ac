/**
 * One SSH connection to a lab host (ssh2): the transport of a host's part. Commands are
 * argument arrays, quoted into the one command string SSH carries by guest/ssh.ts's
 * commandLine (the only shell string). Three uses:
 *
 *   exec(argv)   run to completion, output collected (probes, clean-up);
 *   open(argv)   a long-lived channel whose stdin stays open: the remote part reads its
 *                job from it and ends itself when it closes (see cli/host-part.ts), so
 *                closing the channel, or losing the connection, stops the remote side;
 *   pull(dir)    `tar -c` of a remote directory over exec, unpacked locally by tar -x
 *                (works with any sshd: dropbear has no SFTP).
 *
 * Every error names the host (`host lab2 (root@10.0.0.12:22): ...`). The host key is
 * pinned when the config gives host_key:, else its SHA-256 fingerprint is kept
 * (`fingerprint`) for the run's hosts.json.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { Client, type ClientChannel } from 'ssh2';
import type { SshTargetConfig } from '../config/hosts.js';
import { commandLine } from '../guest/ssh.js';

/** A control-host path from the config: ~/ is the home directory, relative is from cwd. */
export function expandPath(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? resolve(homedir(), p.slice(2)) : resolve(p);
}

/** `user@host:port`, as errors and hosts.json show a host. */
export function describeTarget(t: Pick<SshTargetConfig, 'user' | 'host' | 'port'>): string {
  return `${t.user}@${t.host}:${t.port}`;
}

/** SHA256:base64 (no padding) of a raw host key, as ssh-keygen -l prints it. */
export function keyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The base64 key blob of an OpenSSH .pub line or a known_hosts line (first key type found). */
export function pinnedKeyBlob(text: string, file: string): string {
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const i = words.findIndex((w) => /^(ssh-|ecdsa-|sk-)/.test(w));
    if (i >= 0 && words[i + 1]) return words[i + 1]!;
  }
  throw new Error(`${file} holds no OpenSSH public key line (TYPE BASE64 [comment])`);
}

export interface ExecOutcome {
  code: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

export class SshHostError extends Error {
  override name = 'SshHostError';
}

export class SshHost {
  /** SHA-256 fingerprint of the key the host presented. */
  fingerprint = '';
  private closed = false;
  /** Why the connection went away (an error after it was up), if it did. */
  private lostReason: string | undefined;

  private constructor(private readonly client: Client, readonly name: string, readonly target: SshTargetConfig) {}

  /** `host NAME (user@host:port)`: how every message names this host. */
  get label(): string {
    return `host ${this.name} (${describeTarget(this.target)})`;
  }

  /**
   * Connects and authenticates with the target's identity. Throws an SshHostError naming
   * the host and what failed: the identity file, the TCP connection, the host key, or a
   * refused key. Nothing is left open on failure.
   */
  static async connect(name: string, target: SshTargetConfig, opts: { readyTimeoutMs?: number } = {}): Promise<SshHost> {
    const where = `host ${name} (${describeTarget(target)})`;
    let key: Buffer;
    try {
      key = readFileSync(expandPath(target.identity));
    } catch (err) {
      throw new SshHostError(`${where}: cannot read identity ${target.identity}: ${(err as Error).message}`);
    }
    let pinned: string | undefined;
    if (target.host_key) {
      const file = expandPath(target.host_key);
      try {
        pinned = pinnedKeyBlob(readFileSync(file, 'utf8'), file);
      } catch (err) {
        throw new SshHostError(`${where}: host_key: ${(err as Error).message}`);
      }
    }
    let fingerprint = '';
    let presented = '';
    const client = new Client();
    await new Promise<void>((ok, fail) => {
      let settled = false;
      client.once('ready', () => { settled = true; ok(); });
      client.on('error', (err) => {
        if (settled) return;
        settled = true;
        client.end();
        const m = err.message;
        if (/authentication/i.test(m)) fail(new SshHostError(`${where}: the server refused the key ${target.identity} (${m}); is its public key in ${target.user}'s authorized_keys there?`));
        else if (presented && pinned && presented !== pinned) fail(new SshHostError(`${where}: the host presented key ${fingerprint}, not the one in ${target.host_key}; refusing to connect`));
        else fail(new SshHostError(`${where}: cannot connect: ${m}`));
      });
      try {
        client.connect({
          host: target.host, port: target.port, username: target.user, privateKey: key,
          readyTimeout: opts.readyTimeoutMs ?? 20_000, keepaliveInterval: 5000, keepaliveCountMax: 3,
          hostVerifier: (hostKey: Buffer) => {
            presented = hostKey.toString('base64');
            fingerprint = keyFingerprint(hostKey);
            return pinned === undefined || presented === pinned;
          },
        });
      } catch (err) { // a key ssh2 cannot parse throws here
        settled = true;
        fail(new SshHostError(`${where}: cannot use identity ${target.identity}: ${(err as Error).message}`));
      }
    });
    const host = new SshHost(client, name, target);
    host.fingerprint = fingerprint;
    client.on('error', (err) => { host.lostReason ??= err.message; });
    client.on('close', () => { host.closed = true; });
    return host;
  }

  /** Why the connection is gone, for error messages ('' while it is up). */
  lost(): string {
    return this.closed ? (this.lostReason ? `connection lost: ${this.lostReason}` : 'connection closed') : '';
  }

  private channel(argv: readonly string[]): Promise<ClientChannel> {
    return new Promise((ok, fail) => {
      this.client.exec(commandLine(argv), (err, stream) => {
        if (err) fail(new SshHostError(`${this.label}: cannot start ${argv[0]}: ${err.message}`));
        else ok(stream);
      });
    });
  }

  /** Runs argv to completion with `stdin` (none: closed at once); never rejects on a
   * nonzero exit, only when the channel cannot be opened or `timeoutMs` (default 60 s)
   * passes first (the channel is then closed). */
  async exec(argv: readonly string[], opts: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecOutcome> {
    const stream = await this.channel(argv);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    return new Promise((ok, fail) => {
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => {
        stream.close();
        fail(new SshHostError(`${this.label}: ${argv.join(' ')} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      stream.on('data', (d: Buffer) => { stdout += d.toString(); });
      stream.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      stream.on('close', (code: number | null, signal?: string) => {
        clearTimeout(timer);
        ok({ code: code ?? 255, signal: signal ?? undefined, stdout, stderr });
      });
      stream.end(opts.stdin);
    });
  }

  /** Starts argv on a channel and returns it with stdin open: the caller writes, reads
   * stdout/stderr, and closes it (see RemotePart). */
  open(argv: readonly string[]): Promise<ClientChannel> {
    return this.channel(argv);
  }

  /**
   * Copies the remote directory `dir` (its contents) into the local directory `into`
   * (which must exist): `tar -C DIR -cf - .` over exec, piped into a local `tar -xf -`.
   * Throws, naming the host, if either side fails.
   */
  async pull(dir: string, into: string): Promise<void> {
    const stream = await this.channel(['tar', '-C', dir, '-cf', '-', '.']);
    let remoteErr = '';
    stream.stderr.on('data', (d: Buffer) => { remoteErr += d.toString(); });
    const remoteExit = new Promise<number>((ok) => stream.on('close', (code: number | null) => ok(code ?? 255)));
    stream.end();
    const local = execa('tar', ['-C', into, '-xf', '-'], { input: stream, reject: false });
    const [code, untar] = await Promise.all([remoteExit, local]);
    if (code !== 0) throw new SshHostError(`${this.label}: tar of ${dir} there failed (${code}): ${remoteErr.trim().split('\n').slice(-3).join(' / ')}`);
    if (untar.exitCode !== 0) throw new SshHostError(`${this.label}: unpacking ${dir} into ${into} failed: ${String(untar.stderr).trim()}`);
  }

  /** Ends the connection (idempotent); a remote part still running sees its stdin close. */
  close(): void {
    this.client.end();
  }
}
