// Named volumes, as docker's "local" driver keeps them: a folder under the store,
// MINID_ROOT/volumes/NAME/_data, bind-mounted (nodev) into the containers that name it.
// Beside _data, volume.json holds what `volume inspect` shows (creation time, labels).
// A volume is made on first use (`-v NAME:/path`) or by `volume create`; a new, empty volume
// mounted where the image has files gets a copy of them first, as docker does.
import fs from 'node:fs';
import path from 'node:path';
import { fail, MinidError } from '../errors.js';
import { readJson } from '../sys/jsonfile.js';
import { root } from '../sys/paths.js';
import { withLock } from '../sys/lock.js';

/**
 * One volume change at a time across minid processes: two runs that name a new volume make
 * it and copy the image's files once; rm and prune see the containers of runs that made theirs.
 */
export const withVolumesLock = <T>(fn: () => Promise<T>): Promise<T> => withLock('volumes', fn);

export interface VolumeInfo {
  CreatedAt: string;
  Driver: 'local';
  /** null for a volume a run made (docker records no labels, nor options, then). */
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
}

export const volumesDir = (): string => path.join(root(), 'volumes');
export const volumeDir = (name: string): string => path.join(volumesDir(), name);
export const dataDir = (name: string): string => path.join(volumeDir(name), '_data');

/** docker's rule for a local volume's name: a folder name, never a path (no `/`, no `..`). */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,254}$/; // 255 at most: a folder name
export const isVolumeName = (s: string): boolean => NAME.test(s);

export function validateVolumeName(name: string): void {
  if (!isVolumeName(name))
    fail(`invalid volume name "${name}": use letters, digits and _ . - (starting with a letter or digit, 2 to 255 characters); a host directory must be an absolute path`);
}

export class NoSuchVolumeError extends MinidError {
  constructor(name: string) {
    super(`no such volume: ${name}`, 1);
  }
}

function read(name: string): VolumeInfo | undefined {
  if (!isVolumeName(name)) return undefined;
  const meta = readJson<{ CreatedAt?: string; Labels?: Record<string, string> | null; Options?: Record<string, string> | null }>(path.join(volumeDir(name), 'volume.json'));
  // No record (or none readable): its _data folder alone makes it a volume.
  if (!meta && !fs.existsSync(dataDir(name))) return undefined;
  const made = (x: Record<string, string> | null | undefined) => (x === null ? null : x ?? {});
  return { CreatedAt: meta?.CreatedAt ?? '', Driver: 'local', Labels: made(meta?.Labels), Mountpoint: dataDir(name), Name: name, Options: made(meta?.Options), Scope: 'local' };
}

export function getVolume(name: string): VolumeInfo {
  const v = read(name);
  if (!v) throw new NoSuchVolumeError(name);
  return v;
}

/**
 * Make the volume unless it exists (docker's create is idempotent). True when it was made now.
 * `labels`: `volume create`'s (maybe none: {}); null for a volume a run makes.
 */
export function createVolume(name: string, labels: Record<string, string> | null = null): boolean {
  validateVolumeName(name);
  if (read(name)) return false;
  fs.mkdirSync(volumesDir(), { recursive: true, mode: 0o700 });
  // (A folder left half-made by a crash is taken over.)
  fs.mkdirSync(volumeDir(name), { recursive: true, mode: 0o700 });
  // _data is what the container sees as the mount's root: docker's 0755.
  fs.mkdirSync(dataDir(name), { recursive: true, mode: 0o755 });
  const meta = { CreatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), Labels: labels, Options: labels && {} };
  fs.writeFileSync(path.join(volumeDir(name), 'volume.json'), JSON.stringify(meta) + '\n', { mode: 0o600 });
  return true;
}

export function listVolumes(): VolumeInfo[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(volumesDir());
  } catch {
    return [];
  }
  return names.sort().map(read).filter((v): v is VolumeInfo => v !== undefined);
}

