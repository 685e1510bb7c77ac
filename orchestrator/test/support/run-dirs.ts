/** Per-test-file run and results directories, and the processes a test file left behind.
 * Runs started by the file inherit FLUIDLAB_RUNS_DIR=<its own temp dir>, so its leftovers
 * are the QEMU, fluidmem-monitor and redis-server processes whose environment names it. */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunDirs {
  runsDir: string;
  resultsRoot: string;
  /** argv[0] of every process still running that this file's runs started. */
  leftovers(): string[];
}

/** Makes the directories and points FLUIDLAB_RUNS_DIR at the runs one (call at file top). */
export function isolatedRunDirs(): RunDirs {
  const runsDir = mkdtempSync(join(tmpdir(), 'fluidlab-runs-'));
  process.env.FLUIDLAB_RUNS_DIR = runsDir;
  const resultsRoot = mkdtempSync(join(tmpdir(), 'fluidlab-results-'));
  const leftovers = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid).flatMap((pid) => {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`FLUIDLAB_RUNS_DIR=${runsDir}`)) return [];
      return [readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!];
    } catch { return []; }
  }).filter((cmd) => /qemu|fluidmem-monitor|redis-server/.test(cmd));
  return { runsDir, resultsRoot, leftovers };
}
