// Pure parsing of `minid run` flags and their merge with the image's config, the way docker
// does it. Nothing here touches the host: unit tests cover every rule.
import path from 'node:path';
import { fail } from '../errors.js';

export interface Volume {
  /** The host folder bound (a named volume's _data; '' for a tmpfs). */
  host: string;
  container: string;
  readonly: boolean;
  /** bind (the default, as in records written before volumes), a named volume, or a tmpfs. */
  type?: 'bind' | 'volume' | 'tmpfs';
  /** A named volume's name (an anonymous one's is given when the container is created). */
  name?: string;
  /**
   * docker's anonymous volume: `-v /path`, `--mount type=volume` without a source, or an
   * image's VOLUME. Named by 64 random hex digits; `rm -v` and `--rm` remove it with the container.
   */
  anonymous?: boolean;
  /** --mount type=bind: the source must exist (docker creates it for -v only). */
  mustExist?: boolean;
  /** --mount type=volume,volume-nocopy: no copy of the image's files into a new volume. */
  noCopy?: boolean;
  /** Given with --mount (docker lists those in HostConfig.Mounts, not Binds). */
  viaMount?: boolean;
  /** A tmpfs's size= and mode= options. */
  tmpfsOptions?: string;
}

export interface ImageRuntimeConfig {
  Env?: string[];
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, unknown>;
  StopSignal?: string;
  Labels?: Record<string, string>;
  /** The image's VOLUME paths (docker's map of path to {}). */
  Volumes?: Record<string, unknown> | null;
  /** HEALTHCHECK (runtime/health.ts). */
  Healthcheck?: import('./health.js').Healthcheck | null;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validateName(name: string): string {
  if (!NAME_RE.test(name) || name.length > 128)
    fail(`invalid container name "${name}": use letters, digits, "_", "." and "-", starting with a letter or digit`);
  return name;
}

/** `-e KEY=VALUE`, or `-e KEY` to copy KEY from minid's own environment (docker's rule). */
export function parseEnvFlag(s: string, hostEnv: NodeJS.ProcessEnv = process.env): string | null {
  const eq = s.indexOf('=');
  const key = eq < 0 ? s : s.slice(0, eq);
  if (!key || /\s/.test(key)) fail(`invalid environment variable "${s}": use -e KEY=VALUE`);
  if (eq >= 0) return s;
  const v = hostEnv[key];
  return v === undefined ? null : `${key}=${v}`;
}

/** An --env-file: KEY=VALUE lines, # comments and blank lines ignored, bare KEY copied from the host. */
export function parseEnvFile(text: string, file: string, hostEnv: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!line.trim() || line.trimStart().startsWith('#')) return;
    const key = line.split('=')[0];
    if (!key.trim() || /\s/.test(key)) fail(`invalid line ${i + 1} in env file ${file}: "${line}" (expected KEY=VALUE)`);
    const v = parseEnvFlag(line.trimStart(), hostEnv);
    if (v !== null) out.push(v);
  });
  return out;
}

/** Later entries win, keeping the first position of each key (as docker merges image and -e env). */
export function mergeEnv(...lists: string[][]): string[] {
  const map = new Map<string, string>();
  for (const list of lists)
    for (const kv of list) {
      const eq = kv.indexOf('=');
      map.set(eq < 0 ? kv : kv.slice(0, eq), kv);
    }
  return [...map.values()];
}

/** The container side of a mount: absolute, not the root, nothing in /proc. */
function checkTarget(s: string, container: string, flag: string): string {
  if (!path.isAbsolute(container)) fail(`invalid ${flag} "${s}": the container path must be absolute`);
  const c = path.posix.normalize(container);
  if (c === '/') fail(`invalid ${flag} "${s}": cannot mount over the container's root`);
  // As runc: /proc is the kernel's view of the container's processes; a volume there would
  // replace it or the masks over its host secrets.
  if (c === '/proc' || c.startsWith('/proc/')) fail(`invalid ${flag} "${s}": cannot mount over /proc or anything in it`);
  return c.replace(/\/+$/, '');
}

