/** pmbench: parsing pmbench 0.9 reports (text and -f XML) and building its command line. */
export type * from './types.js';
export { PmbenchOptionsError, PmbenchParseError } from './errors.js';
export { parsePmbenchReport } from './text.js';
export { parsePmbenchXml, PMBENCH_XML_ROOT } from './xml.js';
export { pmbenchArgs, PMBENCH_DEFAULTS, type PmbenchOptions } from './args.js';
export { formatPmbenchSummary } from './summary.js';
export { percentile, percentiles, finestBuckets, mergeHistograms } from './histogram.js';
export { lkpBandName } from './derive.js';

import { parsePmbenchReport } from './text.js';
import { parsePmbenchXml } from './xml.js';
import type { PmbenchReport } from './types.js';

/** Parses either form: XML when the input starts with "<", text otherwise. */
export function parsePmbenchAny(input: string): PmbenchReport {
  return input.trimStart().startsWith('<') ? parsePmbenchXml(input) : parsePmbenchReport(input);
}
