/**
 * Parser for pmbench 0.9 text reports (the real pmbench's and workloads/pmbench's).
 * The report is split at its section headers ("----- Name -----"); the lines before the
 * first header are progress lines, read for "Benchmark done" figures, the initialization
 * time (-i) and the interruption notice. Known sections are parsed strictly (errors name the line and what was expected);
 * unknown sections and unknown lines in the progress part are ignored.
 */
import { PmbenchParseError } from './errors.js';
import { BAND_EXPONENTS, bandBounds, bandHasSub, mergeHistograms, subBuckets } from './histogram.js';
import { finishReport } from './derive.js';
import { LineCursor } from './lines.js';
import type {
  HistogramBand,
  MemorySnapshot,
  PmbenchHistogram,
  PmbenchMachine,
  PmbenchParameters,
  PmbenchReport,
  PmbenchSignature,
  PmbenchThread,
  SampledLatency,
  SnapshotLabel,
} from './types.js';

interface Section {
  name: string;
  /** 1-based line number of the header */
  line: number;
  body: string[];
}

const HEADER = /^-{5,} (.+?) -{5,}\s*$/; // not "--- Measurement details ---"
const NUM = String.raw`(-?\d+(?:\.\d+)?)`;

function splitSections(lines: string[]): { preamble: string[]; sections: Section[] } {
  const sections: Section[] = [];
  const preamble: string[] = [];
  lines.forEach((line, i) => {
    const m = line.match(HEADER);
    if (m) sections.push({ name: m[1]!, line: i + 1, body: [] });
    else (sections[sections.length - 1]?.body ?? preamble).push(line);
  });
  return { preamble, sections };
}

function section(sections: Section[], name: string): Section {
  const s = sections.find((x) => x.name === name);
  if (!s) {
    throw new PmbenchParseError(0, `no "${name}" section: is this a pmbench report? (expected a line like "------------- ${name} -------------")`);
  }
  return s;
}

function cursor(s: Section): LineCursor {
  return new LineCursor(s.body, s.line + 1);
}

interface Progress {
  done: Map<number, { seconds: number; accesses: number }>;
  /** "Initialization took X ms" (-i) */
  initializationMs: number | null;
  interrupted: boolean;
}

function parseProgress(preamble: string[]): Progress {
  const done = new Map<number, { seconds: number; accesses: number }>();
  let initializationMs: number | null = null;
  let interrupted = false;
  for (const line of preamble) {
    const m = line.match(/^\[(\d+)\] Benchmark done - took (\d+(?:\.\d+)?) sec for (\d+) page access/);
    if (m) done.set(Number(m[1]), { seconds: Number(m[2]), accesses: Number(m[3]) });
    const init = line.match(/^Initialization took (\d+(?:\.\d+)?) ms/);
    if (init) initializationMs = Number(init[1]);
    if (/\binterrupted\b/i.test(line)) interrupted = true;
  }
  return { done, initializationMs, interrupted };
}

function parseSignature(s: Section): { signature: PmbenchSignature; parameters: PmbenchParameters } {
  const c = cursor(s);
  c.skipBlank();
  const version = c.expect(/^pmbench version\s*:\s*(.*)$/, '"pmbench version: ..."')[1]!;
  const kernel = c.expect(/^OS\/kernel type\s*:\s*(.*)$/, '"OS/kernel type : ..."')[1]!;
  const date = c.expect(/^Reported on\s*:\s*(.*)$/, '"Reported on    : ..."')[1]!;
  const uuid = c.expect(/^Benchmark UUID\s*:\s*(.*)$/, '"Benchmark UUID : ..."')[1]!;
  const paramsLine = c.lineNo;
  c.expect(/^Parameters used:\s*$/, '"Parameters used:"');
  const raw = new Map<string, { value: string; line: number }>();
  for (;;) {
    const line = c.lineNo;
    const m = c.accept(/^\s+(\w+)\s*=\s*(.*?)\s*$/);
    if (!m) break;
    raw.set(m[1]!, { value: m[2]!, line });
  }
  return { signature: { version, kernel, date, uuid }, parameters: typedParameters(raw, paramsLine) };
}

