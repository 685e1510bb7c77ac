/**
 * Which backends the fluidmem-monitor binary supports, as its own usage line says: the
 * `--backend` alternatives `scheme://...` and `dram` in `fluidmem-monitor --help` output
 * (stdout or stderr; the exit status is not looked at, today's binary exits 2). Asking the
 * binary instead of assuming means an arm that needs a backend the C side has not landed
 * yet fails at once with a clear error, and starts working as soon as a rebuilt binary
 * lists it, with no orchestrator change. Cached per binary path and modification time.
 */
import { statSync } from 'node:fs';
import { execa } from 'execa';
import { MONITOR_BINARY } from './monitor.js';

/** The backend kinds a usage text offers: 'redis', 'unix', 'redis-cluster', 'dram'. */
export function backendsInUsage(usage: string): Set<string> {
  const line = usage.split('\n').find((l) => l.includes('--backend'));
  const out = new Set<string>();
  if (!line) return out;
  const after = line.slice(line.indexOf('--backend') + '--backend'.length).trim().split(/\s+/)[0] ?? '';
  for (const alt of after.split('|')) {
    const m = /^([a-z][a-z0-9+.-]*):\/\//.exec(alt);
    if (m) out.add(m[1]!);
    else if (/^[a-z][a-z0-9-]*$/.test(alt)) out.add(alt);
  }
  return out;
}

const cache = new Map<string, { mtimeMs: number; backends: Set<string> }>();

/** The backends `binary` (default helpers/bin/fluidmem-monitor) lists in its --help. */
export async function monitorBackends(binary = MONITOR_BINARY): Promise<Set<string>> {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(binary).mtimeMs;
  } catch {
    throw new Error(`cannot find ${binary}: build it with 'make -C helpers'`);
  }
  const hit = cache.get(binary);
  if (hit && hit.mtimeMs === mtimeMs) return hit.backends;
  const r = await execa(binary, ['--help'], { reject: false, all: true, timeout: 5000, stdin: 'ignore' });
  const backends = backendsInUsage(r.all ?? '');
  cache.set(binary, { mtimeMs, backends });
  return backends;
}

/** Throws unless the monitor supports backend `kind`, naming what it supports instead. */
export async function requireMonitorBackend(kind: string, binary = MONITOR_BINARY): Promise<void> {
  const backends = await monitorBackends(binary);
  if (backends.has(kind)) return;
  const have = [...backends].map((b) => (b === 'dram' ? b : `${b}://`)).join(', ') || 'none found';
  throw new Error(`fluidmem-monitor has no ${kind} backend yet (${binary} --help lists: ${have}); ` +
    `an arm with store: { kind: ${kind} } needs a monitor built with it (issue 10, items 1-3)`);
}
