// `minid pull` and `minid run IMAGE` against a real registry on 127.0.0.1 (Debian's
// docker-registry) behind a front proxy this test controls, which records every request
// (Range headers, how many blob downloads run at once) and can slow or cut them:
//   - run pulls a missing docker.io image through a mirror, and --pull always|missing|never;
//   - layers download three at a time, and a second pull asks for no blob at all (a HEAD of
//     the manifest, nothing rewritten); a hostile layer is refused as it is unpacked;
//   - a connection cut mid-blob is resumed with a Range request, then verified;
//   - a blob corrupted in the registry's storage, an index without this machine's platform,
//     a full disk mid-pull: one line, exit 1, nothing half-written in the store;
//   - a zstd image (written by skopeo) pulls and runs; two pulls at once both succeed.
// Every server is started and stopped by its PID; every minid runs offline (loopback only).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, emptyStore, makeStore, minid, repo, requireRoot, type Store } from '../../helpers/minid.js';
import { writeOciLayout, type BuiltImage, type FEntry } from '../../fixtures/image/builder.js';
import { blobFile, httpAddr, skopeoPush, startRegistry, stopAll } from '../../fixtures/registry/servers.js';

requireRoot();
const execFileP = promisify(execFile);

// Ports of this suite (19500-19599 are reserved for the registry suites; registry.test.ts has 19510-19517).
const P = { reg: 19520, front: 19521 };
const REG = `127.0.0.1:${P.front}`;

let base = '';
let store: Store;
let storage = '';
const procs: ChildProcess[] = [];
let front: http.Server | null = null;
const images: Record<string, BuiltImage> = {};

// --- the front proxy ---------------------------------------------------------------------
interface Seen {
  path: string;
  range?: string;
  status?: number;
}
const fp = { mode: 'ok' as 'ok' | 'slow' | 'cut', seen: [] as Seen[], inFlight: 0, maxInFlight: 0, cut: new Set<string>() };
function resetFront(mode: typeof fp.mode): void {
  Object.assign(fp, { mode, seen: [], inFlight: 0, maxInFlight: 0, cut: new Set() });
}

function startFront(): Promise<void> {
  front = http.createServer((req, res) => {
    const isBlob = /\/blobs\/sha256:/.test(req.url!) && req.method === 'GET';
    const seen: Seen = { path: req.url!, ...(req.headers.range ? { range: String(req.headers.range) } : {}) };
    fp.seen.push(seen);
    if (isBlob) fp.maxInFlight = Math.max(fp.maxInFlight, ++fp.inFlight);
    let ended = false;
    const end = () => {
      if (isBlob && !ended) fp.inFlight--;
      ended = true;
    };
    res.once('close', end);
    const forward = () => {
      const up = http.request({ host: '127.0.0.1', port: P.reg, path: req.url, method: req.method, headers: req.headers }, (ur) => {
        seen.status = ur.statusCode;
        res.writeHead(ur.statusCode!, ur.headers);
        const total = Number(ur.headers['content-length'] ?? 0);
        // 'cut': the first download of each big blob stops after a third of its bytes.
        if (fp.mode === 'cut' && isBlob && total > 100_000 && !fp.cut.has(req.url!)) {
          fp.cut.add(req.url!);
          let sent = 0;
          ur.on('data', (c: Buffer) => {
            if (sent >= total / 3) return;
            sent += c.length;
            const last = sent >= total / 3;
            if (last) ur.destroy();
            // The bytes sent reach the client, then the connection dies under it.
            res.write(c, () => last && setTimeout(() => res.socket?.destroy(), 50));
          });
          return;
        }
        ur.pipe(res);
      });
      up.once('error', () => res.destroy());
      req.pipe(up);
    };
    if (fp.mode === 'slow' && isBlob) setTimeout(forward, 300);
    else forward();
  });
  return new Promise((r) => front!.listen(P.front, '127.0.0.1', () => r()));
}

// --- images ------------------------------------------------------------------------------
const busyboxLayer = (applets: string[]): FEntry[] => [
  { path: 'bin/', type: 'dir' },
  { path: 'bin/busybox', data: fs.readFileSync('/bin/busybox'), mode: 0o755 },
  ...applets.map((a): FEntry => ({ path: `bin/${a}`, type: 'symlink', linkpath: 'busybox' })),
];
/** Random bytes: gzip cannot shrink them, so the blob is as big as asked. */
const noise = (name: string, bytes: number): FEntry => ({ path: name, data: crypto.randomBytes(bytes) });

