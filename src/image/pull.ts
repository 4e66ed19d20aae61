// `minid pull`: fetch an image from a registry with the Docker Registry HTTP API v2. The
// conversation with the registry (endpoints and mirrors, TLS, login, redirects, retries) is
// src/image/registry/; this file is the order of the requests:
//
//   HEAD /v2/<repo>/manifests/<tag>  Accept: OCI index + manifest, Docker list + manifest v2
//     -> Docker-Content-Digest: the store has that image (blobs and layers)? Done: one request.
//   GET /v2/<repo>/manifests/<digest>   (an index? pick os/arch[/variant], attestations
//                                        skipped; the store has that one? done; else GET it)
//   GET /v2/<repo>/blobs/<config digest>
//   GET /v2/<repo>/blobs/<layer digest>   three at a time; skipped when the store has the layer
//
// Where the bytes go, so that a pull that fails leaves nothing half-written and the next one
// reuses what was verified:
//
//   $MINID_ROOT/downloads/sha256/<hex>.partial   a download in progress (resumed with Range)
//   $MINID_ROOT/downloads/sha256/<hex>           downloaded AND verified (digest and size)
//   $MINID_ROOT/tmp/img-<pid>-pull-XXXX/layers/  each verified layer, checked and unpacked at
//                                                once (store.ts prepareLayer: the one pass of
//                                                layer.ts), while the other blobs download
//   $MINID_ROOT/tmp/img-<pid>-pull-XXXX/         then an OCI layout of hard links to the blobs,
//                                                handed to loadImages() with those layers: the
//                                                same checks as a loaded image (diff_ids against
//                                                the config), then the move into the store
//
// Once the image is in the store, its downloads are removed (the store holds the same inodes).
// Each blob's download happens under a lock of its own, so two pulls of one image at once
// download each blob once and both succeed.
//
// What happens is told through events (PullEvent): the CLI decides how to show them.

import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fail, MinidError } from '../errors.js';
import { paths, root } from '../sys/paths.js';
import { withLock } from '../sys/lock.js';
import { parseReference, type ImageReference } from './ref.js';
import { RETRY_DELAYS, RegistryClient } from './registry/client.js';
import { loadConfig, transferLimit, type MinidConfig } from './registry/config.js';
import { endpointsFor } from './registry/endpoint.js';
import { readBody } from './registry/transport.js';
import { MT, SHA256, hostArch, sha256, type Descriptor, type ImageConfig } from './source.js';
import { downloadsDir, ensureWorkDir, NoSpaceLeftError, prepareLayer, storedImage, type ImageRecord, type PreparedLayer } from './store.js';

const ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(', ');

/** Layer states, in docker's words (what `docker pull` shows beside each layer). */
export type LayerStatus =
  | 'Already exists'
  | 'Waiting'
  | 'Downloading'
  | 'Retrying'
  | 'Verifying Checksum'
  | 'Download complete'
  | 'Extracting'
  | 'Pull complete';

export type PullEvent =
  /** A line worth showing as is ("Pulling X over Y", a mirror skipped, the platform picked). */
  | { kind: 'info'; line: string }
  /** The manifest is known: these layers (12-hex ids, as docker shows them) will follow. */
  | { kind: 'layers'; layers: { id: string; size: number }[] }
  /** One layer changed state; Downloading carries the bytes so far. */
  | { kind: 'layer'; id: string; status: LayerStatus; current?: number; total?: number };

export interface PullOptions {
  /** os/arch[/variant]; the host's linux/<arch> when left out. */
  platform?: string;
  onEvent?: (e: PullEvent) => void;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' };

/** "linux/arm64/v8" -> {os, architecture, variant}; one clear line when malformed (pure). */
export function parsePlatform(s: string): Platform {
  const parts = s.toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p)))
    fail(`invalid platform ${JSON.stringify(s)}: give it as os/arch[/variant], e.g. linux/amd64 or linux/arm/v7`, 1);
  const [os, arch, variant] = parts;
  return { os, architecture: ARCH_ALIASES[arch] ?? arch, ...(variant ? { variant } : {}) };
}

export const platformText = (p: { os?: string; architecture?: string; variant?: string }): string =>
  [p.os ?? '?', p.architecture ?? '?', ...(p.variant ? [p.variant] : [])].join('/');

