// The image store.
//
//   /var/lib/minid/                    ($MINID_ROOT)
//   ├── blobs/sha256/<hex>             manifests, configs, layer blobs: named by their sha256
//   ├── layers/<diff_id hex>/          each layer unpacked ONCE, shared by every image using it;
//   │                                  containers mount them as overlayfs lowerdirs
//   ├── images.json                    the index: image records and the names pointing at them
//   ├── downloads/sha256/<hex>[.partial]  pulls' blobs: verified, or being downloaded (pull.ts);
//   │                                  kept after a failed pull for the next one, not part of the store
//   └── tmp/img-<pid>-XXXX/            work in progress; renamed into place when complete
//
// Rules that keep it consistent:
//   - every change happens under withLock('images');
//   - every file is written elsewhere and renamed into place (rename is atomic), so a
//     reader never sees half a file and a crash leaves at most a tmp/ directory behind;
//   - a load checks EVERYTHING (digests, diff_ids, every tar entry) before it moves anything
//     into the store, and removes its tmp/ directory whatever happens;
//   - blobs and layers no image refers to are garbage-collected (after rmi, and before load
//     to clean up after a crash).

import fs from 'node:fs';
import path from 'node:path';
import { MinidError, fail } from '../errors.js';
import { paths, root } from '../sys/paths.js';
import { withLock } from '../sys/lock.js';
import { recordEvent } from '../runtime/events.js';
import { parseReference, tryParseReference } from './ref.js';
import { UnsafeEntryError } from './safety.js';
import type { ImageConfig, ImageSource, SourceImage } from './source.js';
import type { Compression } from './layer.js';
import { runJobs } from '../sys/jobs.js';

export type { ImageConfig } from './source.js';

export interface LayerRecord {
  /** Digest of the layer blob as distributed (compressed or not). */
  digest: string;
  /** sha256 of the uncompressed tar: names the unpacked directory layers/<hex>. */
  diffId: string;
  /** Bytes of the blob. */
  size: number;
}

export interface ImageRecord {
  /** The image ID: digest of its config, "sha256:<hex>". */
  id: string;
  /** Familiar names ("busybox:latest"); empty for a dangling image. */
  names: string[];
  manifestDigest: string;
  /** Lowest layer first. */
  layers: LayerRecord[];
  config: ImageConfig;
  created?: string;
  /** Unpacked size in bytes (sum of the layers' regular files). */
  size: number;
}

interface IndexFile {
  version: 1;
  images: ImageRecord[];
  /** Unpacked bytes per layer (by diff_id hex), so a shared layer is counted without rescanning it. */
  layerSizes: Record<string, number>;
}

const LOCK = 'images';
const WORK_PREFIX = 'img-';

const hex = (digest: string) => digest.slice('sha256:'.length);
export const shortId = (digest: string) => `sha256:${hex(digest).slice(0, 12)}`;
const label = (img: { names: string[]; id: string }) => img.names[0] ?? shortId(img.id);

// ---------------------------------------------------------------------------------------
// The index

function readIndex(): IndexFile {
  let text: string;
  try {
    text = fs.readFileSync(paths.images(), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: [], layerSizes: {} };
    throw e;
  }
  try {
    const idx = JSON.parse(text) as IndexFile;
    if (!Array.isArray(idx.images)) throw new Error('no "images" list');
    idx.layerSizes ??= {};
    return idx;
  } catch (e) {
    fail(`the image index ${paths.images()} is corrupt (${(e as Error).message}): move it away and load the images again`);
  }
}

/** Write a file atomically: temp file in the same directory, fsync, rename. */
function writeFileAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function writeIndex(idx: IndexFile): void {
  writeFileAtomic(paths.images(), JSON.stringify(idx, null, 2) + '\n');
}

async function ensureStore(): Promise<void> {
  for (const d of [paths.blobs(), paths.layers()]) fs.mkdirSync(d, { recursive: true });
  await ensureWorkDir();
}

