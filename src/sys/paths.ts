// Where minid keeps its state. Persistent state (images, container configs, networks, IPAM)
// lives under /var/lib/minid; runtime state (pids, exit codes, locks) under /run/minid, which a
// reboot empties: a container whose runtime directory is gone is known to be stopped.
// MINID_ROOT and MINID_RUN move both, which the tests use to get a private store.
import fs from 'node:fs';
import path from 'node:path';

export const root = (): string => process.env.MINID_ROOT || '/var/lib/minid';
export const runRoot = (): string => process.env.MINID_RUN || '/run/minid';

export const paths = {
  blobs: () => path.join(root(), 'blobs', 'sha256'),
  layers: () => path.join(root(), 'layers'),
  images: () => path.join(root(), 'images.json'),
  tmp: () => path.join(root(), 'tmp'),
  containers: () => path.join(root(), 'containers'),
  container: (id: string) => path.join(root(), 'containers', id),
  /** The names index: one file per container name, holding the container's id. */
  names: () => path.join(root(), 'names'),
  containerRun: (id: string) => path.join(runRoot(), 'containers', id),
  networks: () => path.join(root(), 'networks'),
  ipam: () => path.join(root(), 'ipam'),
  cniCache: () => path.join(root(), 'cni', 'cache'),
  locks: () => path.join(runRoot(), 'locks'),
};

/** The folder the minid package is installed in (for the native helpers and scripts). */
export function packageRoot(): string {
  // dist/src/sys/paths.js (or src/sys/paths.ts under vitest): walk up to package.json.
  let dir = path.dirname(new URL(import.meta.url).pathname);
  while (!fs.existsSync(path.join(dir, 'package.json')) && dir !== '/') dir = path.dirname(dir);
  return dir;
}