/** An index entry that is not an image: a build attestation (buildkit's SBOM/provenance). */
export function isAttestation(d: Descriptor): boolean {
  return (d.platform?.os === 'unknown' && d.platform?.architecture === 'unknown') || !!d.annotations?.['vnd.docker.reference.type'];
}

/**
 * The index entry for `want` (pure). The variant must match when asked for; otherwise an
 * entry without variant, or arm64's v8, is preferred, as containerd's matcher does.
 */
export function selectManifest(manifests: Descriptor[], want: Platform): Descriptor | undefined {
  const images = manifests.filter((m) => !isAttestation(m) && (!m.mediaType || m.mediaType === MT.ociManifest || m.mediaType === MT.dockerManifest));
  const match = images.filter((m) => m.platform?.os === want.os && (ARCH_ALIASES[m.platform?.architecture ?? ''] ?? m.platform?.architecture) === want.architecture);
  if (want.variant) return match.find((m) => m.platform?.variant === want.variant);
  if (match.length) return match.find((m) => !m.platform?.variant || m.platform.variant === 'v8') ?? match[0];
  // An index whose entries say no platform at all (a plain image layout): its only image.
  const untagged = images.filter((m) => !m.platform);
  return untagged.length === 1 ? untagged[0] : undefined;
}

/** Parallel downloads: MINID_MAX_CONCURRENT_DOWNLOADS, the config's "max-concurrent-downloads", else 3 (docker's). */
export const downloadLimit = (config: MinidConfig, env = process.env): number => transferLimit(config, 'downloads', env);

const downloads = downloadsDir;
const hex = (digest: string) => digest.slice(7);
const layerId = (digest: string) => hex(digest).slice(0, 12);

async function fetchManifest(c: RegistryClient, repository: string, ref: string, what: string): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
  const res = await c.get(repository, `manifests/${ref}`, { Accept: ACCEPT }, what);
  const bytes = await readBody(res, 4 << 20);
  const digest = sha256(bytes);
  if (ref.startsWith('sha256:') && digest !== ref) fail(`${what}: the registry sent a manifest with digest ${digest}, not ${ref}`, 1);
  const claimed = res.headers['docker-content-digest'];
  if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) fail(`${what}: the manifest does not match its Docker-Content-Digest ${claimed}`, 1);
  let mediaType = String(res.headers['content-type'] ?? '').split(';')[0].trim();
  try {
    const j = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown; schemaVersion?: number };
    if (j.schemaVersion === 1) fail(`${what} is a schema 1 manifest, which minid does not support (push it as OCI or Docker v2)`, 1);
    if (j.mediaType) mediaType = j.mediaType;
    else if (Array.isArray(j.manifests)) mediaType = MT.ociIndex;
    else if (!mediaType.includes('manifest') && !mediaType.includes('index')) mediaType = MT.ociManifest;
  } catch (e) {
    if ((e as Error).name === 'MinidError') throw e;
    fail(`${what}: the registry sent a manifest that is not JSON (${res.headers['content-type'] ?? 'no Content-Type'}): ${c.host} is not a working registry, or something between answers for it`, 1);
  }
  return { bytes, mediaType, digest };
}

const CUT = /^(ECONNRESET|EPIPE|ETIMEDOUT|ERR_STREAM_PREMATURE_CLOSE|ECONNABORTED)$/;

/** sha256 and size of what a partial download already holds. */
async function hashFile(file: string): Promise<{ hash: ReturnType<typeof createHash>; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const c of fs.createReadStream(file)) {
      hash.update(c as Buffer);
      size += (c as Buffer).length;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return { hash, size };
}

/**
 * Download a blob into downloads/<hex>, verified: streamed to <hex>.partial (resumed with a
 * Range request when a partial one is there and the registry answers 206, else started
 * over), its digest and size checked, then renamed. Returns the verified file.
 */
async function fetchBlob(c: RegistryClient, repository: string, desc: Descriptor, what: string, emit: (e: PullEvent) => void): Promise<string> {
  if (!SHA256.test(desc.digest)) fail(`${what}: unsupported digest ${JSON.stringify(desc.digest)}`, 1);
  if (typeof desc.size !== 'number' || !Number.isSafeInteger(desc.size) || desc.size < 0) fail(`${what}: the manifest gives no valid size for ${desc.digest}`, 1);
  const dir = downloads();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const done = path.join(dir, hex(desc.digest));
  const part = `${done}.partial`;
  // One download of a blob at a time on this machine: a second pull waits, then finds it done.
  const lock = `pull-${hex(desc.digest)}`;
  try {
    for (;;) {
      try {
        return await withLock(lock, () => download(c, repository, desc, what, emit, done, part));
      } catch (e) {
        // withLock gives up after a while; a long download of the same blob by another pull
        // is still worth waiting for (a holder that died loses the lock after 3 s anyway).
        if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
      }
    }
  } finally {
    fs.rmSync(path.join(paths.locks(), lock), { force: true }); // the lock's name file (the lock itself is lock.lock/)
  }
}

