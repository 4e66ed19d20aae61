// minid against real registry servers on 127.0.0.1, set up the ways registries are met in
// the wild: Debian's docker-registry (distribution 2.8) with TLS from a private CA, with
// Basic auth (htpasswd), with token auth (a token server this test runs, signing with a
// certificate the test makes; it also speaks OAuth2's refresh_token grant, for identity
// tokens from a credential helper or config.json's "identitytoken"), a Docker-Hub-like
// set-up whose blobs are redirected to a CDN on another port, and a docker.io mirror. Every server is started and stopped by its PID;
// every minid runs offline (only loopback registries), so nothing here can leave the machine.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, emptyStore, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { baseLayer, whiteoutLayer, writeOciLayout, type BuiltImage } from '../../fixtures/image/builder.js';
import { httpAddr, skopeoPush, startRegistry as start, stopAll } from '../../fixtures/registry/servers.js';
import { failsInOneLine, secretsOf, type Result } from '../../fixtures/registry/expect.js';

requireRoot();

// Ports of this suite (19500-19599 are reserved for it on the shared machines).
const P = { mirror: 19510, tls: 19511, basic: 19512, token: 19513, tokenServer: 19514, cdn: 19515, hub: 19516, flaky: 19517 };
const USER = 'regtester';
const PASS = 'S3cret-pa55-reg';

let base = '';
let store: Store;
let built: BuiltImage;
let oci = '';
const procs: ChildProcess[] = [];
const servers: http.Server[] = [];
const cdnAuth: string[] = [];
const cdnHits: string[] = [];

const sh = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { stdio: 'pipe', input }).toString();

async function startRegistry(name: string, port: number, extra: string[]): Promise<string> {
  const r = await start(base, name, port, extra);
  procs.push(r.proc);
  return r.storage;
}

// Asynchronous: the token server answers skopeo from this very process.
const push = (dest: string, creds?: string): Promise<void> => skopeoPush(oci, 'latest', dest, creds);

