// The registry client at its edges, against real servers on 127.0.0.1 (issue #14):
//   - credentials through docker's credential helpers (credsStore, credHelpers: a
//     docker-credential-NAME script this test writes) and a config.json written as `docker
//     login` writes it, against a Basic-auth (htpasswd) docker-registry;
//   - mutual TLS: a docker-registry that wants a client certificate (http.tls.clientcas);
//   - HTTPS_PROXY / HTTP_PROXY / NO_PROXY: a recording proxy of the test's own, which tunnels
//     (CONNECT) or forwards (absolute-URI GET) names under .minid-test.invalid to registries
//     on 127.0.0.1, so that minid pulls from a registry with a non-loopback name without any
//     name ever being resolved; loopback registries never go through a proxy;
//   - a registry that answers garbage: one line, exit 1, nothing in the store.
// Every server is started and stopped by its PID (or is a server of this process); every minid
// runs offline with a config of its own. The tests that name non-loopback hosts run minid in a
// mount namespace whose /etc/nsswitch.conf says `hosts: files`: even a bug that made minid
// resolve such a name could not send a DNS query off this machine (strace checks none is tried).
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, emptyStore, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { baseLayer, whiteoutLayer, writeOciLayout, type BuiltImage } from '../../fixtures/image/builder.js';
import { httpAddr, skopeoPush, startRegistry as start, stopAll } from '../../fixtures/registry/servers.js';
import { failsInOneLine, secretsOf, type Result } from '../../fixtures/registry/expect.js';

requireRoot();

// This file's ports: 19550-19598 (other registry suites use 19500-19549 and 19599).
const P = { basic: 19550, mtls: 19551, plain: 19552, named: 19553, proxy: 19554, garbage: 19555, deadProxy: 19556, unknownName: 19557 };
const USER = 'edgeuser';
const PASS = 'Edge-S3cret-9z';
const PROXY_PASS = 'Pr0xy-S3cret';
const SECRETS = secretsOf(USER, PASS, PROXY_PASS);
// Names that exist nowhere (RFC 2606's .invalid): only the test's proxy knows where they are.
const NAMED = `edge.minid-test.invalid:${P.named}`;
const PLAIN_NAMED = `plain.minid-test.invalid:${P.plain}`;

let base = '';
let store: Store;
let built: BuiltImage;
let oci = '';
const procs: ChildProcess[] = [];
const servers: http.Server[] = [];

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();

async function startRegistry(name: string, port: number, extra: string[]): Promise<void> {
  procs.push((await start(base, name, port, extra)).proc);
}

/**
 * A minid environment for one test: an offline config of its own (`extra` merged in), its own
 * auth file and docker config folder (DOCKER_CONFIG, holding `dockerConfig` as config.json when
 * given), and the test's credential helpers first on PATH.
 */
