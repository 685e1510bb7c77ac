/**
 * A lease records, in the run directory, every process a run started (QEMU, handler,
 * Redis) with its pid and start time. The owner removes entries as it stops them; if the
 * orchestrator itself dies, `orchestrate down` finds the lease and reaps what is left.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSameProcess, processStartTime } from './procfs.js';

export interface LeasedProcess {
  role: string;
  pid: number;
  startTime?: number;
  command: string;
}

export interface LeaseFile {
  runId: string;
  owner: { pid: number; startTime?: number };
  createdAt: string;
  processes: LeasedProcess[];
  /** Files outside the run directory that the run created (swap images on tmpfs). */
  files?: string[];
}

export const LEASE_NAME = 'lease.json';

/** Where run directories live (sockets, logs, leases). Short, to fit Unix socket paths. */
export function runsRoot(): string {
  return process.env.FLUIDLAB_RUNS_DIR ?? '/tmp/fluidlab/runs';
}

export class Lease {
  private readonly data: LeaseFile;

  constructor(readonly runDir: string, runId: string) {
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    this.data = {
      runId,
      owner: { pid: process.pid, startTime: processStartTime(process.pid) },
      createdAt: new Date().toISOString(),
      processes: [],
      files: [],
    };
    this.write();
  }

  get file(): string {
    return join(this.runDir, LEASE_NAME);
  }

  add(role: string, pid: number, command: string): void {
    this.data.processes.push({ role, pid, startTime: processStartTime(pid), command });
    this.write();
  }

  remove(pid: number): void {
    this.data.processes = this.data.processes.filter((p) => p.pid !== pid);
    this.write();
  }

  addFile(path: string): void {
    this.data.files = [...(this.data.files ?? []), path];
    this.write();
  }

  removeFile(path: string): void {
    this.data.files = (this.data.files ?? []).filter((f) => f !== path);
    this.write();
  }

  get processes(): readonly LeasedProcess[] {
    return this.data.processes;
  }

  private write(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

export function readLease(runDir: string): LeaseFile | undefined {
  try {
    return JSON.parse(readFileSync(join(runDir, LEASE_NAME), 'utf8')) as LeaseFile;
  } catch {
    return undefined;
  }
}

export interface ReapResult {
  runDir: string;
  runId: string;
  ownerAlive: boolean;
  killed: LeasedProcess[];
  removedFiles: string[];
}

async function killAndWait(p: LeasedProcess, graceMs: number): Promise<boolean> {
  if (!isSameProcess(p.pid, p.startTime)) return false;
  try { process.kill(p.pid, 'SIGTERM'); } catch { return false; }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isSameProcess(p.pid, p.startTime)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
  return true;
}

/** Kills the processes of a lease whose owner is gone (or any lease when `force`), then
 * removes the run directory. */
export async function reapRunDir(runDir: string, opts: { force?: boolean; graceMs?: number } = {}): Promise<ReapResult | undefined> {
  const lease = readLease(runDir);
  if (!lease) return undefined;
  const ownerAlive = lease.owner.pid !== process.pid && isSameProcess(lease.owner.pid, lease.owner.startTime);
  const result: ReapResult = { runDir, runId: lease.runId, ownerAlive, killed: [], removedFiles: [] };
  if (ownerAlive && !opts.force) return result;
  if (ownerAlive) {
    try { process.kill(lease.owner.pid, 'SIGTERM'); } catch { /* gone */ }
  }
  // Guests first, then the handler, then the store they depend on.
  const order = ['qemu', 'monitor', 'redis'];
  const sorted = [...lease.processes].sort((a, b) => order.indexOf(a.role.split(':')[0]!) - order.indexOf(b.role.split(':')[0]!));
  for (const p of sorted) {
    if (await killAndWait(p, opts.graceMs ?? 3000)) result.killed.push(p);
  }
  for (const f of lease.files ?? []) {
    if (existsSync(f)) {
      rmSync(f, { force: true });
      result.removedFiles.push(f);
    }
  }
  rmSync(runDir, { recursive: true, force: true });
  return result;
}

export function listRunDirs(root = runsRoot()): string[] {
  try {
    return readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(root, d.name));
  } catch {
    return [];
  }
}