/** A minid config for one test (offline, like the suite's), with its own certs.d and auth file. */
function config(name: string, extra: Record<string, unknown> = {}): Record<string, string> {
  const file = path.join(base, `minid-${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ offline: true, 'certs-dirs': [], 'auth-file': path.join(base, `auth-${name}.json`), ...extra }));
  return { ...store.env, MINID_CONFIG: file };
}

const freshStore = (): void => emptyStore(store);

// --- the token server: distribution's token spec, JWT signed RS256 with the cert in x5c -----
let signKey = '';
let signCertDer = '';
const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
function jwt(sub: string, service: string, access: { type: string; name: string; actions: string[] }[]): string {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [signCertDer] }));
  const claims = b64url(JSON.stringify({ iss: 'reg-test-issuer', sub, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access }));
  const sig = crypto.sign('sha256', Buffer.from(`${head}.${claims}`), signKey);
  return `${head}.${claims}.${b64url(sig)}`;
}
const tokenRequests: { user: string | null; scope: string }[] = [];

// Identity tokens: the token server also speaks OAuth2 (distribution's spec/auth/oauth.md), a
// POST of the refresh_token grant. Each refresh token it knows stands for a user; each answer
// hands out a new one as well (the old stays valid). A GET with Basic `<token>:REFRESH` is
// taken too, for minid's fallback when the POST is answered 404 (oauth = '404': a server
// without OAuth2). Every refresh and access token it hands out is a secret the tests look for.
const REFRESH = 'Idt-R3fresh-5e7a9c1b3d';
const refreshTokens = new Map<string, string>([[REFRESH, USER]]);
const issued: string[] = [];
let oauth: 'on' | '404' = 'on';
const oauthRequests: { status: number; form: Record<string, string> }[] = [];

function oauthPost(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  const form = Object.fromEntries(new URLSearchParams(body));
  const answer = (status: number, j: object) => {
    // Recorded without the refresh token itself: the one given to minid, one handed out since, or unknown.
    const { refresh_token: rt, ...rest } = form;
    const which = rt === REFRESH ? '(given)' : refreshTokens.has(rt) ? '(rotated)' : '(unknown)';
    oauthRequests.push({ status, form: { ...rest, ...(rt ? { refresh_token: which } : {}) } });
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(j));
  };
  if (oauth === '404') return answer(404, { errors: [{ code: 'NOT_FOUND' }] });
  if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return answer(400, { error: 'invalid_request' });
  if (form.grant_type !== 'refresh_token' || !form.client_id) return answer(400, { error: 'unsupported_grant_type' });
  const user = refreshTokens.get(form.refresh_token ?? '');
  // As some servers do: the refusal repeats the token it was given (minid must not show it).
  if (!user) return answer(400, { error: 'invalid_grant', error_description: `refresh token ${form.refresh_token} is not valid` });
  const next = `${REFRESH}-${crypto.randomUUID()}`;
  refreshTokens.set(next, user);
  const access = (form.scope ?? '').split(' ').filter(Boolean).map((sc) => {
    const [type, name, actions] = sc.split(':');
    return { type, name, actions: actions.split(',') };
  });
  const token = jwt(user, form.service ?? '', access);
  issued.push(next, token);
  answer(200, { access_token: token, expires_in: 300, refresh_token: next, scope: form.scope });
}

function startTokenServer(): Promise<void> {
  const srv = http.createServer((req, res) => {
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => oauthPost(req, res, body));
      return;
    }
    const u = new URL(req.url!, 'http://x');
    let user: string | null = null;
    const a = req.headers.authorization;
    if (a) {
      const [u0, p0] = Buffer.from(a.replace(/^Basic /, ''), 'base64').toString().split(':');
      const byIdentity = u0 === '<token>' ? refreshTokens.get(p0) : undefined;
      if (!byIdentity && (u0 !== USER || p0 !== PASS)) return res.writeHead(401).end('{"details":"wrong credentials"}');
      user = u0;
    }
    const scope = u.searchParams.get('scope') ?? '';
    tokenRequests.push({ user, scope });
    const access = scope
      ? scope.split(' ').map((s) => {
          const [type, name, actions] = s.split(':');
          const allowed = user ? ['pull', 'push'] : name.startsWith('private/') ? [] : ['pull'];
          return { type, name, actions: actions.split(',').filter((x) => allowed.includes(x)) };
        })
      : [];
    const token = jwt(user ?? '', u.searchParams.get('service') ?? '', access);
    if (user === '<token>') issued.push(token);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
  });
  servers.push(srv);
  return new Promise((r) => srv.listen(P.tokenServer, '127.0.0.1', () => r()));
}

function startCdn(storage: string): Promise<void> {
  const srv = http.createServer((req, res) => {
    cdnHits.push(req.url!);
    if (req.headers.authorization) cdnAuth.push(req.headers.authorization);
    const file = path.join(storage, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    if (!file.startsWith(storage + '/') || !fs.existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  servers.push(srv);
  return new Promise((r) => srv.listen(P.cdn, '127.0.0.1', () => r()));
}

// A front of the mirror registry that misbehaves as told: 429 with Retry-After, 503, or a
// connection cut half-way through each blob's first download.
let flaky: { mode: 'ok' | '429' | '503' | 'cut'; seen: Set<string>; times: number[] } = { mode: 'ok', seen: new Set(), times: [] };
function startFlaky(): Promise<void> {
  const srv = http.createServer((req, res) => {
    const isManifest = req.url!.includes('/manifests/');
    if (isManifest) flaky.times.push(Date.now());
    if (isManifest && flaky.mode === '503') return res.writeHead(503).end();
    if (isManifest && flaky.mode === '429' && flaky.times.length === 1) return res.writeHead(429, { 'Retry-After': '1' }).end();
    const up = http.request({ host: '127.0.0.1', port: P.mirror, path: req.url, method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode!, ur.headers);
      if (flaky.mode === 'cut' && req.url!.includes('/blobs/') && !flaky.seen.has(req.url!)) {
        flaky.seen.add(req.url!);
        ur.once('data', (c: Buffer) => {
          res.write(c.subarray(0, Math.max(1, c.length >> 1)));
          res.socket?.destroy();
          ur.destroy();
        });
        return;
      }
      ur.pipe(res);
    });
    req.pipe(up);
  });
  servers.push(srv);
  return new Promise((r) => srv.listen(P.flaky, '127.0.0.1', () => r()));
}

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-reg-registry-'));
  store = makeStore('reg-registry');
  oci = path.join(base, 'busybox-oci');
  [built] = writeOciLayout(oci, [{ names: ['busybox:latest'], layers: [baseLayer(), whiteoutLayer()] }], 'tag');

  // A private CA and a server certificate for 127.0.0.1 only (no DNS name: "localhost" is "another name").
  const ssl = (...a: string[]) => sh('openssl', a);
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=reg test CA', '-keyout', `${base}/ca.key`, '-out', `${base}/ca.crt`);
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', `${base}/server.key`, '-out', `${base}/server.csr`);
  fs.writeFileSync(`${base}/ext.cnf`, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', `${base}/server.csr`, '-CA', `${base}/ca.crt`, '-CAkey', `${base}/ca.key`, '-CAcreateserial', '-days', '2', '-extfile', `${base}/ext.cnf`, '-out', `${base}/server.crt`);
  // The token signing certificate (self-signed: it is its own root bundle).
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=reg token signer', '-keyout', `${base}/token.key`, '-out', `${base}/token.crt`);
  signKey = fs.readFileSync(`${base}/token.key`, 'utf8');
  signCertDer = new crypto.X509Certificate(fs.readFileSync(`${base}/token.crt`)).raw.toString('base64');
  sh('htpasswd', ['-Bbc', `${base}/htpasswd`, USER, PASS]);

  const tokenAuth = ['auth:', '  token:', `    realm: http://127.0.0.1:${P.tokenServer}/token`, '    service: reg-test', '    issuer: reg-test-issuer', `    rootcertbundle: ${base}/token.crt`];
  await startTokenServer();
  await startRegistry('mirror', P.mirror, httpAddr(P.mirror));
  await startRegistry('tls', P.tls, [...httpAddr(P.tls), '  tls:', `    certificate: ${base}/server.crt`, `    key: ${base}/server.key`]);
  await startRegistry('basic', P.basic, [...httpAddr(P.basic), 'auth:', '  htpasswd:', '    realm: reg-test', `    path: ${base}/htpasswd`]);
  await startRegistry('token', P.token, [...httpAddr(P.token), ...tokenAuth]);
  const hubStorage = await startRegistry('hub', P.hub, [...httpAddr(P.hub), ...tokenAuth, 'middleware:', '  storage:', '    - name: redirect', '      options:', `        baseurl: http://127.0.0.1:${P.cdn}/`]);
  await startCdn(hubStorage);
  await startFlaky();

  await push(`127.0.0.1:${P.mirror}/library/busybox:latest`);
  await push(`127.0.0.1:${P.tls}/library/busybox:latest`);
  await push(`127.0.0.1:${P.basic}/library/busybox:latest`, `${USER}:${PASS}`);
  await push(`127.0.0.1:${P.token}/library/busybox:latest`, `${USER}:${PASS}`);
  await push(`127.0.0.1:${P.token}/private/busybox:latest`, `${USER}:${PASS}`);
  await push(`127.0.0.1:${P.hub}/library/busybox:latest`, `${USER}:${PASS}`);
}, 120_000);