async function pushImage(name: string, layers: FEntry[][], opts: { zstd?: boolean } = {}): Promise<BuiltImage> {
  const dir = path.join(base, `oci-${name}`);
  const [b] = writeOciLayout(dir, [{ names: [`${name}:latest`], config: { config: { Env: ['PATH=/bin'], Cmd: ['sh'] } }, layers: layers.map((entries) => ({ entries })) }], 'tag');
  if (opts.zstd) {
    await execFileP('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-compress-format', 'zstd', `oci:${dir}:latest`, `docker://127.0.0.1:${P.reg}/library/${name}:latest`]);
  } else {
    await skopeoPush(dir, 'latest', `127.0.0.1:${P.reg}/library/${name}:latest`);
  }
  images[name] = b;
  return b;
}

/** PUT a manifest (an index) into the registry directly. */
async function putManifest(repo: string, tag: string, body: unknown, mediaType: string): Promise<string> {
  const bytes = Buffer.from(JSON.stringify(body));
  const res = await fetch(`http://127.0.0.1:${P.reg}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body: bytes });
  if (res.status !== 201) throw new Error(`PUT ${repo}:${tag}: ${res.status} ${await res.text()}`);
  return `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
}

function config(name: string, extra: Record<string, unknown> = {}): Record<string, string> {
  const file = path.join(base, `minid-${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ offline: true, 'certs-dirs': [], 'auth-file': path.join(base, 'auth.json'), ...extra }));
  return { ...store.env, MINID_CONFIG: file };
}
const plain = () => config('plain');

const freshStore = (): void => emptyStore(store);

/** What the store holds: image records, blobs, layers, downloads, work directories. */
function storeState(root = store.root) {
  const ls = (d: string) => (fs.existsSync(path.join(root, d)) ? fs.readdirSync(path.join(root, d)) : []);
  const index = path.join(root, 'images.json');
  return {
    images: fs.existsSync(index) ? (JSON.parse(fs.readFileSync(index, 'utf8')).images as { id: string; names: string[] }[]) : [],
    blobs: ls('blobs/sha256'),
    layers: ls('layers'),
    downloads: ls('downloads/sha256'),
    tmp: ls('tmp'),
  };
}

function oneLine(r: { exitCode?: number; stderr: unknown }, code = 1): string {
  const err = String(r.stderr).trim();
  expect(err.split('\n'), err).toHaveLength(1);
  expect(r.exitCode).toBe(code);
  return err;
}

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-pull-faults-'));
  store = makeStore('pull-faults');
  const reg = await startRegistry(base, 'faults', P.reg, httpAddr(P.reg));
  procs.push(reg.proc);
  storage = reg.storage;
  await startFront();
  const etc: FEntry[] = [{ path: 'etc/', type: 'dir' }, { path: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\n' }, { path: 'etc/group', data: 'root:x:0:\n' }];
  await pushImage('busybox', [busyboxLayer(['sh', 'echo', 'cat']), etc, [noise('noise-a', 600_000)], [noise('noise-b', 400_000)]]);
  // Layers of its own: skopeo would reuse the registry's gzip copy of a layer it already has.
  await pushImage('zbox', [busyboxLayer(['sh', 'echo', 'true']), [...etc, { path: 'etc/zbox', data: 'z\n' }]], { zstd: true });
  await pushImage('corrupt', [busyboxLayer(['sh']), [noise('unique', 200_000)]]);
  await pushImage('big', [[noise('big', 6 << 20)]]);
  // Multi-platform indexes: one with an arm64 image only (and a build attestation), one with
  // this machine's amd64 image and an attestation beside it.
  const m = images.busybox;
  const desc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: m.manifestDigest, size: m.manifestBytes.length };
  const att = { ...desc, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': m.manifestDigest } };
  const index = (manifests: unknown[]) => ({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
  await putManifest('library/busybox', 'arm-only', index([att, { ...desc, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }, { ...desc, platform: { os: 'linux', architecture: 's390x' } }]), 'application/vnd.oci.image.index.v1+json');
  await putManifest('library/busybox', 'multi', index([att, { ...desc, platform: { os: 'linux', architecture: 'amd64' } }]), 'application/vnd.oci.image.index.v1+json');
}, 120_000);

afterAll(async () => {
  await stopAll(procs);
  if (front) await new Promise((r) => front!.close(r));
  try {
    await store?.cleanup();
  } finally {
    if (base) fs.rmSync(base, { recursive: true, force: true }); // even when the store's cleanup fails
  }
});

describe('minid run pulls a missing image', () => {
  it('`minid run --rm busybox echo hi` with an empty store pulls busybox through the docker.io mirror, then runs it', async () => {
    freshStore();
    const env = config('mirror', { 'registry-mirrors': [`http://127.0.0.1:${P.front}`] });
    const r = await minid(store, ['run', '--rm', 'busybox', 'echo', 'hi'], { env });
    expect(r.stdout).toBe('hi');
    expect(r.exitCode).toBe(0);
    const err = String(r.stderr).split('\n');
    expect(err[0]).toBe("Unable to find image 'busybox:latest' locally");
    expect(err).toContain(`Pulling docker.io/library/busybox:latest over http://127.0.0.1:${P.front}`);
    expect(err).toContain('Status: Downloaded newer image for busybox:latest');
    // Present now: the next run does not pull.
    const again = await minid(store, ['run', '--rm', 'busybox', 'echo', 'again'], { env });
    expect([again.stdout, again.stderr, again.exitCode]).toEqual(['again', '', 0]);
    // --pull always asks the registry again (nothing new to download).
    resetFront('ok');
    const always = await minid(store, ['run', '--rm', '--pull', 'always', 'busybox', 'echo', 'always'], { env });
    expect(always.stdout).toBe('always');
    expect(always.stderr).toContain('Status: Image is up to date for busybox:latest');
    expect(fp.seen.filter((s) => s.path.includes('/blobs/'))).toEqual([]);
  });

  it('--pull never with a missing image, a bad --pull, a pull that fails: one line, exit 125', async () => {
    freshStore();
    const env = plain();
    const never = await minid(store, ['run', '--rm', '--pull', 'never', `${REG}/library/busybox`, 'echo', 'x'], { env });
    expect(oneLine(never, 125)).toBe(`minid: image "${REG}/library/busybox:latest" not found locally, and --pull never forbids pulling it: pull it with \`minid pull ${REG}/library/busybox:latest\` first`);
    const bad = await minid(store, ['run', '--rm', '--pull', 'sometimes', 'busybox'], { env });
    expect(oneLine(bad, 125)).toBe('minid: invalid pull option: "sometimes": must be one of "always", "missing" or "never"');
    const platform = await minid(store, ['run', '--rm', '--platform', 'linux', `${REG}/library/busybox`], { env });
    expect(String(platform.stderr).trim().split('\n').at(-1)).toBe('minid: invalid platform "linux": give it as os/arch[/variant], e.g. linux/amd64 or linux/arm/v7');
    expect(platform.exitCode).toBe(125);
    const missing = await minid(store, ['run', '--rm', `${REG}/library/nothere`, 'echo', 'x'], { env });
    expect(String(missing.stderr).split('\n')[0]).toBe(`Unable to find image '${REG}/library/nothere:latest' locally`);
    expect(String(missing.stderr).trim().split('\n').at(-1)).toBe(`minid: repository ${REG}/library/nothere not found: check the name (a private repository may also need \`minid login ${REG}\`)`);
    expect(missing.exitCode).toBe(125);
    const tag = await minid(store, ['pull', `${REG}/library/busybox:nope`], { env });
    expect(oneLine(tag)).toBe(`minid: manifest for ${REG}/library/busybox:nope not found: ${REG}/library/busybox has no tag "nope"`);
  });
});