function typedParameters(raw: Map<string, { value: string; line: number }>, at: number): PmbenchParameters {
  const get = (name: string) => {
    const v = raw.get(name);
    if (!v) throw new PmbenchParseError(at, `parameter "${name}" missing under "Parameters used:"`);
    return v;
  };
  const bad = (name: string, line: number, value: string, what: string): never => {
    throw new PmbenchParseError(line, `parameter ${name} = "${value}": expected ${what}`);
  };
  const int = (name: string) => {
    const { value, line } = get(name);
    return /^-?\d+$/.test(value) ? Number(value) : bad(name, line, value, 'an integer');
  };
  const bool = (name: string) => {
    const { value, line } = get(name);
    return value === '1' ? true : value === '0' ? false : bad(name, line, value, '0 or 1');
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], alias: Record<string, T> = {}) => {
    const { value, line } = get(name);
    const v = alias[value] ?? value;
    return (allowed as readonly string[]).includes(v) ? (v as T) : bad(name, line, value, allowed.join(', '));
  };
  const shape = get('shape');
  const ratio = get('ratio');
  const offset = get('offset');
  return {
    durationSec: int('duration_sec'),
    mapsizeMib: int('mapsize_mib'),
    setsizeMib: int('setsize_mib'),
    initialize: bool('initialize'),
    shape: /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(shape.value) ? Number(shape.value) : bad('shape', shape.line, shape.value, 'a number'),
    delay: int('delay'),
    quiet: bool('quiet'),
    cold: bool('cold'),
    jobs: int('jobs'),
    offset: offset.value === 'random' ? 'random' : /^\d+$/.test(offset.value) ? Number(offset.value) : bad('offset', offset.line, offset.value, '"random" or a word index'),
    ratio: /^\d+%?$/.test(ratio.value) ? parseInt(ratio.value, 10) : bad('ratio', ratio.line, ratio.value, 'a percentage like 50%'),
    threshold: int('threshold'),
    wrneedsrd: bool('wrneedsrd'),
    pattern: oneOf('pattern', ['linear', 'uniform', 'normal', 'pareto'] as const, { zipf: 'pareto' }),
    access: oneOf('access', ['histo', 'touch'] as const),
    tsops: oneOf('tsops', ['rdtsc', 'rdtscp'] as const),
  };
}

function parseMachine(s: Section): PmbenchMachine {
  const c = cursor(s);
  c.skipBlank();
  const cpuModel = c.expect(/^CPU model name\s*:\s*(.*)$/, '"CPU model name: ..."')[1]!;
  const khz = c.expect(/^rdtsc\/perfc frequency:\s*(\d+) K cycles per second/, '"rdtsc/perfc frequency: N K cycles per second"');
  return { cpuModel, tscKhz: Number(khz[1]) };
}

function latencyLine(c: LineCursor, label: RegExp, what: string): SampledLatency {
  const m = c.expect(new RegExp(String.raw`^\s*${label.source}\s*:\s*${NUM} us \(${NUM} clks\)`), `"${what}: X us (N clks)"`);
  const n = c.expect(/^\s*Total samples count:\s*(\d+)/, '"Total samples count: N"');
  return { us: Number(m[1]), clks: Number(m[2]), samples: Number(n[1]) };
}

function parseThreads(s: Section, progress: Progress): PmbenchThread[] {
  const c = cursor(s);
  const threads: PmbenchThread[] = [];
  for (;;) {
    c.skipBlank();
    if (c.done) break;
    const t = c.expect(/^Thread (\d+)\/(\d+):\s*$/, '"Thread i/n:"');
    const net = c.expect(new RegExp(String.raw`^Net average page latency \(Arith\. mean\):\s*${NUM} us \(${NUM} clks\)`), '"Net average page latency (Arith. mean): X us (N clks)"');
    c.expect(/^--- Measurement details ---\s*$/, '"--- Measurement details ---"');
    const benchmark = latencyLine(c, /Page latency during benchmark \(inc\. gen\)/, 'Page latency during benchmark (inc. gen)');
    const generation = latencyLine(c, /Pattern generation overhead per drawing/, 'Pattern generation overhead per drawing');
    const warmup = /^\s*Page latency during warmup/.test(c.peek() ?? '')
      ? latencyLine(c, /Page latency during warmup/, 'Page latency during warmup')
      : null;
    const index = Number(t[1]);
    threads.push({
      index,
      of: Number(t[2]),
      netAverage: { us: Number(net[1]), clks: Number(net[2]) },
      benchmark,
      generation,
      warmup,
      done: progress.done.get(index) ?? null,
    });
  }
  if (threads.length === 0) throw new PmbenchParseError(s.line, 'no "Thread i/n:" block in the average access latency section');
  return threads;
}