/** The containers (any state) whose mounts name the volume: their ids. */
export async function volumeUsers(name: string): Promise<string[]> {
  const { listStates } = await import('./state.js');
  return listStates()
    .filter((s) => (s.config.volumes ?? []).some((v) => v.type === 'volume' && v.name === name))
    .map((s) => s.config.id);
}

/** Remove a volume no container uses (docker refuses one in use, even by a stopped container). */
export function removeVolume(name: string, force = false): Promise<void> {
  return withVolumesLock(() => removeLocked(name, force));
}

async function removeLocked(name: string, force: boolean): Promise<void> {
  if (!read(name)) {
    if (force) return;
    throw new NoSuchVolumeError(name);
  }
  const users = await volumeUsers(name);
  if (users.length) fail(`remove ${name}: volume is in use - [${users.join(', ')}]: remove those containers first`, 1);
  fs.rmSync(volumeDir(name), { recursive: true, force: true });
}

/**
 * `rm -v` and `--rm`: a removed container's anonymous volumes, each once no container names it
 * any more (the container's own record is gone by then). Named volumes stay, as in docker.
 */
export function removeAnonymous(volumes: { type?: string; name?: string; anonymous?: boolean }[]): Promise<void> {
  const names = volumes.filter((v) => v.type === 'volume' && v.anonymous && v.name).map((v) => v.name!);
  return withVolumesLock(async () => {
    for (const n of names) if (read(n) && !(await volumeUsers(n)).length) fs.rmSync(volumeDir(n), { recursive: true, force: true });
  });
}

/** The bytes of the files under a folder (symlinks not followed). */
function diskBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += diskBytes(p);
    else if (e.isFile()) total += fs.lstatSync(p).size;
  }
  return total;
}

/** `volume ls --filter` and `volume prune --filter`: docker's keys, each key's values or-ed, the keys and-ed. */
export type VolumeFilters = Map<string, string[]>;

const FILTER_KEYS = { ls: ['dangling', 'driver', 'label', 'name'], prune: ['label', 'label!'] };

export function parseVolumeFilters(list: string[], verb: 'ls' | 'prune'): VolumeFilters {
  const keys = FILTER_KEYS[verb];
  const m: VolumeFilters = new Map();
  for (const f of list) {
    const i = f.indexOf('=');
    if (i <= 0) fail(`bad format of filter "${f}": use KEY=VALUE (${keys.join(', ')})`, 1);
    const k = f.slice(0, i).toLowerCase();
    const v = f.slice(i + 1);
    if (!keys.includes(k)) fail(`invalid filter '${k}': use one of ${keys.join(', ')}`, 1);
    if (k === 'dangling' && !['true', 'false', '1', '0'].includes(v.toLowerCase())) fail(`invalid filter 'dangling=${v}': use dangling=true or dangling=false`, 1);
    m.set(k, [...(m.get(k) ?? []), v]);
  }
  return m;
}

/** label=KEY or label=KEY=VALUE against a volume's labels. */
const hasLabel = (labels: Record<string, string>, f: string): boolean => {
  const i = f.indexOf('=');
  const k = i < 0 ? f : f.slice(0, i);
  return k in labels && (i < 0 || labels[k] === f.slice(i + 1));
};

/** Does the volume pass the filters? `used`: the names some container (any state) mounts. */
export function volumeMatches(v: VolumeInfo, f: VolumeFilters, used: Set<string>): boolean {
  const any = (k: string, test: (x: string) => boolean) => !f.has(k) || f.get(k)!.some(test);
  return (
    any('dangling', (x) => ['true', '1'].includes(x.toLowerCase()) === !used.has(v.Name)) &&
    any('driver', (x) => x === v.Driver) &&
    any('name', (x) => v.Name.includes(x)) &&
    // docker: every label= must match; label! (prune) keeps a volume with that label.
    (f.get('label') ?? []).every((x) => hasLabel(v.Labels ?? {}, x)) &&
    !(f.get('label!') ?? []).some((x) => hasLabel(v.Labels ?? {}, x))
  );
}

