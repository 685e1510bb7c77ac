/** The backend probe of handler/backends.ts: the usage line of the real monitor and of
 * stand-in binaries (shell scripts that print a usage line, one of them with
 * redis-cluster://), so the cluster arm's gate is checked both ways. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backendsInUsage, monitorBackends, requireMonitorBackend } from '../../src/handler/backends.js';
import { MONITOR_BINARY } from '../../src/handler/monitor.js';

const dir = mkdtempSync(join(tmpdir(), 'fl-backends-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeMonitor(name: string, usage: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho '${usage}' >&2\nexit 2\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('monitor backend probe', () => {
  it('reads the --backend alternatives of a usage line', () => {
    expect([...backendsInUsage('usage: fluidmem-monitor --socket PATH --backend redis://HOST:PORT|unix:///PATH|dram --capacity PAGES')])
      .toEqual(['redis', 'unix', 'dram']);
    expect(backendsInUsage('usage: m --backend redis://H:P|redis-cluster://H:P[,H:P...]|unix:///PATH|dram').has('redis-cluster')).toBe(true);
    expect(backendsInUsage('no such line').size).toBe(0);
  });

  it('finds redis and dram in the real fluidmem-monitor', async () => {
    const b = await monitorBackends(MONITOR_BINARY);
    expect(b.has('redis')).toBe(true);
    expect(b.has('dram')).toBe(true);
  });

  it('refuses redis-cluster with a clear error until the binary lists it', async () => {
    const old = fakeMonitor('old-monitor', 'usage: fluidmem-monitor --socket PATH --control PATH --backend redis://HOST:PORT|unix:///PATH|dram --capacity PAGES');
    await expect(requireMonitorBackend('redis-cluster', old)).rejects.toThrow(
      `fluidmem-monitor has no redis-cluster backend yet (${old} --help lists: redis://, unix://, dram)`);
    const next = fakeMonitor('new-monitor', 'usage: fluidmem-monitor --backend redis://HOST:PORT|redis-cluster://HOST:PORT[,HOST:PORT...]|unix:///PATH|dram');
    await expect(requireMonitorBackend('redis-cluster', next)).resolves.toBeUndefined();
    await expect(requireMonitorBackend('redis-cluster', join(dir, 'missing'))).rejects.toThrow(/cannot find .*missing: build it/);
  });
});