async function download(c: RegistryClient, repository: string, desc: Descriptor, what: string, emit: (e: PullEvent) => void, done: string, part: string): Promise<string> {
  const id = layerId(desc.digest);
  if (fs.existsSync(done)) {
    // Verified by an earlier pull that failed later (or by the pull we waited for): checked
    // again, since a file that went bad on disk would otherwise fail every pull from now on.
    const { hash, size } = await hashFile(done);
    if (size === desc.size && `sha256:${hash.digest('hex')}` === desc.digest) return done;
    fs.rmSync(done, { force: true });
  }
  // Another pull has just put it into the store (and removed its download).
  const stored = path.join(paths.blobs(), hex(desc.digest));
  if (fs.existsSync(stored)) return stored;
  let resumedOnce = false; // bytes of an earlier download were kept: they may be the bad ones
  for (let attempt = 0; ; attempt++) {
    let { hash, size } = await hashFile(part);
    if (size >= desc.size) {
      // Too long (or complete but never verified): start over.
      fs.rmSync(part, { force: true });
      ({ hash, size } = { hash: createHash('sha256'), size: 0 });
    }
    const res = await c.get(repository, `blobs/${desc.digest}`, size > 0 ? { Range: `bytes=${size}-` } : {}, what);
    // 206 from where we stopped: append. Anything else (200: no Range support): from the start.
    const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
    if (!(res.status === 206 && range && Number(range[1]) === size)) {
      if (res.status === 206) res.body.destroy();
      if (res.status === 206) fail(`${what}: ${res.url.host} answered a range that was not asked for (${res.headers['content-range']})`, 1);
      hash = createHash('sha256');
      size = 0;
    } else {
      resumedOnce = true;
    }
    const append = res.status === 206 && size > 0;
    let last = 0;
    emit({ kind: 'layer', id, status: 'Downloading', current: size, total: desc.size });
    try {
      await pipeline(
        res.body,
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            size += chunk.length;
            if (size > desc.size) return cb(new MinidError(`${what} is bigger than the ${desc.size} bytes its manifest says: the registry sent a wrong blob`, 1));
            hash.update(chunk);
            const now = Date.now();
            if (now - last >= 100) {
              last = now;
              emit({ kind: 'layer', id, status: 'Downloading', current: size, total: desc.size });
            }
            cb(null, chunk);
          },
        }),
        fs.createWriteStream(part, { flags: append ? 'a' : 'w', mode: 0o600 }),
      );
      if (!res.body.complete) throw Object.assign(new Error('cut'), { code: 'ECONNRESET' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (!CUT.test(code)) throw e;
      if (attempt >= RETRY_DELAYS.length) fail(`the connection to ${res.url.host} broke during ${what} (${code}), ${attempt + 1} times: try again later (the next pull resumes it)`, 1);
      emit({ kind: 'layer', id, status: 'Retrying', current: size, total: desc.size });
      await sleep(RETRY_DELAYS[attempt]);
      continue;
    }
    emit({ kind: 'layer', id, status: 'Verifying Checksum' });
    const got = `sha256:${hash.digest('hex')}`;
    if (size !== desc.size || got !== desc.digest) {
      fs.rmSync(part, { force: true }); // never reused
      if (resumedOnce) {
        // Maybe the kept part was wrong (a file damaged on disk): once more from the start.
        resumedOnce = false;
        emit({ kind: 'layer', id, status: 'Retrying', current: 0, total: desc.size });
        continue;
      }
      if (size !== desc.size) fail(`${what} has ${size} bytes, the manifest says ${desc.size}: the registry sent a truncated blob, try again`, 1);
      fail(`${what} is corrupt: its content does not match its digest ${desc.digest} (got ${got}); the registry's copy is damaged: push the image again`, 1);
    }
    // On disk before it is called verified (in the thread pool: other layers go on meanwhile).
    const fh = await fs.promises.open(part, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    fs.renameSync(part, done);
    return done;
  }
}