/** docker's rule for a named volume: a folder name (see volumes.ts, kept in step). */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,254}$/;

/**
 * `-v HOST:CTR[:ro|rw]` or `-v NAME:CTR[:ro|rw]`. An absolute host side is a bind mount (a
 * missing host folder is made, as docker does); anything else must be a volume name, never a
 * relative path (docker's rule: a typo must not bind a folder of the current directory).
 * `-v /path` alone is an anonymous volume there.
 */
export function parseVolume(s: string): Volume {
  const parts = s.split(':');
  if (parts.length === 1 && parts[0]) return { host: '', container: checkTarget(s, parts[0], 'volume'), readonly: false, type: 'volume', name: '', anonymous: true };
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1])
    fail(`invalid volume "${s}": use -v /host/path:/container/path[:ro] or -v NAME:/container/path[:ro]`);
  const [host, container, mode = 'rw'] = parts;
  if (mode !== 'ro' && mode !== 'rw') fail(`invalid volume mode "${mode}" in "${s}": use ro or rw`);
  const c = checkTarget(s, container, 'volume');
  if (path.isAbsolute(host)) return { host: path.resolve(host), container: c, readonly: mode === 'ro' };
  if (!VOLUME_NAME.test(host))
    fail(`invalid volume "${s}": "${host}" is not a volume name (letters, digits and _ . -, no / or ..): a host directory must be an absolute path`);
  return { host: '', container: c, readonly: mode === 'ro', type: 'volume', name: host };
}

/**
 * The image's VOLUME paths that no mount of the run covers: each one an anonymous volume (a
 * -v, --mount or --tmpfs at the same path takes its place, as in docker). Paths a volume
 * could not be mounted at (relative, the root, /proc) are left out.
 */
export function imageVolumes(img: ImageRuntimeConfig, mounts: { container: string }[]): Volume[] {
  const taken = new Set(mounts.map((m) => m.container));
  const out: Volume[] = [];
  for (const p of Object.keys(img.Volumes ?? {}).sort()) {
    if (!path.posix.isAbsolute(p)) continue;
    const c = path.posix.normalize(p).replace(/\/+$/, '');
    if (!c || c === '/proc' || c.startsWith('/proc/') || taken.has(c)) continue;
    taken.add(c);
    out.push({ host: '', container: c, readonly: false, type: 'volume', name: '', anonymous: true });
  }
  return out;
}

/** A --mount boolean: the key alone is true (`readonly`), else true/false/1/0 as Go's ParseBool. */
function mountBool(s: string, key: string, value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (['1', 't', 'true'].includes(v)) return true;
  if (['0', 'f', 'false'].includes(v)) return false;
  fail(`invalid argument "${s}" for "--mount" flag: invalid value for ${key}: ${value} (use true or false)`);
}

/**
 * `--mount type=bind|volume|tmpfs,source=...,target=...[,readonly]`: docker's key=value list
 * (src/source, dst/destination/target, ro/readonly, volume-nocopy, tmpfs-size, tmpfs-mode).
 */