/**
 * tmp/, where loads and pulls unpack layers before moving them into the store, made as the
 * top of unrelated directory trees: `chattr +T`, the hint to ext2/3/4's Orlov allocator that
 * chattr(1) suggests for /home. Each work directory made in it then gets a block group of its
 * own, instead of its parent's, where `minid rmi` or a prune has just freed thousands of inodes:
 * ext4 without a journal (as on this project's machines) skips those one by one while their
 * inode table is unwritten. Measured: the python image's 5,600 entries cost 1.8 s of kernel
 * time to create after a prune, 0.25 s with the hint. Done once, when tmp/ is made; on other
 * file systems chattr fails, harmlessly.
 */
export async function ensureWorkDir(): Promise<void> {
  fs.mkdirSync(root(), { recursive: true });
  try {
    fs.mkdirSync(paths.tmp());
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw e;
  }
  const { run } = await import('../sys/exec.js');
  await run(['chattr', '+T', paths.tmp()], { allowFail: true }).catch(() => {}); // not ext*, or no chattr
}

// ---------------------------------------------------------------------------------------
// Queries

/** Unpacked bytes of every stored layer, by diff_id hex (`system df` counts a shared layer once). */
export function layerSizes(): Record<string, number> {
  return readIndex().layerSizes;
}

/** All images, newest first. */
export async function listImages(): Promise<ImageRecord[]> {
  return readIndex().images.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
}

export function notFound(ref: string): never {
  // An ID (prefix) is shown as typed; a name as docker normalizes it ("foo" -> "foo:latest").
  const shown = /^(sha256:)?[0-9a-f]{12,64}$/.test(ref) ? ref : (tryParseReference(ref)?.familiar ?? ref);
  fail(`image ${JSON.stringify(shown)} not found: load it with \`minid load -i FILE\` (or \`make images\`)`);
}

/** Find an image by name[:tag], name@digest, full ID or a unique ID prefix; null if none. */
function findImage(images: ImageRecord[], ref: string): ImageRecord | null {
  if (/^sha256:[0-9a-f]{64}$/.test(ref)) return images.find((i) => i.id === ref) ?? null;
  let parseError: unknown = null;
  try {
    const r = parseReference(ref);
    if (r.digest) {
      const byDigest = images.find((i) => i.manifestDigest === r.digest);
      if (byDigest) return byDigest;
    } else {
      const byName = images.find((i) => i.names.includes(r.familiar));
      if (byName) return byName;
    }
  } catch (e) {
    parseError = e;
  }
  const m = /^(?:sha256:)?([0-9a-f]{1,64})$/.exec(ref);
  if (m) {
    const hits = images.filter((i) => hex(i.id).startsWith(m[1]));
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) fail(`image ID prefix ${JSON.stringify(ref)} is ambiguous (${hits.length} images): give more digits`);
  }
  if (parseError) throw parseError;
  return null;
}

/** The image REF names in the store, or null (a malformed name is null too: it cannot be here). */
export async function findLocalImage(ref: string): Promise<ImageRecord | null> {
  try {
    return findImage(readIndex().images, ref);
  } catch (e) {
    if (e instanceof MinidError && /ambiguous/.test(e.message)) throw e;
    return null;
  }
}

/**
 * The image whose manifest has this digest, when the store holds all of it (its blobs and
 * unpacked layers); null otherwise. A pull that finds it has nothing to fetch.
 */
export function storedImage(manifestDigest: string): ImageRecord | null {
  const img = readIndex().images.find((i) => i.manifestDigest === manifestDigest);
  if (!img) return null;
  const blobs = [img.id, img.manifestDigest, ...img.layers.map((l) => l.digest)].map((d) => path.join(paths.blobs(), hex(d)));
  return [...blobs, ...layerPaths(img)].every((f) => fs.existsSync(f)) ? img : null;
}

export async function resolveImage(ref: string): Promise<ImageRecord> {
  return findImage(readIndex().images, ref) ?? notFound(ref);
}

/**
 * The unpacked layer directories of an image, LOWEST first (overlayfs wants the reverse:
 * `lowerdir=top:...:bottom`). A layer that occurs twice is kept only at its highest
 * position: applying it again there has the same effect, and overlayfs refuses to use
 * one directory twice.
 */
