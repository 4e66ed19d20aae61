// Bundle the CLI into dist/bundle with code splitting: one file per command module (still
// loaded only when that command runs) and no per-file module resolution at start-up. This
// saves ~60 ms on every minid command on this machine (Node's ESM loader walking ~40 files).
// tsc still type-checks and compiles dist/src (used by the CNI plugins and the tests).
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist/bundle', { recursive: true, force: true }); // no stale chunks from an earlier build

await build({
  entryPoints: ['src/cli/main.ts'],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: 'dist/bundle',
  external: ['node-pty'], // a native addon: loaded from node_modules as is
  // proper-lockfile uses graceful-fs only as `fs` (mkdir, stat, utimes, rmdir); loading it
  // patches every fs function (~8 ms at each start). minid opens few files: plain fs will do.
  alias: { 'graceful-fs': 'fs' },
  logLevel: 'error',
  // Some CommonJS dependencies call require(): give them one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
