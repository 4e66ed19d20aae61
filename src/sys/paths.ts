// Where minid keeps its state. Persistent state (images, container configs, networks, IPAM)
// lives under /var/lib/minid; runtime state (pids, exit codes, locks) under /run/minid, which a
// reboot empties: a container whose runtime directory is gone is known to be stopped.
// MINID_ROOT and MINID_RUN move both, which the tests use to get a private store.
import fs from 'node:fs';
import path from 'node:path';
import { MinidError } from '../errors.js';

/** The default store: the one an ordinary install uses (and the only one older minids knew). */
export const DEFAULT_ROOT = '/var/lib/minid';
export const root = (): string => process.env.MINID_ROOT || DEFAULT_ROOT;
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

// The store holds what other host users must not read (container configs and environments
// carry `-e` secrets; logs; layers): docker's modes. The store root lets only root's group
// through (0710), the runtime root nobody (0700); the shared folders below them are 0710 like
// docker's containers/ and overlay2/, each container's own folder 0700, secret files 0600.
export const ROOT_MODE = 0o710;
export const RUN_MODE = 0o700;
export const SHARED_DIR_MODE = 0o710;
export const PRIVATE_DIR_MODE = 0o700;
export const SECRET_FILE_MODE = 0o600;

const secured = new Set<string>();

/**
 * Make `dir` (its parents as usual) with at most `mode`; a folder already there with more
 * bits (an older minid made it 0755) is narrowed to `mode`. Once per folder and process.
 */
export function secureDir(dir: string, mode: number): void {
  if (secured.has(dir)) return;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  try {
    fs.mkdirSync(dir, { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const now = fs.statSync(dir).mode & 0o7777;
  if (now & ~mode) fs.chmodSync(dir, now & mode);
  secured.add(dir);
}

/** What minid keeps at the top of its store and of its runtime root (nothing else is there). */
export const ROOT_ENTRIES = ['store-id', 'events', 'images.json', 'blobs', 'layers', 'tmp', 'downloads', 'containers', 'names', 'networks', 'ipam', 'cni', 'volumes', 'cluster'];
export const RUN_ENTRIES = ['containers', 'boot', 'locks', 'dns', 'networks', 'cluster', 'engine.sock', 'labs'];

/**
 * A store root that already exists must hold nothing but minid's own entries (its temporary
 * files "NAME.*" included): minid narrows its root's permissions and writes its folders there,
 * which would break a system folder (`MINID_ROOT=$T/lib` with an empty $T is /lib).
 */
function checkStoreRoot(variable: string, dir: string, known: string[]): void {
  if (secured.has(dir)) return;
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return; // not there yet: minid makes it
  }
  const foreign = entries.find((e) => !known.some((k) => e === k || e.startsWith(`${k}.`)));
  if (foreign !== undefined) {
    throw new MinidError(`${variable}=${dir} holds ${JSON.stringify(foreign)}, which is not minid's: it is not a minid store; point ${variable} at a new or empty folder`, 125);
  }
}

/**
 * The store's roots and shared folders with their modes, before anything is written under
 * them (whoever writes first: `load`, `run`, a lock). Cheap after the first call.
 */
export function secureStore(): void {
  checkStoreRoot('MINID_ROOT', root(), ROOT_ENTRIES);
  secureDir(root(), ROOT_MODE);
  secureDir(paths.containers(), SHARED_DIR_MODE);
  secureDir(paths.layers(), SHARED_DIR_MODE);
  secureRunRoot();
}

/** The runtime root alone (locks, pids, scripts, environments). */
export function secureRunRoot(): void {
  checkStoreRoot('MINID_RUN', runRoot(), RUN_ENTRIES);
  secureDir(runRoot(), RUN_MODE);
  secureDir(path.join(runRoot(), 'containers'), SHARED_DIR_MODE);
}

/** The folder the minid package is installed in (for the native helpers and scripts). */
export function packageRoot(): string {
  // dist/src/sys/paths.js (or src/sys/paths.ts under vitest): walk up to package.json.
  let dir = path.dirname(new URL(import.meta.url).pathname);
  while (!fs.existsSync(path.join(dir, 'package.json')) && dir !== '/') dir = path.dirname(dir);
  return dir;
}

/**
 * One of minid's C helpers (build/NAME): its path, or one line saying how to get it. A clone
 * builds them with `make build`; an installed package at install (scripts/native.sh install).
 */
export function helperBinary(name: string): string {
  const dir = packageRoot();
  const p = path.join(dir, 'build', name);
  if (fs.existsSync(p)) return p;
  const how = fs.existsSync(path.join(dir, 'tsconfig.json')) ? `run \`make build\` in ${dir}` : 'run `npm rebuild -g minid` (it compiles them, or installs the prebuilt ones)';
  throw new MinidError(`${p} is missing (one of minid's C helpers): ${how}`, 125);
}