export function layerPaths(img: ImageRecord): string[] {
  const dirs = img.layers.map((l) => path.join(paths.layers(), hex(l.diffId)));
  return dirs.filter((d, i) => dirs.lastIndexOf(d) === i);
}

// ---------------------------------------------------------------------------------------
// Garbage collection and crash clean-up

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove work directories (and index temp files) of loads that died (their pid is gone). Caller holds the lock. */
function cleanStaleWork(): void {
  const dir = path.dirname(paths.images());
  const base = path.basename(paths.images());
  for (const e of fs.readdirSync(dir)) {
    const m = /\.tmp-(\d+)$/.exec(e);
    if (e.startsWith(`${base}.tmp-`) && m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) fs.rmSync(path.join(dir, e), { force: true });
  }
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(paths.tmp());
  } catch {
    return;
  }
  for (const e of entries) {
    const m = new RegExp(`^${WORK_PREFIX}(\\d+)-`).exec(e);
    if (m && (Number(m[1]) === process.pid ? false : !pidAlive(Number(m[1])))) {
      fs.rmSync(path.join(paths.tmp(), e), { recursive: true, force: true });
    }
  }
}

/** Delete a directory tree so that it vanishes from its place atomically (rename first). */
function removeTree(dir: string): void {
  const trash = path.join(paths.tmp(), `${WORK_PREFIX}${process.pid}-trash-${path.basename(dir)}-${Date.now()}`);
  try {
    fs.renameSync(dir, trash);
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
    return;
  }
  fs.rmSync(trash, { recursive: true, force: true });
}

/** Delete blobs and layers no image refers to. Caller holds the lock. Returns the removed layers' diff_ids. */
function collectGarbage(idx: IndexFile): string[] {
  const blobs = new Set<string>();
  const layers = new Set<string>();
  for (const img of idx.images) {
    blobs.add(hex(img.id));
    blobs.add(hex(img.manifestDigest));
    for (const l of img.layers) {
      blobs.add(hex(l.digest));
      layers.add(hex(l.diffId));
    }
  }
  const list = (d: string) => {
    try {
      return fs.readdirSync(d);
    } catch {
      return [];
    }
  };
  for (const b of list(paths.blobs())) if (!blobs.has(b)) fs.rmSync(path.join(paths.blobs(), b), { force: true });
  const removed: string[] = [];
  for (const l of list(paths.layers())) {
    if (!layers.has(l)) {
      removeTree(path.join(paths.layers(), l));
      removed.push(`sha256:${l}`);
    }
  }
  for (const k of Object.keys(idx.layerSizes)) if (!layers.has(k)) delete idx.layerSizes[k];
  return removed;
}

// ---------------------------------------------------------------------------------------
// Load

/** The disk filled up (a load says it so; a pull in its own words, see pull.ts). */
export class NoSpaceLeftError extends MinidError {}

function noSpace(what: string): MinidError {
  return new NoSpaceLeftError(`no space left on device while ${what}: free space under ${root()} and retry`);
}

interface LayerJob {
  file: string;
  digest?: string;
  size?: number;
  diffId: string;
  /** "busybox:latest" (or an ID) for messages. */
  image: string;
  /** Set by checkLayers: the blob as checked. */
  scanned?: { digest: string; size: number; compression: 'gzip' | 'zstd' | 'none'; unpackedSize: number };
}

/** A new, empty directory for a layer's files: its root is "/" of the container. */
function newLayerDir(parent: string, diffId: string): string {
  const dest = path.join(parent, hex(diffId));
  fs.mkdirSync(dest, 0o755);
  fs.chmodSync(dest, 0o755); // 0755 unless the tar says otherwise (mkdir applies the umask)
  return dest;
}

/**
 * Check a layer blob and (with `dest`) unpack it: the one pass of layer.ts's scanLayer.
 * The caller compares digest, size and diff_id, and removes `dest` on any error. Refusals
 * become one line about `ctx` ("layer sha256:abc of image busybox:latest").
 */
