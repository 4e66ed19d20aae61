// `minid save [-o FILE] [--format docker-archive|oci-archive] IMAGE...`: images of the store
// as one tar, in either of the two formats `minid load`, `docker load` and `podman load` read:
//
//   docker-archive (docker save's)           oci-archive (an OCI image layout, tarred)
//   ├── manifest.json  [{Config, RepoTags,   ├── oci-layout
//   │                    Layers}]            ├── index.json  -> manifests, named by the
//   ├── repositories   {repo: {tag: id}}     │                  org.opencontainers.image.ref.name
//   ├── <config hex>.json                    │                  annotation
//   └── <diff_id hex>/layer.tar, VERSION     └── blobs/sha256/<hex>: manifest, config, layers
//
// A docker archive holds each layer UNCOMPRESSED (what docker save writes; its layer.tar is
// checked against the config's diff_id on load): the store's compressed blob is inflated into
// the store's tmp/ and checked on the way. An OCI archive holds the blobs as the store keeps
// them, so its manifest digest is the image's.
//
// The tar is written by the few lines below (ustar headers for plain files and directories):
// every name here is short and ours.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform, type Writable } from 'node:stream';
import { fail } from '../errors.js';
import { withLock } from '../sys/lock.js';
import { onOutputGone } from '../sys/output.js';
import { paths } from '../sys/paths.js';
import { tryParseReference } from './ref.js';
import { MT } from './source.js';
import { blobPath, ensureWorkDir, resolveImage, type ImageRecord } from './store.js';

export type SaveFormat = 'docker-archive' | 'oci-archive';

// ---------------------------------------------------------------------------------------
// A minimal tar writer

const BLOCK = 512;

