/** Facts about the host that a result must carry: kernel, CPU, QEMU, Redis, git revision. */
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { execa } from 'execa';

export interface HostFacts {
  kernel: string;
  cpuModel: string;
  cpus: number;
  memoryMiB: number;
  qemuVersion?: string;
  redisVersion?: string;
  gitRevision?: string;
  gitDirty?: boolean;
  node: string;
}

async function firstLine(file: string, args: string[]): Promise<string | undefined> {
  try {
    const r = await execa(file, args, { reject: false, timeout: 10_000 });
    return r.exitCode === 0 ? String(r.stdout).split('\n')[0]?.trim() : undefined;
  } catch {
    return undefined;
  }
}

export async function qemuVersion(binary = 'qemu-system-x86_64'): Promise<string | undefined> {
  const line = await firstLine(binary, ['--version']);
  return line?.match(/version\s+(\S+)/)?.[1] ?? line;
}

export async function redisVersion(binary = 'redis-server'): Promise<string | undefined> {
  const line = await firstLine(binary, ['--version']);
  return line?.match(/v=(\S+)/)?.[1] ?? line;
}

export async function gitRevision(cwd = process.cwd()): Promise<{ revision?: string; dirty?: boolean }> {
  const rev = await firstLine('git', ['-C', cwd, 'rev-parse', 'HEAD']);
  if (!rev) return {};
  const status = await execa('git', ['-C', cwd, 'status', '--porcelain', '--untracked-files=no'], { reject: false });
  return { revision: rev, dirty: String(status.stdout).trim().length > 0 };
}

function cpuModel(): string {
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) return m[1].trim();
  } catch { /* fall through */ }
  return cpus()[0]?.model ?? 'unknown';
}

export async function hostFacts(): Promise<HostFacts> {
  const [qemu, redis, git] = await Promise.all([qemuVersion(), redisVersion(), gitRevision()]);
  return {
    kernel: release(),
    cpuModel: cpuModel(),
    cpus: cpus().length,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    qemuVersion: qemu,
    redisVersion: redis,
    gitRevision: git.revision,
    gitDirty: git.dirty,
    node: process.version,
  };
}
