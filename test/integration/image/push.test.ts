// The way back out (#14): `minid tag`, `minid push` and `minid save`, against real servers on
// 127.0.0.1: Debian's docker-registry (distribution 2.8) plain, behind a front that records
// every request (to see the cross-repository mount), with token auth (a token server this test
// runs) and with Basic auth (htpasswd); the archives of `minid save` loaded by podman and by a
// dockerd this test starts, each in its own storage. Every server and daemon is started and
// stopped by its PID; every minid runs offline (loopback registries only).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, loadImages, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { sha256, writeOciLayout } from '../../fixtures/image/builder.js';
import { httpAddr, loopbackPort, startRegistry as start, stopAll } from '../../fixtures/registry/servers.js';
import { failsInOneLine, secretsOf, type Result } from '../../fixtures/registry/expect.js';

requireRoot();

const USER = 'pushtester';
const PASS = 'Pu5h-S3cret-pw';

let base = '';
const stores: Store[] = [];
const procs: ChildProcess[] = [];
const servers: http.Server[] = [];
const P = { a: 0, front: 0, token: 0, tokenServer: 0, basic: 0, tls: 0, down: 0 };
let src: Store; // busybox loaded from .images
let busybox: { id: string; manifestDigest: string };

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();

function newStore(tag: string): Store {
  const s = makeStore(`push-${tag}`);
  stores.push(s);
  return s;
}

/** A minid config of one test (offline, like the suite's) with its own auth file. */
function config(store: Store, name: string, extra: Record<string, unknown> = {}): Record<string, string> {
  const file = path.join(base, `minid-${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ offline: true, 'certs-dirs': [], 'auth-file': path.join(base, `auth-${name}.json`), ...extra }));
  return { ...store.env, MINID_CONFIG: file };
}

/** One line on stderr, exit 1, and neither the password nor its base64 anywhere. */
const oneLineFailure = (r: Result): string => failsInOneLine(r, secretsOf(USER, PASS));

const ok = (r: { exitCode?: number; stderr: unknown }) => {
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
};

// --- a front of registry A that records every request (method and URL) -----------------
const seen: string[] = [];
// Blob uploads (PUT .../blobs/uploads/...) in flight at once, and the most seen; each is held
// 200 ms, so that uploads sent together overlap here.
const uploads = { now: 0, most: 0 };
function startFront(): Promise<void> {
  const srv = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const upload = req.method === 'PUT' && /\/blobs\/uploads\//.test(req.url ?? '');
    if (upload) uploads.most = Math.max(uploads.most, ++uploads.now);
    const up = http.request({ host: '127.0.0.1', port: P.a, path: req.url, method: req.method, headers: req.headers }, (ur) => {
      const answer = () => {
        if (upload) uploads.now--;
        res.writeHead(ur.statusCode!, ur.headers);
        ur.pipe(res);
      };
      if (upload) setTimeout(answer, 200);
      else answer();
    });
    up.once('error', () => res.destroy());
    req.pipe(up);
  });
  servers.push(srv);
  return new Promise((r) => srv.listen(P.front, '127.0.0.1', () => r()));
}

// --- a token server (distribution's token spec: a JWT signed RS256, the cert in x5c) ------
// The user may pull and push; anonymous clients may only pull.
let signKey = '';
let signCertDer = '';
const tokenRequests: { user: string | null; scopes: string[] }[] = [];
const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
function jwt(sub: string, service: string, access: { type: string; name: string; actions: string[] }[]): string {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [signCertDer] }));
  const claims = b64url(JSON.stringify({ iss: 'push-test-issuer', sub, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access }));
  return `${head}.${claims}.${b64url(crypto.sign('sha256', Buffer.from(`${head}.${claims}`), signKey))}`;
}
function startTokenServer(): Promise<void> {
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    let user: string | null = null;
    if (req.headers.authorization) {
      const [u0, p0] = Buffer.from(req.headers.authorization.replace(/^Basic /, ''), 'base64').toString().split(':');
      if (u0 !== USER || p0 !== PASS) return res.writeHead(401).end('{"details":"wrong credentials"}');
      user = u0;
    }
    const scopes = u.searchParams.getAll('scope');
    tokenRequests.push({ user, scopes });
    const access = scopes.map((s) => {
      const [type, name, actions] = s.split(':');
      return { type, name, actions: actions.split(',').filter((a) => (user ? ['pull', 'push'] : ['pull']).includes(a)) };
    });
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: jwt(user ?? '', u.searchParams.get('service') ?? '', access), expires_in: 300 }));
  });
  servers.push(srv);
  return new Promise((r) => srv.listen(P.tokenServer, '127.0.0.1', () => r()));
}

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-push-'));
  for (const k of Object.keys(P) as (keyof typeof P)[]) P[k] = await loopbackPort();

  sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=push token signer', '-keyout', `${base}/token.key`, '-out', `${base}/token.crt`]);
  signKey = fs.readFileSync(`${base}/token.key`, 'utf8');
  signCertDer = new crypto.X509Certificate(fs.readFileSync(`${base}/token.crt`)).raw.toString('base64');
  sh('htpasswd', ['-Bbc', `${base}/htpasswd`, USER, PASS]);
  // A private CA and a certificate for 127.0.0.1 (an IP address SAN) signed by it.
  const ssl = (...a: string[]) => sh('openssl', a);
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=push test CA', '-keyout', `${base}/ca.key`, '-out', `${base}/ca.crt`);
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', `${base}/server.key`, '-out', `${base}/server.csr`);
  fs.writeFileSync(`${base}/ext.cnf`, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', `${base}/server.csr`, '-CA', `${base}/ca.crt`, '-CAkey', `${base}/ca.key`, '-CAcreateserial', '-days', '2', '-extfile', `${base}/ext.cnf`, '-out', `${base}/server.crt`);

  const started = async (name: string, port: number, extra: string[]) => procs.push((await start(base, name, port, [...httpAddr(port), ...extra])).proc);
  await startTokenServer();
  await started('a', P.a, []);
  await startFront();
  const tokenAuth = ['auth:', '  token:', `    realm: http://127.0.0.1:${P.tokenServer}/token`, '    service: push-test', '    issuer: push-test-issuer', `    rootcertbundle: ${base}/token.crt`];
  await started('token', P.token, tokenAuth);
  await started('basic', P.basic, ['auth:', '  htpasswd:', '    realm: push-test', `    path: ${base}/htpasswd`]);
  await started('tls', P.tls, ['  tls:', `    certificate: ${base}/server.crt`, `    key: ${base}/server.key`]);

  src = newStore('src');
  await loadImages(src, ['busybox']);
  const [img] = JSON.parse((await minid(src, ['images', '--json'])).stdout as string);
  busybox = img;
}, 120_000);

