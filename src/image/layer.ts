// One layer: check it and unpack it, in ONE streaming pass over the blob, in Node:
//
//   sha256 of the blob (its digest) -> decompress -> sha256 of the tar (its diff_id) ->
//   tar.ts parses each entry -> LayerChecker (safety.ts) accepts or refuses it ->
//   unpack.ts writes exactly that entry into an empty directory under the store's tmp/.
//
// One parser decides both what is checked and what is written: an entry cannot look
// harmless to the check and be something else to the extraction (two parsers that read one
// header differently are how a layer escapes). At the end the OCI whiteout markers become
// overlayfs whiteouts (`mknod NAME c 0 0`, `setfattr -n trusted.overlay.opaque -v y DIR`),
// every directory on the way checked not to be a symlink. The caller checks digest and
// diff_id, then renames the finished directory into layers/<diff_id hex>/; on any error it
// removes it.

import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Transform, Writable, PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { ExecError, run, spawnProcess } from '../sys/exec.js';
import { LayerChecker, UnsafeEntryError, parentOf, type EntryType, type LayerPlan } from './safety.js';
import { TarError, TarReader } from './tar.js';
import { LayerWriter } from './unpack.js';
import { runJobs } from '../sys/jobs.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** Raised when the disk fills up while unpacking; the store turns it into the user message. */
export class NoSpaceError extends Error {
  constructor(cause?: unknown) {
    super('no space left on device', { cause });
    this.name = 'NoSpaceError';
  }
}

/** The blob is not what it claims (bad digest, bad compression, not a tar). */
export class CorruptLayerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptLayerError';
  }
}

/** Detect compression from the first bytes (the media type may lie; the magic does not). */
export function detectCompression(head: Uint8Array): Compression | 'bzip2' | 'xz' {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return 'bzip2';
  if (head.length >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58) return 'xz';
  return 'none';
}

async function readHead(file: string, n = 8): Promise<Buffer> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function sniffCompression(file: string): Promise<Compression> {
  const c = detectCompression(await readHead(file));
  if (c === 'bzip2' || c === 'xz') throw new CorruptLayerError(`is ${c}-compressed, which OCI layers cannot be (gzip, zstd or plain tar)`);
  return c;
}

export const isNoSpace = (e: unknown): boolean =>
  e instanceof NoSpaceError ||
  (e as NodeJS.ErrnoException)?.code === 'ENOSPC' ||
  (e as NodeJS.ErrnoException)?.code === 'EDQUOT' ||
  (e instanceof ExecError && /No space left on device|Disk quota exceeded/i.test(e.result.stderr + e.result.stdout));

export interface ScanResult {
  /** sha256 of the blob as stored (compressed or not). */
  digest: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** Bytes of the blob. */
  size: number;
  compression: Compression;
  plan: LayerPlan;
}

export interface ScanOptions {
  /** Entry types to accept (an image archive holds only files, directories and symlinks). */
  allow?: ReadonlySet<EntryType>;
  /** Unpack into this empty directory, each entry right after the checker accepted it. */
  dest?: string;
  /** An image archive, not a layer: plain files, no owners, devices, xattrs or whiteouts (unpack.ts). */
  archive?: boolean;
  /** Stop reading at the end-of-archive blocks instead of hashing what follows (no diff_id needed). */
  stopAtEnd?: boolean;
  /**
   * The blob's digest, already verified as it was downloaded (pull.ts): the blob is not hashed
   * a second time, and this is the digest returned.
   */
  verifiedDigest?: string;
}

/** Free bytes under `dir`: a layer whose files add up to more is refused before it fills the disk. */
function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/**
 * Hash, decompress, check and (with opts.dest) unpack a layer blob in one pass. Each entry
 * comes from one parser (tar.ts), is judged by LayerChecker, and only then written, exactly
 * as parsed; zstd through the zstd program (unzstd). `plainTar` may name an already
 * decompressed copy: then the blob is only hashed. Throws UnsafeEntryError, CorruptLayerError
 * or NoSpaceError; the caller removes `dest` on any error (and on a digest mismatch).
 */
