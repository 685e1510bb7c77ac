/**
 * A lease records, in the run directory, every process a run started (QEMU, handler,
 * Redis) with its pid and start time. The owner removes entries as it stops them; if the
 * orchestrator itself dies, `orchestrate down` finds the lease and reaps what is left.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processStartTime } from './procfs.js';
import { describeHostChange, sameHostChange, type HostChange } from './host-change.js';

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
  /** Changes to the host (swap, loop and zram devices, cgroups), oldest first; each is
   * recorded before it is made and undone newest first (host/host-changes.ts). */
  hostChanges?: HostChange[];
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

  /** Records a host change before it is made (replaces a record of the same change, e.g.
   * to add the loop device's name once it is known). */
  addHostChange(change: HostChange): void {
    const rest = (this.data.hostChanges ?? []).filter((c) => !sameHostChange(c, change));
    const i = (this.data.hostChanges ?? []).findIndex((c) => sameHostChange(c, change));
    if (i >= 0) rest.splice(i, 0, change); else rest.push(change);
    this.data.hostChanges = rest;
    this.write();
  }

  /** Drops the record of a host change once it is undone. */
  removeHostChange(change: HostChange): void {
    this.data.hostChanges = (this.data.hostChanges ?? []).filter((c) => !sameHostChange(c, change));
    this.write();
  }

  get hostChanges(): readonly HostChange[] {
    return this.data.hostChanges ?? [];
  }

  get processes(): readonly LeasedProcess[] {
    return this.data.processes;
  }

  /** What the lease still records (processes, files, host changes), one item each; empty
   * once the run has undone everything it did. */
  remaining(): string[] {
    return [
      ...this.data.processes.map((p) => `${p.role} (pid ${p.pid})`),
      ...(this.data.files ?? []),
      ...(this.data.hostChanges ?? []).map(describeHostChange),
    ];
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

export function listRunDirs(root = runsRoot()): string[] {
  try {
    return readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(root, d.name));
  } catch {
    return [];
  }
}