function parseHistogramBlock(c: LineCursor): PmbenchHistogram {
  const bands: HistogramBand[] = [];
  for (const [lo, hi] of BAND_EXPONENTS) {
    const label = `2^(${String(lo).padStart(2, '0')},${String(hi).padStart(2, '0')}) ns`;
    const line = c.lineNo;
    const m = c.expect(new RegExp(String.raw`^2\^\(${String(lo).padStart(2, '0')},${String(hi).padStart(2, '0')}\) ns:\s*(\d+)\s*(?:\[([\d,\s]*)\])?\s*$`), `"${label}: N${bandHasSub(lo) ? '  [16 sub-counts]' : ''}"`);
    const count = Number(m[1]);
    const { loNs, hiNs } = bandBounds(lo, hi);
    let sub = null;
    if (bandHasSub(lo)) {
      const counts = (m[2] ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
      if (counts.length !== 16) throw new PmbenchParseError(line, `${label}: expected 16 sub-counts in [...], found ${counts.length}`);
      const sum = counts.reduce((a, b) => a + b, 0);
      if (sum !== count) throw new PmbenchParseError(line, `${label}: sub-counts sum to ${sum}, row says ${count}`);
      sub = subBuckets(loNs, hiNs, counts);
    }
    bands.push({ loNs, hiNs, count, sub });
  }
  const totalLine = c.lineNo;
  const total = Number(c.expect(/^Total samples:\s*(\d+)/, '"Total samples: N"')[1]);
  const sum = bands.reduce((a, b) => a + b.count, 0);
  if (sum !== total) throw new PmbenchParseError(totalLine, `Total samples ${total} differs from the sum of the rows (${sum})`);
  return { bands, total };
}

function parseStatistics(s: Section | undefined): { read: PmbenchHistogram | null; write: PmbenchHistogram | null } {
  if (!s) return { read: null, write: null };
  const c = cursor(s);
  const reads: PmbenchHistogram[] = [];
  const writes: PmbenchHistogram[] = [];
  while (!c.done) {
    const line = c.next()!;
    if (/^Read:\s*$/.test(line)) reads.push(parseHistogramBlock(c));
    else if (/^Write:\s*$/.test(line)) writes.push(parseHistogramBlock(c));
    else if (/^2\^\(/.test(line)) throw new PmbenchParseError(c.lineNo - 1, 'histogram row outside a "Read:" or "Write:" block');
    // other lines ("# Access latency histogram", "touch_report: ...", per-thread labels) carry no data
  }
  return { read: mergeHistograms(reads), write: mergeHistograms(writes) };
}

const SNAPSHOT_LABELS: readonly SnapshotLabel[] = ['pre-warmup', 'pre-run', 'mid-run', 'post-run', 'post unmap'];

function parseMemory(s: Section | undefined): MemorySnapshot[] {
  if (!s) return [];
  const c = cursor(s);
  const out: MemorySnapshot[] = [];
  c.skipBlank();
  if (c.done) return out;
  c.expect(/^\s*free\(K\)/, 'the column header "free(K) buffer(K) ..."');
  while (!c.done) {
    const line = c.lineNo;
    const text = c.next()!;
    if (text.trim() === '') continue;
    const m = text.match(/^(.*?):\s*(-?\d.*)$/);
    const label = m?.[1]!.trim();
    if (!m || label === undefined) throw new PmbenchParseError(line, `expected "LABEL: 10 numbers", found "${text}"`);
    if (label === '(delta)') continue;
    if (!(SNAPSHOT_LABELS as readonly string[]).includes(label)) {
      throw new PmbenchParseError(line, `unknown memory snapshot "${label}" (expected ${SNAPSHOT_LABELS.join(', ')}, or (delta))`);
    }
    const v = m[2]!.trim().split(/\s+/).map(Number);
    if (v.length !== 10 || v.some((x) => !Number.isFinite(x))) {
      throw new PmbenchParseError(line, `memory snapshot "${label}": expected 10 numbers, found ${v.length}`);
    }
    const [freeK, bufferK, cacheK, activeK, inactiveK, pgpgin, pgpgout, pswpin, pswpout, pgmajfault] = v as [number, number, number, number, number, number, number, number, number, number];
    out.push({ label: label as SnapshotLabel, freeK, bufferK, cacheK, activeK, inactiveK, pgpgin, pgpgout, pswpin, pswpout, pgmajfault });
  }
  return out;
}

/**
 * Parses a pmbench 0.9 text report (stdout of pmbench, progress lines optional).
 * Throws PmbenchParseError naming the line and what was expected.
 */
export function parsePmbenchReport(text: string): PmbenchReport {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const { preamble, sections } = splitSections(lines);
  const progress = parseProgress(preamble);
  const { signature, parameters } = parseSignature(section(sections, 'Benchmark signature'));
  const machine = parseMachine(section(sections, 'Machine information'));
  const threads = parseThreads(section(sections, 'Average access latency'), progress);
  const histograms = parseStatistics(sections.find((s) => s.name === 'Statistics'));
  const memory = parseMemory(sections.find((s) => s.name === 'System memory information'));
  // A thread that stopped well before the duration was cut short (the loop only overshoots).
  const cutShort = threads.some((t) => t.done !== null && t.done.seconds < parameters.durationSec - 0.05);
  return finishReport({
    format: 'text',
    signature,
    parameters,
    machine,
    threads,
    histograms,
    memory,
    initializationMs: progress.initializationMs,
    interrupted: progress.interrupted || cutShort || lines.some((l) => /\binterrupted\b/i.test(l)),
  });
}