afterAll(async () => {
  await stopAll(procs);
  for (const s of servers) await new Promise((r) => s.close(r));
  try {
    await store?.cleanup();
  } finally {
    if (base) fs.rmSync(base, { recursive: true, force: true }); // even when the store's cleanup fails
  }
});

/** One line on stderr, exit 1, and neither the password nor its base64 anywhere. */
const oneLineFailure = (r: Result): string => failsInOneLine(r, secretsOf(USER, PASS));

describe('offline: nothing but loopback', () => {
  it('refuses docker.io with one line, before any lookup or connection (strace)', async () => {
    const trace = path.join(base, 'strace.out');
    const r = await (
      // The command traced: every connect() and every file opened by minid and its children.
      new Promise<{ exitCode: number; stdout: string; stderr: string }>((resolve) => {
        const p = spawn('strace', ['-f', '-qq', '-e', 'trace=connect,sendto,sendmsg,openat', '-o', trace, cli, 'pull', 'busybox'], { env: { ...process.env, ...store.env } });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (c) => (stdout += c));
        p.stderr.on('data', (c) => (stderr += c));
        p.on('close', (code) => resolve({ exitCode: code ?? -1, stdout, stderr }));
      })
    );
    expect(oneLineFailure(r)).toMatch(/^minid: refusing to connect to registry-1\.docker\.io \(the registry\): minid is offline \("offline": true in .*offline\.json\); pull from a registry on this machine/);
    const lines = fs.readFileSync(trace, 'utf8').split('\n');
    expect(lines.some((l) => /openat\(.*offline\.json/.test(l))).toBe(true); // strace did see minid at work
    expect(lines.filter((l) => /connect\(.*AF_INET/.test(l))).toEqual([]);
    expect(lines.filter((l) => /resolv\.conf|nsswitch\.conf|\/etc\/hosts/.test(l))).toEqual([]);
  });
});

describe('TLS with a private CA', () => {
  it('refuses an unknown CA, pulls with the CA in certs.d, refuses another name', async () => {
    freshStore();
    const ref = `127.0.0.1:${P.tls}/library/busybox`;
    const bad = await minid(store, ['pull', ref], { env: config('tls-none') });
    expect(oneLineFailure(bad)).toBe(
      `minid: the TLS certificate of 127.0.0.1:${P.tls} is signed by an unknown authority (UNABLE_TO_VERIFY_LEAF_SIGNATURE): put the registry's CA certificate in /etc/minid/certs.d/127.0.0.1:${P.tls}/ca.crt`,
    );

    const certs = path.join(base, 'certs.d');
    for (const h of [`127.0.0.1:${P.tls}`, `localhost:${P.tls}`]) {
      fs.mkdirSync(path.join(certs, h), { recursive: true });
      fs.copyFileSync(`${base}/ca.crt`, path.join(certs, h, 'ca.crt'));
    }
    const env = config('tls', { 'certs-dirs': [certs] });
    const ok = await minid(store, ['pull', ref], { env });
    expect(ok.stderr).toBe('');
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain(`Pulling 127.0.0.1:${P.tls}/library/busybox:latest over https://127.0.0.1:${P.tls}`);
    expect(ok.stdout).toContain(`Status: Downloaded newer image for 127.0.0.1:${P.tls}/library/busybox:latest`);

    const name = await minid(store, ['pull', `localhost:${P.tls}/library/busybox`], { env });
    expect(oneLineFailure(name)).toMatch(new RegExp(`^minid: the TLS certificate of localhost:${P.tls} is for another name \\(.*localhost.*\\): use the name the certificate is for$`));
  });
});

describe('Basic auth (htpasswd) with minid login', () => {
  it('refuses without a login, logs in (0600), pulls, refuses a wrong password, logs out', async () => {
    freshStore();
    const env = config('basic');
    const reg = `127.0.0.1:${P.basic}`;
    expect(oneLineFailure(await minid(store, ['pull', `${reg}/library/busybox`], { env }))).toBe(`minid: ${reg} wants a login: run \`minid login ${reg}\``);

    const wrong = await minid(store, ['login', '-u', USER, '--password-stdin', reg], { env, input: 'not-the-password\n' });
    expect(oneLineFailure(wrong)).toBe(`minid: wrong username or password for ${reg}`);
    expect(fs.existsSync(path.join(base, 'auth-basic.json'))).toBe(false);

    const login = await minid(store, ['login', '-u', USER, '--password-stdin', reg], { env, input: `${PASS}\n` });
    expect(login.stdout).toBe('Login Succeeded');
    expect(login.exitCode).toBe(0);
    const auth = path.join(base, 'auth-basic.json');
    expect(fs.statSync(auth).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(auth, 'utf8')).auths[reg].auth).toBe(Buffer.from(`${USER}:${PASS}`).toString('base64'));

    const ok = await minid(store, ['pull', `${reg}/library/busybox`], { env });
    expect(ok.stderr).toBe('');
    expect(ok.exitCode).toBe(0);

    // A password changed on the server: the saved one is refused with one line, and not shown.
    fs.writeFileSync(auth, JSON.stringify({ auths: { [reg]: { auth: Buffer.from(`${USER}:${PASS}x`).toString('base64') } } }), { mode: 0o600 });
    freshStore();
    const refused = await minid(store, ['pull', `${reg}/library/busybox`], { env });
    expect(oneLineFailure(refused)).toMatch(new RegExp(`^minid: ${reg.replace(/\./g, '\\.')} refused .* for user ${USER} \\(401\\)`));

    expect((await minid(store, ['logout', reg], { env })).stdout).toBe(`Removing login credentials for ${reg}`);
    expect(JSON.parse(fs.readFileSync(auth, 'utf8')).auths).toEqual({});
    expect((await minid(store, ['logout', reg], { env })).stdout).toBe(`Not logged in to ${reg}`);
  });
});

