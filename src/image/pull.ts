// `minid pull`: fetch an image from a registry with the Docker Registry HTTP API v2. The
// conversation with the registry (endpoints and mirrors, TLS, login, redirects, retries) is
// src/image/registry/; this file is the order of the requests:
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
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fail, MinidError } from '../errors.js';
import { paths } from '../sys/paths.js';
import { parseReference, type ImageReference } from './ref.js';
import { RETRY_DELAYS, RegistryClient } from './registry/client.js';
import { loadConfig } from './registry/config.js';
import { endpointsFor } from './registry/endpoint.js';
import { readBody } from './registry/transport.js';
import { MT, SHA256, pickPlatform, hostArch, sha256, type Descriptor } from './source.js';
import type { ImageRecord } from './store.js';

const ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(', ');

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
    fail(`${what}: the registry sent a manifest that is not JSON`, 1);
  }
  return { bytes, mediaType, digest };
}

/** Download a blob to `file`, checking size and digest on the way; a cut connection is retried. */
async function fetchBlob(c: RegistryClient, repository: string, desc: Descriptor, file: string, what: string): Promise<void> {
  if (!SHA256.test(desc.digest)) fail(`${what}: unsupported digest ${JSON.stringify(desc.digest)}`, 1);
  for (let attempt = 0; ; attempt++) {
    const res = await c.get(repository, `blobs/${desc.digest}`, {}, what);
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        res.body,
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            hash.update(chunk);
            size += chunk.length;
            cb(null, chunk);
          },
        }),
        fs.createWriteStream(file),
      );
      if (!res.body.complete) throw Object.assign(new Error('cut'), { code: 'ECONNRESET' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (!/^(ECONNRESET|EPIPE|ETIMEDOUT|ERR_STREAM_PREMATURE_CLOSE|ECONNABORTED)$/.test(code)) throw e;
      if (attempt >= RETRY_DELAYS.length) fail(`the connection to ${res.url.host} broke during ${what} (${code}), ${attempt + 1} times: try again later`, 1);
      await sleep(RETRY_DELAYS[attempt]);
      continue;
    }
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== desc.digest) fail(`${what} does not match its digest (got ${got})`, 1);
    if (typeof desc.size === 'number' && size !== desc.size) fail(`${what} has ${size} bytes, the manifest says ${desc.size}`, 1);
    return;
  }
}

/** The first endpoint that serves the manifest: a docker.io mirror, else the registry itself. */
async function openRegistry(
  r: ImageReference,
  what: string,
  progress?: (line: string) => void,
): Promise<{ client: RegistryClient; manifest: Awaited<ReturnType<typeof fetchManifest>> }> {
  const config = loadConfig();
  const eps = endpointsFor(r.registry, config);
  for (const [i, ep] of eps.entries()) {
    const client = new RegistryClient(r.registry, ep, config);
    try {
      await client.ping();
      progress?.(`Pulling ${r.full} over ${client.base}`);
      return { client, manifest: await fetchManifest(client, r.repository, r.digest ?? r.tag!, what) };
    } catch (e) {
      // A mirror that fails (down, refusing, without the image) is skipped, as docker does.
      if (!ep.mirror || i === eps.length - 1 || !(e instanceof MinidError)) throw e;
      progress?.(`mirror ${ep.url}: ${e.message}; trying the next endpoint`);
    }
  }
  throw new Error('unreachable: no endpoint');
}

/** Pull REF (e.g. 127.0.0.1:5000/library/busybox:latest) into the store. */
export async function pullImage(ref: string, progress?: (line: string) => void): Promise<ImageRecord> {
  const r = parseReference(ref);
  const what = r.familiar;

  fs.mkdirSync(paths.tmp(), { recursive: true });
  const dir = fs.mkdtempSync(path.join(paths.tmp(), `img-${process.pid}-pull-`));
  try {
    const blobs = path.join(dir, 'blobs', 'sha256');
    fs.mkdirSync(blobs, { recursive: true });
    const put = (digest: string, bytes: Buffer) => fs.writeFileSync(path.join(blobs, digest.slice(7)), bytes);

    const opened = await openRegistry(r, what, progress);
    const c = opened.client;
    let m = opened.manifest;
    if (m.mediaType === MT.ociIndex || m.mediaType === MT.dockerList) {
      const index = JSON.parse(m.bytes.toString('utf8')) as { manifests?: Descriptor[] };
      const pick = pickPlatform(index.manifests ?? []);
      if (!pick) fail(`${what} has no image for linux/${hostArch()}`, 1);
      progress?.(`${what} is a multi-platform index: using linux/${hostArch()} ${pick.digest}`);
      m = await fetchManifest(c, r.repository, pick.digest, `${what} (linux/${hostArch()})`);
    }
    if (m.mediaType !== MT.ociManifest && m.mediaType !== MT.dockerManifest) fail(`${what}: unsupported manifest type ${m.mediaType}`, 1);
    put(m.digest, m.bytes);
    const manifest = JSON.parse(m.bytes.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
    if (!manifest.config || !Array.isArray(manifest.layers)) fail(`${what}: the manifest has no config or layers`, 1);

    await fetchBlob(c, r.repository, manifest.config, path.join(blobs, manifest.config.digest.slice(7)), `the config of ${what}`);
    for (const l of manifest.layers) {
      if (l.urls?.length) fail(`${what}: layer ${l.digest} is a foreign layer, which minid cannot fetch`, 1);
      const file = path.join(blobs, l.digest.slice(7));
      if (fs.existsSync(file)) continue;
      await fetchBlob(c, r.repository, l, file, `layer ${l.digest.slice(0, 19)} of ${what}`);
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