/** What a reference names, as the registry's answer to a HEAD of the manifest tells it. */
interface Named {
  digest: string;
  mediaType: string;
}

const MANIFEST_TYPES = new Set<string>([MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest]);
const isIndex = (mediaType: string) => mediaType === MT.ociIndex || mediaType === MT.dockerList;

/**
 * HEAD /v2/<repo>/manifests/<ref>: the digest (Docker-Content-Digest) and type of what REF
 * names, without its body, so that a pull of an image the store has costs one small request
 * (and none of Docker Hub's pull quota). Null when the registry does not say both clearly: the
 * caller GETs the manifest then.
 */
async function headManifest(c: RegistryClient, repository: string, ref: string, what: string): Promise<Named | null> {
  const res = await c.head(repository, `manifests/${ref}`, { Accept: ACCEPT }, what);
  const digest = String(res?.headers['docker-content-digest'] ?? '');
  const mediaType = String(res?.headers['content-type'] ?? '').split(';')[0].trim();
  if (!res || !SHA256.test(digest) || !MANIFEST_TYPES.has(mediaType) || (ref.startsWith('sha256:') && digest !== ref)) return null;
  return { digest, mediaType };
}

type Manifest = Awaited<ReturnType<typeof fetchManifest>>;

/**
 * The first endpoint that serves the manifest (a docker.io mirror, else the registry itself),
 * with what the HEAD told of it, or the manifest itself when the HEAD did not tell.
 */
async function openRegistry(r: ImageReference, what: string, emit: (e: PullEvent) => void): Promise<{ client: RegistryClient; named: Named | null; manifest: Manifest | null }> {
  const config = loadConfig();
  const eps = endpointsFor(r.registry, config);
  const ref = r.digest ?? r.tag!;
  for (const [i, ep] of eps.entries()) {
    const client = new RegistryClient(r.registry, ep, config);
    try {
      await client.ping();
      emit({ kind: 'info', line: `Pulling ${r.full} over ${client.base}` });
      const named = await headManifest(client, r.repository, ref, what);
      return { client, named, manifest: named ? null : await fetchManifest(client, r.repository, ref, what) };
    } catch (e) {
      // A mirror that fails (down, refusing, without the image) is skipped, as docker does.
      if (!ep.mirror || i === eps.length - 1 || !(e instanceof MinidError)) throw e;
      emit({ kind: 'info', line: `mirror ${ep.url}: ${e.message}; trying the next endpoint` });
    }
  }
  throw new Error('unreachable: no endpoint');
}

/** Thrown by a Gate's run() once the gate is closed: the work was never started. */
class Cancelled extends Error {}

/** At most `limit` of the functions given to run() at a time, in the order given; none starts once closed. */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((wake) => this.waiting.push(wake));
    if (this.closed) {
      this.waiting.shift()?.();
      throw new Cancelled();
    }
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * Wait for every job, even after one failed (nothing may still write into a directory about
 * to be removed); `onFailure` runs at the first failure (to start no more), which is rethrown.
 */
async function allOrFirstError(jobs: Promise<void>[], onFailure: () => void): Promise<void> {
  let first: { e: unknown } | null = null;
  await Promise.all(
    jobs.map((j) =>
      j.catch((e: unknown) => {
        if (!first && !(e instanceof Cancelled)) {
          first = { e };
          onFailure();
        }
      }),
    ),
  );
  if (first) throw (first as { e: unknown }).e;
}

const isNoSpace = (e: unknown) => e instanceof NoSpaceLeftError || ['ENOSPC', 'EDQUOT'].includes((e as NodeJS.ErrnoException)?.code ?? '');

/** Pull REF (e.g. 127.0.0.1:5000/library/busybox:latest) into the store. Failures exit 1. */
export async function pullImage(ref: string, opts: PullOptions = {}): Promise<ImageRecord> {
  try {
    const img = await pull(ref, opts);
    const { recordEvent } = await import('../runtime/events.js');
    recordEvent('image', 'pull', parseReference(ref).familiar, { name: parseReference(ref).familiar });
    return img;
  } catch (e) {
    if (isNoSpace(e)) throw new MinidError(`no space left on device while pulling ${ref}: free space under ${root()} and pull again (what was downloaded is kept)`, 1);
    throw e;
  }
}

