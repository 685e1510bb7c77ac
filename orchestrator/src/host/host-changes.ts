/**
 * Undo records for changes a run makes to the host itself (not processes, not files in
 * its run directory): swap enabled on a device, a loop device, a zram device, a file
 * outside the run directory, a memory cgroup. A record is written to the run's lease
 * before the change is made, so a run killed with SIGKILL is undone by `orchestrate down`
 * (process/lease.ts reapRunDir) newest first, exactly as the run's own disposers would.
 *
 * Every undo is idempotent and checks that the thing is still the one the run made
 * (a loop device is found by its backing file, which carries the run id; a cgroup by its
 * path, which carries the run id): undoing twice, or undoing a change that was never
 * completed, does nothing and says so.
 */
import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { execa } from 'execa';
import type { RunContext } from '../run/context.js';
import type { HostChange } from '../process/host-change.js';

export { describeHostChange, sameHostChange, type HostChange } from '../process/host-change.js';

/** Active swap devices and files (first column of /proc/swaps). */
export function activeSwaps(): string[] {
  return readFileSync('/proc/swaps', 'utf8').split('\n').slice(1).map((l) => l.split(/\s+/)[0]!).filter(Boolean);
}

/** Loop devices attached to `file` (from sysfs; a deleted file reads as "FILE (deleted)"). */
export function loopDevicesOf(file: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
    try {
      const backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim().replace(/ \(deleted\)$/, '');
      if (backing === file) out.push(`/dev/${name}`);
    } catch { /* not attached */ }
  }
  return out;
}

async function run(file: string, args: string[]): Promise<void> {
  const r = await execa(file, args, { reject: false, timeout: 120_000 });
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${r.exitCode}): ${String(r.stderr).trim() || String(r.stdout).trim()}`);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Kills every task of a cgroup (SIGKILL) and waits until cgroup.procs is empty (≤10 s). */
export async function emptyCgroup(dir: string): Promise<number[]> {
  const killed = new Set<number>();
  const deadline = Date.now() + 10_000;
  for (;;) {
    let pids: number[];
    try {
      pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [...killed];
    }
    if (pids.length === 0) return [...killed];
    if (Date.now() > deadline) throw new Error(`cgroup ${dir} still has tasks ${pids.join(', ')} after SIGKILL`);
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); killed.add(pid); } catch { /* gone */ }
    }
    await sleep(50);
  }
}

async function removeCgroupDir(dir: string): Promise<void> {
  // rmdir of a cgroup whose last task just exited can briefly fail with EBUSY.
  for (let i = 0; ; i++) {
    try { rmdirSync(dir); return; } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i >= 100) throw new Error(`removing cgroup ${dir}: ${(err as Error).message}`);
      await sleep(50);
    }
  }
}

/** Undoes one change. Returns what was undone (one line), or undefined when there was
 * nothing left to undo. Throws with the command and its error when an undo fails. */
export async function undoHostChange(c: HostChange): Promise<string | undefined> {
  switch (c.kind) {
    case 'swapon': {
      if (!activeSwaps().includes(c.device)) return undefined;
      await run('swapoff', [c.device]);
      return `swapoff ${c.device}`;
    }
    case 'loop': {
      const devices = loopDevicesOf(c.backingFile);
      for (const d of devices) await run('losetup', ['-d', d]);
      return devices.length ? `losetup -d ${devices.join(' ')}` : undefined;
    }
    case 'zram': {
      const name = basename(c.device);
      const sys = `/sys/block/${name}`;
      if (!existsSync(sys)) return undefined;
      if (activeSwaps().includes(c.device)) await run('swapoff', [c.device]);
      writeFileSync(`${sys}/reset`, '1');
      writeFileSync('/sys/class/zram-control/hot_remove', name.replace(/^zram/, ''));
      return `zram reset + hot_remove ${c.device}`;
    }
    case 'file': {
      if (!existsSync(c.path)) return undefined;
      rmSync(c.path, { force: true });
      return `rm ${c.path}`;
    }
    case 'cgroup': {
      if (!existsSync(c.dir)) return undefined;
      const killed = await emptyCgroup(c.dir);
      await removeCgroupDir(c.dir);
      if (c.parentIfEmpty && dirname(c.dir) === c.parentIfEmpty) {
        // Shared by concurrent runs: only the last one out removes it.
        try { rmdirSync(c.parentIfEmpty); } catch { /* another run's cgroup is in it */ }
      }
      return `rmdir ${c.dir}${killed.length ? ` (killed pids ${killed.join(', ')})` : ''}`;
    }
  }
}

/** Makes a host change owned by a run: records it in the lease first, registers its undo
 * with the run (before making it, so a half-made change is undone too), then makes it.
 * The undo drops the record once done. */
export async function makeHostChange<T>(ctx: RunContext, change: HostChange, make: () => Promise<T>): Promise<T> {
  ctx.lease.addHostChange(change);
  ctx.own({
    dispose: async () => {
      await undoHostChange(change);
      ctx.lease.removeHostChange(change);
    },
  });
  return await make();
}
