/**
 * parsePmbenchXml on upstream pmbench 0.9's -f schema (root <pmbenchmark>, XML.md).
 * upstream-m64-s32-2s.xml is built to XML.md's structure with the values of the real text
 * report workloads/pmbench/reference/real-pmbench-0.9-m64-s32-2s.txt, including upstream's
 * quirks (histo_bucket index restarting at 0, empty <bucket_hexes/> on all-zero rows, empty
 * <tlb_info/>), so text and XML of that run must give the same report and metrics.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PmbenchParseError, parsePmbenchAny, parsePmbenchReport, parsePmbenchXml } from '../../src/pmbench/index.js';

const read = (rel: string) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');
const xml = read('./upstream-m64-s32-2s.xml');
const text = read('../../../workloads/pmbench/reference/real-pmbench-0.9-m64-s32-2s.txt');

function parseError(doc: string): PmbenchParseError {
  try {
    parsePmbenchXml(doc);
  } catch (err) {
    if (err instanceof PmbenchParseError) return err;
    throw err;
  }
  throw new Error('document was accepted');
}

/** 1-based line of the first line containing s. */
function lineOf(doc: string, s: string, from = 0): number {
  const i = doc.indexOf(s, from);
  if (i < 0) throw new Error(`no "${s}"`);
  return doc.slice(0, i).split('\n').length;
}

describe('parsePmbenchXml on an upstream-shaped report', () => {
  const x = parsePmbenchXml(xml);
  const t = parsePmbenchReport(text);

  it('reads signature, parameters and machine', () => {
    expect(x.format).toBe('xml');
    expect(x.signature).toEqual(t.signature);
    expect(x.signature.date).toBe('Wed Nov 25 17:25:12 2026');
    expect(x.parameters).toEqual({ ...t.parameters, shape: 1 }); // XML has shape with 4 decimals
    expect(x.machine).toEqual({ cpuModel: 'AMD EPYC', tscKhz: 2596128 });
    expect(x.interrupted).toBe(false);
  });

  it('reads the threads like the text report, without the progress line', () => {
    expect(x.threads).toEqual(t.threads.map((th) => ({ ...th, done: null })));
  });

  it('reads every histogram row and sub-count by position, and the memory items', () => {
    expect(x.histograms).toEqual(t.histograms);
    expect(x.samples).toEqual({ read: 7792996, write: 7787004, total: 15580000 });
    expect(x.memory).toEqual(t.memory);
    expect(x.memory.map((m) => m.label)).toEqual(['pre-warmup', 'pre-run', 'mid-run', 'post-run', 'post unmap']);
  });

  it('gives the metrics of the text report; throughput from latency (the XML has no "Benchmark done")', () => {
    const { 'throughput.aps': aps, 'throughput.std_dev%': sd, ...rest } = x.metrics;
    const { 'throughput.aps': taps, 'throughput.std_dev%': tsd, ...textRest } = t.metrics;
    expect(rest).toEqual(textRest);
    expect(x.metrics['latency.ns.average']).toBe(128.39999999999998); // LKP's value for this run
    expect(x.throughput).toEqual({ accessesPerSec: 1e6 / 0.1284, stdDevPercent: 0, source: 'latency' });
    expect(aps).toBe(1e6 / 0.1284);
    expect(Math.abs(aps! / taps! - 1)).toBeLessThan(1e-3);
    expect([sd, tsd]).toEqual([0, 0]);
  });

  it('parsePmbenchAny dispatches on the first character', () => {
    expect(parsePmbenchAny(xml).format).toBe('xml');
    expect(parsePmbenchAny(text).format).toBe('text');
  });

  it('accepts upstream variants: no time_info, no jobs, an interruption, a single histogram', () => {
    const doc = xml
      .replace(/<time_info>[\s\S]*?<\/time_info>\n/, '')
      .replace(/\s*<jobs>1<\/jobs>/, '')
      .replace('</params>\n', '</params>\n      <interrupted>1</interrupted>\n')
      .replace(/<histogram type="write">[\s\S]*?<\/histogram>\n/, '');
    const r = parsePmbenchXml(doc);
    expect(r.signature.date).toBe('');
    expect(r.parameters.jobs).toBe(1);
    expect(r.interrupted).toBe(true);
    expect(r.histograms.write).toBeNull();
    expect(r.metrics['write.latency.ns.0-256%']).toBeUndefined();
    expect(r.metrics['read.latency.99%.ns']).toBe(608);
  });
});