function env(name: string, extra: Record<string, unknown> = {}, dockerConfig?: object, more: Record<string, string> = {}): Record<string, string> {
  const file = path.join(base, `minid-${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ offline: true, 'certs-dirs': [], 'auth-file': path.join(base, `auth-${name}.json`), ...extra }));
  const docker = path.join(base, `docker-${name}`);
  fs.mkdirSync(docker, { recursive: true });
  if (dockerConfig) fs.writeFileSync(path.join(docker, 'config.json'), `${JSON.stringify(dockerConfig, null, '\t')}\n`, { mode: 0o600 });
  return { ...store.env, MINID_CONFIG: file, DOCKER_CONFIG: docker, PATH: `${path.join(base, 'bin')}:${process.env.PATH}`, ...more };
}

const freshStore = (): void => emptyStore(store);

/** One line on stderr, exit 1, no secret anywhere; returns the line. */
const oneLineFailure = (r: Result): string => failsInOneLine(r, SECRETS);

function pulled(r: { exitCode?: number; stdout: unknown; stderr: unknown }): void {
  expect(String(r.stderr)).toBe('');
  expect(r.exitCode).toBe(0);
  for (const s of SECRETS) expect(String(r.stdout)).not.toContain(s);
}

/** Nothing of a failed pull in the store: no image, no blob, no layer. */
function storeEmpty(): void {
  const images = path.join(store.root, 'images.json');
  if (fs.existsSync(images)) expect(fs.readFileSync(images, 'utf8')).not.toContain(built.configDigest.slice(7));
  for (const d of ['blobs/sha256', 'layers']) {
    const dir = path.join(store.root, d);
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : [], d).toEqual([]);
  }
}

// --- docker credential helpers: docker-credential-NAME VERB, as docker runs them -------------
// "edge" keeps credentials in a JSON file (keyed by server URL) and logs each call (verb and
// server, never the secret); "broken" fails; "garbage" answers HTML; "leaky" fails `store` by
// printing what it was given (the secret): minid must not pass that on.
const credDb = () => path.join(base, 'cred-db.json');
const credLog = () => path.join(base, 'cred-log.jsonl');
const helperCalls = (): { verb: string; server: string }[] =>
  fs.existsSync(credLog()) ? fs.readFileSync(credLog(), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];

function writeHelpers(): void {
  const bin = path.join(base, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const edge = `#!/usr/bin/env node
const fs = require('fs');
const DB = ${JSON.stringify(credDb())}, LOG = ${JSON.stringify(credLog())};
const verb = process.argv[2];
const input = fs.readFileSync(0, 'utf8');
const db = fs.existsSync(DB) ? JSON.parse(fs.readFileSync(DB, 'utf8')) : {};
const notFound = () => { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); };
if (verb === 'store') {
  const c = JSON.parse(input);
  fs.appendFileSync(LOG, JSON.stringify({ verb, server: c.ServerURL, user: c.Username }) + '\\n');
  db[c.ServerURL] = c;
  fs.writeFileSync(DB, JSON.stringify(db));
} else {
  const server = input.trim();
  fs.appendFileSync(LOG, JSON.stringify({ verb, server }) + '\\n');
  if (verb === 'get') {
    if (!db[server]) notFound();
    process.stdout.write(JSON.stringify({ ServerURL: server, Username: db[server].Username, Secret: db[server].Secret }));
  } else if (verb === 'erase') {
    if (!db[server]) notFound();
    delete db[server];
    fs.writeFileSync(DB, JSON.stringify(db));
  } else { process.stderr.write('unknown verb\\n'); process.exit(2); }
}
`;
  const scripts: Record<string, string> = {
    edge,
    broken: '#!/bin/sh\necho "error: the keychain is locked" >&2\nexit 3\n',
    garbage: '#!/bin/sh\ncat >/dev/null\necho "<html><body>Sign in</body></html>"\n',
    leaky: '#!/bin/sh\necho "cannot store: $(cat)" >&2\nexit 1\n',
  };
  for (const [name, text] of Object.entries(scripts)) fs.writeFileSync(path.join(bin, `docker-credential-${name}`), text, { mode: 0o755 });
}

// --- the proxy: records every request; tunnels or forwards the names it knows to 127.0.0.1 ---
const proxyLog: { line: string; auth?: string }[] = [];
const tunnels = new Set<net.Socket>(); // CONNECT sockets: the server no longer tracks them
const KNOWN: Record<string, number> = { [NAMED]: P.named, [PLAIN_NAMED]: P.plain };

function startProxy(): Promise<void> {
  const srv = http.createServer((req, res) => {
    // Plain HTTP through a proxy: the request target is the absolute URL.
    proxyLog.push({ line: `${req.method} ${req.url}`, auth: req.headers['proxy-authorization'] });
    let u: URL;
    try {
      u = new URL(req.url!);
    } catch {
      return res.writeHead(400).end();
    }
    const port = KNOWN[u.host];
    if (!port) return res.writeHead(502).end();
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const up = http.request({ host: '127.0.0.1', port, method: req.method, path: u.pathname + u.search, headers }, (ur) => {
      res.writeHead(ur.statusCode!, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  srv.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    proxyLog.push({ line: `CONNECT ${req.url}`, auth: req.headers['proxy-authorization'] });
    client.on('error', () => {});
    tunnels.add(client);
    client.once('close', () => tunnels.delete(client));
    const port = KNOWN[req.url!];
    if (!port) return client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    const up = net.connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    tunnels.add(up);
    up.once('close', () => (tunnels.delete(up), client.destroy()));
    client.once('close', () => up.destroy());
  });
  servers.push(srv);
  return new Promise((r) => srv.listen(P.proxy, '127.0.0.1', () => r()));
}

// --- a registry that answers garbage, in the mode a test sets ----------------------------------
type Garbage = 'html' | 'manifest' | 'token' | 'truncated' | 'short';
let garbage: { mode: Garbage; blobGets: number } = { mode: 'html', blobGets: 0 };

function startGarbage(): Promise<void> {
  const g = `127.0.0.1:${P.garbage}`;
  const blobs = new Map<string, Buffer>([[built.configDigest, built.configBytes], ...built.layers.map((l): [string, Buffer] => [l.digest, l.bytes])]);
  const srv = http.createServer((req, res) => {
    const url = req.url!;
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'Content-Type': 'application/json', 'Docker-Distribution-API-Version': 'registry/2.0', ...headers }).end(JSON.stringify(body));
    switch (garbage.mode) {
      case 'html': // a web server (or a captive portal) where a registry was expected
        return res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html><body><h1>Welcome to nginx!</h1></body></html>');
      case 'token':
        if (url.startsWith('/token')) return res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html><body>Please sign in</body></html>');
        return json(401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'WWW-Authenticate': `Bearer realm="http://${g}/token",service="garbage"` });
      case 'manifest':
        if (url === '/v2/') return json(200, {});
        return res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }).end('<html>this is not a manifest</html>');
      default: {
        if (url === '/v2/') return json(200, {});
        if (url.includes('/manifests/')) return res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Docker-Content-Digest': built.manifestDigest }).end(built.manifestBytes);
        const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url)?.[1] ?? '';
        const b = blobs.get(digest);
        if (!b) return json(404, { errors: [{ code: 'BLOB_UNKNOWN' }] });
        if (digest === built.configDigest) return res.writeHead(200, { 'Content-Length': String(b.length) }).end(b);
        garbage.blobGets++;
        if (garbage.mode === 'truncated') {
          // Content-Length says all of it; half comes, then the connection closes.
          res.writeHead(200, { 'Content-Length': String(b.length), 'Content-Type': 'application/octet-stream' });
          res.write(b.subarray(0, b.length >> 1), () => res.socket?.destroy());
          return;
        }
        // 'short': no Content-Length (chunked), half of the blob, and a clean end.
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        return res.end(b.subarray(0, b.length >> 1));
      }
    }
  });
  servers.push(srv);
  return new Promise((r) => srv.listen(P.garbage, '127.0.0.1', () => r()));
}

/**
 * Run minid where no name can be resolved through DNS: a private mount namespace whose
 * /etc/nsswitch.conf says `hosts: files` (and whose resolv.conf names only 127.0.0.1), traced
 * by strace (connect, sendto, sendmsg, openat) into `trace`.
 */
async function guarded(args: string[], e: Record<string, string>, trace: string) {
  const nss = path.join(base, 'nsswitch.conf');
  const resolv = path.join(base, 'resolv.conf');
  fs.writeFileSync(nss, 'passwd: files\ngroup: files\nhosts: files\n');
  fs.writeFileSync(resolv, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
  const script = 'mount --bind "$1" /etc/nsswitch.conf && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"';
  return execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', nss, resolv, 'strace', '-f', '-qq', '-e', 'trace=connect,sendto,sendmsg,openat', '-o', trace, cli, ...args], {
    env: e,
    reject: false,
    timeout: 60_000,
  });
}

/** What a trace shows of name resolution and of the IP connections made. */
function traced(trace: string): { resolverFiles: string[]; inet: string[] } {
  const lines = fs.readFileSync(trace, 'utf8').split('\n');
  expect(lines.some((l) => /openat\(.*minid-.*\.json/.test(l))).toBe(true); // strace saw minid at work
  return {
    resolverFiles: lines.filter((l) => /openat\(.*(resolv\.conf|nsswitch\.conf|\/etc\/hosts|gai\.conf)/.test(l)),
    inet: lines.filter((l) => /(connect|sendto|sendmsg)\(.*AF_INET/.test(l)).map((l) => /sin6?_port=htons\((\d+)\).*inet_(?:addr|pton)\([^"]*"([^"]+)"/.exec(l)?.slice(1).reverse().join(':') ?? l),
  };
}

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-reg-edge-'));
  store = makeStore('reg-edge');
  oci = path.join(base, 'busybox-oci');
  [built] = writeOciLayout(oci, [{ names: ['busybox:latest'], layers: [baseLayer(), whiteoutLayer()] }], 'tag');
  writeHelpers();

  // A CA for the servers, another for the clients; server certificates for 127.0.0.1 and for
  // the name only the proxy knows; a client certificate, and one from the wrong CA.
  const ssl = (...a: string[]) => sh('openssl', a);
  const ca = (name: string) => ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=edge ${name} CA`, '-keyout', `${base}/${name}-ca.key`, '-out', `${base}/${name}-ca.crt`);
  const cert = (name: string, caName: string, ext: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${base}/${name}.key`, '-out', `${base}/${name}.csr`);
    fs.writeFileSync(`${base}/${name}.ext`, ext);
    ssl('x509', '-req', '-in', `${base}/${name}.csr`, '-CA', `${base}/${caName}-ca.crt`, '-CAkey', `${base}/${caName}-ca.key`, '-CAcreateserial', '-days', '2', '-extfile', `${base}/${name}.ext`, '-out', `${base}/${name}.crt`);
  };
  ca('server');
  ca('client');
  cert('server-ip', 'server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  cert('server-named', 'server', 'subjectAltName=DNS:edge.minid-test.invalid\nextendedKeyUsage=serverAuth\n');
  cert('client', 'client', 'extendedKeyUsage=clientAuth\n');
  cert('client-wrong', 'server', 'extendedKeyUsage=clientAuth\n');
  sh('htpasswd', ['-Bbc', `${base}/htpasswd`, USER, PASS]);

  const tls = (name: string, clientCas = false) => ['  tls:', `    certificate: ${base}/${name}.crt`, `    key: ${base}/${name}.key`, ...(clientCas ? ['    clientcas:', `      - ${base}/client-ca.crt`] : [])];
  await startRegistry('basic', P.basic, [...httpAddr(P.basic), 'auth:', '  htpasswd:', '    realm: edge-test', `    path: ${base}/htpasswd`]);
  await startRegistry('mtls', P.mtls, [...httpAddr(P.mtls), ...tls('server-ip', true)]);
  await startRegistry('plain', P.plain, httpAddr(P.plain));
  await startRegistry('named', P.named, [...httpAddr(P.named), ...tls('server-named')]);
  await startProxy();
  await startGarbage();

  const push = (dest: string, creds?: string, certDir?: string) => skopeoPush(oci, 'latest', dest, creds, certDir);
  await push(`127.0.0.1:${P.basic}/library/busybox:latest`, `${USER}:${PASS}`);
  await push(`127.0.0.1:${P.plain}/library/busybox:latest`);
  await push(`127.0.0.1:${P.named}/library/busybox:latest`);
  // skopeo presents the client certificate from a certs.d-style folder.
  const skopeoCerts = path.join(base, 'skopeo-certs');
  fs.mkdirSync(skopeoCerts);
  fs.copyFileSync(`${base}/client.crt`, path.join(skopeoCerts, 'client.cert'));
  fs.copyFileSync(`${base}/client.key`, path.join(skopeoCerts, 'client.key'));
  await push(`127.0.0.1:${P.mtls}/library/busybox:latest`, undefined, skopeoCerts);
}, 120_000);

afterAll(async () => {
  for (const t of tunnels) t.destroy();
  await stopAll(procs);
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  try {
    await store?.cleanup();
  } finally {
    if (base) fs.rmSync(base, { recursive: true, force: true }); // even when the store's cleanup fails
  }
});

describe('credentials through docker credential helpers', () => {
  const reg = `127.0.0.1:${P.basic}`;
  const ref = `${reg}/library/busybox`;

  it('a config.json written by `docker login` works as is', async () => {
    freshStore();
    // As docker 20.10 writes it (tabs, HttpHeaders), the registry's key as typed at login.
    const e = env('docker-login', {}, { auths: { [reg]: { auth: Buffer.from(`${USER}:${PASS}`).toString('base64') } }, HttpHeaders: { 'User-Agent': 'Docker-Client/20.10.24+dfsg1 (linux)' } });
    pulled(await minid(store, ['pull', ref], { env: e }));
    // ... and the "https://HOST" form of the key docker keeps from older logins.
    freshStore();
    const e2 = env('docker-login-url', {}, { auths: { [`https://${reg}`]: { auth: Buffer.from(`${USER}:${PASS}`).toString('base64'), email: '' } } });
    pulled(await minid(store, ['pull', ref], { env: e2 }));
  });

  it('credsStore and credHelpers: `get` through the helper; credHelpers wins for its registry', async () => {
    fs.writeFileSync(credDb(), JSON.stringify({ [reg]: { ServerURL: reg, Username: USER, Secret: PASS } }));
    fs.rmSync(credLog(), { force: true });
    freshStore();
    pulled(await minid(store, ['pull', ref], { env: env('creds-store', {}, { auths: { [reg]: {} }, credsStore: 'edge' }) }));
    expect(helperCalls()).toEqual([{ verb: 'get', server: reg }]);

    // A per-registry helper is asked instead of the store (which is broken here).
    freshStore();
    pulled(await minid(store, ['pull', ref], { env: env('cred-helpers', {}, { credsStore: 'broken', credHelpers: { [reg]: 'edge' } }) }));

    // As docker: with a credsStore, an old plaintext entry of config.json is not used.
    freshStore();
    const stale = Buffer.from(`${USER}:wrong-old-password`).toString('base64');
    pulled(await minid(store, ['pull', ref], { env: env('store-over-auths', {}, { auths: { [reg]: { auth: stale } }, credsStore: 'edge' }) }));
  });

  it('a helper that fails, answers garbage or is missing: one line naming it', async () => {
    freshStore();
    const broken = oneLineFailure(await minid(store, ['pull', ref], { env: env('helper-broken', {}, { credsStore: 'broken' }) }));
    expect(broken).toMatch(/^minid: the credential helper docker-credential-broken failed for 127\.0\.0\.1:\d+ \(exit 3\): check it, or remove "credsStore" from .*docker-helper-broken\/config\.json$/);
    const junk = oneLineFailure(await minid(store, ['pull', ref], { env: env('helper-garbage', {}, { credHelpers: { [reg]: 'garbage' } }) }));
    expect(junk).toMatch(/^minid: the credential helper docker-credential-garbage answered something that is not JSON for 127\.0\.0\.1:\d+: check it, or remove "credHelpers" from .*config\.json$/);
    const missing = oneLineFailure(await minid(store, ['pull', ref], { env: env('helper-missing', {}, { credsStore: 'nosuch' }) }));
    expect(missing).toMatch(/^minid: the credential helper docker-credential-nosuch is not installed \(not on PATH\): install it, or remove "credsStore" from .*config\.json$/);
    storeEmpty();
    // Not found in the helper: anonymous, so the registry's own refusal.
    fs.writeFileSync(credDb(), '{}');
    expect(oneLineFailure(await minid(store, ['pull', ref], { env: env('helper-empty', {}, { credsStore: 'edge' }) }))).toBe(`minid: ${reg} wants a login: run \`minid login ${reg}\``);
  });

  it('`minid login` with a credsStore stores through the helper (not in a file); logout erases', async () => {
    fs.writeFileSync(credDb(), '{}');
    fs.rmSync(credLog(), { force: true });
    freshStore();
    const e = env('login-store', {}, { auths: {}, credsStore: 'edge' });
    const login = await minid(store, ['login', '-u', USER, '--password-stdin', reg], { env: e, input: PASS });
    expect(login.stderr).toBe('');
    expect(login.stdout).toBe('Login Succeeded');
    expect(JSON.parse(fs.readFileSync(credDb(), 'utf8'))).toEqual({ [reg]: { ServerURL: reg, Username: USER, Secret: PASS } });
    // No copy of the password in minid's auth file, nor in docker's config.
    for (const f of [path.join(base, 'auth-login-store.json'), path.join(base, 'docker-login-store', 'config.json')])
      if (fs.existsSync(f)) for (const s of SECRETS) expect(fs.readFileSync(f, 'utf8')).not.toContain(s);
    pulled(await minid(store, ['pull', ref], { env: e }));

    // --explain / MINID_DEBUG trace the helper's command, never the secret it was given.
    fs.writeFileSync(credDb(), '{}');
    const debug = await minid(store, ['login', '-u', USER, '--password-stdin', reg], { env: { ...e, MINID_DEBUG: '1' }, input: PASS });
    expect(debug.exitCode).toBe(0);
    expect(String(debug.stderr)).toContain('docker-credential-edge store');
    for (const s of SECRETS) expect(`${debug.stdout}${debug.stderr}`).not.toContain(s);

    expect((await minid(store, ['logout', reg], { env: e })).stdout).toBe(`Removing login credentials for ${reg}`);
    expect(JSON.parse(fs.readFileSync(credDb(), 'utf8'))).toEqual({});
    expect((await minid(store, ['logout', reg], { env: e })).stdout).toBe(`Not logged in to ${reg}`);
    expect(helperCalls().map((c) => `${c.verb} ${c.server}`)).toEqual([`store ${reg}`, `get ${reg}`, `store ${reg}`, `erase ${reg}`, `erase ${reg}`]);

    // A helper that fails to store: one line, and what it printed (the secret) is not passed on.
    const leaky = await minid(store, ['login', '-u', USER, '--password-stdin', reg], { env: env('login-leaky', {}, { credsStore: 'leaky' }), input: PASS });
    expect(oneLineFailure(leaky)).toMatch(/^minid: the credential helper docker-credential-leaky could not store the credentials for 127\.0\.0\.1:\d+ \(exit 1\): check it, or remove "credsStore" from .*config\.json$/);
  });
});

