// One layer: check it, then unpack it.
//
//   1. scanLayer(): ONE streaming pass over the blob in Node: sha256 of the blob (its
//      digest), decompress, sha256 of the tar (its diff_id), and every tar header through
//      node-tar's parser into LayerChecker (safety.ts). Nothing is written.
//   2. extractLayer(): only if the scan passed, GNU tar unpacks the blob into an empty
//      directory under the store's tmp/ (GNU tar keeps devices, FIFOs, hard links, setuid
//      bits, numeric owners and xattrs; it is also fast). Then the OCI whiteout marker
//      files become overlayfs whiteouts: `mknod NAME c 0 0` and
//      `setfattr -n trusted.overlay.opaque -v y DIR`.
// The caller renames the finished directory into layers/<diff_id hex>/.

import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Transform, Writable, PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { ExecError, run } from '../sys/exec.js';
import { LayerChecker, UnsafeEntryError, type EntryType, type LayerPlan } from './safety.js';

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

const TAR_TYPES: Record<string, EntryType> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'dir',
  GNUDumpDir: 'dir',
  SymbolicLink: 'symlink',
  Link: 'hardlink',
  CharacterDevice: 'chardev',
  BlockDevice: 'blockdev',
  FIFO: 'fifo',
};

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

/**
 * Hash, decompress and check a layer blob in one pass. `plainTar` may name an already
 * decompressed copy (zstd, which Node 20's zlib cannot read): then the blob is only hashed.
 * Throws UnsafeEntryError or CorruptLayerError.
 */