async function checkLayer(
  file: string,
  dest: string | undefined,
  ctx: string,
  what: string,
  verifiedDigest?: string,
): Promise<{ digest: string; diffId: string; size: number; compression: Compression; unpackedSize: number }> {
  const layer = await import('./layer.js');
  try {
    const compression = await layer.sniffCompression(file);
    const scan = await layer.scanLayer(file, compression, undefined, { dest, verifiedDigest });
    return { digest: scan.digest, diffId: scan.diffId, size: scan.size, compression, unpackedSize: scan.plan.unpackedSize };
  } catch (e) {
    if (e instanceof MinidError) throw e;
    if (e instanceof UnsafeEntryError) fail(`${ctx} is unsafe: ${e.message}`);
    if (e instanceof layer.CorruptLayerError) fail(`${ctx} ${e.message}`);
    if (layer.isNoSpace(e)) throw noSpace(`unpacking layer ${what}`);
    throw e;
  }
}

/** A layer a pull has checked and unpacked (prepareLayer) into `dir` under tmp/, for loadImages. */
export interface PreparedLayer {
  dir: string;
  digest: string;
  diffId: string;
  size: number;
  compression: Compression;
  unpackedSize: number;
}

/**
 * For pull: check and unpack a downloaded layer blob, whose digest was verified as it came
 * in (it is not hashed again), into a new directory under `parent` (in tmp/), while other
 * blobs are still downloading. It counts only once loadImages has compared its diff_id with
 * the image config and moved it into the store; on any error the directory is removed.
 */
export async function prepareLayer(file: string, digest: string, parent: string, label: string): Promise<PreparedLayer> {
  const dir = path.join(parent, hex(digest));
  fs.mkdirSync(dir, 0o755);
  fs.chmodSync(dir, 0o755);
  try {
    return { dir, ...(await checkLayer(file, dir, label, shortId(digest), digest)) };
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    if (e instanceof MinidError) throw e;
    throw new MinidError(`${label} could not be unpacked: ${(e as Error).message}`);
  }
}

/** Options of loadImages. */
export interface LoadOptions {
  /**
   * For pull: the input is a directory of ours on the store's file system; its layer blobs
   * are moved into the store instead of copied.
   */
  consumeSource?: boolean;
  /** Told when a layer starts and ends unpacking (pull's progress). */
  onLayer?: (digest: string, status: 'Extracting' | 'Pull complete') => void;
  /** Layers already checked and unpacked (by pull, with prepareLayer), by blob digest. */
  prepared?: Map<string, PreparedLayer>;
}

/**
 * Import every image of an OCI image layout or docker-save archive (directory or tar,
 * maybe gzipped). All or nothing: on any error the store is left as it was.
 *
 * The phases, each a function below:
 *   1. readInput      the archive (unpacked into the work directory) or the layout directory
 *   2. planLayerJobs  one job per distinct layer blob, shared by the images that use it
 *   3. checkLayers    check (and unpack when new) every layer, staging blobs and layers
 *   4. recordImages   the index records, and the manifests and configs to store
 *   5. commitLoad     move what is staged into the store, then write the index
 */