async function pull(ref: string, opts: PullOptions): Promise<ImageRecord> {
  const r = parseReference(ref);
  const what = r.familiar;
  const emit = opts.onEvent ?? (() => {});
  const want = opts.platform ? parsePlatform(opts.platform) : { os: 'linux', architecture: hostArch() };

  const opened = await openRegistry(r, what, emit);
  const c = opened.client;
  // The image manifest's digest: what REF names, or the entry of its index for `want`.
  let m: Manifest | null = opened.manifest;
  let digest = m?.digest ?? opened.named!.digest;
  let mwhat = what;
  let size: number | undefined;
  const fromIndex = isIndex(m?.mediaType ?? opened.named!.mediaType);
  if (fromIndex) {
    m ??= await fetchManifest(c, r.repository, digest, what);
    const index = JSON.parse(m.bytes.toString('utf8')) as { manifests?: Descriptor[] };
    const list = Array.isArray(index.manifests) ? index.manifests : [];
    const pick = selectManifest(list, want);
    if (!pick) {
      const has = [...new Set(list.filter((d) => !isAttestation(d) && d.platform).map((d) => platformText(d.platform!)))];
      fail(`${what} has no image for ${platformText(want)} (it has ${has.length ? has.join(', ') : 'no platform listed'}): choose one with --platform`, 1);
    }
    emit({ kind: 'info', line: `${what} is a multi-platform index: using ${platformText(pick.platform ?? want)} ${pick.digest}` });
    [m, digest, mwhat, size] = [null, pick.digest, `${what} (${platformText(pick.platform ?? want)})`, pick.size];
  }
  /** --platform for an image that is not an index: its config says which platform it is for. */
  const checkPlatform = (config: ImageConfig) => {
    if (opts.platform && !fromIndex && config.os && config.architecture && (config.os !== want.os || config.architecture !== want.architecture))
      fail(`${what} is for ${platformText(config)}, not ${platformText(want)}: choose its platform with --platform ${platformText(config)}`, 1);
  };
  const name = r.tag ? `${r.registry}/${r.repository}:${r.tag}` : null;

  // The store has all of it: nothing to fetch, nothing to write (but a new name).
  const stored = storedImage(digest);
  if (stored) {
    checkPlatform(stored.config);
    emit({ kind: 'layers', layers: stored.layers.map((l) => ({ id: layerId(l.digest), size: l.size })) });
    for (const l of stored.layers) emit({ kind: 'layer', id: layerId(l.digest), status: 'Already exists' });
    if (!name || stored.names.includes(parseReference(name).familiar)) return stored;
    const { tagImage } = await import('./store.js');
    return tagImage(stored.id, name);
  }

  m ??= await fetchManifest(c, r.repository, digest, mwhat);
  if (size !== undefined && m.bytes.length !== size) fail(`${what}: the manifest ${digest} has ${m.bytes.length} bytes, the index says ${size}`, 1);
  if (m.mediaType !== MT.ociManifest && m.mediaType !== MT.dockerManifest) fail(`${what}: unsupported manifest type ${m.mediaType}`, 1);
  const manifest = JSON.parse(m.bytes.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
  if (!manifest.config || !Array.isArray(manifest.layers)) fail(`${what}: the manifest has no config or layers`, 1);
  for (const l of manifest.layers) if (l.urls?.length || l.mediaType === MT.dockerForeign) fail(`${what}: layer ${l.digest} is a foreign layer, which minid cannot fetch`, 1);

  const fetched: string[] = []; // verified downloads, removed once the store has them
  // The config first (small, in memory): its diff_ids say which layers the store already has.
  const inStore = (digest: string) => path.join(paths.blobs(), hex(digest));
  let configBytes: Buffer;
  if (SHA256.test(manifest.config.digest) && fs.existsSync(inStore(manifest.config.digest))) {
    configBytes = fs.readFileSync(inStore(manifest.config.digest));
  } else {
    if (manifest.config.size > 8 << 20) fail(`the config of ${what} claims ${manifest.config.size} bytes: too big for an image config`, 1);
    const file = await fetchBlob(c, r.repository, manifest.config, `the config of ${what}`, () => {});
    configBytes = fs.readFileSync(file);
    if (file.startsWith(downloads())) fetched.push(file);
  }
  const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
  const diffIds = Array.isArray(config.rootfs?.diff_ids) ? config.rootfs.diff_ids : [];
  checkPlatform(config);

  // The layers: the store's, already downloaded ones, or downloads (some at a time). Each
  // layer is checked and unpacked as soon as its blob is verified, while the others are still
  // downloading; it counts only once loadImages has compared it with the config (its diff_id)
  // and moved it into the store. Each is unpacked into a directory of its own (overlayfs
  // stacks them at run time), so the order in which they finish does not matter.
  emit({ kind: 'layers', layers: manifest.layers.map((l) => ({ id: layerId(l.digest), size: l.size })) });
  const files = new Map<string, string>(); // digest -> file to link into the layout
  const todo: { l: Descriptor; diffId?: string }[] = [];
  const hasLayer = (diffId?: string) => !!diffId && SHA256.test(diffId) && fs.existsSync(path.join(paths.layers(), hex(diffId)));
  for (const [i, l] of manifest.layers.entries()) {
    if (files.has(l.digest) || todo.some((t) => t.l.digest === l.digest)) continue; // a layer used twice
    const stored = SHA256.test(l.digest) ? inStore(l.digest) : '';
    if (stored && fs.existsSync(stored) && hasLayer(diffIds[i])) {
      files.set(l.digest, stored);
      emit({ kind: 'layer', id: layerId(l.digest), status: 'Already exists' });
    } else {
      todo.push({ l, diffId: diffIds[i] });
      emit({ kind: 'layer', id: layerId(l.digest), status: 'Waiting' });
    }
  }

  // The work directory: the layers being unpacked (layers/), then an OCI layout of hard links
  // to the verified blobs (same file system), handed to the store's load.
  await ensureWorkDir();
  const dir = fs.mkdtempSync(path.join(paths.tmp(), `img-${process.pid}-pull-`));
  try {
    const unpacked = path.join(dir, 'layers');
    fs.mkdirSync(unpacked);
    const prepared = new Map<string, PreparedLayer>();
    const downloading = new Gate(downloadLimit(c.config));
    await allOrFirstError(
      todo.map(async ({ l, diffId }) => {
        const id = layerId(l.digest);
        const file = await downloading.run(() => fetchBlob(c, r.repository, l, `layer ${id} of ${what}`, emit));
        files.set(l.digest, file);
        if (file.startsWith(downloads())) fetched.push(file);
        emit({ kind: 'layer', id, status: 'Download complete' });
        if (hasLayer(diffId)) return; // another pull has just unpacked it into the store
        emit({ kind: 'layer', id, status: 'Extracting' });
        prepared.set(l.digest, await prepareLayer(file, l.digest, unpacked, `layer ${id} of ${what}`));
        emit({ kind: 'layer', id, status: 'Pull complete' });
      }),
      () => downloading.close(),
    );

    const blobs = path.join(dir, 'blobs', 'sha256');
    fs.mkdirSync(blobs, { recursive: true });
    fs.writeFileSync(path.join(blobs, hex(m.digest)), m.bytes);
    fs.writeFileSync(path.join(blobs, hex(manifest.config.digest)), configBytes);
    for (const [digest, file] of files) {
      const to = path.join(blobs, hex(digest));
      try {
        fs.linkSync(file, to);
      } catch (e) {
        // Another pull of the same blob has just moved it into the store: take it from there.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        try {
          fs.linkSync(inStore(digest), to);
        } catch {
          fail(`layer ${layerId(digest)} of ${what} vanished during the pull (removed by another minid?): pull again`, 1);
        }
      }
    }
    fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    fs.writeFileSync(
      path.join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociIndex,
        manifests: [{ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, ...(name ? { annotations: { 'io.containerd.image.name': name } } : {}) }],
      }),
    );
    const { loadImages } = await import('./store.js');
    let img: ImageRecord;
    try {
      [img] = await loadImages(dir, {
        consumeSource: true,
        prepared,
        onLayer: (digest, status) => emit({ kind: 'layer', id: layerId(digest), status }),
      });
    } catch (e) {
      // The store's messages say "<dir> is not a valid image": name the image instead.
      if (e instanceof MinidError && !(e instanceof NoSpaceLeftError)) throw new MinidError(e.message.split(JSON.stringify(dir)).join(what), 1);
      throw e;
    }
    // In the store now (same inodes): the downloads are done with.
    for (const f of fetched) if (fs.existsSync(inStore(`sha256:${path.basename(f)}`))) fs.rmSync(f, { force: true });
    return img;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