export function parseMount(s: string): Volume {
  let type = 'volume';
  let source = '';
  let target = '';
  let readonly = false;
  let noCopy = false;
  const tmpfs: string[] = [];
  for (const field of s.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    if (key === 'readonly' || key === 'ro') {
      readonly = mountBool(s, key, value);
      continue;
    }
    if (key === 'volume-nocopy') {
      noCopy = mountBool(s, key, value);
      continue;
    }
    if (value === undefined) fail(`invalid argument "${s}" for "--mount" flag: invalid field '${field}' must be a key=value pair`);
    if (key === 'type') type = value;
    else if (key === 'source' || key === 'src') source = value;
    else if (key === 'target' || key === 'dst' || key === 'destination') target = value;
    else if (key === 'tmpfs-size') {
      if (!/^\d+[kmgKMG]?$/.test(value)) fail(`invalid argument "${s}" for "--mount" flag: invalid tmpfs-size "${value}" (use bytes, or a number with k, m or g)`);
      tmpfs.push(`size=${value}`);
    } else if (key === 'tmpfs-mode') {
      if (!/^[0-7]{1,4}$/.test(value)) fail(`invalid argument "${s}" for "--mount" flag: invalid tmpfs-mode "${value}" (use octal, e.g. 1777)`);
      tmpfs.push(`mode=${value}`);
    } else if (key === 'bind-propagation' || key === 'consistency') continue; // minid's mounts are private
    else fail(`invalid argument "${s}" for "--mount" flag: unexpected key '${key}' in '${field}'`);
  }
  if (!['bind', 'volume', 'tmpfs'].includes(type)) fail(`invalid argument "${s}" for "--mount" flag: invalid type "${type}" (use bind, volume or tmpfs)`);
  if (!target) fail(`invalid argument "${s}" for "--mount" flag: target is required (add target=/path/in/container)`);
  const c = checkTarget(s, target, 'mount');
  if (type === 'tmpfs') {
    if (source) fail(`invalid mount config for type "tmpfs": source must be empty (drop source=${source})`);
    return { host: '', container: c, readonly, type: 'tmpfs', tmpfsOptions: tmpfs.join(','), viaMount: true };
  }
  if (tmpfs.length) fail(`invalid mount config for type "${type}": tmpfs-size and tmpfs-mode are for type=tmpfs only`);
  if (type === 'bind') {
    if (!source) fail(`invalid mount config for type "bind": field Source must not be empty (add source=/host/path)`);
    if (!path.isAbsolute(source)) fail(`invalid mount config for type "bind": invalid mount path: '${source}' mount path must be absolute`);
    return { host: path.resolve(source), container: c, readonly, type: 'bind', mustExist: true, viaMount: true };
  }
  // No source: an anonymous volume, as docker makes one.
  if (!source) return { host: '', container: c, readonly, type: 'volume', name: '', anonymous: true, noCopy, viaMount: true };
  if (!VOLUME_NAME.test(source))
    fail(`invalid mount config for type "volume": "${source}" is not a volume name (letters, digits and _ . -, no / or ..)`);
  return { host: '', container: c, readonly, type: 'volume', name: source, noCopy, viaMount: true };
}

/** `-u` syntax check: user[:group] where each is a name or a number. */
export function parseUserFlag(s: string): { user: string; group?: string } {
  const m = /^([a-z_][a-z0-9_.-]*\$?|\d+)(?::([a-z_][a-z0-9_.-]*|\d+))?$/i.exec(s);
  if (!m) fail(`invalid user "${s}": use -u UID[:GID] or -u NAME[:GROUP]`);
  return { user: m[1], group: m[2] };
}

/** Docker's rule: --entrypoint replaces Entrypoint and drops the image Cmd; args replace Cmd. */
export function resolveCommand(img: ImageRuntimeConfig, args: string[], entrypoint?: string): string[] {
  const ep = entrypoint !== undefined ? (entrypoint ? [entrypoint] : []) : img.Entrypoint ?? [];
  const cmd = args.length ? args : entrypoint !== undefined ? [] : img.Cmd ?? [];
  const argv = [...ep, ...cmd];
  if (!argv.length) fail('no command specified: the image has no Cmd or Entrypoint; give one after the image name');
  return argv;
}

