import { defineConfig } from 'vitest/config';

// Unit tests are pure logic; integration tests boot real QEMU guests, real Redis and
// the real fault handler, so they run one file at a time (2 cores, TCG).
export default defineConfig({
  test: {
    include: ['orchestrator/test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
