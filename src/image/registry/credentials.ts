// Registry credentials in docker's config.json format:
//
//   { "auths": { "registry.example.com": { "auth": "<base64 of user:password>" },
//                "https://index.docker.io/v1/": { "auth": "..." } },
//     "credsStore": "pass",                         every registry through docker-credential-pass
//     "credHelpers": { "registry.example.com": "ecr-login" } }   one registry through a helper
//
// minid reads its own file ("auth-file", /etc/minid/auth.json) first, then docker's
// ($DOCKER_CONFIG/config.json or ~/.docker/config.json), so a machine where `docker login`
// was done works as is. `minid login` stores as docker does: through the credential helper
// configured for the registry (credHelpers, credsStore) in either file, else in minid's own
// file, mode 0600 (never in docker's).
// An identity token (an OAuth2 refresh token, what some registries' `docker login` saves
// instead of the password) comes as `"identitytoken"` in an `auths` entry, or from a helper as
// {"Username": "<token>", "Secret": TOKEN}; auth.ts then takes the OAuth2 POST flow.
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

/** The user name a credential helper answers with when its Secret is an identity token. */
export const IDENTITY_TOKEN_USER = '<token>';

const sameRegistry = (key: string, registry: string) => keyHost(key) === keyHost(authKey(registry));

/** Decode one `auths` entry (pure). An `identitytoken` wins over a password, as in docker. */
export function decodeAuth(e: AuthEntry, where: string): Credentials | null {
  if (typeof e.identitytoken === 'string' && e.identitytoken) {
    // docker keeps the user name beside it ("auth": base64 of "user:"), or nothing.
    const text = e.auth ? Buffer.from(e.auth, 'base64').toString('utf8') : '';
    const user = text.includes(':') ? text.slice(0, text.indexOf(':')) : e.username;
    return { username: user || IDENTITY_TOKEN_USER, password: '', identityToken: e.identitytoken };
  }
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

/** A credential helper a config file names for a registry: `credHelpers` entry or `credsStore`. */
interface HelperRef {
  helper: string;
  file: string;
  key: 'credHelpers' | 'credsStore';
}

/** Where one config file keeps `registry`'s credentials, as docker decides: credHelpers, else credsStore, else auths. */
function helperIn(c: DockerConfig, file: string, registry: string): HelperRef | null {
  const helper = Object.entries(c.credHelpers ?? {}).find(([k]) => sameRegistry(k, registry))?.[1];
  if (helper) return { helper, file, key: 'credHelpers' };
  if (c.credsStore) return { helper: c.credsStore, file, key: 'credsStore' };
  return null;
}

/**
 * Run `docker-credential-NAME VERB` with `input` on stdin (the server URL; for `store`, the
 * JSON with the secret, which traces never show); returns its stdout, or null for "none"
 * (exit 1 with "credentials not found", the helpers' way to say it). Any other failure is
 * one line naming the helper and its config.
 * The helper's own output is never passed on: a helper may echo what it was given.
 */
async function runHelper(h: HelperRef, verb: 'get' | 'store' | 'erase', input: string, registry: string): Promise<string | null> {
  const { run } = await import('../../sys/exec.js');
  const name = `docker-credential-${h.helper}`;
  let r;
  try {
    r = await run([name, verb], { input, allowFail: true, secretInput: verb === 'store' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') fail(`the credential helper ${name} is not installed (not on PATH): install it, or remove "${h.key}" from ${h.file}`, 1);
    throw e;
  }
  if (r.exitCode === 0) return r.stdout;
  if (verb !== 'store' && /credentials not found/i.test(r.stdout + r.stderr)) return null;
  const doing = verb === 'get' ? 'failed for' : verb === 'store' ? 'could not store the credentials for' : 'could not erase the credentials for';
  fail(`the credential helper ${name} ${doing} ${registry} (exit ${r.exitCode}): check it, or remove "${h.key}" from ${h.file}`, 1);
}

/** Ask a docker credential helper (docker-credential-NAME get, server URL on stdin). */
async function fromHelper(h: HelperRef, registry: string): Promise<Credentials | null> {
  const out = await runHelper(h, 'get', authKey(registry), registry);
  if (out === null) return null;
  try {
    const j = JSON.parse(out) as { Username?: string; Secret?: string };
    if (!j.Username || !j.Secret) return null;
    if (j.Username === IDENTITY_TOKEN_USER) return { username: IDENTITY_TOKEN_USER, password: '', identityToken: j.Secret };
    return { username: j.Username, password: j.Secret };
  } catch {
    fail(`the credential helper docker-credential-${h.helper} answered something that is not JSON for ${registry}: check it, or remove "${h.key}" from ${h.file}`, 1);
  }
}

const configFiles = (authFile: string) => [authFile, dockerConfigFile()];

/**
 * The credentials for `registry` ("docker.io", "host:port"), or null for anonymous. Each file
 * (minid's, then docker's) as docker reads its config.json: a `credHelpers` entry for the
 * registry, else the `credsStore` (whose answer replaces the file's `auths` entry), else `auths`.
 */
export async function credentialsFor(registry: string, authFile: string): Promise<Credentials | null> {
  for (const file of configFiles(authFile)) {
    const c = readConfig(file);
    if (!c) continue;
    const h = helperIn(c, file, registry);
    if (h) {
      const creds = await fromHelper(h, registry);
      if (creds) return creds;
      continue;
    }
    const entry = Object.entries(c.auths ?? {}).find(([k]) => sameRegistry(k, registry))?.[1];
    if (entry) {
      const creds = decodeAuth(entry, file);
      if (creds) return creds;
    }
  }
  return null;
}

/** The first helper minid's file, then docker's, configure for `registry` (where `minid login` stores). */
function helperFor(registry: string, authFile: string): HelperRef | null {
  for (const file of configFiles(authFile)) {
    const c = readConfig(file);
    const h = c && helperIn(c, file, registry);
    if (h) return h;
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

/** Drop `registry`'s `auths` entries from minid's own file; false when there were none. */
function dropPlain(authFile: string, registry: string): boolean {
  const c = readConfig(authFile);
  if (!c?.auths) return false;
  const keys = Object.keys(c.auths).filter((k) => sameRegistry(k, registry));
  if (!keys.length) return false;
  for (const k of keys) delete c.auths[k];
  writeSecure(authFile, c);
  return true;
}

/**
 * Save credentials for `registry`, as `docker login` does: through the credential helper
 * configured for it (`docker-credential-NAME store`, JSON on stdin), else in minid's own
 * file (0600, base64 user:password), keeping what else it holds. A plaintext copy of an
 * earlier login in minid's file is dropped when a helper takes over.
 */
export async function saveCredentials(authFile: string, registry: string, creds: Credentials): Promise<void> {
  const h = helperFor(registry, authFile);
  if (h) {
    await runHelper(h, 'store', JSON.stringify({ ServerURL: authKey(registry), Username: creds.username, Secret: creds.password }), registry);
    dropPlain(authFile, registry);
    return;
  }
  const c = readConfig(authFile) ?? {};
  const auths = Object.fromEntries(Object.entries(c.auths ?? {}).filter(([k]) => !sameRegistry(k, registry)));
  auths[authKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  writeSecure(authFile, { ...c, auths });
}

/** Drop the credentials for `registry` (the helper's `erase`, and minid's file); false when there were none. */
export async function removeCredentials(authFile: string, registry: string): Promise<boolean> {
  const h = helperFor(registry, authFile);
  const erased = h ? (await runHelper(h, 'erase', authKey(registry), registry)) !== null : false;
  return dropPlain(authFile, registry) || erased;
}