describe('layers', () => {
  it('downloads three at a time, and a second pull requests no blob', async () => {
    freshStore();
    resetFront('slow');
    const r = await minid(store, ['pull', `${REG}/library/busybox`], { env: plain() });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(fp.maxInFlight).toBe(3);
    const lines = String(r.stdout).split('\n');
    for (const l of images.busybox.layers) {
      const id = l.digest.slice(7, 19);
      expect(lines.filter((x) => x.startsWith(`${id}: `))).toEqual([`${id}: Pulling fs layer`, `${id}: Download complete`, `${id}: Pull complete`]);
    }
    expect(lines.at(-1)).toBe(`${REG}/library/busybox:latest`);
    // All in the store, nothing left in downloads/ or tmp/.
    const s = storeState();
    expect(s.images.map((i) => i.id)).toEqual([images.busybox.configDigest]);
    expect([s.downloads, s.tmp]).toEqual([[], []]);

    resetFront('ok');
    const index = path.join(store.root, 'images.json');
    const written = fs.statSync(index).mtimeMs;
    const again = await minid(store, ['pull', `${REG}/library/busybox`], { env: plain() });
    expect(again.exitCode).toBe(0);
    expect(fp.seen.filter((x) => x.path.includes('/blobs/'))).toEqual([]);
    // Everything present: the ping and one HEAD of the manifest, and the store left as it was.
    expect(fp.seen.map((x) => x.path)).toEqual(['/v2/', '/v2/library/busybox/manifests/latest']);
    expect(fs.statSync(index).mtimeMs).toBe(written);
    expect(String(again.stdout)).toContain('Status: Image is up to date for');
    for (const l of images.busybox.layers) expect(String(again.stdout)).toContain(`${l.digest.slice(7, 19)}: Already exists`);

    // MINID_MAX_CONCURRENT_DOWNLOADS=1: one at a time; -q prints the reference only.
    freshStore();
    resetFront('slow');
    const one = await minid(store, ['pull', '-q', `${REG}/library/busybox`], { env: { ...plain(), MINID_MAX_CONCURRENT_DOWNLOADS: '1' } });
    expect([one.stdout, one.stderr, one.exitCode]).toEqual([`${REG}/library/busybox:latest`, '', 0]);
    expect(fp.maxInFlight).toBe(1);
  });

  it('on a terminal: one line per layer, redrawn in place, with the total and the speed', async () => {
    freshStore();
    resetFront('slow');
    // `script` gives minid a terminal (a pty) and copies what it draws to a file.
    const typescript = path.join(base, 'typescript');
    const cmd = ['env', ...Object.entries(plain()).map(([k, v]) => `${k}=${v}`), cli, 'pull', `${REG}/library/busybox`].map((a) => `'${a}'`).join(' ');
    await execFileP('script', ['-qec', cmd, typescript], { timeout: 60_000 }); // async: the front proxy answers from this process
    const screen = fs.readFileSync(typescript, 'utf8');
    expect(screen).toMatch(/[0-9a-f]{12}: Downloading \[[=> ]{50}\] +[\d.]+k?B\/[\d.]+[kM]B/);
    expect(screen).toMatch(/\x1b\[\d+A/); // back up over the block: redrawn in place
    expect(screen).toMatch(/Total: [\d.]+[kM]B\/[\d.]+MB {2}[\d.]+[kM]?B\/s/);
    for (const l of images.busybox.layers) expect(screen).toContain(`${l.digest.slice(7, 19)}: Pull complete`);
    // Every layer line is drawn over (cleared first), never appended as a log line.
    expect(screen.split('\r\n').filter((l) => /^[0-9a-f]{12}: /.test(l))).toEqual([]);
  });

  it('a connection cut mid-blob is resumed with a Range request, then verified', async () => {
    freshStore();
    resetFront('cut');
    const r = await minid(store, ['pull', `${REG}/library/busybox`], { env: plain() });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const big = images.busybox.layers.filter((l) => l.bytes.length > 100_000);
    expect(big.length).toBeGreaterThanOrEqual(2); // busybox and the noise layers
    expect(fp.cut.size).toBe(big.length);
    const resumed = fp.seen.filter((s) => s.range);
    expect(resumed.map((s) => s.path).sort()).toEqual(big.map((l) => `/v2/library/busybox/blobs/${l.digest}`).sort());
    for (const s of resumed) {
      expect(s.range).toMatch(/^bytes=[1-9]\d*-$/);
      expect(s.status).toBe(206);
    }
    expect(storeState().images.map((i) => i.id)).toEqual([images.busybox.configDigest]);
    const run = await minid(store, ['run', '--rm', '--network', 'none', `${REG}/library/busybox`, 'cat', '/etc/group'], { env: plain() });
    expect([run.stdout, run.exitCode]).toEqual(['root:x:0:', 0]);
  });

  it('the next pull resumes what an interrupted one left (a partial download), and starts over a partial that is wrong', async () => {
    freshStore();
    resetFront('ok');
    const [l0, , l2] = images.busybox.layers;
    const dl = path.join(store.root, 'downloads', 'sha256');
    fs.mkdirSync(dl, { recursive: true });
    // A third of one blob, as a killed pull leaves it; and a "partial" of another with wrong bytes.
    fs.writeFileSync(path.join(dl, `${l0.digest.slice(7)}.partial`), l0.bytes.subarray(0, l0.bytes.length / 3));
    fs.writeFileSync(path.join(dl, `${l2.digest.slice(7)}.partial`), Buffer.alloc(1000, 7));
    // And a "verified" download that went bad on disk since: checked again, fetched again.
    const l3 = images.busybox.layers[3];
    fs.writeFileSync(path.join(dl, l3.digest.slice(7)), Buffer.alloc(l3.bytes.length, 9));
    const r = await minid(store, ['pull', `${REG}/library/busybox`], { env: plain() });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const gets = (d: string) => fp.seen.filter((s) => s.path.endsWith(d));
    expect(gets(l0.digest).map((s) => [s.range, s.status])).toEqual([[`bytes=${Math.floor(l0.bytes.length / 3)}-`, 206]]);
    // The wrong partial was resumed too (its bytes cannot be known wrong before the end), failed
    // the digest check, and was fetched again from the start: one line, then a pull that works.
    expect(storeState().images.map((i) => i.id)).toEqual([images.busybox.configDigest]);
    expect(gets(l2.digest).length).toBeGreaterThanOrEqual(1);
    expect(gets(l3.digest).map((s) => [s.range, s.status])).toEqual([[undefined, 200]]);
    expect(storeState().downloads).toEqual([]);
  });

  it('a blob corrupted in the registry: one line, exit 1, nothing in the store', async () => {
    freshStore();
    resetFront('ok');
    const layer = images.corrupt.layers[1];
    const file = blobFile(storage, layer.digest);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length >> 1] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const r = await minid(store, ['pull', `${REG}/library/corrupt`], { env: plain() });
    expect(oneLine(r)).toMatch(new RegExp(`^minid: layer ${layer.digest.slice(7, 19)} of ${REG}/library/corrupt:latest is corrupt: its content does not match its digest ${layer.digest} \\(got sha256:[0-9a-f]{64}\\); the registry's copy is damaged: push the image again$`));
    const s = storeState();
    expect(s.images).toEqual([]);
    expect(s.blobs).toEqual([]);
    expect(s.layers).toEqual([]);
    expect(s.tmp).toEqual([]);
    expect(s.downloads.filter((d) => d.startsWith(layer.digest.slice(7)))).toEqual([]);
  });

  it('a hostile layer (a write through its own symlink) is refused as it is unpacked beside the downloads: one line, nothing in the store, the target untouched', async () => {
    freshStore();
    resetFront('ok');
    const victim = path.join(base, 'victim');
    fs.mkdirSync(victim, { recursive: true });
    fs.writeFileSync(path.join(victim, 'passwd'), 'untouched\n');
    // Two good layers that download and unpack while the bad one is refused.
    const bad = await pushImage('hostile', [busyboxLayer(['sh']), [noise('pad', 300_000)], [{ path: 'a', type: 'symlink', linkpath: victim }, { path: 'a/passwd', data: 'pwned' }]]);
    const r = await minid(store, ['pull', `${REG}/library/hostile`], { env: plain() });
    expect(oneLine(r)).toBe(`minid: layer ${bad.layers[2].digest.slice(7, 19)} of ${REG}/library/hostile:latest is unsafe: entry "a/passwd" goes through the symlink "a"`);
    expect(fs.readFileSync(path.join(victim, 'passwd'), 'utf8')).toBe('untouched\n');
    const s = storeState();
    expect([s.images, s.blobs, s.layers, s.tmp]).toEqual([[], [], [], []]);
  });
});

