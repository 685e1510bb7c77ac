/**
 * Builds a pmbench 0.9 command line from typed options, validating them the way pmbench
 * does (so a bad experiment config fails before a guest is booted). Only options that are
 * set are emitted, as short options (which every pmbench build accepts), DURATION last.
 */
import { PmbenchOptionsError } from './errors.js';
import type { PmbenchAccess, PmbenchPattern, PmbenchTimestamp } from './types.js';

export interface PmbenchOptions {
  /** DURATION, whole seconds >= 1 */
  durationSec: number;
  /** -m, MiB (pmbench default 256) */
  mapsizeMib?: number;
  /** -s, MiB, <= mapsize (pmbench default 128) */
  setsizeMib?: number;
  /** -p ('zipf' is pmbench's alias of 'pareto') */
  pattern?: PmbenchPattern | 'zipf';
  /** -e: linear stride, normal std-dev in pages, pareto alpha */
  shape?: number;
  /** -j, worker threads >= 1 */
  jobs?: number;
  /** -r, percent reads 0-100 */
  ratio?: number;
  /** -c */
  cold?: boolean;
  /** -i */
  initialize?: boolean;
  /** -t */
  timestamp?: PmbenchTimestamp;
  /** -a */
  access?: PmbenchAccess;
  /** -d, busy-wait cycles between accesses */
  delayCycles?: number;
  /** -o, fixed word index 0-1023 */
  offset?: number | 'random';
  /** -h, ns */
  thresholdNs?: number;
  /** -z */
  wrneedsrd?: boolean;
  /** -f, path of the XML report (in the guest) */
  xmlFile?: string;
  /** -q */
  quiet?: boolean;
}

export const PMBENCH_DEFAULTS = { mapsizeMib: 256, setsizeMib: 128 } as const;

function integer(name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer ${min}-${max}`;
    throw new PmbenchOptionsError(`pmbench option ${name} must be ${range}, got ${v}`);
  }
  return v;
}

export function pmbenchArgs(opts: PmbenchOptions): string[] {
  const out: string[] = [];
  const duration = integer('durationSec', opts.durationSec, 1);
  const mapsize = opts.mapsizeMib ?? PMBENCH_DEFAULTS.mapsizeMib;
  const setsize = opts.setsizeMib ?? PMBENCH_DEFAULTS.setsizeMib;
  integer('mapsizeMib', mapsize, 1);
  integer('setsizeMib', setsize, 1);
  if (setsize > mapsize) {
    throw new PmbenchOptionsError(
      `pmbench setsizeMib (${setsize}) must not exceed mapsizeMib (${mapsize})` +
        (opts.mapsizeMib === undefined ? `; set mapsizeMib >= ${setsize} (pmbench's default is ${PMBENCH_DEFAULTS.mapsizeMib})` : '') +
        (opts.setsizeMib === undefined ? `; set setsizeMib <= ${mapsize} (pmbench's default is ${PMBENCH_DEFAULTS.setsizeMib})` : ''),
    );
  }
  if (opts.mapsizeMib !== undefined) out.push('-m', String(mapsize));
  if (opts.setsizeMib !== undefined) out.push('-s', String(setsize));
  if (opts.pattern !== undefined) {
    if (!['linear', 'uniform', 'normal', 'pareto', 'zipf'].includes(opts.pattern)) {
      throw new PmbenchOptionsError(`pmbench pattern must be linear, uniform, normal, pareto or zipf, got "${opts.pattern}"`);
    }
    out.push('-p', opts.pattern);
  }
  if (opts.shape !== undefined) {
    if (!Number.isFinite(opts.shape) || opts.shape <= 0) throw new PmbenchOptionsError(`pmbench shape must be a positive number, got ${opts.shape}`);
    out.push('-e', String(opts.shape));
  }
  if (opts.jobs !== undefined) out.push('-j', String(integer('jobs', opts.jobs, 1)));
  if (opts.ratio !== undefined) out.push('-r', String(integer('ratio', opts.ratio, 0, 100)));
  if (opts.cold) out.push('-c');
  if (opts.initialize) out.push('-i');
  if (opts.timestamp !== undefined) {
    if (opts.timestamp !== 'rdtsc' && opts.timestamp !== 'rdtscp') throw new PmbenchOptionsError(`pmbench timestamp must be rdtsc or rdtscp, got "${opts.timestamp}"`);
    out.push('-t', opts.timestamp);
  }
  if (opts.access !== undefined) {
    if (opts.access !== 'histo' && opts.access !== 'touch') throw new PmbenchOptionsError(`pmbench access must be histo or touch, got "${opts.access}"`);
    out.push('-a', opts.access);
  }
  if (opts.delayCycles !== undefined) out.push('-d', String(integer('delayCycles', opts.delayCycles, 0)));
  if (opts.offset !== undefined) out.push('-o', opts.offset === 'random' ? 'random' : String(integer('offset', opts.offset, 0, 1023)));
  if (opts.thresholdNs !== undefined) out.push('-h', String(integer('thresholdNs', opts.thresholdNs, 0)));
  if (opts.wrneedsrd) out.push('-z');
  if (opts.xmlFile !== undefined) {
    if (opts.xmlFile === '') throw new PmbenchOptionsError('pmbench xmlFile must be a non-empty path');
    out.push('-f', opts.xmlFile);
  }
  if (opts.quiet) out.push('-q');
  out.push(String(duration));
  return out;
}