export async function loadImages(file: string, opts: LoadOptions = {}): Promise<ImageRecord[]> {
  const abs = path.resolve(file);
  const isDirectory = inputIsDirectory(abs, file);
  const layer = await import('./layer.js');

  return withLock(LOCK, async () => {
    await ensureStore();
    cleanStaleWork();
    collectGarbage(readIndex()); // leftovers of a crash between moving layers and writing the index
    const work = fs.mkdtempSync(path.join(paths.tmp(), `${WORK_PREFIX}${process.pid}-`));
    try {
      const src = await readInput(abs, isDirectory, file, work);
      const images = src.images();
      const idx = readIndex();
      const jobsOf = planLayerJobs(src, images);
      const staging = newStaging(work);
      await checkLayers(uniqueJobs(jobsOf), staging, src, idx, opts);
      const records = await recordImages(images, jobsOf, staging, idx);
      await commitLoad(staging, records, idx, file);
      return records.map((r) => idx.images.find((i) => i.id === r.id) ?? r);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }).catch((e: unknown) => {
    // Any other write of the load (work directory, small blobs) that hits a full disk.
    if (!(e instanceof MinidError) && layer.isNoSpace(e)) throw noSpace(`loading ${file}`);
    throw e;
  });
}

/** Whether the input is a directory (an OCI layout or an unpacked docker save); a user's path that does not exist is refused. */
function inputIsDirectory(abs: string, file: string): boolean {
  try {
    return fs.statSync(abs).isDirectory();
  } catch {
    fail(`cannot read ${JSON.stringify(file)}: no such file or directory`);
  }
}

/** Phase 1: the input as an ImageSource; a tar (maybe compressed) is unpacked into `work`/src first. */
async function readInput(abs: string, isDirectory: boolean, file: string, work: string): Promise<ImageSource> {
  const { ImageSource, unpackArchive } = await import('./source.js');
  if (isDirectory) return new ImageSource(abs, file);
  const layer = await import('./layer.js');
  const dir = path.join(work, 'src');
  try {
    await unpackArchive(abs, dir);
  } catch (e) {
    if (layer.isNoSpace(e)) throw noSpace(`reading ${file}`);
    if (e instanceof UnsafeEntryError) fail(`${JSON.stringify(file)} is not a valid image: ${e.message}`);
    if (e instanceof layer.CorruptLayerError) fail(`${JSON.stringify(file)} is not a valid image: it ${e.message}`);
    fail(`${JSON.stringify(file)} is not a valid image: it is not a tar archive (${(e as Error).message})`);
  }
  return new ImageSource(dir, file);
}

/**
 * Phase 2: one job per distinct layer blob (two images of one archive often share layers),
 * listed per image in the image's layer order. A blob used with two diff_ids is refused.
 */
function planLayerJobs(src: ImageSource, images: SourceImage[]): Map<SourceImage, LayerJob[]> {
  const jobs = new Map<string, LayerJob>(); // by the blob's file
  const jobsOf = new Map<SourceImage, LayerJob[]>();
  for (const img of images) {
    const name = img.names[0] ?? shortId(img.config.digest);
    const list = img.layers.map((l, i) => {
      const diffId = img.config.json.rootfs.diff_ids[i];
      let job = jobs.get(l.file);
      if (!job) {
        job = { file: l.file, digest: l.digest, size: l.size, diffId, image: name };
        jobs.set(l.file, job);
      } else if (job.diffId !== diffId) {
        src.bad(`layer ${l.digest ?? l.file} is used with two different diff_ids`);
      }
      return job;
    });
    jobsOf.set(img, list);
  }
  return jobsOf;
}

const uniqueJobs = (jobsOf: Map<SourceImage, LayerJob[]>): LayerJob[] => [...new Set([...jobsOf.values()].flat())];

/** What a load gathers in its work directory before moving it into the store. */
interface Staging {
  /** The load's work directory under tmp/ (a blob unpacked from a tar lies in it). */
  work: string;
  /** Blobs to move into blobs/. */
  blobs: string;
  /** Unpacked layers to move into layers/, each named by its diff_id. */
  layers: string;
  /** Diff_ids some job of this load unpacks (or has moved in): unpacked once. */
  unpacking: Set<string>;
}

function newStaging(work: string): Staging {
  const staging = { work, blobs: path.join(work, 'blobs'), layers: path.join(work, 'layers'), unpacking: new Set<string>() };
  fs.mkdirSync(staging.blobs);
  fs.mkdirSync(staging.layers);
  return staging;
}

const blobInStore = (digest: string) => fs.existsSync(path.join(paths.blobs(), hex(digest)));
const layerInStore = (diffId: string) => fs.existsSync(path.join(paths.layers(), hex(diffId)));

/** Phase 3: check (and unpack when new) every layer: two at a time, all or nothing. */
async function checkLayers(jobs: LayerJob[], staging: Staging, src: ImageSource, idx: IndexFile, opts: LoadOptions): Promise<void> {
  await runJobs(jobs, 2, async (job) => {
    const what = shortId(job.digest ?? job.diffId);
    const ctx = `layer ${what} of image ${job.image}`;
    // Already have this exact blob, unpacked: content addressing says it is the same.
    if (job.digest && blobInStore(job.digest) && layerInStore(job.diffId)) {
      job.scanned = await storedLayer(job, job.digest, ctx, src, idx);
      return;
    }
    const ready = job.digest ? opts.prepared?.get(job.digest) : undefined;
    const scanned = ready ?? (await readLayer(job, staging, ctx, what, opts));
    verifyLayer(job, scanned, ctx);
    job.scanned = { digest: scanned.digest, size: scanned.size, compression: scanned.compression, unpackedSize: scanned.unpackedSize };
    if (!ready && job.digest) opts.onLayer?.(job.digest, 'Pull complete');
    if (ready) adoptPreparedLayer(job, ready, staging);
    stageBlob(job, scanned.digest, staging, opts);
  });
}

/** A layer the store has, blob and unpacked directory: only its size is checked against the manifest. */
async function storedLayer(job: LayerJob, digest: string, ctx: string, src: ImageSource, idx: IndexFile): Promise<NonNullable<LayerJob['scanned']>> {
  const stored = path.join(paths.blobs(), hex(digest));
  const size = fs.statSync(stored).size;
  if (job.size !== undefined && size !== job.size) src.bad(`${ctx} has ${size} bytes, the manifest says ${job.size}`);
  const { sniffCompression } = await import('./layer.js');
  return { digest, size, compression: await sniffCompression(stored), unpackedSize: idx.layerSizes[hex(job.diffId)] ?? 0 };
}

/**
 * Read a layer blob once: check it, and unpack it into the staging area unless the store
 * (or another job of this load) has that diff_id already. A mismatch found afterwards
 * (verifyLayer) discards the unpacked files with the rest of the work directory.
 */
async function readLayer(job: LayerJob, staging: Staging, ctx: string, what: string, opts: LoadOptions) {
  try {
    if (job.digest) opts.onLayer?.(job.digest, 'Extracting');
    let dir: string | undefined; // none: nothing to unpack
    if (!layerInStore(job.diffId) && !staging.unpacking.has(job.diffId)) {
      staging.unpacking.add(job.diffId);
      dir = newLayerDir(staging.layers, job.diffId);
    }
    return await checkLayer(job.file, dir, ctx, what);
  } catch (e) {
    if (e instanceof MinidError) throw e;
    throw new MinidError(`${ctx} could not be unpacked: ${(e as Error).message}`);
  }
}

/** The layer's content against what the manifest (digest, size) and the image config (diff_id) say. */
function verifyLayer(job: LayerJob, scanned: { digest: string; size: number; diffId: string }, ctx: string): void {
  if (job.digest && scanned.digest !== job.digest) fail(`${ctx} is corrupt: its content does not match its digest (got ${scanned.digest})`);
  if (job.size !== undefined && scanned.size !== job.size) fail(`${ctx} is corrupt: it has ${scanned.size} bytes, the manifest says ${job.size}`);
  if (scanned.diffId !== job.diffId) {
    fail(`${ctx} is corrupt: its uncompressed content ${shortId(scanned.diffId)} does not match the diff_id ${shortId(job.diffId)} in the image config`);
  }
}

/** A layer pull unpacked while other blobs were downloading joins the staged ones (same file system: tmp/), unless one is there already. */
function adoptPreparedLayer(job: LayerJob, ready: PreparedLayer, staging: Staging): void {
  if (layerInStore(job.diffId) || staging.unpacking.has(job.diffId)) return;
  staging.unpacking.add(job.diffId);
  fs.renameSync(ready.dir, path.join(staging.layers, hex(job.diffId)));
}

/** Stage the layer blob: moved if it is ours (unpacked from the tar, or pull's), copied otherwise. */
function stageBlob(job: LayerJob, digest: string, staging: Staging, opts: LoadOptions): void {
  const staged = path.join(staging.blobs, hex(digest));
  if (blobInStore(digest) || fs.existsSync(staged)) return;
  if (job.file.startsWith(staging.work + path.sep) || opts.consumeSource) fs.renameSync(job.file, staged);
  else fs.copyFileSync(job.file, staged, fs.constants.COPYFILE_FICLONE);
}

/**
 * Phase 4: an index record per image, its layers' unpacked sizes in the index, and its
 * manifest and config staged as blobs. A docker-save image has no OCI manifest: it gets
 * one written here, from the layers as stored.
 */
async function recordImages(images: SourceImage[], jobsOf: Map<SourceImage, LayerJob[]>, staging: Staging, idx: IndexFile): Promise<ImageRecord[]> {
  const { sha256, MT } = await import('./source.js');
  const records: ImageRecord[] = [];
  const smallBlobs = new Map<string, Buffer>();
  for (const img of images) {
    const list = jobsOf.get(img)!;
    let manifest = img.manifest;
    if (!manifest) {
      const mediaType = (c: string) => (c === 'gzip' ? MT.ociLayerGzip : c === 'zstd' ? MT.ociLayerZstd : MT.ociLayer);
      const bytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.ociManifest,
          config: { mediaType: MT.ociConfig, digest: img.config.digest, size: img.config.bytes.length },
          layers: list.map((j) => ({ mediaType: mediaType(j.scanned!.compression), digest: j.scanned!.digest, size: j.scanned!.size })),
        }),
      );
      manifest = { digest: sha256(bytes), bytes };
    }
    smallBlobs.set(manifest.digest, manifest.bytes);
    smallBlobs.set(img.config.digest, img.config.bytes);
    for (const j of list) idx.layerSizes[hex(j.diffId)] ??= j.scanned!.unpackedSize;
    const seen = new Set<string>(); // a layer used twice counts once
    records.push({
      id: img.config.digest,
      names: [...img.names],
      manifestDigest: manifest.digest,
      layers: list.map((j) => ({ digest: j.scanned!.digest, diffId: j.diffId, size: j.scanned!.size })),
      config: img.config.json,
      ...(img.config.json.created ? { created: img.config.json.created } : {}),
      size: list.reduce((n, j) => (seen.has(j.diffId) ? n : (seen.add(j.diffId), n + (idx.layerSizes[hex(j.diffId)] ?? 0))), 0),
    });
  }
  for (const [digest, bytes] of smallBlobs) {
    if (!blobInStore(digest)) fs.writeFileSync(path.join(staging.blobs, hex(digest)), bytes);
  }
  return records;
}

