/**
 * A real SSH server for lab-host tests: Debian's dropbear (installed for the guest image)
 * on 127.0.0.1, a free port, a host key and a client key made for the test. Dropbear
 * 2022.83 reads authorized_keys only from the user's home, so it runs in a mount namespace
 * of its own (`unshare --mount`) in which /root is a fresh tmpfs holding only
 * .ssh/authorized_keys with the test key: nothing of the machine's /root is read or
 * changed, and the namespace ends with the server. `-e` passes the server's environment to
 * sessions, so a test sets FLUIDLAB_RUNS_DIR for the lab host's part (its leases land in
 * the test's directory, and its processes can be found by it). Started under
 * `setpriv --pdeathsig SIGKILL`, so it ends with the test process.
 */
import { execa, execaSync, type ResultPromise } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../src/process/wait.js';
import { freePort } from '../../src/vm/ports.js';

export interface TestSshd {
  port: number;
  /** The authorized client key (private) and one that is not authorized. */
  identity: string;
  strangerIdentity: string;
  /** The server's host key as an OpenSSH .pub line file. */
  hostKeyPub: string;
  stop(): Promise<void>;
}

/** Starts the server; `env` is what its sessions see besides the usual SSH variables. */
export async function startSshd(env: Record<string, string>): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'fl-sshd-'));
  const hostKey = join(dir, 'host_key');
  execaSync('dropbearkey', ['-t', 'ed25519', '-f', hostKey]);
  const pub = String(execaSync('dropbearkey', ['-y', '-f', hostKey]).stdout).split('\n').find((l) => l.startsWith('ssh-'));
  if (!pub) throw new Error('dropbearkey -y printed no public key line');
  writeFileSync(`${hostKey}.pub`, `${pub}\n`);
  for (const name of ['id', 'stranger']) execaSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `fluidlab-test-${name}`, '-f', join(dir, name)]);
  const port = await freePort();
  // Its log goes to a file: a session's process that outlived it would hold a pipe open.
  const log = join(dir, 'dropbear.log');
  const script = 'mount -t tmpfs -o mode=0700 fluidlab-test-sshd /root && mkdir -m 700 /root/.ssh && cp "$1" /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys && exec dropbear -F -E -e -s -p "127.0.0.1:$2" -r "$3" -P "$4" 2>>"$5"';
  const server: ResultPromise = execa('setpriv', ['--pdeathsig', 'SIGKILL', 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh',
    join(dir, 'id.pub'), String(port), hostKey, join(dir, 'dropbear.pid'), log], { reject: false, stdio: 'ignore', env, extendEnv: true });
  await waitFor(() => new Promise<boolean>((ok) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); ok(true); });
    s.once('error', () => ok(false));
  }), { timeoutMs: 15_000, what: `dropbear on 127.0.0.1:${port}`, abortIf: () => (server.exitCode !== null ? `dropbear exited: ${existsSync(log) ? readFileSync(log, 'utf8') : '(no log)'}` : undefined) });
  return {
    port, identity: join(dir, 'id'), strangerIdentity: join(dir, 'stranger'), hostKeyPub: `${hostKey}.pub`,
    async stop() {
      server.kill('SIGTERM');
      await server;
    },
  };
}

/** Live processes (not zombies) whose environment holds `needle` (VAR=value), with argv[0]. */
export function processesWithEnv(needle: string): { pid: number; cmd: string; env: string[] }[] {
  const out: { pid: number; cmd: string; env: string[] }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${d}/environ`, 'utf8').split('\0');
      if (!env.includes(needle)) continue;
      if (readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) continue;
      out.push({ pid: Number(d), cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim(), env });
    } catch { /* gone */ }
  }
  return out;
}

