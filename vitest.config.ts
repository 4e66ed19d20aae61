import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Privileged suites create kernel objects; each file uses unique names, but files
    // that share the minid0 bridge or the image store run one at a time.
    fileParallelism: false,
    // The JSON report lets .ci/run print one plain closing line ("N passed, N failed").
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
  },
});
