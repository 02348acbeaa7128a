import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Two cores and real-time media: suites run one file at a time so timings stay honest.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // Temp dirs made by tempDir() go when their file ends; the guard names any other leftover.
    setupFiles: ['test/helpers/cleanup.ts'],
    globalSetup: ['test/helpers/tmpGuard.ts'],
  },
});
