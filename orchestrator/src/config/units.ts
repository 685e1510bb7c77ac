/** Human-friendly sizes ("512M", "1GiB", 256 = MiB) and durations ("90s", "2m", 30 = s). */

const SIZE_UNITS: Record<string, number> = {
  k: 1 / 1024, kb: 1 / 1024, kib: 1 / 1024,
  m: 1, mb: 1, mib: 1,
  g: 1024, gb: 1024, gib: 1024,
  t: 1024 * 1024, tb: 1024 * 1024, tib: 1024 * 1024,
};

/** Parses a size to MiB. Plain numbers are MiB. Returns undefined when not a size. */
export function parseSizeMiB(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase();
  const factor = unit === '' ? 1 : SIZE_UNITS[unit];
  if (factor === undefined) return undefined;
  const mib = Number(m[1]) * factor;
  return mib > 0 ? mib : undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, min: 60, h: 3600 };

/** Parses a duration to milliseconds. Plain numbers are seconds. */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const factor = m[2] === '' ? 1 : DURATION_UNITS[m[2] ?? ''];
  if (factor === undefined) return undefined;
  const ms = Number(m[1]) * factor * 1000;
  return ms > 0 ? ms : undefined;
}
