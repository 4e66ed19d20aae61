// Registry credentials in docker's config.json format:
//
//   { "auths": { "registry.example.com": { "auth": "<base64 of user:password>" },
//                "https://index.docker.io/v1/": { "auth": "..." } },
//     "credsStore": "pass",                         every registry through docker-credential-pass
//     "credHelpers": { "registry.example.com": "ecr-login" } }   one registry through a helper
//
// minid reads its own file ("auth-file", /etc/minid/auth.json) first, then docker's
// ($DOCKER_CONFIG/config.json or ~/.docker/config.json), so a machine where `docker login`
// was done works as is. `minid login` writes only minid's own file, mode 0600.
// Keys are compared by host, as docker does ("https://host/v1/", "http://host" and "host"
// are one registry); Docker Hub is "https://index.docker.io/v1/".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fail } from '../../errors.js';
import { DEFAULT_REGISTRY } from '../ref.js';
import type { Credentials } from './auth.js';
import { DOCKER_HUB_AUTH_KEY } from './endpoint.js';

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}
interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

/** "https://index.docker.io/v1/" -> "index.docker.io"; "host:5000" stays (docker's ConvertToHostname). */
export function keyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').split('/')[0].toLowerCase();
}

/** The key a registry's credentials are saved under. */
export function authKey(registry: string): string {
  return registry === DEFAULT_REGISTRY ? DOCKER_HUB_AUTH_KEY : registry;
}

const sameRegistry = (key: string, registry: string) => keyHost(key) === keyHost(authKey(registry));

/** Decode one `auths` entry (pure). */
export function decodeAuth(e: AuthEntry, where: string): Credentials | null {
  if (e.auth) {
    const text = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i <= 0) fail(`${where}: an "auth" value is not base64 of user:password: run \`minid login\` again`);
    return { username: text.slice(0, i), password: text.slice(i + 1) };
  }
  if (e.username && e.password) return { username: e.username, password: e.password };
  return null;
}

export function dockerConfigFile(): string {
  return path.join(process.env.DOCKER_CONFIG || path.join(os.homedir(), '.docker'), 'config.json');
}

function readConfig(file: string): DockerConfig | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) return null;
    fail(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    const j = JSON.parse(text);
    return typeof j === 'object' && j !== null ? (j as DockerConfig) : {};
  } catch {
    fail(`${file} is not valid JSON: fix or remove it`);
  }
}

/** Ask a docker credential helper (docker-credential-NAME get, server URL on stdin). */
async function fromHelper(helper: string, registry: string): Promise<Credentials | null> {
  const { run } = await import('../../sys/exec.js');
  const server = authKey(registry);
  const r = await run([`docker-credential-${helper}`, 'get'], { input: server, allowFail: true });
  if (r.exitCode !== 0) {
    if (/credentials not found/i.test(r.stdout + r.stderr)) return null;
    fail(`the credential helper docker-credential-${helper} failed for ${registry} (exit ${r.exitCode}): check it, or remove it from the config`, 1);
  }
  try {
    const j = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
    if (!j.Username || !j.Secret || j.Username === '<token>') return null; // identity tokens: not supported yet
    return { username: j.Username, password: j.Secret };
  } catch {
    fail(`the credential helper docker-credential-${helper} answered something that is not JSON`, 1);
  }
}

/** The credentials for `registry` ("docker.io", "host:port"), or null for anonymous. */
export async function credentialsFor(registry: string, authFile: string): Promise<Credentials | null> {
  for (const file of [authFile, dockerConfigFile()]) {
    const c = readConfig(file);
    if (!c) continue;
    const helper = Object.entries(c.credHelpers ?? {}).find(([k]) => sameRegistry(k, registry))?.[1];
    if (helper) return fromHelper(helper, registry);
    const entry = Object.entries(c.auths ?? {}).find(([k]) => sameRegistry(k, registry))?.[1];
    if (entry) {
      const creds = decodeAuth(entry, file);
      if (creds) return creds;
    }
    if (c.credsStore) {
      const creds = await fromHelper(c.credsStore, registry);
      if (creds) return creds;
    }
  }
  return null;
}

function writeSecure(file: string, c: DockerConfig): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(c, null, '\t')}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/** Save credentials for `registry` in minid's own file (0600), keeping what else it holds. */
export function saveCredentials(authFile: string, registry: string, creds: Credentials): void {
  const c = readConfig(authFile) ?? {};
  const auths = Object.fromEntries(Object.entries(c.auths ?? {}).filter(([k]) => !sameRegistry(k, registry)));
  auths[authKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  writeSecure(authFile, { ...c, auths });
}

/** Drop the credentials for `registry` from minid's own file; false when there were none. */
export function removeCredentials(authFile: string, registry: string): boolean {
  const c = readConfig(authFile);
  if (!c?.auths) return false;
  const keys = Object.keys(c.auths).filter((k) => sameRegistry(k, registry));
  if (!keys.length) return false;
  for (const k of keys) delete c.auths[k];
  writeSecure(authFile, c);
  return true;
}