export async function scanLayer(blob: string, compression: Compression, plainTar?: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const blobHash = opts.verifiedDigest ? null : createHash('sha256');
  const diffHash = createHash('sha256');
  let size = 0;
  let sawData = false;
  const checker = new LayerChecker();
  const writer = opts.dest ? new LayerWriter(opts.dest, { archive: opts.archive ?? false }) : null;
  // A gzip bomb declares its sizes in the headers: stop at the header, not at a full disk.
  let budget = opts.dest ? freeBytes(opts.dest) : Infinity;

  async function* hashed(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      if (!sawData) {
        sawData = true;
        if (detectCompression(chunk) !== 'none') throw new CorruptLayerError('is compressed twice: the uncompressed content is not a tar archive');
      }
      diffHash.update(chunk);
      yield chunk;
    }
  }

  // The first error of the consumer: pipeline() reports it as an AbortError of the streams.
  let problem: unknown = null;
  const consume = async (source: AsyncIterable<Buffer>): Promise<void> => {
    try {
      const tar = new TarReader(hashed(source));
      for (let e = await tar.next(); e; e = await tar.next()) {
        if (!e.type || (opts.allow && !opts.allow.has(e.type))) throw new UnsafeEntryError(e.path, `has a tar entry type we do not unpack (${e.typeName})`);
        const checked = checker.add({ path: e.path, type: e.type, linkpath: e.linkpath || undefined, size: e.size });
        if (!writer) continue;
        if (e.type === 'file' && (budget -= e.size) < 0) throw new NoSpaceError();
        await writer.write(e, checked, tar.body(e));
      }
      if (!opts.stopAtEnd) await tar.drain();
    } catch (e) {
      problem ??= e;
      throw e;
    }
  };

  try {
    const blobStream = fs.createReadStream(blob, { highWaterMark: 1 << 20 });
    if (plainTar) {
      const hashBlob = pipeline(blobStream, new Writable({ write(c: Buffer, _e, cb) { blobHash?.update(c); size += c.length; cb(); } }));
      await Promise.all([hashBlob, pipeline(fs.createReadStream(plainTar, { highWaterMark: 1 << 20 }), consume)]);
    } else if (compression === 'zstd') {
      // Node 20's zlib has no zstd: the zstd program decompresses, as a stream between the
      // blob (hashed on its way in) and the tar reader.
      const tap = new Transform({
        transform(c: Buffer, _e, cb) {
          blobHash?.update(c);
          size += c.length;
          cb(null, c);
        },
      });
      await unzstd([blobStream, tap], consume);
    } else {
      const tap = new Transform({
        transform(c: Buffer, _e, cb) {
          blobHash?.update(c);
          size += c.length;
          cb(null, c);
        },
      });
      const decompress = compression === 'gzip' ? zlib.createGunzip({ chunkSize: 1 << 18 }) : new PassThrough({ highWaterMark: 1 << 20 });
      await pipeline(blobStream, tap, decompress, consume);
    }
    if (!sawData) throw new CorruptLayerError('is empty: not a tar archive');
    if (writer) {
      await writer.flush();
      if (!opts.archive) await applyWhiteouts(opts.dest!, checker.plan());
      writer.setDirectoryTimes();
    }
  } catch (thrown) {
    const e = thrown instanceof CorruptLayerError ? thrown : (problem ?? thrown); // zstd's own words first
    if (e instanceof TarError) throw new CorruptLayerError(`is not a valid tar archive (${e.message})`);
    if ((e as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new CorruptLayerError(`is not valid gzip data (${(e as Error).message})`);
    if (isNoSpace(e)) throw e instanceof NoSpaceError ? e : new NoSpaceError(e);
    throw e;
  }
  return {
    digest: blobHash ? `sha256:${blobHash.digest('hex')}` : opts.verifiedDigest!,
    diffId: `sha256:${diffHash.digest('hex')}`,
    size,
    compression,
    plan: checker.plan(),
  };
}

/** Decompress a zstd blob into a file with the zstd tool (`minid save` writes plain layer tars). */
export async function decompressZstd(blob: string, out: string): Promise<void> {
  try {
    await run(['zstd', '-d', '-q', '-f', '-o', out, blob]);
  } catch (e) {
    if (isNoSpace(e)) throw new NoSpaceError(e);
    throw new CorruptLayerError(`is not valid zstd data (${(e as Error).message})`);
  }
}

/**
 * Stream `input` (the blob, and its hashing tap) through `zstd -d`, started through the exec
 * seam, into `consume`. A zstd that fails says why in one line; a consumer that stops early
 * (a refused entry) ends zstd.
 */
async function unzstd(input: [Readable, Transform], consume: (source: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  const child = await spawnProcess(['zstd', '-d', '-q', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code: number | null) => resolve(code ?? 128));
  });
  try {
    await Promise.all([pipeline(...input, child.stdin!), pipeline(child.stdout!, consume)]);
  } catch (e) {
    child.kill('SIGKILL');
    const code = await exited.catch(() => 1);
    // Bad zstd data: zstd's own words, not the tar reader's about the truncated stream.
    if (code !== 0 && stderr.trim() && (e instanceof TarError || (e as NodeJS.ErrnoException).code === 'EPIPE')) throw new CorruptLayerError(`is not valid zstd data (${lastLine(stderr)})`);
    throw e;
  }
  const code = await exited;
  if (code !== 0) throw new CorruptLayerError(`is not valid zstd data (${lastLine(stderr) || `zstd exited with ${code}`})`);
}

