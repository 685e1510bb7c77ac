/**
 * bench/boot: how much the orchestrator adds to a guest boot. In one run, alternating:
 *  - bare: qemu-system-x86_64 -kernel -initrd of the same image, from spawn to the init's
 *    FLUIDLAB-READY line on the serial console (sshd is up at that point);
 *  - orchestrate: `orchestrate exec configs/hello.yaml -- true`, from spawn to its
 *    "ssh-ready" trace line (config, image cache check, QMP, cont, SSH handshake).
 * Prints both medians and the difference; target: orchestrator overhead <= 1 s.
 */
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureImage } from '../../orchestrator/src/image/ensure.js';
import { kernelCommandLine } from '../../orchestrator/src/image/cmdline.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function bare(kernel: string, initrd: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'boot-bench-'));
  const serial = join(dir, 'serial.log');
  const t0 = performance.now();
  const qemu = execa('qemu-system-x86_64', [
    '-machine', 'pc', '-accel', 'tcg', '-cpu', 'max', '-m', '256M', '-smp', '1', '-nodefaults', '-no-user-config',
    '-display', 'none', '-no-reboot', '-serial', `file:${serial}`, '-kernel', kernel, '-initrd', initrd,
    '-append', kernelCommandLine(), '-netdev', 'user,id=net0', '-device', 'virtio-net-pci,netdev=net0',
    '-device', 'virtio-balloon-pci', '-device', 'pvpanic',
  ], { reject: false });
  try {
    for (;;) {
      let text = '';
      try { text = readFileSync(serial, 'utf8'); } catch { /* not yet */ }
      if (text.includes('FLUIDLAB-READY')) return performance.now() - t0;
      if (performance.now() - t0 > 120_000) throw new Error('bare boot did not reach FLUIDLAB-READY in 120 s');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    qemu.kill('SIGKILL');
    await qemu;
    rmSync(dir, { recursive: true, force: true });
  }
}

async function orchestrated(): Promise<number> {
  const t0 = performance.now();
  const p = execa('node', ['orchestrator/bin/orchestrate.js', 'exec', 'configs/hello.yaml', '--', 'true'], { env: { FLUIDLAB_TRACE: '1' }, reject: false });
  let at: number | undefined;
  p.stderr!.on('data', (d: Buffer) => { if (at === undefined && d.toString().includes('fluidlab-trace: ssh-ready')) at = performance.now() - t0; });
  const r = await p;
  if (r.exitCode !== 0 || at === undefined) throw new Error(`orchestrate exec failed (${r.exitCode}): ${r.stderr}`);
  return at;
}

const image = await ensureImage({});
const bareMs: number[] = [];
const orchMs: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  bareMs.push(await bare(image.kernel, image.initrd));
  orchMs.push(await orchestrated());
}
const b = median(bareMs);
const o = median(orchMs);
console.log(`boot to usable guest, median of ${ROUNDS} alternating rounds (TCG, 256 MiB):`);
console.log(`  bare qemu -kernel -initrd -> FLUIDLAB-READY : ${(b / 1000).toFixed(2)} s   [${bareMs.map((x) => (x / 1000).toFixed(2)).join(', ')}]`);
console.log(`  orchestrate exec -> SSH ready              : ${(o / 1000).toFixed(2)} s   [${orchMs.map((x) => (x / 1000).toFixed(2)).join(', ')}]`);
console.log(`  orchestrator overhead                      : ${((o - b) / 1000).toFixed(2)} s (target <= 1.00 s)`);
