/**
 * Emulation caveats of a summary: which arms ran where, which of the comparisons shown
 * (fluidmem vs swap latency ratios, the reference block's ratios) pit code the emulator
 * slows down against code that runs natively, and one-line descriptions of the measured
 * factors. Pure: the probe itself is experiment/emulation-probe.ts.
 */
import type { ArmPlacement, EmulationFactor, EmulationSummary, Summary } from './types.js';

/** The arms of a config as the summary records them (placement defaults to guest). */
export function armPlacements(arms: { name: string; kind: ArmPlacement['kind']; placement?: string }[]): ArmPlacement[] {
  return arms.map((a) => ({ name: a.name, kind: a.kind, placement: a.placement === 'host' ? 'host' : 'guest' }));
}

function fmtFactor(f: EmulationFactor | undefined): string {
  return f ? `${f.factor >= 10 ? f.factor.toFixed(0) : f.factor.toFixed(1)}x` : 'not measured';
}

/** "guest 251 ns / host 70 ns = 3.6x" */
export function describeFactor(f: EmulationFactor): string {
  const n = (x: number) => (f.unit === 's' ? x.toFixed(3) : x >= 100 ? x.toFixed(0) : x.toFixed(1));
  return `guest ${n(f.guest)} ${f.unit} / host ${n(f.host)} ${f.unit} = ${fmtFactor(f)}`;
}

/**
 * One warning per shown comparison (a / b, arm names) whose sides the emulation treats
 * differently under TCG: a swap arm in a guest (its swap path runs in the emulated guest
 * kernel) against a fluidmem arm in a guest (its handler runs natively), or any guest arm
 * against a host-placed one. Pairs are deduplicated in either order.
 */
export function emulationWarnings(arms: ArmPlacement[], pairs: [string, string][], accelerator: string, emu: EmulationSummary | undefined): string[] {
  if (accelerator !== 'tcg') return [];
  const byName = new Map(arms.map((a) => [a.name, a]));
  const seen = new Set<string>();
  const out: string[] = [];
  const kernel = `kernel-path factor ${fmtFactor(emu?.kernelPath)}`;
  const user = `user-access factor ${fmtFactor(emu?.userAccess)}`;
  for (const [a, b] of pairs) {
    const key = [a, b].sort().join('\0');
    const A = byName.get(a);
    const B = byName.get(b);
    if (!A || !B || a === b || seen.has(key)) continue;
    seen.add(key);
    if (A.placement === 'guest' && B.placement === 'guest') {
      const swap = A.kind === 'swap' ? A : B.kind === 'swap' ? B : undefined;
      const fm = A.kind === 'fluidmem' ? A : B.kind === 'fluidmem' ? B : undefined;
      if (swap && fm) {
        out.push(`${a} vs ${b} (both in TCG guests): ${swap.name}'s swap path runs in the emulated guest kernel (${kernel}) while ${fm.name}'s fault handler runs natively on the host; the ratio is flattered in ${fm.name}'s favour`);
      }
    } else if (A.placement !== B.placement) {
      const guest = A.placement === 'guest' ? A : B;
      const host = A.placement === 'host' ? A : B;
      out.push(`${a} vs ${b}: ${guest.name} runs in a TCG guest (${user}, ${kernel}) and ${host.name} natively on the host; the ratio mostly measures the emulation`);
    }
  }
  return out;
}

/** Lines for the terminal: the two factors, the CPU, and the warnings. */
export function formatEmulation(s: Pick<Summary, 'emulation'>): string[] {
  const e = s.emulation;
  if (!e) return [];
  const where = e.cpu.pinned ? `guest (QEMU) and host pinned to CPU ${e.cpu.guest}` : 'not pinned';
  const lines = [`emulation (${e.accelerator}; ${where})${e.skipped ? `: ${e.skipped}` : ''}`];
  if (e.userAccess) lines.push(`  user-level access: ${describeFactor(e.userAccess)}  [${e.userAccess.what}]`);
  if (e.kernelPath) lines.push(`  guest-kernel path: ${describeFactor(e.kernelPath)}  [${e.kernelPath.what}]`);
  for (const w of e.warnings) lines.push(`warning: ${w}`);
  return lines;
}