const lastLine = (s: string) => s.trim().split('\n').pop()!.replace(/^(zstd: )?(\/\*stdin\*\\ ?: )?/, '');

async function lexists(p: string): Promise<boolean> {
  try {
    await fs.promises.lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * Checks, with lstat, that every component of a path is a real directory of the layer (not
 * a symlink) before a whiteout is made there: rm, mknod and setfattr on a path through a
 * symlink would delete, create or mark files of the host.
 *
 * Why lstat on each component is enough here, where openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) would be needed elsewhere: that flag guards against a path changing
 * between the check and the use. This directory was created empty by this load, in the store's
 * tmp/ (inside the 0710 store root; every directory on the way writable by root only), and
 * nothing else writes in it until it is renamed into layers/: the only "attacker" is the archive, which has finished writing. The last
 * component is never followed either (mknod fails on an existing name, setfattr -h, rm of
 * a symlink removes the link). Names with "/" or ".." never get here (safety.ts).
 */
class RealDirs {
  private readonly ok = new Set<string>(['']);

  constructor(private readonly root: string) {}

  check(rel: string, entry: string): void {
    if (this.ok.has(rel)) return;
    this.check(parentOf(rel), entry);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(path.join(this.root, rel));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (!st?.isDirectory()) {
      const what = !st ? 'missing' : st.isSymbolicLink() ? 'a symlink' : 'not a directory';
      throw new UnsafeEntryError(entry, `is a whiteout in ${JSON.stringify(rel)}, which is ${what} in the unpacked layer`);
    }
    this.ok.add(rel);
  }
}

/** .wh.NAME -> char device 0/0 NAME; .wh..wh..opq -> trusted.overlay.opaque=y on its directory. */
export async function applyWhiteouts(dest: string, plan: LayerPlan): Promise<void> {
  const dirs = new RealDirs(dest);
  for (const marker of plan.drop) {
    dirs.check(parentOf(marker), marker);
    await fs.promises.rm(path.join(dest, marker), { recursive: true, force: true });
  }
  const devices: string[] = [];
  for (const w of plan.whiteouts) {
    dirs.check(parentOf(w.target), w.marker);
    const target = path.join(dest, w.target);
    // The layer may both delete NAME below and create a new NAME: the new one hides the old.
    if (await lexists(target)) continue;
    if (!devices.includes(target)) devices.push(target);
  }
  for (const o of plan.opaques) dirs.check(o.dir, o.marker);
  if (devices.length <= 8) {
    await runJobs(devices, 4, async (d) => {
      await run(['mknod', d, 'c', '0', '0']);
    });
  } else {
    // Hundreds of whiteouts (a big `apt-get purge`): one shell running mknod per name
    // instead of one process each.
    for (let i = 0; i < devices.length; i += 500) {
      await run(['sh', '-c', 'for p do mknod "$p" c 0 0 || exit 1; done', 'mknod-whiteouts', ...devices.slice(i, i + 500)]);
    }
  }
  const opaque = [...new Set(plan.opaques.map((o) => path.join(dest, o.dir)))];
  for (let i = 0; i < opaque.length; i += 500) {
    // -h: the directory itself, never a symlink's target (RealDirs checked it is none).
    await run(['setfattr', '-h', '-n', 'trusted.overlay.opaque', '-v', 'y', ...opaque.slice(i, i + 500)]);
  }
}