describe('mutual TLS (a registry that wants a client certificate)', () => {
  const reg = `127.0.0.1:${P.mtls}`;
  const ref = `${reg}/library/busybox`;
  const certsDir = (name: string, files: Record<string, string>) => {
    const d = path.join(base, `certs-${name}`);
    fs.mkdirSync(path.join(d, reg), { recursive: true });
    for (const [to, from] of Object.entries(files)) fs.copyFileSync(path.join(base, from), path.join(d, reg, to));
    return d;
  };

  it('pulls with client.cert and client.key in certs.d', async () => {
    freshStore();
    const d = certsDir('mtls', { 'ca.crt': 'server-ca.crt', 'client.cert': 'client.crt', 'client.key': 'client.key' });
    pulled(await minid(store, ['pull', ref], { env: env('mtls', { 'certs-dirs': [d] }) }));
  });

  it('without a client certificate, or with one the registry does not trust: one line naming what to add', async () => {
    freshStore();
    const none = certsDir('mtls-none', { 'ca.crt': 'server-ca.crt' });
    expect(oneLineFailure(await minid(store, ['pull', ref], { env: env('mtls-none', { 'certs-dirs': [none] }) }))).toBe(
      `minid: ${reg} wants a client certificate (mutual TLS) and refused the connection without one: put it and its key in ${none}/${reg}/client.cert and client.key`,
    );
    const wrong = certsDir('mtls-wrong', { 'ca.crt': 'server-ca.crt', 'client.cert': 'client-wrong.crt', 'client.key': 'client-wrong.key' });
    expect(oneLineFailure(await minid(store, ['pull', ref], { env: env('mtls-wrong', { 'certs-dirs': [wrong] }) }))).toBe(
      `minid: ${reg} refused the client certificate ${wrong}/${reg}/client.cert: use one signed by a CA the registry trusts`,
    );
    storeEmpty();
  });
});

