// Node's start-up snapshots of minid (dist/minid.blob) and of its CNI plugins
// (dist/cni-plugins.blob), from the entry files scripts/bundle.mjs writes in dist/snapshot.
// A snapshot only loads into the very node binary that built it, so `make build` makes them
// here, and an installed package makes them at install (package.json's postinstall, with the
// node npm runs): `node scripts/snapshot.mjs`. Plain Node, no dependency: the package has
// no esbuild. Without a snapshot the launchers run the ES module bundles: not fatal.
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `node --build-snapshot ENTRY` into BLOB, and BLOB.node: which node built it, its path and,
 * as the stamp's own modification time, the node binary's (`touch -r` copies it to the
 * nanosecond). The launchers (bin/minid, cni-plugins/launch.sh) run that node with the blob
 * while the two times are equal: an upgrade or a copy of node changes it.
 */
export function snapshot(entry, blob, fallback) {
  rmSync(blob, { force: true });
  rmSync(`${blob}.node`, { force: true });
  try {
    execFileSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', entry], { stdio: ['ignore', 'ignore', 'pipe'] });
    const node = realpathSync(process.execPath);
    writeFileSync(`${blob}.node`, `${node}\n`);
    execFileSync('touch', ['-r', node, `${blob}.node`]);
  } catch (e) {
    // Not fatal: the launcher falls back to the ES module bundle.
    process.stderr.write(`minid: no start-up snapshot ${blob} (${String(e.stderr || e.message).trim().split('\n').pop()}); ${fallback}\n`);
  }
}

export const snapshotCli = () => snapshot('dist/snapshot/entry.cjs', 'dist/minid.blob', 'bin/minid will load dist/bundle');
// The plugins' rehearsal runs cni-plugins/bin from the current folder: the package's root.
export const snapshotPlugins = () => snapshot('dist/snapshot/cni-plugins-entry.cjs', 'dist/cni-plugins.blob', 'the plugins will load dist/cni-plugins.mjs');

// Run as a script (the package's postinstall): both, from the package's root. In a clone
// (tsconfig.json is there) `make build` does this.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.chdir(fileURLToPath(new URL('..', import.meta.url)));
  if (!existsSync('tsconfig.json')) {
    snapshotCli();
    snapshotPlugins();
  }
}