/**
 * Phase 5: move the staged blobs and layers into place, then write the index: the write
 * makes the load count. If anything fails, what was moved is removed again.
 */
async function commitLoad(staging: Staging, records: ImageRecord[], idx: IndexFile, file: string): Promise<void> {
  const { isNoSpace } = await import('./layer.js');
  const added: string[] = [];
  const moveAll = (from: string, to: string) => {
    for (const name of fs.readdirSync(from)) {
      const dest = path.join(to, name);
      if (fs.existsSync(dest)) continue;
      fs.renameSync(path.join(from, name), dest);
      added.push(dest);
    }
  };
  try {
    moveAll(staging.blobs, paths.blobs());
    moveAll(staging.layers, paths.layers());
    for (const rec of records) addRecord(idx, rec);
    writeIndex(idx);
  } catch (e) {
    for (const p of added) removeTree(p);
    if (isNoSpace(e)) throw noSpace(`loading ${file}`);
    throw e;
  }
}

/** Put a record into the index. A name moves to the new image (the old one may become dangling, like docker). */
function addRecord(idx: IndexFile, rec: ImageRecord): void {
  for (const other of idx.images) if (other.id !== rec.id) other.names = other.names.filter((n) => !rec.names.includes(n));
  const prev = idx.images.find((i) => i.id === rec.id);
  if (prev) {
    Object.assign(prev, { ...rec, names: [...prev.names, ...rec.names.filter((n) => !prev.names.includes(n))] });
  } else {
    idx.images.push(rec);
  }
}