describe('token auth (a token server of our own)', () => {
  it('pulls anonymously with a token, refuses a private repository without login, pulls it after login', async () => {
    freshStore();
    const env = config('token');
    const reg = `127.0.0.1:${P.token}`;
    tokenRequests.length = 0;
    const anon = await minid(store, ['pull', `${reg}/library/busybox`], { env });
    expect(anon.stderr).toBe('');
    expect(anon.exitCode).toBe(0);
    // One token for the whole pull (reused for its expires_in), asked for anonymously.
    expect(tokenRequests).toEqual([{ user: null, scope: 'repository:library/busybox:pull' }]);

    const denied = await minid(store, ['pull', `${reg}/private/busybox`], { env });
    expect(oneLineFailure(denied)).toMatch(new RegExp(`^minid: ${reg.replace(/\./g, '\\.')} refused .*private/busybox.* without a login \\(401\\)`));

    const wrong = await minid(store, ['login', '-u', USER, '--password-stdin', reg], { env, input: 'nope' });
    expect(oneLineFailure(wrong)).toMatch(new RegExp(`^minid: wrong username or password for ${reg.replace(/\./g, '\\.')}`));
    expect((await minid(store, ['login', '-u', USER, '--password-stdin', reg], { env, input: PASS })).stdout).toBe('Login Succeeded');
    tokenRequests.length = 0;
    const priv = await minid(store, ['pull', `${reg}/private/busybox`], { env });
    expect(priv.stderr).toBe('');
    expect(priv.exitCode).toBe(0);
    expect(tokenRequests).toEqual([{ user: USER, scope: 'repository:private/busybox:pull' }]);
  });
});

