import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Privileged suites create kernel objects; each file uses unique names, but files
    // that share the minid0 bridge or the image store run one at a time.
    fileParallelism: false,
    // Every test, and every minid it starts, runs offline: no registry but loopback ones, no
    // certs.d or credentials of this host (this machine may dial nothing but 127.0.0.1).
    // Tests that need more write a config of their own, offline too.
    env: {
      MINID_CONFIG: new URL("./test/fixtures/registry/offline.json", import.meta.url).pathname,
      DOCKER_CONFIG: new URL('./test/fixtures/registry/docker', import.meta.url).pathname,
    },
    // The JSON report lets .ci/run print one plain closing line ("N passed, N failed").
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
  },
});