afterAll(async () => {
  await stopAll(procs);
  for (const s of servers) await new Promise((r) => s.close(r));
  for (const s of stores) await s.cleanup();
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

describe('minid tag', () => {
  it('names an image by name, short ID or digest; `image tag` too; bad input is one line and exit 1', async () => {
    const s = newStore('tag');
    await loadImages(s, ['busybox']);
    ok(await minid(s, ['tag', 'busybox', 'one/two:3']));
    ok(await minid(s, ['tag', busybox.id.slice(7, 19), '127.0.0.1:5000/x']));
    ok(await minid(s, ['image', 'tag', `busybox@${busybox.manifestDigest}`, 'four']));
    const names = JSON.parse((await minid(s, ['images', '--json'])).stdout as string)[0].names;
    expect(names.sort()).toEqual(['127.0.0.1:5000/x:latest', 'busybox:latest', 'four:latest', 'one/two:3']);

    expect(oneLineFailure(await minid(s, ['tag', 'nope', 'x']))).toMatch(/^minid: image "nope:latest" not found/);
    expect(oneLineFailure(await minid(s, ['tag', 'busybox', 'Bad/Name']))).toBe('minid: invalid reference format "Bad/Name": repository name must be lowercase');
    expect(oneLineFailure(await minid(s, ['tag', 'busybox', `x@${busybox.manifestDigest}`]))).toMatch(/^minid: refusing to create a tag with a digest reference/);
    expect((await minid(s, ['tag', 'busybox'])).exitCode).toBe(1); // a missing argument: docker's CLI exits 1
  });
});

describe('minid push', () => {
  it('round trip: push to A, pull into a fresh store, mount into another repository of A, push to B, pull back by digest and run', async () => {
    const A = `127.0.0.1:${P.front}`;
    const envSrc = config(src, 'src');
    ok(await minid(src, ['tag', 'busybox', `${A}/library/busybox:v1`], { env: envSrc }));
    seen.length = 0;
    const first = await minid(src, ['push', `${A}/library/busybox:v1`], { env: envSrc });
    ok(first);
    const lines = String(first.stdout).split('\n');
    expect(lines[0]).toBe(`The push refers to repository [${A}/library/busybox]`);
    expect(lines.slice(1, -1).every((l) => /^[0-9a-f]{12}: Pushed$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`^v1: digest: ${busybox.manifestDigest} size: \\d+$`));
    // Monolithic uploads: a POST, then one PUT with the whole blob, for the layer and the config.
    expect(seen.filter((s) => s.startsWith('PUT ') && s.includes('/blobs/uploads/')).length).toBe(2);
    expect(seen.filter((s) => s.startsWith('PATCH ')).length).toBe(0);

    // Again: everything is there already.
    const again = await minid(src, ['push', `${A}/library/busybox:v1`], { env: envSrc });
    ok(again);
    expect(String(again.stdout)).toMatch(/^[0-9a-f]{12}: Layer already exists$/m);

    // Pulled into a fresh store, tagged into another repository of A: mounted, not uploaded.
    const mid = newStore('mid');
    const envMid = config(mid, 'mid');
    ok(await minid(mid, ['pull', `${A}/library/busybox:v1`], { env: envMid }));
    ok(await minid(mid, ['tag', `${A}/library/busybox:v1`, `${A}/team/bb:2`], { env: envMid }));
    seen.length = 0;
    const mounted = await minid(mid, ['push', `${A}/team/bb:2`], { env: envMid });
    ok(mounted);
    expect(String(mounted.stdout)).toMatch(/^[0-9a-f]{12}: Mounted from library\/busybox$/m);
    const mounts = seen.map(decodeURIComponent).filter((s) => s.startsWith('POST /v2/team/bb/blobs/uploads/?mount=sha256:'));
    expect(mounts.length).toBe(2); // the layer and the config
    expect(mounts.every((s) => s.endsWith('&from=library/busybox'))).toBe(true);
    expect(seen.filter((s) => s.startsWith('PUT ') && s.includes('/blobs/')).length).toBe(0);

    // To registry B (token auth), logged in: the token asked for is for pull and push.
    const B = `127.0.0.1:${P.token}`;
    ok(await minid(mid, ['login', '-u', USER, '--password-stdin', B], { env: envMid, input: PASS }));
    ok(await minid(mid, ['tag', `${A}/team/bb:2`, `${B}/ci/app:1.0`], { env: envMid }));
    tokenRequests.length = 0;
    const toB = await minid(mid, ['push', `${B}/ci/app:1.0`], { env: envMid });
    ok(toB);
    expect(String(toB.stdout)).toContain(`1.0: digest: ${busybox.manifestDigest} size:`);
    expect(tokenRequests).toContainEqual({ user: USER, scopes: ['repository:ci/app:pull,push'] });

    // A mount on a token registry: one token for both repositories (two scope parameters).
    ok(await minid(mid, ['tag', `${B}/ci/app:1.0`, `${B}/ci/other:1`], { env: envMid }));
    tokenRequests.length = 0;
    const other = await minid(mid, ['push', `${B}/ci/other:1`], { env: envMid });
    ok(other);
    expect(String(other.stdout)).toMatch(/^[0-9a-f]{12}: Mounted from ci\/app$/m);
    expect(tokenRequests).toContainEqual({ user: USER, scopes: ['repository:ci/other:pull,push', 'repository:ci/app:pull'] });

    // Pulled back from B by digest into a third store, and run.
    const back = newStore('back');
    const envBack = config(back, 'back');
    fs.copyFileSync(path.join(base, 'auth-mid.json'), path.join(base, 'auth-back.json'));
    const ref = `${B}/ci/app@${busybox.manifestDigest}`;
    ok(await minid(back, ['pull', ref], { env: envBack }));
    const run = await minid(back, ['run', '--rm', '--network', 'none', ref, 'echo', 'hi'], { env: envBack });
    ok(run);
    expect(run.stdout).toBe('hi');
    const [img] = JSON.parse((await minid(back, ['images', '--json'], { env: envBack })).stdout as string);
    expect(img.id).toBe(busybox.id);
    expect(img.manifestDigest).toBe(busybox.manifestDigest);
  });

  it("sends up to max-concurrent-uploads blobs at once (docker's 5), one at a time with 1; the image pulls back whole", async () => {
    for (const [limit, repo] of [['', 'many'], ['1', 'one']] as const) {
      // An image of four layers of its own (nothing to mount from another repository).
      const s = newStore(`concurrent-${repo}`);
      const layout = path.join(base, `four-${repo}`);
      const entries = (n: string) => [{ path: `${n}/`, type: 'dir' as const }, { path: `${n}/file`, data: `${repo} ${n}\n`.repeat(1000) }];
      const [built] = writeOciLayout(layout, [{ names: [`127.0.0.1:${P.front}/ci/${repo}:1`], layers: ['a', 'b', 'c', 'd'].map((n) => ({ entries: entries(n) })) }]);
      const env = config(s, `concurrent-${repo}`);
      ok(await minid(s, ['load', '-q', '-i', layout], { env }));
      Object.assign(uploads, { now: 0, most: 0 });
      const r = await minid(s, ['push', `127.0.0.1:${P.front}/ci/${repo}:1`], { env: { ...env, MINID_MAX_CONCURRENT_UPLOADS: limit } });
      ok(r);
      expect(String(r.stdout).split('\n').filter((l) => / Pushed$/.test(l)), String(r.stdout)).toHaveLength(4);
      // Four layers and the config: five at once by default, one at a time with 1.
      expect(uploads.most).toBe(limit === '1' ? 1 : 5);
      const fresh = newStore(`concurrent-${repo}-pull`);
      const envFresh = config(fresh, `concurrent-${repo}-pull`);
      ok(await minid(fresh, ['pull', '-q', `127.0.0.1:${P.front}/ci/${repo}:1`], { env: envFresh }));
      const [img] = JSON.parse((await minid(fresh, ['images', '--json'], { env: envFresh })).stdout as string);
      expect(img.manifestDigest).toBe(built.manifestDigest);
    }
  });

  it('token auth: refused without a login (anonymous tokens only pull), one line, exit 1', async () => {
    const env = config(src, 'token-anon');
    const ref = `127.0.0.1:${P.token}/ci/anon:1`;
    ok(await minid(src, ['tag', 'busybox', ref], { env }));
    const r = await minid(src, ['push', ref], { env });
    expect(oneLineFailure(r)).toMatch(new RegExp(`^minid: 127\\.0\\.0\\.1:${P.token} refused .* without a login \\(401: UNAUTHORIZED: .*\\): run \`minid login 127\\.0\\.0\\.1:${P.token}\``));
  });

  it('Basic auth: refused without a login, pushes after `minid login`, refuses a wrong saved password', async () => {
    const env = config(src, 'basic');
    const reg = `127.0.0.1:${P.basic}`;
    const ref = `${reg}/team/busybox:1`;
    ok(await minid(src, ['tag', 'busybox', ref], { env }));
    expect(oneLineFailure(await minid(src, ['push', ref], { env }))).toBe(`minid: ${reg} wants a login: run \`minid login ${reg}\``);

    expect((await minid(src, ['login', '-u', USER, '--password-stdin', reg], { env, input: PASS })).stdout).toBe('Login Succeeded');
    const r = await minid(src, ['push', ref], { env });
    ok(r);
    expect(String(r.stdout)).toMatch(new RegExp(`^1: digest: ${busybox.manifestDigest} size: \\d+$`, 'm'));
    expect(`${r.stdout}${r.stderr}`).not.toContain(PASS);

    fs.writeFileSync(path.join(base, 'auth-basic.json'), JSON.stringify({ auths: { [reg]: { auth: Buffer.from(`${USER}:${PASS}x`).toString('base64') } } }), { mode: 0o600 });
    const bad = await minid(src, ['push', ref], { env });
    expect(oneLineFailure(bad)).toMatch(new RegExp(`^minid: ${reg.replace(/\./g, '\\.')} refused .* for user ${USER} \\(401`));
    expect(`${bad.stdout}${bad.stderr}`).not.toContain(Buffer.from(`${USER}:${PASS}x`).toString('base64'));
  });

  it('TLS with a private CA: refused until the CA is in a certs.d directory, then pushed and pulled back', async () => {
    const reg = `127.0.0.1:${P.tls}`;
    const ref = `${reg}/secure/busybox:1`;
    const none = config(src, 'tls-none');
    ok(await minid(src, ['tag', 'busybox', ref], { env: none }));
    expect(oneLineFailure(await minid(src, ['push', ref], { env: none }))).toBe(
      `minid: the TLS certificate of ${reg} is signed by an unknown authority (UNABLE_TO_VERIFY_LEAF_SIGNATURE): put the registry's CA certificate in /etc/minid/certs.d/${reg}/ca.crt`,
    );
    const certs = path.join(base, 'certs.d');
    fs.mkdirSync(path.join(certs, reg), { recursive: true });
    fs.copyFileSync(`${base}/ca.crt`, path.join(certs, reg, 'ca.crt'));
    const env = config(src, 'tls', { 'certs-dirs': [certs] });
    const r = await minid(src, ['push', ref], { env });
    ok(r);
    expect(String(r.stdout)).toMatch(new RegExp(`^1: digest: ${busybox.manifestDigest} size: \\d+$`, 'm'));
    const fresh = newStore('tls');
    const pulled = await minid(fresh, ['pull', ref], { env: config(fresh, 'tls-fresh', { 'certs-dirs': [certs] }) });
    ok(pulled);
    expect(pulled.stdout).toContain(`Digest: ${busybox.manifestDigest}`);
  });

  it('-q prints only the name; bad input and a registry that is down: one line, exit 1', async () => {
    const env = config(src, 'errors');
    const A = `127.0.0.1:${P.front}`;
    ok(await minid(src, ['tag', 'busybox', `${A}/quiet/bb`], { env }));
    const q = await minid(src, ['push', '-q', `${A}/quiet/bb`], { env });
    ok(q);
    expect(q.stdout).toBe(`${A}/quiet/bb:latest`);
    const named = await minid(src, ['push', `${A}/quiet/bb`], { env });
    ok(named);
    expect(String(named.stdout).split('\n')[0]).toBe('Using default tag: latest'); // as docker

    expect(oneLineFailure(await minid(src, ['push', `${A}/never/tagged:1`], { env }))).toBe(
      `minid: An image does not exist locally with the tag: ${A}/never/tagged:1: name one with \`minid tag IMAGE ${A}/never/tagged:1\` (see \`minid images\`)`,
    );
    expect(oneLineFailure(await minid(src, ['push', `${A}/quiet/bb@${busybox.manifestDigest}`], { env }))).toMatch(/^minid: cannot push a digest reference/);
    expect(oneLineFailure(await minid(src, ['push', 'Not:A:Name'], { env }))).toMatch(/^minid: invalid reference format/);

    const down = `127.0.0.1:${P.down}/x/y:1`;
    ok(await minid(src, ['tag', 'busybox', down], { env }));
    expect(oneLineFailure(await minid(src, ['push', down], { env }))).toBe(`minid: cannot reach the registry at 127.0.0.1:${P.down} (ECONNREFUSED): is it running?`);
    // Offline: a public registry is refused before any connection.
    ok(await minid(src, ['tag', 'busybox', 'someone/busybox:1'], { env }));
    expect(oneLineFailure(await minid(src, ['push', 'someone/busybox:1'], { env }))).toMatch(/^minid: refusing to connect to registry-1\.docker\.io/);
  });
});

// --- podman and docker, each in storage of their own under `base` -----------------------
// Both also write where no option moves them (c/image's blob-info cache in /var/lib/containers,
// archive extraction in /var/tmp; dockerd's /etc/docker/key.json and /run/docker/plugins): they
// run in a mount namespace of their own with an empty tmpfs over those folders, which vanishes
// with them. unshare and sh exec into the program: the PID spawned is the program's.
function privately(over: string[], argv: string[]): [string, string[]] {
  for (const d of over) if (!fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${d} is missing: run scripts/install-deps.sh`);
  const script = 'for d in $MINID_TEST_OVER; do mount -t tmpfs -o size=256m,mode=755 minid-test "$d" || exit 1; done; exec "$@"';
  return ['env', [`MINID_TEST_OVER=${over.join(' ')}`, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...argv]];
}

function podman(dir: string, args: string[]) {
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'containers.conf'),
    [
      '[containers]', 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
      '[engine]', 'events_logger = "none"', 'cgroup_manager = "cgroupfs"', 'lock_type = "file"', `image_copy_tmp_dir = "${dir}/tmp"`,
      '[network]', `network_config_dir = "${dir}/networks"`, '',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(dir, 'storage.conf'), ['[storage]', 'driver = "vfs"', `graphroot = "${dir}/root"`, `runroot = "${dir}/runroot"`, ''].join('\n'));
  const argv = ['podman', '--root', `${dir}/root`, '--runroot', `${dir}/runroot`, '--tmpdir', `${dir}/libpod`, '--storage-driver', 'vfs', ...args];
  const [cmd, rest] = privately(['/var/lib', '/var/tmp', '/run'], argv);
  return execa(cmd, rest, {
    reject: false,
    env: { CONTAINERS_CONF: `${dir}/containers.conf`, CONTAINERS_STORAGE_CONF: `${dir}/storage.conf`, CONTAINERS_REGISTRIES_CONF: '/dev/null', TMPDIR: `${dir}/tmp` },
  });
}

/** A dockerd of this test: its own data and exec roots and socket, no network changes on the host. */
async function withDockerd<T>(dir: string, fn: (docker: (args: string[]) => ReturnType<typeof execa>) => Promise<T>): Promise<T> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'daemon.json'), '{}');
  const sock = path.join(dir, 'docker.sock');
  const [cmd, args] = privately(['/var/lib', '/var/tmp', '/run', '/etc/docker'], [
    '/usr/sbin/dockerd', '--config-file', `${dir}/daemon.json`, '--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '-H', `unix://${sock}`,
    '--pidfile', `${dir}/dockerd.pid`, '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none',
    '--storage-driver', 'vfs', '--log-level', 'error',
  ]);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (c) => (log += c));
  const docker = (args: string[]) => execa('/usr/bin/docker', ['-H', `unix://${sock}`, ...args], { reject: false });
  try {
    const deadline = Date.now() + 30_000;
    while ((await docker(['version', '--format', '{{.Server.Version}}'])).exitCode !== 0) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`dockerd did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return await fn(docker);
  } finally {
    await stopAll([proc]); // dockerd stops its own containerd
  }
}

describe('minid save', () => {
  it('docker-archive: docker load and podman load read it, and minid load into a fresh store (then it runs)', async () => {
    const env = config(src, 'save');
    const tar = path.join(base, 'busybox-docker.tar');
    ok(await minid(src, ['save', '-o', tar, 'busybox'], { env }));
    const list = sh('tar', ['tf', tar]).split('\n');
    expect(list).toContain('manifest.json');
    expect(list).toContain('repositories');
    const manifest = JSON.parse(sh('tar', ['xOf', tar, 'manifest.json']));
    expect(manifest).toEqual([{ Config: `${busybox.id.slice(7)}.json`, RepoTags: ['busybox:latest'], Layers: expect.any(Array) }]);

    const p = await podman(path.join(base, 'podman-docker'), ['load', '-i', tar]);
    expect(p.stderr).not.toMatch(/Error/);
    expect(p.exitCode).toBe(0);
    expect(p.stdout).toContain('Loaded image: localhost/busybox:latest'); // podman's name for a short name
    expect((await podman(path.join(base, 'podman-docker'), ['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).stdout).toBe(busybox.id.slice(7));

    await withDockerd(path.join(base, 'dockerd'), async (docker) => {
      const d = await docker(['load', '-i', tar]);
      expect(d.stderr).toBe('');
      expect(d.stdout).toBe('Loaded image: busybox:latest');
      expect((await docker(['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).stdout).toBe(busybox.id);
    });

    const fresh = newStore('save-docker');
    const envFresh = config(fresh, 'save-docker');
    expect((await minid(fresh, ['load', '-i', tar], { env: envFresh })).stdout).toBe('Loaded image: busybox:latest');
    const run = await minid(fresh, ['run', '--rm', '--network', 'none', 'busybox', 'echo', 'hi'], { env: envFresh });
    ok(run);
    expect(run.stdout).toBe('hi');
    const [img] = JSON.parse((await minid(fresh, ['images', '--json'], { env: envFresh })).stdout as string);
    expect(img.id).toBe(busybox.id);
  });

  it('oci-archive to stdout: podman load and minid load read it, with the same manifest digest', async () => {
    const env = config(src, 'save-oci');
    ok(await minid(src, ['tag', 'busybox', 'ci/oci:7'], { env }));
    const tar = path.join(base, 'busybox-oci.tar');
    const r = await execa(cli, ['save', '--format', 'oci-archive', 'ci/oci:7'], { env, reject: false, stdout: { file: tar } });
    ok(r);
    const index = JSON.parse(sh('tar', ['xOf', tar, 'index.json']));
    expect(index.manifests).toEqual([expect.objectContaining({ digest: busybox.manifestDigest, annotations: expect.objectContaining({ 'org.opencontainers.image.ref.name': 'docker.io/ci/oci:7' }) })]);

    const p = await podman(path.join(base, 'podman-oci'), ['load', '-i', tar]);
    expect(p.exitCode).toBe(0);
    expect(p.stdout).toContain('Loaded image: docker.io/ci/oci:7');

    const fresh = newStore('save-oci');
    const envFresh = config(fresh, 'save-oci-fresh');
    expect((await minid(fresh, ['load', '-i', tar], { env: envFresh })).stdout).toBe('Loaded image: ci/oci:7');
    const [img] = JSON.parse((await minid(fresh, ['images', '--json'], { env: envFresh })).stdout as string);
    expect(img.manifestDigest).toBe(busybox.manifestDigest);
  });

  it('gzip, zstd and plain layers: docker-archive layers are plain tars, checked; podman and minid load them', async () => {
    const s = newStore('save-mixed');
    const layout = path.join(base, 'mixed-oci');
    const entries = (n: string) => [{ path: `${n}/`, type: 'dir' as const }, { path: `${n}/file`, data: `${n}\n` }];
    const [built] = writeOciLayout(layout, [{ names: ['mixed:1'], layers: [{ entries: entries('a') }, { entries: entries('b'), compression: 'zstd' }, { entries: entries('c'), compression: 'none' }] }]);
    const env = config(s, 'save-mixed');
    ok(await minid(s, ['load', '-q', '-i', layout], { env }));
    const tar = path.join(base, 'mixed-docker.tar');
    ok(await minid(s, ['save', '-o', tar, 'mixed:1'], { env }));
    const [m] = JSON.parse(sh('tar', ['xOf', tar, 'manifest.json']));
    expect(m.Layers).toEqual(built.layers.map((l) => `${l.diffId.slice(7)}/layer.tar`));
    for (const l of built.layers) expect(sha256(execFileSync('tar', ['xOf', tar, `${l.diffId.slice(7)}/layer.tar`], { maxBuffer: 1 << 26 }))).toBe(l.diffId);

    const p = await podman(path.join(base, 'podman-mixed'), ['load', '-i', tar]);
    expect(p.exitCode).toBe(0);
    const fresh = newStore('save-mixed-fresh');
    const envFresh = config(fresh, 'save-mixed-fresh');
    ok(await minid(fresh, ['load', '-q', '-i', tar], { env: envFresh }));
    const [img] = JSON.parse((await minid(fresh, ['images', '--json'], { env: envFresh })).stdout as string);
    expect(img.id).toBe(built.configDigest);
    expect(img.names).toEqual(['mixed:1']);
  });

  it('bad input: a terminal, an unknown image or format, a missing directory: one line, exit 1, no file left', async () => {
    const env = config(src, 'save-bad');
    // A terminal on stdout (script gives the command a pty): refused, as docker does.
    const tty = await execa('script', ['-qec', `${cli} save busybox`, '/dev/null'], { env: { ...process.env, ...env }, reject: false });
    expect(tty.exitCode).toBe(1);
    expect(String(tty.stdout).trim()).toBe('minid: cowardly refusing to save to a terminal. Use the -o flag or redirect');

    const out = path.join(base, 'bad.tar');
    expect(oneLineFailure(await minid(src, ['save', '-o', out, 'busybox', 'nope'], { env }))).toMatch(/^minid: image "nope:latest" not found/);
    expect(oneLineFailure(await minid(src, ['save', '--format', 'tgz', '-o', out, 'busybox'], { env }))).toMatch(/^minid: unknown format "tgz"/);
    expect(oneLineFailure(await minid(src, ['save', '-o', path.join(base, 'no', 'such', 'x.tar'), 'busybox'], { env }))).toMatch(/its directory does not exist$/);
    expect(fs.readdirSync(base).filter((f) => f.includes('bad.tar'))).toEqual([]);
  });
});