/** A ustar header for a regular file ('0') or a directory ('5'). */
export function tarHeader(name: string, size: number, type: '0' | '5'): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long: ${name}`);
  const h = Buffer.alloc(BLOCK);
  const octal = (v: number, off: number, len: number) => h.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
  h.write(name, 0, 100, 'utf8');
  octal(type === '5' ? 0o755 : 0o644, 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  if (size <= 0o77777777777) octal(size, 124, 12);
  else {
    // Over 8 GiB: GNU base-256 (high bit set, big-endian).
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--, v >>= 8n) h[i] = Number(v & 0xffn);
  }
  octal(0, 136, 12); // mtime: 1970, so that the same images give the same archive
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0' + '00', 257, 8, 'ascii');
  h.fill(' ', 148, 156); // the checksum is summed with its own field as spaces
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

class TarWriter {
  constructor(private readonly out: Writable) {}

  private write(b: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.out.write(b, (e) => (e ? reject(e) : resolve()));
    });
  }

  private pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    return rest ? this.write(Buffer.alloc(BLOCK - rest)) : Promise.resolve();
  }

  dir(name: string): Promise<void> {
    return this.write(tarHeader(name.replace(/\/?$/, '/'), 0, '5'));
  }

  async bytes(name: string, data: Buffer | string): Promise<void> {
    const b = Buffer.from(data);
    await this.write(tarHeader(name, b.length, '0'));
    await this.write(b);
    await this.pad(b.length);
  }

  /** A file from disk, streamed; it must not change size while it is read. */
  async file(name: string, file: string): Promise<void> {
    const size = fs.statSync(file).size;
    await this.write(tarHeader(name, size, '0'));
    let n = 0;
    for await (const chunk of fs.createReadStream(file)) {
      n += (chunk as Buffer).length;
      await this.write(chunk as Buffer);
    }
    if (n !== size) throw new Error(`${file} changed while it was saved`);
    await this.pad(size);
  }

  /** The end of the archive: two zero blocks. */
  end(): Promise<void> {
    return this.write(Buffer.alloc(2 * BLOCK));
  }
}

// ---------------------------------------------------------------------------------------
// What to save

interface Chosen {
  img: ImageRecord;
  /** Familiar names to record ("busybox:latest"): the ones asked for; none for an ID. */
  names: string[];
}

async function choose(refs: string[]): Promise<Chosen[]> {
  const out: Chosen[] = [];
  for (const ref of refs) {
    const img = await resolveImage(ref);
    const r = tryParseReference(ref);
    // As docker: saving by name records that name; by ID, no name.
    const name = r && !r.digest && img.names.includes(r.familiar) ? r.familiar : null;
    const prev = out.find((c) => c.img.id === img.id);
    if (prev) {
      if (name && !prev.names.includes(name)) prev.names.push(name);
    } else out.push({ img, names: name ? [name] : [] });
  }
  return out;
}

const hex = (d: string) => d.slice('sha256:'.length);

function readBlob(digest: string, what: string): Buffer {
  try {
    return fs.readFileSync(blobPath(digest));
  } catch {
    fail(`the store has lost blob ${digest} of ${what}: remove the image and load or pull it again`, 1);
  }
}

/** The layer blob uncompressed, checked against its diff_id: a file under `work` (or the blob itself). */
async function plainLayer(digest: string, diffId: string, work: string, what: string): Promise<string> {
  const blob = blobPath(digest);
  if (!fs.existsSync(blob)) readBlob(digest, what);
  if (digest === diffId) return blob; // stored uncompressed
  const { sniffCompression, decompressZstd } = await import('./layer.js');
  const compression = await sniffCompression(blob);
  const out = path.join(work, hex(diffId));
  if (compression === 'zstd') await decompressZstd(blob, out);
  else if (compression === 'gzip') await pipeline(fs.createReadStream(blob), zlib.createGunzip(), fs.createWriteStream(out));
  else fs.copyFileSync(blob, out);
  const hash = createHash('sha256');
  await pipeline(
    fs.createReadStream(out),
    new Transform({
      transform(c: Buffer, _e, cb) {
        hash.update(c);
        cb();
      },
    }),
  );
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== diffId) fail(`layer ${digest.slice(0, 19)} of ${what} does not uncompress to its diff_id ${diffId.slice(0, 19)} (got ${got.slice(0, 19)}): the store is damaged; pull or load the image again`, 1);
  return out;
}

async function writeDockerArchive(tar: TarWriter, chosen: Chosen[], work: string): Promise<void> {
  const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const written = new Set<string>();
  for (const { img, names } of chosen) {
    const what = names[0] ?? img.id.slice(0, 19);
    const config = `${hex(img.id)}.json`;
    if (!written.has(config)) {
      await tar.bytes(config, readBlob(img.id, what));
      written.add(config);
    }
    const layers: string[] = [];
    for (const l of img.layers) {
      const id = hex(l.diffId);
      layers.push(`${id}/layer.tar`);
      if (written.has(id)) continue;
      written.add(id);
      const file = await plainLayer(l.digest, l.diffId, work, what);
      await tar.dir(id);
      await tar.bytes(`${id}/VERSION`, '1.0');
      await tar.file(`${id}/layer.tar`, file);
      if (file.startsWith(work + path.sep)) fs.rmSync(file, { force: true });
    }
    manifest.push({ Config: config, RepoTags: names.length ? names : null, Layers: layers });
    for (const n of names) {
      const r = tryParseReference(n)!;
      (repositories[r.name] ??= {})[r.tag!] = hex(img.layers[img.layers.length - 1]?.diffId ?? img.id);
    }
  }
  await tar.bytes('manifest.json', JSON.stringify(manifest));
  if (Object.keys(repositories).length) await tar.bytes('repositories', JSON.stringify(repositories));
}

async function writeOciArchive(tar: TarWriter, chosen: Chosen[]): Promise<void> {
  await tar.bytes('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await tar.dir('blobs');
  await tar.dir('blobs/sha256');
  const written = new Set<string>();
  const put = async (digest: string, what: string) => {
    if (written.has(digest)) return;
    written.add(digest);
    if (!fs.existsSync(blobPath(digest))) readBlob(digest, what);
    await tar.file(`blobs/sha256/${hex(digest)}`, blobPath(digest));
  };
  const manifests: unknown[] = [];
  for (const { img, names } of chosen) {
    const what = names[0] ?? img.id.slice(0, 19);
    const bytes = readBlob(img.manifestDigest, what);
    const m = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; config?: { mediaType?: string } };
    const mediaType = m.mediaType ?? (m.config?.mediaType === MT.dockerConfig ? MT.dockerManifest : MT.ociManifest);
    for (const l of img.layers) await put(l.digest, what);
    await put(img.id, what);
    await put(img.manifestDigest, what);
    const desc = { mediaType, digest: img.manifestDigest, size: bytes.length };
    if (names.length === 0) manifests.push(desc);
    for (const n of names) {
      // The full name, as podman writes it; containerd's annotation says the same.
      const full = tryParseReference(n)!.full;
      manifests.push({ ...desc, annotations: { 'org.opencontainers.image.ref.name': full, 'io.containerd.image.name': full } });
    }
  }
  await tar.bytes('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests }));
}

/**
 * Write the images `refs` as one tar to `out` (a file or stdout). Runs under the store's
 * lock, so that no rmi removes a blob while it is read.
 */
export async function saveImages(refs: string[], format: SaveFormat, out: Writable): Promise<void> {
  await withLock('images', async () => {
    const chosen = await choose(refs);
    await ensureWorkDir();
    // Named like the store's other work directories: a crashed save is cleaned up by the next load.
    const work = fs.mkdtempSync(path.join(paths.tmp(), `img-${process.pid}-save-`));
    // `minid save busybox | head -c 100`: the reader goes away; clean up, then stop as `yes | head` does.
    const restore = onOutputGone(() => {
      fs.rmSync(work, { recursive: true, force: true });
      process.exit(141);
    });
    try {
      const tar = new TarWriter(out);
      if (format === 'docker-archive') await writeDockerArchive(tar, chosen, work);
      else await writeOciArchive(tar, chosen);
      await tar.end();
    } finally {
      restore();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
}