describe('parsePmbenchXml errors name the line, the element and what is wrong', () => {
  it('rejects XML that is not well-formed', () => {
    expect(() => parsePmbenchXml(xml.replace('</pmbenchmark>\n', ''))).toThrow(/line 2: <pmbenchmark> opened here is not closed/);
    const e = parseError(xml.replace('<uuid>1448f3b4', '<uuid>1448f3b4</uid>'));
    expect(e.line).toBe(lineOf(xml, '<uuid>'));
    expect(e.message).toMatch(/end tag <\/uid> does not match <uuid>/);
  });

  it('rejects a foreign document (our old schema among them)', () => {
    expect(() => parsePmbenchXml('<pmbench schema="fluidlab-pmbench/1"/>')).toThrow(/root element is <pmbench>, expected <pmbenchmark>/);
    expect(() => parsePmbenchAny('<report/>')).toThrow(/expected <pmbenchmark>/);
  });

  it('names a missing element by its path', () => {
    const e = parseError(xml.replace(/\s*<details_samples>\d+<\/details_samples>/, ''));
    expect(e.message).toMatch(/pmbenchmark\/report\/result\/result_thread\/result_details: missing <details_samples> element/);
    expect(e.line).toBe(lineOf(xml, '<result_details>'));
  });

  it('rejects a value that is not a number', () => {
    const e = parseError(xml.replace('<freq_khz>2596128</freq_khz>', '<freq_khz>fast</freq_khz>'));
    expect(e.message).toMatch(/machine_info\/freq_khz: expected an integer, found "fast"/);
    expect(e.line).toBe(lineOf(xml, '<freq_khz>'));
  });

  it('rejects histogram rows out of order, missing, or with wrong sub-counts', () => {
    const swapped = xml.replace('<interval_lo>9</interval_lo>', '<interval_lo>10</interval_lo>');
    expect(parseError(swapped).message).toMatch(/row 3 should be the interval 9\.\.10, found 10\.\.10/);

    const first = xml.indexOf('<histo_bucket index="0">');
    const end = xml.indexOf('</histo_bucket>', first) + '</histo_bucket>\n'.length;
    const missing = xml.slice(0, first) + xml.slice(end).replace(/^\s*/, '');
    expect(parseError(missing).message).toMatch(/histogram\[1\]: expected 24 <histo_bucket> rows, found 23/);

    const badSum = xml.replace('<hex index="0">109803</hex>', '<hex index="0">109802</hex>');
    const e = parseError(badSum);
    expect(e.message).toMatch(/bucket_hexes: sub-counts sum to 346670, sum_count says 346671/);

    const emptyButCounted = xml.replace(/<sum_count>0<\/sum_count>\n(\s*)<bucket_hexes\/>/, '<sum_count>3</sum_count>\n$1<bucket_hexes/>');
    expect(parseError(emptyButCounted).message).toMatch(/row 2\^\(17,18\) needs 16 <hex> sub-counts in <bucket_hexes>, found 0/);
  });

  it('rejects an unknown histogram type and memory item', () => {
    expect(parseError(xml.replace('<histogram type="write">', '<histogram type="both">')).message).toMatch(/expected attribute type="read" or type="write", found "both"/);
    expect(parseError(xml.replace('name="mid-run"', 'name="half-time"')).message).toMatch(/sys_mem_item\[3\]: unknown name="half-time"/);
  });

  it('rejects parameter values outside the known names', () => {
    const e = parseError(xml.replace('<pattern>uniform</pattern>', '<pattern>spiral</pattern>'));
    expect(e.message).toMatch(/signature\/params\/pattern: expected one of linear, uniform, normal, pareto, found "spiral"/);
  });
});