describe('identity tokens: the OAuth2 refresh_token grant (spec/auth/oauth.md)', () => {
  const reg = `127.0.0.1:${P.token}`;
  const ref = `${reg}/private/busybox`;
  const WRONG = 'Idt-Wr0ng-8f6e4d2c0a';
  const secrets = () => [REFRESH, WRONG, ...issued, ...secretsOf(USER, PASS)];
  const scope = 'repository:private/busybox:pull';
  const form = { grant_type: 'refresh_token', client_id: 'docker', service: 'reg-test', scope, refresh_token: '(given)' };

  /** An env whose docker config (DOCKER_CONFIG) names `docker-credential-idt`, which answers `<token>` and `secret`. */
  function helperEnv(name: string, secret: string): Record<string, string> {
    const bin = path.join(base, `bin-${name}`);
    fs.mkdirSync(bin, { recursive: true });
    // As a registry's helper answers for an identity token (the server URL read from stdin).
    fs.writeFileSync(path.join(bin, 'docker-credential-idt'), `#!/bin/sh\n[ "$1" = get ] || exit 2\nread server\nprintf '{"ServerURL":"%s","Username":"<token>","Secret":"%s"}' "$server" '${secret}'\n`, { mode: 0o755 });
    const docker = path.join(base, `docker-${name}`);
    fs.mkdirSync(docker, { recursive: true });
    fs.writeFileSync(path.join(docker, 'config.json'), JSON.stringify({ credHelpers: { [reg]: 'idt' } }));
    return { ...config(name), DOCKER_CONFIG: docker, PATH: `${bin}:${process.env.PATH}` };
  }
  /** An env whose minid auth-file holds `identitytoken` as `docker login` saves it (no docker config). */
  function fileEnv(name: string, token: string): { env: Record<string, string>; file: string } {
    const env = { ...config(name), DOCKER_CONFIG: path.join(base, 'docker-none') };
    const file = path.join(base, `auth-${name}.json`);
    fs.writeFileSync(file, JSON.stringify({ auths: { [reg]: { auth: Buffer.from(`${USER}:`).toString('base64'), identitytoken: token } } }), { mode: 0o600 });
    return { env, file };
  }
  function pulledQuietly(r: Result): void {
    expect(String(r.stderr)).toBe('');
    expect(r.exitCode).toBe(0);
    for (const x of secrets()) expect(String(r.stdout)).not.toContain(x);
  }
  const reset = () => {
    freshStore();
    oauth = 'on';
    oauthRequests.length = 0;
    tokenRequests.length = 0;
  };

  it('from a credential helper ({"Username":"<token>"}): one POST with the grant, a private pull; the token never printed, even with MINID_DEBUG', async () => {
    reset();
    const env = helperEnv('idt-helper', REFRESH);
    pulledQuietly(await minid(store, ['pull', ref], { env }));
    expect(oauthRequests).toEqual([{ status: 200, form }]);
    expect(tokenRequests).toEqual([]); // no GET, no Basic with the token
    // The traces show the helper being run, never what it answered nor any token.
    freshStore();
    const debug = await minid(store, ['pull', ref], { env: { ...env, MINID_DEBUG: '1' } });
    expect(debug.exitCode).toBe(0);
    expect(String(debug.stderr)).toContain('docker-credential-idt get');
    for (const x of secrets()) expect(`${debug.stdout}${debug.stderr}`).not.toContain(x);
    // A push asks for pull,push (then, to mount its layers, also pull of the repository they
    // came from) with the same grant, the second time with the refresh token the first answer
    // handed out (kept in memory for the run).
    oauthRequests.length = 0;
    expect((await minid(store, ['tag', ref, `${reg}/private/idt:1`], { env })).exitCode).toBe(0);
    const pushed = await minid(store, ['push', `${reg}/private/idt:1`], { env });
    expect(pushed.exitCode, String(pushed.stderr)).toBe(0);
    for (const x of secrets()) expect(`${pushed.stdout}${pushed.stderr}`).not.toContain(x);
    const push = 'repository:private/idt:pull,push';
    expect(oauthRequests).toEqual([
      { status: 200, form: { ...form, scope: push } },
      { status: 200, form: { ...form, scope: `${push} repository:private/busybox:pull`, refresh_token: '(rotated)' } },
    ]);
  });

  it('from config.json "identitytoken": pulled; the new refresh token the server hands out is not saved', async () => {
    reset();
    const { env, file } = fileEnv('idt-file', REFRESH);
    const before = fs.readFileSync(file, 'utf8');
    pulledQuietly(await minid(store, ['pull', ref], { env }));
    expect(oauthRequests).toEqual([{ status: 200, form }]);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });

  it('a wrong refresh token: one line, exit 1, the token (which the server echoes) not shown', async () => {
    reset();
    const want = `minid: the identity token for ${reg} was refused (the token server 127.0.0.1:${P.tokenServer} answered 400 invalid_grant): run \`minid login ${reg}\` again`;
    expect(failsInOneLine(await minid(store, ['pull', ref], { env: fileEnv('idt-wrong', WRONG).env }), secrets())).toBe(want);
    expect(failsInOneLine(await minid(store, ['pull', ref], { env: helperEnv('idt-wrong-helper', WRONG) }), secrets())).toBe(want);
    expect(oauthRequests.map((r) => r.status)).toEqual([400, 400]);
  });

  it('a token server without OAuth2 (404 to the POST): the GET with the token as the Basic password', async () => {
    reset();
    oauth = '404';
    pulledQuietly(await minid(store, ['pull', ref], { env: helperEnv('idt-404', REFRESH) }));
    expect(oauthRequests.map((r) => r.status)).toEqual([404]);
    expect(tokenRequests).toEqual([{ user: '<token>', scope }]);
    // ... and a wrong token there: the same one line (the GET's 401).
    reset();
    oauth = '404';
    const r = await minid(store, ['pull', ref], { env: helperEnv('idt-404-wrong', WRONG) });
    expect(failsInOneLine(r, secrets())).toBe(`minid: the identity token for ${reg} was refused (the token server 127.0.0.1:${P.tokenServer} answered 401): run \`minid login ${reg}\` again`);
    oauth = 'on';
  });
});