export async function scanLayer(
  blob: string,
  compression: Compression,
  plainTar?: string,
  opts: { allow?: ReadonlySet<EntryType> } = {},
): Promise<ScanResult> {
  const blobHash = createHash('sha256');
  const diffHash = createHash('sha256');
  let size = 0;
  const { Parser } = await import('tar');
  const checker = new LayerChecker();
  let problem: Error | null = null;
  let sawData = false;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry) => {
      if (!problem) {
        const type = TAR_TYPES[entry.type];
        try {
          if (!type || (opts.allow && !opts.allow.has(type))) {
            throw new UnsafeEntryError(entry.path, `has a tar entry type we do not unpack (${entry.type})`);
          }
          checker.add({ path: entry.path, type, linkpath: entry.linkpath, size: entry.size });
        } catch (e) {
          problem = e as Error;
        }
      }
      entry.resume();
    },
  });
  parser.on('ignoredEntry', (entry: { path: string; type: string }) => {
    problem ??= new UnsafeEntryError(entry.path, `has a tar entry type we do not unpack (${entry.type})`);
  });
  let allZero = true; // an empty layer is just the end-of-archive blocks: 1024 zero bytes
  let parseError: Error | null = null;
  parser.on('error', (e: Error & { code?: string }) => {
    if (e.code === 'TAR_BAD_ARCHIVE') parseError ??= e; // judged at the end: fine if all zeros
    else problem ??= new CorruptLayerError(`is not a valid tar archive (${e.message})`);
  });

  const feed = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      if (!sawData) {
        sawData = true;
        if (detectCompression(chunk) !== 'none') {
          problem ??= new CorruptLayerError('is compressed twice: the uncompressed content is not a tar archive');
        }
      }
      diffHash.update(chunk);
      if (allZero && chunk.some((b) => b !== 0)) allZero = false;
      if (!problem) parser.write(chunk);
      // Stop reading at the first problem: no point hashing the rest of a bad layer.
      cb(problem ?? undefined);
    },
    final(cb) {
      parser.end();
      cb();
    },
  });

  const blobStream = fs.createReadStream(blob, { highWaterMark: 1 << 20 });
  try {
    if (plainTar) {
      const hashBlob = pipeline(blobStream, new Writable({ write(c: Buffer, _e, cb) { blobHash.update(c); size += c.length; cb(); } }));
      await Promise.all([hashBlob, pipeline(fs.createReadStream(plainTar, { highWaterMark: 1 << 20 }), feed)]);
    } else {
      const tap = new Transform({
        transform(c: Buffer, _e, cb) {
          blobHash.update(c);
          size += c.length;
          cb(null, c);
        },
      });
      const decompress = compression === 'gzip' ? zlib.createGunzip({ chunkSize: 1 << 18 }) : new PassThrough();
      await pipeline(blobStream, tap, decompress, feed);
    }
  } catch (e) {
    if (problem) throw problem;
    if ((e as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new CorruptLayerError(`is not valid gzip data (${(e as Error).message})`);
    throw e;
  }
  if (problem) throw problem;
  if (!sawData) throw new CorruptLayerError('is empty: not a tar archive');
  if (parseError && !allZero) throw new CorruptLayerError(`is not a valid tar archive (${(parseError as Error).message})`);
  return {
    digest: `sha256:${blobHash.digest('hex')}`,
    diffId: `sha256:${diffHash.digest('hex')}`,
    size,
    compression,
    plan: checker.plan(),
  };
}

/** Decompress a zstd blob with the zstd tool (Node 20 has no zstd). */
export async function decompressZstd(blob: string, out: string): Promise<void> {
  try {
    await run(['zstd', '-d', '-q', '-f', '-o', out, blob]);
  } catch (e) {
    if (isNoSpace(e)) throw new NoSpaceError(e);
    throw new CorruptLayerError(`is not valid zstd data (${(e as Error).message})`);
  }
}

/** Run up to `limit` async jobs at a time. */
async function eachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Unpack a scanned layer into `dest` (an empty directory) and convert its whiteouts.
 * Throws NoSpaceError when the disk is full.
 */
export async function extractLayer(tarFile: string, compression: Compression, dest: string, plan: LayerPlan): Promise<void> {
  try {
    // The root of the layer is "/" of the container: 0755 unless the tar says otherwise.
    fs.chmodSync(dest, 0o755);
    await run([
      'tar',
      '--extract',
      `--file=${tarFile}`,
      ...(compression === 'gzip' ? ['--gzip'] : compression === 'zstd' ? ['--zstd'] : []),
      `--directory=${dest}`,
      '--numeric-owner',
      '--same-owner',
      '--preserve-permissions',
      '--xattrs',
      '--xattrs-include=*',
      // A layer must not forge overlayfs metadata (redirects, metacopy...): we set it ourselves.
      '--xattrs-exclude=trusted.overlay.*',
      '--warning=no-unknown-keyword',
    ]);
    await applyWhiteouts(dest, plan);
  } catch (e) {
    if (isNoSpace(e)) throw new NoSpaceError(e);
    throw e;
  }
}

async function lexists(p: string): Promise<boolean> {
  try {
    await fs.promises.lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** .wh.NAME -> char device 0/0 NAME; .wh..wh..opq -> trusted.overlay.opaque=y on its directory. */
export async function applyWhiteouts(dest: string, plan: LayerPlan): Promise<void> {
  // The checker made sure no marker's parent is a symlink: these joins stay inside dest.
  for (const marker of plan.drop) {
    await fs.promises.rm(path.join(dest, marker), { recursive: true, force: true });
  }
  const devices: string[] = [];
  for (const w of plan.whiteouts) {
    const target = path.join(dest, w.target);
    // The layer may both delete NAME below and create a new NAME: the new one hides the old.
    if (await lexists(target)) continue;
    if (!devices.includes(target)) devices.push(target);
  }
  if (devices.length <= 8) {
    await eachLimit(devices, 4, async (d) => {
      await run(['mknod', d, 'c', '0', '0']);
    });
  } else {
    // Hundreds of whiteouts (a big `apt-get purge`): one shell running mknod per name
    // instead of one process each.
    for (let i = 0; i < devices.length; i += 500) {
      await run(['sh', '-c', 'for p do mknod "$p" c 0 0 || exit 1; done', 'mknod-whiteouts', ...devices.slice(i, i + 500)]);
    }
  }
  const dirs = [...new Set(plan.opaques.map((o) => path.join(dest, o.dir)))];
  for (let i = 0; i < dirs.length; i += 500) {
    // -h: never follow a symlink (the checker already refuses them; belt and braces).
    await run(['setfattr', '-h', '-n', 'trusted.overlay.opaque', '-v', 'y', ...dirs.slice(i, i + 500)]);
  }
}
