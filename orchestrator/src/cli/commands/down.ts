import { basename, join } from 'node:path';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { parseArgs } from '../args.js';
import { listRunDirs, runsRoot } from '../../process/lease.js';
import { reapRunDir } from '../../run/reap.js';

export const downCommand: Command = {
  name: 'down',
  usage: 'down [RUN-ID|--all] [--force]',
  summary: 'stop what crashed runs left behind (QEMU, handler, Redis) and undo their host changes (swap, loop/zram devices, cgroups)',
  async run(argv) {
    const args = parseArgs(argv, { boolean: ['all', 'force'] });
    const all = args.flags.has('all');
    if (!all && args.positional.length === 0) throw new UsageError('name a run id or use --all');
    const dirs = all ? listRunDirs() : args.positional.map((id) => join(runsRoot(), basename(id)));
    let reaped = 0;
    let failed = 0;
    for (const dir of dirs) {
      const r = await reapRunDir(dir, { force: args.flags.has('force') || !all });
      if (!r) {
        if (!all) console.error(`down: no lease in ${dir} (nothing to stop)`);
        continue;
      }
      if (r.ownerAlive && !args.flags.has('force') && all) {
        console.log(`${r.runId}: still running (orchestrator pid alive); use 'down ${r.runId}' to stop it`);
        continue;
      }
      reaped++;
      const what = [...r.killed.map((p) => `${p.role} (pid ${p.pid})`), ...r.removedFiles].join(', ') || 'no live processes';
      console.log(`${r.runId}: stopped ${what}`);
      // Host changes (swap, loop and zram devices, cgroups), newest first, as undone.
      for (const u of r.undoneHostChanges ?? []) console.log(`${r.runId}: undid ${u}`);
      for (const f of r.failedHostChanges ?? []) {
        console.error(`${r.runId}: could not undo ${f} (the lease is kept: fix it and run 'orchestrate down ${r.runId}' again)`);
        failed++;
      }
    }
    if (all && reaped === 0) console.log('down: nothing to reap');
    return failed ? 1 : 0;
  },
};
