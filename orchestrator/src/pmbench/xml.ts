/**
 * Parser for pmbench 0.9's XML report (-f FILE): upstream's schema, root <pmbenchmark>
 * (recorded in /work/shared/reference/pmbench/XML.md), which workloads/pmbench writes too.
 * It yields the same typed report as the text parser, so the metrics of one run agree,
 * except where the XML carries less than the text:
 *   - no progress lines: threads have done = null and throughput comes from latency;
 *     no "Initialization took" line (initializationMs null)
 *   - params has no threshold / wrneedsrd (read as 0), shape has 4 decimals, offset -1 = random
 * Upstream's quirks are accepted: histo_bucket index attributes restart at 0 after the 16th
 * row (rows are read by position and checked against their interval), an all-zero row may
 * have an empty <bucket_hexes>, <tlb_info/> and <cache_info/> may be empty, <time_info> and
 * <jobs> may be absent. Every error names the element path and what was expected.
 */
import { finishReport } from './derive.js';
import { PmbenchParseError } from './errors.js';
import { BAND_EXPONENTS, bandBounds, bandHasSub, mergeHistograms, subBuckets } from './histogram.js';
import type {
  HistogramBand,
  MemorySnapshot,
  PmbenchHistogram,
  PmbenchParameters,
  PmbenchReport,
  PmbenchSignature,
  PmbenchThread,
  SampledLatency,
  SnapshotLabel,
} from './types.js';
import { parseXml, type XmlElement } from './xmltree.js';

/** The root element of upstream's report. */
export const PMBENCH_XML_ROOT = 'pmbenchmark';

/** An element and its path from the root, for error messages. */
interface Node {
  el: XmlElement;
  path: string;
}

function fail(n: Node, message: string): never {
  throw new PmbenchParseError(n.el.line, `${n.path}: ${message}`);
}

function children(n: Node, name: string): Node[] {
  const els = n.el.children.filter((c) => c.name === name);
  return els.map((el, i) => ({ el, path: `${n.path}/${name}${els.length > 1 ? `[${i + 1}]` : ''}` }));
}

function optional(n: Node, name: string): Node | null {
  const el = n.el.children.find((c) => c.name === name);
  return el ? { el, path: `${n.path}/${name}` } : null;
}

function child(n: Node, name: string): Node {
  return optional(n, name) ?? fail(n, `missing <${name}> element`);
}

function text(n: Node, name: string): string {
  return child(n, name).el.text.trim();
}

function int(n: Node, name: string): number {
  const c = child(n, name);
  const v = c.el.text.trim();
  return /^-?\d+$/.test(v) ? Number(v) : fail(c, `expected an integer, found "${v}"`);
}

function decimal(n: Node, name: string): number {
  const c = child(n, name);
  const v = c.el.text.trim();
  return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v) ? Number(v) : fail(c, `expected a number, found "${v}"`);
}

function flag(n: Node, name: string): boolean {
  const c = child(n, name);
  const v = c.el.text.trim();
  return v === '1' ? true : v === '0' ? false : fail(c, `expected 0 or 1, found "${v}"`);
}

function oneOf<T extends string>(n: Node, name: string, allowed: readonly T[], alias: Record<string, T> = {}): T {
  const c = child(n, name);
  const raw = c.el.text.trim();
  const v = alias[raw] ?? raw;
  return (allowed as readonly string[]).includes(v) ? (v as T) : fail(c, `expected one of ${allowed.join(', ')}, found "${raw}"`);
}

const WDAY = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The struct tm of <time_info> in the text report's (ctime's) layout: "Wed Nov 25 17:25:12 2026". */
function dateOf(t: Node | null): string {
  if (!t) return '';
  const pick = (name: string, names: string[]) => {
    const i = int(t, name);
    return names[i] ?? fail(child(t, name), `expected 0..${names.length - 1}, found ${i}`);
  };
  const two = (name: string) => String(int(t, name)).padStart(2, '0');
  return `${pick('wday', WDAY)} ${pick('mon', MON)} ${String(int(t, 'mday')).padStart(2, ' ')} ${two('hour')}:${two('min')}:${two('sec')} ${1900 + int(t, 'year')}`;
}