// ---------------------------------------------------------------------------------------
// Downloads (src/image/pull.ts): blobs of pulls, verified (HEX) or not yet (HEX.partial)

export const downloadsDir = (): string => path.join(root(), 'downloads', 'sha256');

/**
 * `minid system prune`: remove what pulls left in downloads/ (a failed or interrupted pull
 * keeps it for the next one), except the blobs a running pull holds the lock of. Returns the
 * removed files' names.
 */
export function pruneDownloads(): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(downloadsDir());
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const hex = n.replace(/\.partial$/, '');
    if (fs.existsSync(path.join(paths.locks(), `pull-${hex}.lock`))) continue; // being downloaded now
    fs.rmSync(path.join(downloadsDir(), n), { force: true });
    removed.push(n);
  }
  return removed;
}

// ---------------------------------------------------------------------------------------
// Remove

export interface RemoveOptions {
  force?: boolean;
  /** Names of the containers that use an image (the runtime provides it). */
  usedBy: (imageId: string) => string[];
}

/**
 * `minid rmi REF`: untag REF; when the image has no name left, delete it and collect its
 * blobs and layers. Refuses while a container uses the image. Returns the lines to print.
 */
export async function removeImage(ref: string, opts: RemoveOptions): Promise<string[]> {
  return withLock(LOCK, async () => {
    await ensureStore();
    const idx = readIndex();
    const parsed = tryParseReference(ref);
    let img: ImageRecord | null = null;
    let untag: string[];
    if (parsed && !parsed.digest && (img = idx.images.find((i) => i.names.includes(parsed.familiar)) ?? null)) {
      untag = [parsed.familiar]; // by name: remove just that name
    } else {
      img = findImage(idx.images, ref) ?? notFound(ref);
      if (img.names.length > 1 && !opts.force) {
        fail(`unable to delete ${shortId(img.id)} (must be forced): it has several names (${img.names.join(', ')}): remove them one by one or use -f`);
      }
      untag = [...img.names];
    }
    const remaining = img.names.filter((n) => !untag.includes(n));
    const lines = untag.map((n) => `Untagged: ${n}`);
    // Recorded once the names are gone (a refusal below untags nothing).
    const untagged = () => untag.forEach((n) => recordEvent('image', 'untag', img!.id, { name: n }));
    if (remaining.length > 0) {
      img.names = remaining;
      writeIndex(idx);
      untagged();
      return lines;
    }
    const users = opts.usedBy(img.id);
    if (users.length > 0) {
      if (!opts.force) {
        const them = users.length === 1 ? 'it' : 'them';
        fail(
          `image ${label(img)} (${shortId(img.id)}) is used by container${users.length === 1 ? '' : 's'} ${users.join(', ')}: ` +
            `remove ${them} with \`minid rm\` first`,
        );
      }
      // -f: untag, but the containers still need the layers: keep the image, dangling.
      img.names = [];
      writeIndex(idx);
      untagged();
      return lines;
    }
    idx.images = idx.images.filter((i) => i !== img);
    // Index first: a crash now leaves unreferenced files (collected next time), never a
    // record pointing at a deleted layer.
    writeIndex(idx);
    const removed = collectGarbage(idx);
    writeIndex(idx); // drops the collected layers' sizes
    untagged();
    lines.push(`Deleted: ${img.id}`);
    recordEvent('image', 'delete', img.id, { name: img.id });
    for (const l of removed) lines.push(`Deleted: ${l} (layer)`);
    return lines;
  });
}

// ---------------------------------------------------------------------------------------
// Tag (`minid tag SOURCE TARGET`; push and save read the store through imageBlobs below)

/**
 * Give the image SOURCE (a name, an ID prefix or name@digest) the name TARGET. Like docker,
 * a name points at one image only: TARGET moves away from any image that had it.
 */
export async function tagImage(source: string, target: string): Promise<ImageRecord> {
  const t = tryParseReference(target);
  if (!t) parseReference(target); // throws the parse error, with its reason
  if (t!.digest) fail(`refusing to create a tag with a digest reference: ${JSON.stringify(target)}: give NAME[:TAG]`);
  return withLock(LOCK, async () => {
    await ensureStore();
    const idx = readIndex();
    const img = findImage(idx.images, source) ?? notFound(source);
    for (const other of idx.images) if (other !== img) other.names = other.names.filter((n) => n !== t!.familiar);
    if (!img.names.includes(t!.familiar)) img.names.push(t!.familiar);
    writeIndex(idx);
    recordEvent('image', 'tag', img.id, { name: t!.familiar });
    return img;
  });
}

/** Where the store keeps a blob (manifest, config or layer as distributed) of an image. */
export const blobPath = (digest: string): string => path.join(paths.blobs(), hex(digest));
