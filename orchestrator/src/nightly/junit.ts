/**
 * JUnit XML for CI systems: one testsuite per nightly run; one testcase per run (a failed
 * run is an <error>), or one for the experiment if it produced no results; and one testcase
 * per variant x headline metric (a regression is a <failure>, not enough runs <skipped>).
 * Informational metrics have no verdict, so they are no test cases.
 */
import type { Summary } from '../results/types.js';
import type { Comparison, MetricComparison } from '../stats/compare.js';
import { verdictLabel } from '../stats/verdict.js';

export interface JUnitInput {
  experiment: string;
  runId?: string;
  baseline?: string;
  gitRevision?: string;
  timestamp: string;
  durationMs: number;
  summary?: Summary;
  comparison?: Comparison;
  /** Set when the experiment did not produce results at all. */
  error?: string;
}

export function xmlEscape(text: string): string {
  // Characters XML 1.0 cannot carry at all are dropped; the rest escaped.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const attr = (o: Record<string, string | number | undefined>) =>
  Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`).join('');

function pct(f: number | null): string {
  return f === null ? 'n/a' : `${f >= 0 ? '+' : ''}${(f * 100).toFixed(2)}%`;
}

function describe(r: MetricComparison): string {
  return `${r.metric}: ${r.meanA} -> ${r.meanB} (n=${r.nA}/${r.nB}), change ${pct(r.change)}, ` +
    `${(r.level * 100).toFixed(2)}% CI [${pct(r.ciLow)}, ${pct(r.ciHigh)}]: ${verdictLabel(r.verdict)}`;
}

function metricCase(suite: string, r: MetricComparison, minRepetitions: number): string {
  const head = `    <testcase${attr({ classname: `${suite}.${r.variant}`, name: r.metric, time: 0 })}>`;
  const text = xmlEscape(describe(r));
  if (r.verdict === 'worse') return `${head}\n      <failure${attr({ type: 'regression', message: `${r.variant} ${r.metric} ${pct(r.change)} (worse)` })}>${text}</failure>\n    </testcase>`;
  if (r.verdict === 'not-enough-runs') return `${head}\n      <skipped${attr({ message: `not enough runs for a verdict (fewer than ${minRepetitions} per side)` })}/>\n      <system-out>${text}</system-out>\n    </testcase>`;
  return `${head}\n      <system-out>${text}</system-out>\n    </testcase>`;
}

export function junitXml(input: JUnitInput): string {
  const suite = input.experiment;
  const cases: string[] = [];
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  if (input.error) {
    errors++;
    cases.push(`    <testcase${attr({ classname: `${suite}.experiment`, name: 'run', time: (input.durationMs / 1000).toFixed(3) })}>\n` +
      `      <error${attr({ type: 'run-failed', message: input.error.split('\n')[0] })}>${xmlEscape(input.error)}</error>\n    </testcase>`);
  }
  for (const run of input.summary?.runs ?? []) {
    const head = `    <testcase${attr({ classname: `${suite}.runs`, name: run.id, time: 0 })}`;
    if (run.status !== 'failed') {
      cases.push(`${head}/>`);
      continue;
    }
    errors++;
    cases.push(`${head}>\n      <error${attr({ type: 'run-failed', message: (run.error ?? 'run failed').split('\n')[0] })}>${xmlEscape(run.error ?? 'run failed')}</error>\n    </testcase>`);
  }
  for (const r of (input.comparison?.rows ?? []).filter((x) => x.headline)) {
    if (r.verdict === 'worse') failures++;
    if (r.verdict === 'not-enough-runs') skipped++;
    cases.push(metricCase(suite, r, input.comparison!.headline.minRepetitions));
  }
  const props = [
    ['runId', input.runId], ['baseline', input.baseline ?? 'none'], ['gitRevision', input.gitRevision],
    ['threshold', input.comparison ? String(input.comparison.threshold) : undefined],
  ].filter(([, v]) => v !== undefined).map(([k, v]) => `      <property${attr({ name: k, value: v })}/>`).join('\n');
  const counts = { tests: cases.length, failures, errors, skipped };
  return `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites${attr({ name: 'fluidlab nightly', ...counts, time: (input.durationMs / 1000).toFixed(3) })}>\n` +
    `  <testsuite${attr({ name: suite, ...counts, timestamp: input.timestamp, time: (input.durationMs / 1000).toFixed(3) })}>\n` +
    `    <properties>\n${props}\n    </properties>\n${cases.join('\n')}${cases.length ? '\n' : ''}  </testsuite>\n</testsuites>\n`;
}