describe('Docker-Hub-like: token auth and blobs redirected to a CDN', () => {
  it('pulls through the CDN, which never sees an Authorization header', async () => {
    freshStore();
    cdnAuth.length = 0;
    cdnHits.length = 0;
    const env = config('hub');
    const r = await minid(store, ['pull', `127.0.0.1:${P.hub}/library/busybox`], { env });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    // The config and both layers came from the CDN, and without the registry's token.
    expect(cdnHits.length).toBe(1 + built.layers.length);
    expect(cdnAuth).toEqual([]);
  });
});

describe('docker.io through a mirror', () => {
  it('pulls `busybox` with an empty store from the mirror while offline allows only loopback', async () => {
    freshStore();
    const env = config('mirror', { 'registry-mirrors': [`http://127.0.0.1:${P.mirror}`] });
    const r = await minid(store, ['pull', 'busybox'], { env });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`Pulling docker.io/library/busybox:latest over http://127.0.0.1:${P.mirror}`);
    expect(r.stdout).toContain('Status: Downloaded newer image for busybox:latest');
    const images = await minid(store, ['images', '--json'], { env });
    expect(images.stdout).toContain(built.configDigest.slice(7, 19));
  });

  it('falls back from a mirror that is down to docker.io, which offline refuses', async () => {
    freshStore();
    const env = config('mirror-down', { 'registry-mirrors': ['http://127.0.0.1:19599'] });
    const r = await minid(store, ['pull', 'busybox'], { env });
    expect(oneLineFailure(r)).toMatch(/^minid: refusing to connect to registry-1\.docker\.io/);
    expect(r.stdout).toContain('mirror http://127.0.0.1:19599: cannot reach the registry at 127.0.0.1:19599 (ECONNREFUSED)');
  });
});

