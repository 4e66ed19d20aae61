import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Privileged suites create kernel objects; each file uses unique names, but files
    // that share the minid0 bridge or the image store run one at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