function signatureOf(sig: Node): PmbenchSignature {
  const info = child(sig, 'pmbench_info');
  const os = child(sig, 'os_info');
  const v = child(os, 'version_info');
  return {
    version: child(info, 'version_number').el.text + child(info, 'version_options').el.text,
    kernel: `${text(v, 'os_name')} ${text(v, 'release')} ${text(v, 'arch')}`,
    date: dateOf(optional(sig, 'time_info')),
    uuid: text(sig, 'uuid'),
  };
}

function parametersOf(p: Node, threads: number): PmbenchParameters {
  const offset = int(p, 'offset');
  return {
    durationSec: int(p, 'duration'),
    mapsizeMib: int(p, 'mapsize'),
    setsizeMib: int(p, 'setsize'),
    initialize: flag(p, 'initialize'),
    shape: decimal(p, 'shape'),
    delay: int(p, 'delay'),
    quiet: flag(p, 'quiet'),
    cold: flag(p, 'cold'),
    jobs: optional(p, 'jobs') ? int(p, 'jobs') : threads,
    offset: offset < 0 ? 'random' : offset,
    ratio: int(p, 'ratio'),
    threshold: 0,
    wrneedsrd: false,
    pattern: oneOf(p, 'pattern', ['linear', 'uniform', 'normal', 'pareto'] as const, { zipf: 'pareto' }),
    access: oneOf(p, 'access', ['histo', 'touch'] as const),
    tsops: oneOf(p, 'tsops', ['rdtsc', 'rdtscp'] as const),
  };
}

function latency(n: Node, us: string, clk: string, samples: number): SampledLatency {
  return { us: decimal(n, us), clks: decimal(n, clk), samples };
}

function threadOf(t: Node, of: number): PmbenchThread {
  const num = t.el.attrs['thread_num'];
  if (num === undefined || !/^\d+$/.test(num)) fail(t, `expected attribute thread_num="N", found ${num === undefined ? 'none' : `"${num}"`}`);
  const net = child(t, 'result_netavg');
  const d = child(t, 'result_details');
  const warm = optional(t, 'warmup_details');
  return {
    index: Number(num),
    of,
    netAverage: { us: decimal(net, 'netavg_us'), clks: decimal(net, 'netavg_clk') },
    benchmark: latency(child(d, 'details_latency'), 'latency_us', 'latency_clk', int(d, 'details_samples')),
    generation: latency(child(d, 'details_overhead'), 'overhead_us', 'overhead_clk', int(d, 'details_total')),
    warmup: warm ? latency(child(warm, 'warmup_latency'), 'warmup_us', 'warmup_clk', int(warm, 'warmup_total')) : null,
    done: null,
  };
}

function subCounts(row: Node, lo: number, hi: number, count: number): number[] {
  const hexes = optional(row, 'bucket_hexes');
  const hex = hexes ? children(hexes, 'hex') : [];
  if (hex.length === 0 && count === 0) return Array<number>(16).fill(0);
  if (hex.length !== 16) fail(hexes ?? row, `row 2^(${lo},${hi}) needs 16 <hex> sub-counts in <bucket_hexes>, found ${hex.length}`);
  const counts = hex.map((h) => {
    const v = h.el.text.trim();
    return /^\d+$/.test(v) ? Number(v) : fail(h, `expected a count, found "${v}"`);
  });
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum !== count) fail(hexes!, `sub-counts sum to ${sum}, sum_count says ${count}`);
  return counts;
}

