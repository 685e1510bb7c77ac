/** Text helpers for the HTML report: escaping and compact number formatting. */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const small = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });

/** 1234567 -> "1,234,567"; 12.3456 -> "12.35"; NaN -> "-". */
export function formatNumber(n: number | undefined | null): string {
  if (n === undefined || n === null || Number.isNaN(n)) return '-';
  if (!Number.isFinite(n)) return n > 0 ? '∞' : '-∞';
  return Math.abs(n) >= 100 ? grouped.format(n) : small.format(n);
}

/** 0.1234 -> "+12.3%". */
export function formatPercent(fraction: number | null | undefined, digits = 1): string {
  if (fraction === undefined || fraction === null || Number.isNaN(fraction)) return '-';
  if (!Number.isFinite(fraction)) return fraction > 0 ? '+∞%' : '-∞%';
  const s = (fraction * 100).toFixed(digits);
  return `${fraction > 0 ? '+' : ''}${s}%`;
}