describe('proxies: HTTPS_PROXY, HTTP_PROXY, NO_PROXY', () => {
  it('a loopback registry never goes through a proxy (a dead one here)', async () => {
    freshStore();
    const dead = `http://127.0.0.1:${P.deadProxy}`;
    const e = env('proxy-loopback', {}, undefined, { HTTPS_PROXY: dead, HTTP_PROXY: dead, https_proxy: dead, http_proxy: dead });
    pulled(await minid(store, ['pull', `127.0.0.1:${P.plain}/library/busybox`], { env: e }));
    freshStore();
    pulled(await minid(store, ['pull', `localhost:${P.plain}/library/busybox`], { env: e }));
  });

  it('HTTPS through a CONNECT tunnel to an allowed registry with a non-loopback name; the name is never resolved', async () => {
    freshStore();
    proxyLog.length = 0;
    const certs = path.join(base, 'certs-named');
    fs.mkdirSync(path.join(certs, NAMED), { recursive: true });
    fs.copyFileSync(`${base}/server-ca.crt`, path.join(certs, NAMED, 'ca.crt'));
    const proxy = `http://127.0.0.1:${P.proxy}`;
    const e = env('proxy-connect', { 'allowed-registries': [NAMED], 'certs-dirs': [certs] }, undefined, { HTTPS_PROXY: proxy, NO_PROXY: 'localhost,127.0.0.1' });
    const trace = path.join(base, 'strace-connect.out');
    const r = await guarded(['pull', `${NAMED}/library/busybox`], e, trace);
    pulled(r);
    expect(r.stdout).toContain(`Pulling ${NAMED}/library/busybox:latest over https://${NAMED}`);
    // Every request went through the tunnel: the ping, the manifest, the config, two layers.
    expect(new Set(proxyLog.map((l) => l.line))).toEqual(new Set([`CONNECT ${NAMED}`]));
    expect(proxyLog.length).toBeGreaterThanOrEqual(1);
    const t = traced(trace);
    expect(t.resolverFiles).toEqual([]);
    expect(new Set(t.inet)).toEqual(new Set([`127.0.0.1:${P.proxy}`]));
  });

  it('an insecure registry behind the proxy: HTTPS tried through the tunnel, then plain HTTP forwarded', async () => {
    freshStore();
    proxyLog.length = 0;
    const proxy = `http://127.0.0.1:${P.proxy}`;
    const e = env('proxy-http', { 'allowed-registries': [PLAIN_NAMED], 'insecure-registries': [PLAIN_NAMED] }, undefined, { https_proxy: proxy, http_proxy: proxy });
    const trace = path.join(base, 'strace-http.out');
    const r = await guarded(['pull', `${PLAIN_NAMED}/library/busybox`], e, trace);
    pulled(r);
    expect(r.stdout).toContain(`over http://${PLAIN_NAMED}`);
    expect(proxyLog[0].line).toBe(`CONNECT ${PLAIN_NAMED}`);
    expect(proxyLog.slice(1).map((l) => l.line)).toContain(`GET http://${PLAIN_NAMED}/v2/`);
    // Every later request is plain HTTP forwarded by the proxy (GET, and the manifest's HEAD).
    expect(proxyLog.slice(1).every((l) => /^(GET|HEAD) http:\/\//.test(l.line) && l.line.includes(`${PLAIN_NAMED}/v2/`))).toBe(true);
    const t = traced(trace);
    expect(t.resolverFiles).toEqual([]);
    expect(new Set(t.inet)).toEqual(new Set([`127.0.0.1:${P.proxy}`]));
  });

  it('a proxy that refuses (502): one line naming the proxy, its credentials never shown', async () => {
    freshStore();
    proxyLog.length = 0;
    const other = `other.minid-test.invalid:${P.unknownName}`;
    const e = env('proxy-502', { 'allowed-registries': [other] }, undefined, { HTTPS_PROXY: `http://puser:${PROXY_PASS}@127.0.0.1:${P.proxy}` });
    const trace = path.join(base, 'strace-502.out');
    const r = await guarded(['pull', `${other}/library/busybox`], e, trace);
    expect(oneLineFailure(r)).toBe(`minid: the proxy 127.0.0.1:${P.proxy} refused to connect to ${other} (502 Bad Gateway): check HTTPS_PROXY and NO_PROXY`);
    expect(proxyLog).toEqual([{ line: `CONNECT ${other}`, auth: `Basic ${Buffer.from(`puser:${PROXY_PASS}`).toString('base64')}` }]);
    const t = traced(trace);
    expect(t.resolverFiles).toEqual([]);
    expect(new Set(t.inet)).toEqual(new Set([`127.0.0.1:${P.proxy}`]));
    storeEmpty();
  });

  it('a proxy given as https:// (TLS to the proxy, not supported): one line, nothing dialled', async () => {
    proxyLog.length = 0;
    const e = env('proxy-https', { 'allowed-registries': [NAMED] }, undefined, { HTTPS_PROXY: `https://puser:${PROXY_PASS}@127.0.0.1:${P.proxy}` });
    const r = await guarded(['pull', `${NAMED}/library/busybox`], e, path.join(base, 'strace-https-proxy.out'));
    expect(oneLineFailure(r)).toBe(`minid: the proxy for ${NAMED} is an https:// URL (TLS to the proxy itself), which minid does not speak: give it as http://127.0.0.1:${P.proxy} in HTTPS_PROXY or HTTP_PROXY`);
    expect(proxyLog).toEqual([]);
    expect(traced(path.join(base, 'strace-https-proxy.out')).inet).toEqual([]);
  });

  it('NO_PROXY: a matching name goes direct (here: it cannot be resolved), the proxy sees nothing', async () => {
    freshStore();
    proxyLog.length = 0;
    const proxy = `http://127.0.0.1:${P.proxy}`;
    const e = env('no-proxy', { 'allowed-registries': [NAMED] }, undefined, { HTTPS_PROXY: proxy, NO_PROXY: '.minid-test.invalid' });
    const r = await guarded(['pull', `${NAMED}/library/busybox`], e, path.join(base, 'strace-noproxy.out'));
    expect(oneLineFailure(r)).toMatch(/^minid: cannot resolve edge\.minid-test\.invalid \((ENOTFOUND|EAI_AGAIN)\): check the name and this machine's DNS$/);
    expect(proxyLog).toEqual([]);
  });

  it('offline: a registry not allowed is refused before the proxy is asked', async () => {
    proxyLog.length = 0;
    const proxy = `http://127.0.0.1:${P.proxy}`;
    const r = await guarded(['pull', `${NAMED}/library/busybox`], env('proxy-offline', {}, undefined, { HTTPS_PROXY: proxy }), path.join(base, 'strace-offline.out'));
    expect(oneLineFailure(r)).toMatch(new RegExp(`^minid: refusing to connect to ${NAMED.replace(/\./g, '\\.')} \\(the registry\\): minid is offline`));
    expect(proxyLog).toEqual([]);
    expect(traced(path.join(base, 'strace-offline.out')).inet).toEqual([]);
  });
});

describe('a registry that answers garbage: one line, exit 1, nothing in the store', () => {
  const reg = `127.0.0.1:${P.garbage}`;
  const ref = `${reg}/library/busybox`;
  const pullGarbage = async (mode: Garbage) => {
    freshStore();
    garbage = { mode, blobGets: 0 };
    const r = await minid(store, ['pull', ref], { env: env(`garbage-${mode}`) });
    const line = oneLineFailure(r);
    storeEmpty();
    return line;
  };

  it('an HTML page for /v2/', async () => {
    expect(await pullGarbage('html')).toBe(`minid: ${reg} does not look like a container registry (/v2/ answered 200 with text/html, not the registry API): check the registry's name and port`);
  });
  it('a manifest that is not JSON', async () => {
    expect(await pullGarbage('manifest')).toBe(
      `minid: ${ref}:latest: the registry sent a manifest that is not JSON (application/vnd.oci.image.manifest.v1+json): ${reg} is not a working registry, or something between answers for it`,
    );
  });
  it('a token server that answers something else than JSON', async () => {
    expect(await pullGarbage('token')).toBe(
      `minid: the token server ${reg} of ${reg} sent no token (a 200 answer with text/html, not JSON with "token"): check the realm ${reg} names in its WWW-Authenticate header`,
    );
  });
  it('a blob cut short (Content-Length larger than the body, then close): retried, then one line', async () => {
    const line = await pullGarbage('truncated');
    expect(line).toMatch(new RegExp(`^minid: the connection to ${reg.replace(/\./g, '\\.')} broke during layer [0-9a-f]{12} of ${ref.replace(/\./g, '\\.')}:latest \\([A-Z_]+\\), 4 times: try again later \\(the next pull resumes it\\)$`));
    expect(garbage.blobGets).toBeGreaterThanOrEqual(4);
  });
  it('a blob that ends early without a Content-Length', async () => {
    expect(await pullGarbage('short')).toMatch(/^minid: layer [0-9a-f]{12} of .* has \d+ bytes, the manifest says \d+: the registry sent a truncated blob, try again$/);
  });
});
