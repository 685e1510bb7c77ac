/**
 * Report sections for what qualifies the numbers: the published reference beside our
 * means (with both ratios), the emulation factors with their warnings, and the handler
 * floor. All read only the summary (results/reference.ts, results/emulation.ts and
 * results/floor.ts computed the contents).
 */
import { describeFactor } from '../results/emulation.js';
import { formatHandlerFloor } from '../results/floor.js';
import type { EmulationSummary, HandlerFloorSummary, ReferenceComparison } from '../results/types.js';
import { escapeHtml as e, formatNumber } from './format.js';

function cell(x: number | null, digits = 2): string {
  return x === null ? '-' : x.toFixed(digits);
}

/** Our mean beside the published value per variant, then each ratio from both. */
export function referenceSection(r: ReferenceComparison): string {
  const rows = r.rows.map((row) => `<tr><td class="metric">${e(row.variant)}</td>` +
    `<td>${row.ours === null ? '-' : `${cell(row.ours)}${row.oursStdev ? ` ±${cell(row.oursStdev)}` : ''}`}</td>` +
    `<td>${cell(row.reference)}</td><td class="metric">${e(row.label ?? '')}</td></tr>`).join('');
  const ratios = r.ratios.map((q) => `<tr><td class="metric">${e(q.variantA)} / ${e(q.variantB)}</td><td>${cell(q.ours)}</td><td>${cell(q.reference)}</td></tr>`).join('');
  return `<p>${e(r.name)}: <code>${e(r.metric)}</code> in ${e(r.unit)}; our value is the mean ±stdev over repetitions.</p>` +
    `<table class="stats reference"><tr><th>variant</th><th>ours (${e(r.unit)})</th><th>reference (${e(r.unit)})</th><th>reference label</th></tr>${rows}</table>` +
    (ratios ? `<table class="stats ratios"><tr><th>ratio</th><th>ours</th><th>reference</th></tr>${ratios}</table>` : '');
}

/** The two factors, where they ran, the method, and one warning per distorted comparison. */
export function emulationSection(m: EmulationSummary): string {
  const where = m.cpu.pinned ? `guest (QEMU, all threads) and host pinned to CPU ${m.cpu.guest}` : 'not pinned';
  const factors = [['user-level access', m.userAccess], ['guest-kernel path', m.kernelPath]] as const;
  const rows = factors.map(([name, f]) => f
    ? `<tr><td class="metric">${name}</td><td>${formatNumber(f.guest)} ${e(f.unit)}</td><td>${formatNumber(f.host)} ${e(f.unit)}</td><td><strong>${formatNumber(f.factor)}x</strong></td><td class="metric">${e(f.what)}</td></tr>`
    : `<tr><td class="metric">${name}</td><td colspan="4" class="metric muted">not measured</td></tr>`).join('');
  const warnings = m.warnings.map((w) => `<div class="banner bad">${e(w)}</div>`).join('');
  return `<p>Accelerator ${e(m.accelerator)}; ${e(where)}.${m.skipped ? ` <span class="bad">${e(m.skipped)}</span>` : ''}</p>` +
    `<table class="stats emulation"><tr><th>factor</th><th>guest</th><th>host</th><th>guest / host</th><th>what was timed</th></tr>${rows}</table>` +
    `${warnings}<p class="muted">${e(m.note)}</p>` +
    (m.userAccess || m.kernelPath ? `<p class="muted">${[m.userAccess, m.kernelPath].filter((f) => f).map((f) => e(describeFactor(f!))).join(' · ')}</p>` : '');
}

/** The handler floor (results/floor.ts): what any userfaultfd handler costs on this host. */
export function handlerFloorSection(f: HandlerFloorSummary): string {
  return formatHandlerFloor(f).map((l, i) => `<p${i ? ' class="muted"' : ''}>${e(l)}</p>`).join('');
}
