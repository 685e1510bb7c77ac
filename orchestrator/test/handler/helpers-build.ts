/**
 * Test-only: which build of helpers/ the handler tests of issue 9 run. By default
 * helpers/bin (built with `make -C helpers`); with FLUIDLAB_HELPERS_OUT=DIR (relative to
 * helpers/, e.g. build/dev) they build and run `make -C helpers OUT=DIR` instead, so they
 * can run while a long measurement uses helpers/bin and it must not be rebuilt. With
 * FLUIDLAB_HELPERS_BIN=DIR (absolute) they run prebuilt binaries from DIR and build nothing.
 */
import { join, resolve } from 'node:path';
import { execa } from 'execa';

const ROOT = resolve(import.meta.dirname, '../../..');
const HELPERS = join(ROOT, 'helpers');
const OUT = process.env.FLUIDLAB_HELPERS_OUT;
const PREBUILT = process.env.FLUIDLAB_HELPERS_BIN;

/** The directory holding fluidmem-monitor, libfluidmem-attach.so and uffd-harness. */
export const TEST_HELPERS_BIN = PREBUILT ? resolve(PREBUILT) : OUT ? resolve(HELPERS, OUT) : join(HELPERS, 'bin');
export const TEST_MONITOR = join(TEST_HELPERS_BIN, 'fluidmem-monitor');
export const TEST_ATTACH = join(TEST_HELPERS_BIN, 'libfluidmem-attach.so');
export const TEST_HARNESS = join(TEST_HELPERS_BIN, 'uffd-harness');

/** Builds the helpers into TEST_HELPERS_BIN (make is a no-op when up to date). */
export async function buildTestHelpers(): Promise<void> {
  if (PREBUILT) return;
  await execa('make', ['-C', HELPERS, ...(OUT ? [`OUT=${OUT}`] : [])], { stdio: 'inherit' });
}