function histogramOf(h: Node): PmbenchHistogram {
  const rows = children(h, 'histo_bucket');
  if (rows.length !== BAND_EXPONENTS.length) fail(h, `expected ${BAND_EXPONENTS.length} <histo_bucket> rows, found ${rows.length}`);
  const bands: HistogramBand[] = rows.map((row, i) => {
    const [lo, hi] = BAND_EXPONENTS[i]!;
    const interval = child(row, 'bucket_interval');
    const gotLo = int(interval, 'interval_lo');
    const gotHi = int(interval, 'interval_hi');
    if (gotLo !== lo || gotHi !== hi) fail(interval, `row ${i + 1} should be the interval ${lo}..${hi}, found ${gotLo}..${gotHi}`);
    const count = int(row, 'sum_count');
    const { loNs, hiNs } = bandBounds(lo, hi);
    const sub = bandHasSub(lo) ? subBuckets(loNs, hiNs, subCounts(row, lo, hi, count)) : null;
    return { loNs, hiNs, count, sub };
  });
  return { bands, total: bands.reduce((s, b) => s + b.count, 0) };
}

function histogramsOf(stats: Node | null): PmbenchReport['histograms'] {
  if (!stats) return { read: null, write: null };
  const hs = children(stats, 'histogram');
  for (const h of hs) {
    const type = h.el.attrs['type'];
    if (type !== 'read' && type !== 'write') fail(h, `expected attribute type="read" or type="write", found ${type === undefined ? 'none' : `"${type}"`}`);
  }
  const of = (type: string) => mergeHistograms(hs.filter((h) => h.el.attrs['type'] === type).map(histogramOf));
  return { read: of('read'), write: of('write') };
}

const MEMORY_LABELS: Record<string, SnapshotLabel> = {
  'pre-warmup': 'pre-warmup',
  'pre-run': 'pre-run',
  'mid-run': 'mid-run',
  'post-run': 'post-run',
  'post-unmap': 'post unmap',
  'post unmap': 'post unmap',
};

function snapshotOf(item: Node): MemorySnapshot {
  const name = item.el.attrs['name'] ?? '';
  const label = MEMORY_LABELS[name] ?? fail(item, `unknown name="${name}" (expected ${Object.keys(MEMORY_LABELS).slice(0, 5).join(', ')})`);
  const m = child(item, 'mem_item_info');
  return {
    label,
    freeK: int(m, 'free_kib'),
    bufferK: int(m, 'buffer_kib'),
    cacheK: int(m, 'cache_kib'),
    activeK: int(m, 'active_kib'),
    inactiveK: int(m, 'inactive_kib'),
    pgpgin: int(m, 'pgpgin'),
    pgpgout: int(m, 'pgpgout'),
    pswpin: int(m, 'pswpin'),
    pswpout: int(m, 'pswpout'),
    pgmajfault: int(m, 'pgmajfault'),
  };
}

/**
 * Parses pmbench's -f XML report (upstream schema, root <pmbenchmark>) into the same report
 * the text parser gives. Throws PmbenchParseError naming the line, the element path and
 * what was expected.
 */
export function parsePmbenchXml(xml: string): PmbenchReport {
  const rootEl = parseXml(xml);
  const root: Node = { el: rootEl, path: rootEl.name };
  if (rootEl.name !== PMBENCH_XML_ROOT) {
    fail(root, `root element is <${rootEl.name}>, expected <${PMBENCH_XML_ROOT}> (pmbench 0.9's -f report)`);
  }
  const report = child(root, 'report');
  const sig = child(report, 'signature');
  const machine = child(report, 'machine_info');
  const threadNodes = children(child(report, 'result'), 'result_thread');
  if (threadNodes.length === 0) fail(child(report, 'result'), 'no <result_thread> element');
  const threads = threadNodes.map((t) => threadOf(t, threadNodes.length));
  const memory = optional(report, 'sys_mem_info');
  const interrupted = optional(sig, 'interrupted');
  return finishReport({
    format: 'xml',
    signature: signatureOf(sig),
    parameters: parametersOf(child(sig, 'params'), threads.length),
    machine: { cpuModel: text(machine, 'modelname'), tscKhz: int(machine, 'freq_khz') },
    threads,
    histograms: histogramsOf(optional(report, 'statistics')),
    memory: memory ? children(memory, 'sys_mem_item').map(snapshotOf) : [],
    initializationMs: null,
    interrupted: interrupted ? flag(sig, 'interrupted') : false,
  });
}
