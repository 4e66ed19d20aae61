// minid's own configuration file: /etc/minid/config.json, or the file MINID_CONFIG names.
// Its keys are those of docker's daemon.json where docker has one (`registry-mirrors`,
// `insecure-registries`), plus minid's own (see docs/registries.md for the schema):
//
//   {
//     "registry-mirrors": ["https://mirror.example.com"],   docker.io only, tried first
//     "insecure-registries": ["10.0.0.5:5000"],              plain HTTP or unverified TLS
//     "offline": true,                                       no registry but loopback ...
//     "allowed-registries": ["registry.corp.example"],       ... and these
//     "certs-dirs": ["/etc/docker/certs.d", ...],            per-registry CAs and client certs
//     "auth-file": "/etc/minid/auth.json",                   where `minid login` saves
//     "max-concurrent-downloads": 3                          layer downloads at once (docker's key)
//     "max-concurrent-uploads": 5                            layer uploads at once (docker's key)
//   }
//
// A missing /etc/minid/config.json means the defaults; a MINID_CONFIG that names a missing
// file is an error (a test suite that points at its offline file must never run without it).
// Unknown keys are refused, as dockerd refuses them: a typo must not silently drop a setting.
import fs from 'node:fs';
import { fail } from '../../errors.js';

export interface MinidConfig {
  registryMirrors: string[];
  insecureRegistries: string[];
  offline: boolean;
  allowedRegistries: string[];
  certsDirs: string[];
  authFile: string;
  /** Layer downloads at once (docker's "max-concurrent-downloads"); null: the default, 3. */
  maxConcurrentDownloads: number | null;
  /** Layer uploads at once (docker's "max-concurrent-uploads"); null: the default, 5. */
  maxConcurrentUploads: number | null;
  /** The file this came from (for error messages), or null for the defaults. */
  source: string | null;
}

export const DEFAULT_CONFIG_FILE = '/etc/minid/config.json';
export const DEFAULT_CERTS_DIRS = ['/etc/docker/certs.d', '/etc/containers/certs.d', '/etc/minid/certs.d'];
export const DEFAULT_AUTH_FILE = '/etc/minid/auth.json';

const KEYS = ['registry-mirrors', 'insecure-registries', 'offline', 'allowed-registries', 'certs-dirs', 'auth-file', 'max-concurrent-downloads', 'max-concurrent-uploads'];

function stringList(v: unknown, key: string, file: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) fail(`${file}: "${key}" must be a list of strings`);
  return v as string[];
}

/** A registry as the lists name it: "host", "host:port" (a scheme or a trailing "/" is dropped). */
export function normalizeRegistryHost(s: string): string {
  return s.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '').toLowerCase();
}

/** Parse the text of a config file (pure: no I/O). */
export function parseConfig(text: string, file: string): MinidConfig {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    fail(`${file} is not valid JSON (${(e as Error).message}): fix or remove it`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) fail(`${file} must hold a JSON object`);
  const o = j as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) fail(`${file}: unknown key "${k}" (known: ${KEYS.join(', ')})`);
  if (o.offline !== undefined && typeof o.offline !== 'boolean') fail(`${file}: "offline" must be true or false`);
  if (o['auth-file'] !== undefined && (typeof o['auth-file'] !== 'string' || o['auth-file'] === '')) fail(`${file}: "auth-file" must be a file path`);
  const count = (key: string): number | null => {
    const v = o[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1)) fail(`${file}: "${key}" must be a whole number of at least 1`);
    return (v as number | undefined) ?? null;
  };
  const mirrors = stringList(o['registry-mirrors'], 'registry-mirrors', file);
  for (const m of mirrors) {
    let u: URL;
    try {
      u = new URL(m);
    } catch {
      fail(`${file}: registry mirror ${JSON.stringify(m)} is not a URL (like "https://mirror.example.com")`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') fail(`${file}: registry mirror ${JSON.stringify(m)} must be an http:// or https:// URL`);
    if (u.pathname !== '/' || u.search || u.hash || u.username) fail(`${file}: registry mirror ${JSON.stringify(m)} must be a bare URL without path or credentials`);
  }
  return {
    registryMirrors: mirrors.map((m) => m.replace(/\/+$/, '')),
    insecureRegistries: stringList(o['insecure-registries'], 'insecure-registries', file).map(normalizeRegistryHost),
    offline: o.offline === true,
    allowedRegistries: stringList(o['allowed-registries'], 'allowed-registries', file).map(normalizeRegistryHost),
    certsDirs: o['certs-dirs'] === undefined ? DEFAULT_CERTS_DIRS : stringList(o['certs-dirs'], 'certs-dirs', file),
    authFile: (o['auth-file'] as string | undefined) ?? DEFAULT_AUTH_FILE,
    maxConcurrentDownloads: count('max-concurrent-downloads'),
    maxConcurrentUploads: count('max-concurrent-uploads'),
    source: file,
  };
}

let cached: MinidConfig | null = null;
let cachedFor: string | undefined;

/** The configuration in effect (read once per process and MINID_CONFIG value). */
export function loadConfig(): MinidConfig {
  const named = process.env.MINID_CONFIG || undefined;
  if (cached && cachedFor === named) return cached;
  const file = named ?? DEFAULT_CONFIG_FILE;
  let text: string | null = null;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') fail(`cannot read ${file}: ${(e as Error).message}`);
    if (named) fail(`MINID_CONFIG names ${file}, which does not exist: create it or unset MINID_CONFIG`);
  }
  cached =
    text === null
      ? { registryMirrors: [], insecureRegistries: [], offline: false, allowedRegistries: [], certsDirs: DEFAULT_CERTS_DIRS, authFile: DEFAULT_AUTH_FILE, maxConcurrentDownloads: null, maxConcurrentUploads: null, source: null }
      : parseConfig(text, file);
  cachedFor = named;
  return cached;
}

/**
 * Layers moved at once: the environment variable (MINID_MAX_CONCURRENT_DOWNLOADS or _UPLOADS),
 * else the config's key, else docker's default (3 downloads, 5 uploads).
 */
export function transferLimit(config: MinidConfig, kind: 'downloads' | 'uploads', env = process.env): number {
  const name = `MINID_MAX_CONCURRENT_${kind.toUpperCase()}`;
  const e = env[name];
  if (e !== undefined && e !== '') {
    if (!/^[1-9]\d*$/.test(e)) fail(`${name}=${JSON.stringify(e)} must be a whole number of at least 1`, 1);
    return Number(e);
  }
  return (kind === 'downloads' ? config.maxConcurrentDownloads : config.maxConcurrentUploads) ?? (kind === 'downloads' ? 3 : 5);
}