describe('faults: retried with backoff, then one line', () => {
  const ref = `127.0.0.1:${P.flaky}/library/busybox`;
  it('429 with Retry-After: waits as told, then pulls', async () => {
    freshStore();
    flaky = { mode: '429', seen: new Set(), times: [] };
    const r = await minid(store, ['pull', ref], { env: config('flaky') });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    // The HEAD of the manifest (429), the HEAD again after the wait, the GET of the manifest.
    expect(flaky.times.length).toBe(3);
    expect(flaky.times[1] - flaky.times[0]).toBeGreaterThanOrEqual(950);
  });
  it('a connection cut mid-blob: downloaded again and verified', async () => {
    freshStore();
    flaky = { mode: 'cut', seen: new Set(), times: [] };
    const r = await minid(store, ['pull', ref], { env: config('flaky') });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(flaky.seen.size).toBe(1 + built.layers.length);
  });
  it('503 every time: four attempts, then one line and exit 1', async () => {
    freshStore();
    flaky = { mode: '503', seen: new Set(), times: [] };
    const r = await minid(store, ['pull', ref], { env: config('flaky') });
    expect(oneLineFailure(r)).toBe(`minid: 127.0.0.1:${P.flaky} answered 503 Service Unavailable for 127.0.0.1:${P.flaky}/library/busybox:latest, 4 times: try again later`);
    expect(flaky.times.length).toBe(4);
    expect(fs.existsSync(path.join(store.root, 'tmp')) ? fs.readdirSync(path.join(store.root, 'tmp')) : []).toEqual([]);
  });
});
