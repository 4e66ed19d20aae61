// `minid pull`: fetch an image from a registry with the Docker Registry HTTP API v2, over
// plain HTTP, from THIS machine only (127.0.0.1 / localhost / [::1]): minid works offline.
//
//   GET /v2/<repo>/manifests/<tag>   Accept: OCI index + manifest, Docker list + manifest v2
//     -> an index? pick linux/<arch>, GET /v2/<repo>/manifests/<digest>
//   GET /v2/<repo>/blobs/<config digest>, then each layer blob
//
// Everything is written as an OCI image layout under the store's tmp/ and handed to
// loadImages(), so a pulled image goes through exactly the same checks as a loaded one.

import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fail } from '../errors.js';
import { paths } from '../sys/paths.js';
import { parseReference } from './ref.js';
import { MT, SHA256, pickPlatform, hostArch, sha256, type Descriptor } from './source.js';
import type { ImageRecord } from './store.js';

const ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(', ');
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/;

function isLoopbackUrl(u: URL): boolean {
  return LOOPBACK.test(u.host);
}

/** GET with redirects followed only to loopback addresses. */
async function get(url: string, headers: Record<string, string>, what: string): Promise<Response> {
  let u = new URL(url);
  for (let hop = 0; hop < 5; hop++) {
    let res: Response;
    try {
      res = await fetch(u, { headers, redirect: 'manual' });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      fail(`cannot reach the registry at ${u.host} (${cause?.code ?? cause?.message ?? (e as Error).message}): is it running?`);
    }
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      u = new URL(res.headers.get('location')!, u);
      if (!isLoopbackUrl(u)) fail(`the registry redirects ${what} to ${u.host}: minid only talks to registries on this machine`);
      continue;
    }
    if (res.status === 401) fail(`the registry at ${u.host} wants a login for ${what}: minid pulls only from registries without authentication`);
    if (res.status === 404) fail(`${what} not found in the registry at ${u.host}`);
    if (!res.ok) fail(`the registry at ${u.host} answered ${res.status} ${res.statusText} for ${what}`);
    return res;
  }
  fail(`too many redirects for ${what}`);
}

async function fetchManifest(base: string, ref: string, what: string): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
  const res = await get(`${base}/manifests/${ref}`, { Accept: ACCEPT }, what);
  const bytes = Buffer.from(await res.arrayBuffer());
  const digest = sha256(bytes);
  if (ref.startsWith('sha256:') && digest !== ref) fail(`${what}: the registry sent a manifest with digest ${digest}, not ${ref}`);
  const claimed = res.headers.get('docker-content-digest');
  if (claimed && claimed.startsWith('sha256:') && claimed !== digest) fail(`${what}: the manifest does not match its Docker-Content-Digest ${claimed}`);
  let mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  try {
    const j = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown; schemaVersion?: number };
    if (j.schemaVersion === 1) fail(`${what} is a schema 1 manifest, which minid does not support (push it as OCI or Docker v2)`);
    if (j.mediaType) mediaType = j.mediaType;
    else if (Array.isArray(j.manifests)) mediaType = MT.ociIndex;
    else if (!mediaType.includes('manifest') && !mediaType.includes('index')) mediaType = MT.ociManifest;
  } catch (e) {
    if ((e as Error).name === 'MinidError') throw e;
    fail(`${what}: the registry sent a manifest that is not JSON`);
  }
  return { bytes, mediaType, digest };
}

/** Download a blob to `file`, checking size and digest on the way. */
async function fetchBlob(base: string, desc: Descriptor, file: string, what: string): Promise<void> {
  if (!SHA256.test(desc.digest)) fail(`${what}: unsupported digest ${JSON.stringify(desc.digest)}`);
  const res = await get(`${base}/blobs/${desc.digest}`, {}, what);
  if (!res.body) fail(`${what}: empty answer from the registry`);
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
    new Transform({
      transform(c: Buffer, _e, cb) {
        hash.update(c);
        size += c.length;
        cb(null, c);
      },
    }),
    fs.createWriteStream(file),
  );
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== desc.digest) fail(`${what} does not match its digest (got ${got})`);
  if (typeof desc.size === 'number' && size !== desc.size) fail(`${what} has ${size} bytes, the manifest says ${desc.size}`);
}

/** Pull REF (e.g. 127.0.0.1:5000/library/busybox:latest) into the store. */
export async function pullImage(ref: string, progress?: (line: string) => void): Promise<ImageRecord> {
  const r = parseReference(ref);
  if (!LOOPBACK.test(r.registry)) {
    fail(
      `cannot pull ${r.familiar}: minid pulls only from a registry on this machine (like 127.0.0.1:5000/${r.repository.replace(/^library\//, '')}); ` +
        `load the image from a file with \`minid load -i FILE\` instead`,
    );
  }
  const base = `http://${r.registry}/v2/${r.repository}`;
  const what = r.familiar;
  progress?.(`Pulling ${r.full} over http://${r.registry}`);

  fs.mkdirSync(paths.tmp(), { recursive: true });
  const dir = fs.mkdtempSync(path.join(paths.tmp(), `img-${process.pid}-pull-`));
  try {
    const blobs = path.join(dir, 'blobs', 'sha256');
    fs.mkdirSync(blobs, { recursive: true });
    const put = (digest: string, bytes: Buffer) => fs.writeFileSync(path.join(blobs, digest.slice(7)), bytes);

    let m = await fetchManifest(base, r.digest ?? r.tag!, what);
    if (m.mediaType === MT.ociIndex || m.mediaType === MT.dockerList) {
      const index = JSON.parse(m.bytes.toString('utf8')) as { manifests?: Descriptor[] };
      const pick = pickPlatform(index.manifests ?? []);
      if (!pick) fail(`${what} has no image for linux/${hostArch()}`);
      progress?.(`${what} is a multi-platform index: using linux/${hostArch()} ${pick.digest}`);
      m = await fetchManifest(base, pick.digest, `${what} (linux/${hostArch()})`);
    }
    if (m.mediaType !== MT.ociManifest && m.mediaType !== MT.dockerManifest) fail(`${what}: unsupported manifest type ${m.mediaType}`);
    put(m.digest, m.bytes);
    const manifest = JSON.parse(m.bytes.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
    if (!manifest.config || !Array.isArray(manifest.layers)) fail(`${what}: the manifest has no config or layers`);

    await fetchBlob(base, manifest.config, path.join(blobs, manifest.config.digest.slice(7)), `the config of ${what}`);
    for (const l of manifest.layers) {
      if (l.urls?.length) fail(`${what}: layer ${l.digest} is a foreign layer, which minid cannot fetch`);
      const file = path.join(blobs, l.digest.slice(7));
      if (fs.existsSync(file)) continue;
      await fetchBlob(base, l, file, `layer ${l.digest.slice(0, 19)} of ${what}`);
      progress?.(`${l.digest.slice(7, 19)}: Pull complete (${l.size} bytes)`);
    }

    const name = r.tag ? `${r.registry}/${r.repository}:${r.tag}` : null;
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
    const [img] = await loadImages(dir, { consumeSource: true });
    return img;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