/** The names of the volumes that containers (any state) mount. */
export async function usedVolumes(): Promise<Set<string>> {
  const { listStates } = await import('./state.js');
  return new Set(listStates().flatMap((s) => (s.config.volumes ?? []).filter((v) => v.type === 'volume' && v.name).map((v) => v.name!)));
}

/**
 * Remove every volume no container uses (docker 20.10: named and anonymous alike; 23.0 and
 * later keep named ones unless --all): the names removed and the bytes given back.
 */
export function pruneVolumes(filters: VolumeFilters = new Map()): Promise<{ names: string[]; reclaimed: number }> {
  return withVolumesLock(() => pruneLocked(filters));
}

async function pruneLocked(filters: VolumeFilters): Promise<{ names: string[]; reclaimed: number }> {
  const names: string[] = [];
  let reclaimed = 0;
  const used = await usedVolumes();
  for (const v of listVolumes()) {
    if (used.has(v.Name) || !volumeMatches(v, filters, used)) continue;
    reclaimed += diskBytes(v.Mountpoint);
    fs.rmSync(volumeDir(v.Name), { recursive: true, force: true });
    names.push(v.Name);
  }
  return { names, reclaimed };
}

/**
 * docker's copy-up: an empty volume mounted at `target` gets the image's files there. The
 * image's layers are mounted read-only as one overlay in a private mount namespace, and
 * busybox tar, run by minid-init inside that root (so the image's symlinks resolve inside it,
 * never on the host), writes the folder as a tar stream that tar unpacks into the volume.
 */
export async function populateFromImage(name: string, layers: string[], target: string): Promise<void> {
  const data = dataDir(name);
  if (fs.readdirSync(data).length) return;
  const { run } = await import('../sys/exec.js');
  const { initBinary } = await import('./container.js');
  const { BUSYBOX } = await import('./cp.js');
  fs.mkdirSync(path.join(root(), 'tmp'), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(root(), 'tmp', 'volume-'));
  try {
    // overlayfs lists the top-most first, and wants two lower folders at least without an
    // upper one: an empty folder at the bottom.
    const empty = path.join(tmp, 'empty');
    const mnt = path.join(tmp, 'mnt');
    fs.mkdirSync(empty);
    fs.mkdirSync(mnt);
    const lower = [...[...layers].reverse(), empty].join(':');
    // A folder in the image? (busybox test, inside the root): nothing to copy otherwise.
    const script = [
      'mount -t overlay -o "ro,nodev,lowerdir=$1" overlay "$2" || exit 1',
      '"$3" --in-root "$2" "$4" test -d "$5" || exit 0',
      '"$3" --in-root "$2" "$4" tar -c -C "$5" . | tar -x --numeric-owner -p -f - -C "$6"',
    ].join('\n');
    await run(['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c', script, 'sh', lower, mnt, initBinary(), BUSYBOX, target, data]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Each volume, its bytes and how many containers (any state) name it (for docker's GET /system/df). */
export function volumeUsages(containers: { config: { volumes?: { type?: string; name?: string }[] } }[]): { volume: VolumeInfo; size: number; refCount: number }[] {
  const refs = new Map<string, number>();
  for (const c of containers) for (const n of new Set((c.config.volumes ?? []).filter((v) => v.type === 'volume').map((v) => v.name!))) refs.set(n, (refs.get(n) ?? 0) + 1);
  return listVolumes().map((v) => ({ volume: v, size: diskBytes(v.Mountpoint), refCount: refs.get(v.Name) ?? 0 }));
}

/** `system df`'s Local Volumes row: volumes a container (any state) names are active; the others' bytes reclaimable. */
export function volumeUsage(containers: { config: { volumes?: { type?: string; name?: string }[] } }[]): { total: number; active: number; size: number; reclaimable: number } {
  const row = { total: 0, active: 0, size: 0, reclaimable: 0 };
  for (const u of volumeUsages(containers)) {
    row.total++;
    row.size += u.size;
    if (u.refCount > 0) row.active++;
    else row.reclaimable += u.size;
  }
  return row;
}
