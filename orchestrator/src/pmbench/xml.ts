/**
 * Parser for the XML report written by workloads/pmbench with -f (schema
 * "fluidlab-pmbench/1", documented in workloads/pmbench/xmlreport.c).
 */
import { finishReport } from './derive.js';
import { PmbenchParseError } from './errors.js';
import { subBuckets } from './histogram.js';
import type {
  HistogramBand,
  MemorySnapshot,
  PmbenchHistogram,
  PmbenchParameters,
  PmbenchReport,
  PmbenchThread,
  SampledLatency,
  SnapshotLabel,
} from './types.js';
import { parseXml, type XmlElement } from './xmltree.js';

export const PMBENCH_XML_SCHEMA = 'fluidlab-pmbench/1';

function child(el: XmlElement, name: string): XmlElement {
  const c = el.children.find((x) => x.name === name);
  if (!c) throw new PmbenchParseError(el.line, `<${el.name}> has no <${name}> element`);
  return c;
}

function str(el: XmlElement, attr: string): string {
  const v = el.attrs[attr];
  if (v === undefined) throw new PmbenchParseError(el.line, `<${el.name}> lacks attribute ${attr}="..."`);
  return v;
}

function num(el: XmlElement, attr: string): number {
  const v = str(el, attr);
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new PmbenchParseError(el.line, `<${el.name} ${attr}="${v}">: expected a number`);
  return n;
}

function bool(el: XmlElement, attr: string): boolean {
  const v = str(el, attr);
  if (v !== '0' && v !== '1') throw new PmbenchParseError(el.line, `<${el.name} ${attr}="${v}">: expected 0 or 1`);
  return v === '1';
}

function oneOf<T extends string>(el: XmlElement, attr: string, allowed: readonly T[]): T {
  const v = str(el, attr);
  if (!(allowed as readonly string[]).includes(v)) throw new PmbenchParseError(el.line, `<${el.name} ${attr}="${v}">: expected one of ${allowed.join(', ')}`);
  return v as T;
}

function parameters(el: XmlElement): PmbenchParameters {
  const offset = str(el, 'offset');
  return {
    durationSec: num(el, 'duration_sec'),
    mapsizeMib: num(el, 'mapsize_mib'),
    setsizeMib: num(el, 'setsize_mib'),
    initialize: bool(el, 'initialize'),
    shape: num(el, 'shape'),
    delay: num(el, 'delay'),
    quiet: bool(el, 'quiet'),
    cold: bool(el, 'cold'),
    jobs: num(el, 'jobs'),
    offset: offset === 'random' ? 'random' : num(el, 'offset'),
    ratio: num(el, 'ratio'),
    threshold: num(el, 'threshold'),
    wrneedsrd: bool(el, 'wrneedsrd'),
    pattern: oneOf(el, 'pattern', ['linear', 'uniform', 'normal', 'pareto'] as const),
    access: oneOf(el, 'access', ['histo', 'touch'] as const),
    tsops: oneOf(el, 'tsops', ['rdtsc', 'rdtscp'] as const),
  };
}

function sampled(el: XmlElement): SampledLatency {
  return { us: num(el, 'us'), clks: num(el, 'clks'), samples: num(el, 'samples') };
}

function thread(el: XmlElement, of: number): PmbenchThread {
  const net = child(el, 'net_average');
  const warm = el.children.find((c) => c.name === 'warmup');
  return {
    index: num(el, 'id'),
    of,
    netAverage: { us: num(net, 'us'), clks: num(net, 'clks') },
    benchmark: sampled(child(el, 'benchmark')),
    generation: sampled(child(el, 'generation')),
    warmup: warm ? sampled(warm) : null,
    done: { seconds: num(el, 'seconds'), accesses: num(el, 'accesses') },
  };
}

function histogram(el: XmlElement): PmbenchHistogram {
  const bands: HistogramBand[] = el.children
    .filter((c) => c.name === 'band')
    .map((b) => {
      const loNs = num(b, 'lo_ns');
      const hiNs = num(b, 'hi_ns');
      const count = num(b, 'count');
      const subAttr = b.attrs['sub'];
      let sub = null;
      if (subAttr !== undefined) {
        const counts = subAttr.trim().split(/\s+/).map(Number);
        if (counts.length !== 16 || counts.some((x) => !Number.isInteger(x))) {
          throw new PmbenchParseError(b.line, `<band sub="...">: expected 16 integers, found "${subAttr}"`);
        }
        sub = subBuckets(loNs, hiNs, counts);
      }
      return { loNs, hiNs, count, sub };
    });
  if (bands.length !== 24) throw new PmbenchParseError(el.line, `<histogram>: expected 24 <band> elements, found ${bands.length}`);
  return { bands, total: num(el, 'total') };
}

const LABELS: readonly SnapshotLabel[] = ['pre-warmup', 'pre-run', 'mid-run', 'post-run', 'post unmap'];

function snapshot(el: XmlElement): MemorySnapshot {
  return {
    label: oneOf(el, 'name', LABELS),
    freeK: num(el, 'free_k'),
    bufferK: num(el, 'buffer_k'),
    cacheK: num(el, 'cache_k'),
    activeK: num(el, 'active_k'),
    inactiveK: num(el, 'inactive_k'),
    pgpgin: num(el, 'pgpgin'),
    pgpgout: num(el, 'pgpgout'),
    pswpin: num(el, 'pswpin'),
    pswpout: num(el, 'pswpout'),
    pgmajfault: num(el, 'pgmajfault'),
  };
}

/** Parses the -f XML report. Throws PmbenchParseError naming the line and what was expected. */
export function parsePmbenchXml(xml: string): PmbenchReport {
  const root = parseXml(xml);
  if (root.name !== 'pmbench') throw new PmbenchParseError(root.line, `root element is <${root.name}>, expected <pmbench>`);
  const schema = root.attrs['schema'];
  if (schema !== PMBENCH_XML_SCHEMA) {
    throw new PmbenchParseError(root.line, `<pmbench schema="${schema ?? ''}">: expected schema="${PMBENCH_XML_SCHEMA}"`);
  }
  const sig = child(root, 'signature');
  const machine = child(root, 'machine');
  const threadsEl = child(root, 'threads');
  const threadEls = threadsEl.children.filter((c) => c.name === 'thread');
  const hist = (kind: string) => {
    const el = root.children.find((c) => c.name === 'histogram' && c.attrs['kind'] === kind);
    return el ? histogram(el) : null;
  };
  const memory = root.children.find((c) => c.name === 'memory');
  return finishReport({
    format: 'xml',
    signature: { version: str(sig, 'version'), kernel: str(sig, 'kernel'), date: str(sig, 'date'), uuid: str(sig, 'uuid') },
    parameters: parameters(child(root, 'parameters')),
    machine: { cpuModel: str(machine, 'cpu'), tscKhz: num(machine, 'tsc_khz') },
    threads: threadEls.map((t) => thread(t, threadEls.length)),
    histograms: { read: hist('read'), write: hist('write') },
    memory: memory ? memory.children.filter((c) => c.name === 'snapshot').map(snapshot) : [],
    interrupted: bool(child(root, 'run'), 'interrupted'),
  });
}