describe('manifests', () => {
  it('an index without this machine platform: one line naming what it has and --platform; --platform picks one; attestations skipped', async () => {
    freshStore();
    const r = await minid(store, ['pull', `${REG}/library/busybox:arm-only`], { env: plain() });
    expect(oneLine(r)).toBe(`minid: ${REG}/library/busybox:arm-only has no image for linux/amd64 (it has linux/arm64/v8, linux/s390x): choose one with --platform`);
    expect(storeState().images).toEqual([]);

    const arm = await minid(store, ['pull', '--platform', 'linux/arm64', `${REG}/library/busybox:arm-only`], { env: plain() });
    expect(arm.exitCode).toBe(0);
    expect(arm.stdout).toContain(`${REG}/library/busybox:arm-only is a multi-platform index: using linux/arm64/v8 ${images.busybox.manifestDigest}`);

    const multi = await minid(store, ['pull', `${REG}/library/busybox:multi`], { env: plain() });
    expect(multi.exitCode).toBe(0);
    expect(multi.stdout).toContain(`using linux/amd64 ${images.busybox.manifestDigest}`);

    const other = await minid(store, ['pull', '--platform', 'linux/arm64', `${REG}/library/busybox:latest`], { env: plain() });
    expect(oneLine(other)).toBe(`minid: ${REG}/library/busybox:latest is for linux/amd64, not linux/arm64: choose its platform with --platform linux/amd64`);

    const bad = await minid(store, ['pull', '--platform', 'linux', `${REG}/library/busybox:multi`], { env: plain() });
    expect(oneLine(bad)).toBe('minid: invalid platform "linux": give it as os/arch[/variant], e.g. linux/amd64 or linux/arm/v7');
  });

  it('a zstd image (skopeo --dest-compress-format zstd) pulls and runs', async () => {
    freshStore();
    const res = await fetch(`http://127.0.0.1:${P.reg}/v2/library/zbox/manifests/latest`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    const manifest = (await res.json()) as { layers: { mediaType: string }[] };
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar+zstd']);
    const r = await minid(store, ['run', '--rm', '--network', 'none', `${REG}/library/zbox`, 'echo', 'zstd-ok'], { env: plain() });
    expect(r.stdout).toBe('zstd-ok');
    expect(r.exitCode).toBe(0);
  });
});

describe('concurrency and a full disk', () => {
  it('two pulls of one image at once: both succeed, one copy in the store', async () => {
    freshStore();
    resetFront('slow');
    const [a, b] = await Promise.all([minid(store, ['pull', `${REG}/library/busybox`], { env: plain() }), minid(store, ['pull', `${REG}/library/busybox`], { env: plain() })]);
    expect([a.exitCode, a.stderr, b.exitCode, b.stderr]).toEqual([0, '', 0, '']);
    const s = storeState();
    expect(s.images.map((i) => i.id)).toEqual([images.busybox.configDigest]);
    expect(s.layers.length).toBe(images.busybox.layers.length);
    expect(s.blobs.length).toBe(images.busybox.layers.length + 2); // + config and manifest
    expect([s.downloads, s.tmp]).toEqual([[], []]);
    // Each blob was downloaded once (the second pull waited for the first one's download).
    const blobGets = fp.seen.filter((x) => x.path.includes('/blobs/')).map((x) => x.path);
    expect(blobGets.length).toBe(new Set(blobGets).size);
  });

  it('a full disk mid-pull: one line, exit 1, nothing half-written', async () => {
    const mnt = path.join(base, 'small-store');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'minid-test-pull-enospc', mnt]);
    try {
      resetFront('ok');
      const env = { ...plain(), MINID_ROOT: mnt };
      const r = await minid(store, ['pull', `${REG}/library/big`], { env });
      expect(oneLine(r)).toBe(`minid: no space left on device while pulling ${REG}/library/big: free space under ${mnt} and pull again (what was downloaded is kept)`);
      const s = storeState(mnt);
      expect(s.images).toEqual([]);
      expect(s.blobs).toEqual([]);
      expect(s.layers).toEqual([]);
      expect(s.tmp).toEqual([]);
      // The layer's partial download is kept for the next pull, never counted as verified.
      const hex = images.big.layers[0].digest.slice(7);
      expect(s.downloads).toContain(`${hex}.partial`);
      expect(s.downloads).not.toContain(hex);
      // `minid system prune` removes what failed pulls kept.
      const prune = await minid(store, ['system', 'prune'], { env });
      expect(prune.stdout).toContain(`Deleted download ${hex.slice(0, 12)} (partial)`);
      expect(storeState(mnt).downloads).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('start-up cost', () => {
  it('`minid ps` loads none of the registry code (the ES module bundle, traced)', async () => {
    const bundle = path.join(repo, 'dist', 'bundle');
    // The chunks that hold the registry client, the pull and its display.
    const registryChunks = fs.readdirSync(bundle).filter((f) => /class RegistryClient|function fetchBlob|class PullDisplay/.test(fs.readFileSync(path.join(bundle, f), 'utf8')));
    expect(registryChunks.length).toBeGreaterThan(0);
    const trace = path.join(base, 'ps.strace');
    await execFileP('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', trace, process.execPath, path.join(bundle, 'main.js'), 'ps', '-a'], { env: { ...process.env, ...plain() } });
    const opened = fs.readFileSync(trace, 'utf8');
    expect(opened).toContain('dist/bundle/main.js');
    expect(registryChunks.filter((c) => opened.includes(`dist/bundle/${c}`))).toEqual([]);
  });
});