const ADJ = ['brave', 'calm', 'eager', 'fond', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nifty', 'proud', 'quiet', 'sharp', 'tender', 'witty'];
const NOUN = ['bridge', 'veth', 'socket', 'packet', 'router', 'kernel', 'inode', 'pipe', 'signal', 'thread', 'mount', 'chain', 'table', 'route', 'frame', 'namespace'];
export function randomName(rand: () => number = Math.random): string {
  const pick = (a: string[]) => a[Math.floor(rand() * a.length)];
  return `${pick(ADJ)}_${pick(NOUN)}_${Math.floor(rand() * 1000)}`;
}

/**
 * `--expose PORT[/PROTO]` or a range `START-END[/PROTO]`: the keys docker adds to
 * Config.ExposedPorts ("80/tcp"), one per port; -P publishes them.
 */
export function parseExpose(s: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(s);
  const bad = () => fail(`invalid --expose "${s}": use PORT[/tcp|udp] or START-END[/tcp|udp], ports 1-65535`);
  if (!m) bad();
  const [lo, hi] = [Number(m![1]), Number(m![2] ?? m![1])];
  if (lo < 1 || hi > 65535 || hi < lo) bad();
  const proto = m![3] ?? 'tcp';
  return Array.from({ length: hi - lo + 1 }, (_, i) => `${lo + i}/${proto}`);
}

/** `--stop-timeout N`: whole seconds before `stop` sends SIGKILL; -1 waits for ever (docker's). */
export function parseStopTimeout(s: string): number {
  const n = Number(s);
  if (!/^-?\d+$/.test(s.trim()) || !Number.isSafeInteger(n) || n < -1) fail(`invalid --stop-timeout "${s}": give whole seconds (-1: wait for ever)`);
  return n;
}

/** A --tmpfs mount: where, and the tmpfs options mount(2) gets (docker's defaults merged in). */
export interface Tmpfs {
  container: string;
  /** As typed after the ":" (HostConfig.Tmpfs shows it). */
  typed: string;
  /** The options written to the fstab: flags (ro, nosuid, ...) and tmpfs data (size=, mode=). */
  options: string;
}

// docker's --tmpfs defaults: noexec,nosuid,nodev; "exec", "suid", "dev" lift one.
const TMPFS_FLAGS: Record<string, string | null> = {
  ro: 'ro', rw: null, exec: null, noexec: 'noexec', suid: null, nosuid: 'nosuid', dev: null, nodev: 'nodev',
  noatime: 'noatime', relatime: 'relatime', strictatime: 'strictatime',
};
const TMPFS_DATA: Record<string, RegExp> = {
  size: /^\d+[kmg%]?$/i, mode: /^[0-7]{3,4}$/, uid: /^\d+$/, gid: /^\d+$/, nr_inodes: /^\d+[kmg]?$/i,
};

/** `--tmpfs /path[:opt,opt...]`: options as mount(8) has them for tmpfs (size=64m, mode=1777, uid=, exec, ro...). */
export function parseTmpfs(s: string): Tmpfs {
  const colon = s.indexOf(':');
  const dst = colon < 0 ? s : s.slice(0, colon);
  const typed = colon < 0 ? '' : s.slice(colon + 1);
  const use = 'use --tmpfs /path[:size=64m,mode=1777,exec,ro,...]';
  if (!path.isAbsolute(dst)) fail(`invalid --tmpfs "${s}": the path must be absolute: ${use}`);
  const c = path.posix.normalize(dst).replace(/(.)\/+$/, '$1');
  if (c === '/') fail(`invalid --tmpfs "${s}": cannot mount over the container's root`);
  if (c === '/proc' || c.startsWith('/proc/')) fail(`invalid --tmpfs "${s}": cannot mount over /proc or anything in it`);
  const flags = new Set(['noexec', 'nosuid', 'nodev']);
  const data = new Map<string, string>();
  for (const o of typed ? typed.split(',') : []) {
    const [k, v] = o.includes('=') ? [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)] : [o, undefined];
    if (v === undefined && k in TMPFS_FLAGS) {
      // The last word on a flag wins: "exec" lifts the default noexec, "ro" adds itself.
      const on = TMPFS_FLAGS[k];
      const opposite = k.startsWith('no') ? k.slice(2) : `no${k}`;
      flags.delete(opposite);
      if (k === 'rw') flags.delete('ro');
      if (on) flags.add(on);
      continue;
    }
    if (v === undefined || !(k in TMPFS_DATA) || !TMPFS_DATA[k].test(v))
      fail(`invalid --tmpfs option "${o}" in "${s}": ${use} (size=N[k|m|g|%], mode=OCTAL, uid=, gid=, nr_inodes=)`);
    data.set(k, v);
  }
  const options = [...flags, ...[...data].map(([k, v]) => `${k}=${v}`)].join(',');
  return { container: c, typed, options };
}
