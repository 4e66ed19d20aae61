// A strict tar reader: the ONE parser that decides what a layer contains. The checker
// (safety.ts) and the writer (unpack.ts) both get their entries from here, so no entry can
// look one way to the check and another way to the extraction (a PAX path and a GNU long name
// that disagree can hide a symlink from a checker that reads the other one).
//
// It reads POSIX ustar headers, GNU headers, GNU 'L'/'K' long names, PAX 'x' and 'g'
// records (with SCHILY.xattr.* kept as raw bytes) and base-256 numbers. It refuses what
// readers could read differently: two extended headers of one kind for one entry, a PAX
// name and a GNU long name that differ, repeated PAX keys, malformed records, data on
// anything but a regular file, names that are not UTF-8, and a lone zero block followed by
// more entries. GNU sparse files ('S') are read; PAX sparse formats are refused. Types it
// does not unpack (multi-volume, dump dirs...) come back with
// type null so the caller can refuse them by name.

import { UnsafeEntryError, type EntryType } from './safety.js';

/** The archive is not well-formed tar (the caller says which layer). */
export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

export interface TarEntry {
  /** The name as the archive gives it (PAX path, GNU long name, or prefix + name). */
  path: string;
  /** Target of a symlink or hard link ("" for other types). */
  linkpath: string;
  /** null: a type we do not unpack; typeName says which. */
  type: EntryType | null;
  typeName: string;
  /** Permission bits including setuid, setgid and sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch, maybe fractional (PAX). */
  mtime: number;
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.NAME records: name and raw value bytes. */
  xattrs: [string, Buffer][];
  /**
   * A GNU sparse file ('S', what `tar -S` writes in GNU tar's default format): the data
   * holds only the segments of `map` ([offset, length], in order); the rest are holes.
   */
  sparse?: { realSize: number; map: [number, number][] };
}

const BLOCK = 512;
/** Long names, link targets and PAX bodies above this are refused: no real layer needs them. */
const MAX_META = 1 << 20;

const TYPES: Record<string, [EntryType | null, string]> = {
  '0': ['file', 'File'],
  '\0': ['file', 'OldFile'],
  '7': ['file', 'ContiguousFile'],
  '1': ['hardlink', 'Link'],
  '2': ['symlink', 'SymbolicLink'],
  '3': ['chardev', 'CharacterDevice'],
  '4': ['blockdev', 'BlockDevice'],
  '5': ['dir', 'Directory'],
  '6': ['fifo', 'FIFO'],
  A: [null, 'SolarisACL'],
  D: [null, 'GNUDumpDir'],
  I: [null, 'Inode'],
  M: [null, 'ContinuationFile'],
  N: [null, 'OldGnuLongPath'],
  S: ['file', 'SparseFile'],
  V: [null, 'TapeVolumeHeader'],
  X: [null, 'OldExtendedHeader'],
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Pulls exact byte counts out of a stream of chunks, copying only when a read spans chunks. */
class ByteSource {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    while (this.pos >= this.buf.length) {
      const r = await this.it.next();
      if (r.done) return false;
      this.buf = r.value;
      this.pos = 0;
    }
    return true;
  }

  /** Up to `max` bytes of the current chunk (no copy); null at the end of the stream. */
  async chunk(max: number): Promise<Buffer | null> {
    if (this.pos >= this.buf.length && !(await this.fill())) return null;
    const n = Math.min(max, this.buf.length - this.pos);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Exactly `n` bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    const first = await this.chunk(n);
    if (!first || first.length === n) return first ?? Buffer.alloc(0);
    const parts = [first];
    let got = first.length;
    while (got < n) {
      const c = await this.chunk(n - got);
      if (!c) break;
      parts.push(c);
      got += c.length;
    }
    return Buffer.concat(parts, got);
  }

  /** Skip `n` bytes; false if the stream ended first. */
  async skip(n: number): Promise<boolean> {
    while (n > 0) {
      const c = await this.chunk(n);
      if (!c) return false;
      n -= c.length;
    }
    return true;
  }
}

const isZero = (b: Buffer): boolean => b.every((x) => x === 0);
const padding = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;

/** Decode a name as UTF-8: a name we could not decode would be written under another name. */
function decodeName(b: Buffer, what: string): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new UnsafeEntryError(b.toString('latin1'), `has a ${what} that is not valid UTF-8`);
  }
}

/** A NUL-terminated string field. */
function text(b: Buffer, what: string): string {
  const end = b.indexOf(0);
  return decodeName(end === -1 ? b : b.subarray(0, end), what);
}

/** A numeric header field: octal (spaces, digits, then NULs or spaces) or GNU base-256. */
function number(b: Buffer, field: string): number {
  if (b[0] & 0x80) {
    // Base-256: the rest of the first byte and the following bytes, big-endian, two's
    // complement. Negative values (sizes, ids, times before 1970) have no place in a layer.
    if (b[0] & 0x40) throw new TarError(`a header has a negative ${field}`);
    let v = b[0] & 0x3f;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i];
    if (!Number.isSafeInteger(v)) throw new TarError(`a header's ${field} is too large`);
    return v;
  }
  let i = 0;
  while (i < b.length && b[i] === 0x20) i++;
  let v = 0;
  for (; i < b.length && b[i] >= 0x30 && b[i] <= 0x37; i++) v = v * 8 + (b[i] - 0x30);
  for (; i < b.length; i++) if (b[i] !== 0 && b[i] !== 0x20) throw new TarError(`a header has a malformed ${field} field`);
  return v;
}

function checksumOk(h: Buffer): boolean {
  const want = number(h.subarray(148, 156), 'checksum');
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    unsigned += h[i];
    signed += h[i] > 127 ? h[i] - 256 : h[i];
  }
  // Old tars summed signed bytes; GNU tar and Go accept both.
  return want === unsigned || want === signed;
}

interface Header {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkpath: string;
  devmajor: number;
  devminor: number;
}

function parseHeader(h: Buffer): Header {
  if (!checksumOk(h)) throw new TarError('a header checksum is wrong');
  const magic = h.toString('latin1', 257, 265);
  const posix = magic === 'ustar\x0000';
  if (!posix && magic !== 'ustar  \0') throw new TarError('a header is neither POSIX ustar nor GNU tar');
  let name = text(h.subarray(0, 100), 'name');
  // Only POSIX headers have the prefix field; in GNU headers those bytes are times and offsets.
  const prefix = posix ? text(h.subarray(345, 500), 'name') : '';
  if (prefix) name = `${prefix}/${name}`;
  return {
    name,
    typeflag: String.fromCharCode(h[156]),
    // Go writes the file type bits too (0100644): keep the permission bits only.
    mode: number(h.subarray(100, 108), 'mode') & 0o7777,
    uid: number(h.subarray(108, 116), 'uid'),
    gid: number(h.subarray(116, 124), 'gid'),
    size: number(h.subarray(124, 136), 'size'),
    mtime: number(h.subarray(136, 148), 'mtime'),
    linkpath: text(h.subarray(157, 257), 'link target'),
    devmajor: number(h.subarray(329, 337), 'devmajor'),
    devminor: number(h.subarray(337, 345), 'devminor'),
  };
}

type Records = Map<string, Buffer>;

/** PAX records: "LEN KEY=VALUE\n", LEN counting the whole record; values may hold newlines. */
function parsePax(body: Buffer): Records {
  const out: Records = new Map();
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    const len = sp > i && sp - i < 20 ? body.toString('latin1', i, sp) : '';
    if (!/^[1-9][0-9]*$/.test(len)) throw new TarError('a PAX header has a malformed record');
    const end = i + Number(len);
    const eq = body.indexOf(0x3d, sp + 1);
    if (end > body.length || body[end - 1] !== 0x0a || eq === -1 || eq >= end - 1 || eq === sp + 1) {
      throw new TarError('a PAX header has a malformed record');
    }
    const key = body.toString('utf8', sp + 1, eq);
    // POSIX says the last one wins; some readers keep the first: refuse rather than pick.
    if (out.has(key)) throw new TarError(`a PAX header repeats the record ${JSON.stringify(key)}`);
    out.set(key, body.subarray(eq + 1, end - 1));
    i = end;
  }
  return out;
}

function paxNumber(v: Buffer, key: string, fraction = false): number {
  const s = v.toString('latin1');
  if (!(fraction ? /^[0-9]+(\.[0-9]+)?$/ : /^[0-9]+$/).test(s) || !Number.isSafeInteger(Math.trunc(Number(s)))) {
    throw new TarError(`a PAX header has a malformed ${key} (${JSON.stringify(s)})`);
  }
  return Number(s);
}

/** Keys that describe one entry only: in a global header they would be ambiguous. */
const PER_ENTRY = new Set(['path', 'linkpath', 'size']);
const SPARSE = /^(GNU\.sparse\.|SCHILY\.realsize$)/;

/**
 * The name of an entry when several headers give one. A PAX record and a GNU long name that
 * disagree are a parser differential (one reader takes one, another the other): refuse.
 */
function oneName(header: string, fromPax: Buffer | undefined, gnu: string | null, what: string): string {
  const pax = fromPax === undefined ? undefined : decodeName(fromPax, what);
  if (pax !== undefined && gnu !== null && pax !== gnu) {
    throw new UnsafeEntryError(gnu, `has two different ${what}s: ${JSON.stringify(pax)} in a PAX header and ${JSON.stringify(gnu)} in a GNU long-name header`);
  }
  return pax ?? gnu ?? header;
}

export class TarReader {
  private readonly src: ByteSource;
  private global: Records = new Map();
  /** Body bytes (with padding) of the last entry that its consumer did not read. */
  private unread = 0;
  private ended = false;
  private sawHeader = false;

  constructor(chunks: AsyncIterable<Buffer>) {
    this.src = new ByteSource(chunks[Symbol.asyncIterator]());
  }

  private async meta(size: number, what: string): Promise<Buffer> {
    if (size > MAX_META) throw new TarError(`a ${what} is larger than ${MAX_META} bytes`);
    const body = await this.src.read(size);
    if (body.length < size || !(await this.src.skip(padding(size)))) throw new TarError(`the archive ends inside a ${what}`);
    return body;
  }

  /** The next entry, or null at the end of the archive. Skips what is left of the last body. */
  async next(): Promise<TarEntry | null> {
    if (this.ended) return null;
    if (this.unread > 0 && !(await this.src.skip(this.unread))) throw new TarError('the archive ends inside an entry');
    this.unread = 0;
    let pax: Records | null = null;
    let longName: string | null = null;
    let longLink: string | null = null;
    for (;;) {
      const block = await this.src.read(BLOCK);
      const pending = pax !== null || longName !== null || longLink !== null;
      if (block.length === 0 || isZero(block)) {
        // Two zero blocks end the archive; so does the end of the stream (GNU tar agrees).
        if (block.length > 0) {
          const second = await this.src.read(BLOCK);
          if (second.length > 0 && !isZero(second)) throw new TarError('a lone zero block is followed by more entries');
        }
        if (pending) throw new TarError('the archive ends after an extended header');
        this.ended = true;
        return null;
      }
      if (!this.sawHeader) this.firstHeader(block);
      if (block.length < BLOCK) throw new TarError('the archive ends inside a header');
      const h = parseHeader(block);
      const sparse = h.typeflag === 'S' ? await this.sparseMap(block, h) : undefined;
      switch (h.typeflag) {
        case 'x':
          if (pax) throw new TarError('two PAX headers precede one entry');
          pax = parsePax(await this.meta(h.size, 'PAX header'));
          continue;
        case 'g':
          this.global = this.mergeGlobal(parsePax(await this.meta(h.size, 'global PAX header')));
          continue;
        case 'L':
          if (longName !== null) throw new TarError('two GNU long names precede one entry');
          longName = text(await this.meta(h.size, 'GNU long name'), 'name');
          continue;
        case 'K':
          if (longLink !== null) throw new TarError('two GNU long link names precede one entry');
          longLink = text(await this.meta(h.size, 'GNU long link name'), 'link target');
          continue;
      }
      const e = this.entry(h, pax ?? new Map(), longName, longLink);
      if (sparse) e.sparse = sparse;
      return e;
    }
  }

  /**
   * The map of an old-GNU sparse header: 4 [offset, length] pairs at byte 386, a flag at 482
   * when extension blocks of 21 more pairs follow, the real size at 483. Refused unless the
   * segments are in order, inside the real size, and add up to the data stored.
   */
  private async sparseMap(block: Buffer, h: Header): Promise<{ realSize: number; map: [number, number][] }> {
    if (block.toString('latin1', 257, 265) !== 'ustar  \0') throw new TarError('a sparse file has a POSIX header (its map would be read as a name prefix)');
    const map: [number, number][] = [];
    const pairs = (b: Buffer, off: number, n: number) => {
      for (let i = 0; i < n; i++) {
        const o = off + i * 24;
        if (b[o] === 0) break;
        map.push([number(b.subarray(o, o + 12), 'sparse offset'), number(b.subarray(o + 12, o + 24), 'sparse length')]);
      }
    };
    pairs(block, 386, 4);
    let more = block[482] !== 0;
    while (more) {
      if (map.length > 1 << 16) throw new TarError('a sparse file has more than 65536 segments');
      const ext = await this.src.read(BLOCK);
      if (ext.length < BLOCK) throw new TarError('the archive ends inside a sparse map');
      pairs(ext, 0, 21);
      more = ext[504] !== 0;
    }
    const realSize = number(block.subarray(483, 495), 'sparse real size');
    let end = 0;
    let stored = 0;
    for (const [off, len] of map) {
      if (off < end || off + len > realSize) throw new TarError('a sparse file has a malformed map');
      end = off + len;
      stored += len;
    }
    if (stored !== h.size) throw new TarError('a sparse file stores a different amount of data than its map says');
    return { realSize, map };
  }

  /** Say "not tar" plainly when the very first block is not a tar header (some other file). */
  private firstHeader(block: Buffer): void {
    this.sawHeader = true;
    try {
      if (block.length < BLOCK) throw new TarError('short');
      parseHeader(block);
    } catch (e) {
      if (e instanceof TarError) throw new TarError('no tar header at its start');
      throw e;
    }
  }

  private mergeGlobal(g: Records): Records {
    for (const k of g.keys()) {
      if (PER_ENTRY.has(k)) throw new TarError(`a global PAX header sets ${JSON.stringify(k)}`);
      if (SPARSE.test(k)) throw new TarError('a global PAX header describes sparse files');
    }
    return new Map([...this.global, ...g]);
  }

  private entry(h: Header, local: Records, longName: string | null, longLink: string | null): TarEntry {
    const r = this.global.size ? new Map([...this.global, ...local]) : local;
    const path = oneName(h.name, r.get('path'), longName, 'name');
    const [type, typeName] = TYPES[h.typeflag] ?? [null, `type ${JSON.stringify(h.typeflag)}`];
    for (const k of r.keys()) if (SPARSE.test(k)) throw new UnsafeEntryError(path, 'is a sparse file, which we do not unpack');
    const num = (key: string, fallback: number, fraction = false) => {
      const v = r.get(key);
      return v === undefined ? fallback : paxNumber(v, key, fraction);
    };
    const e: TarEntry = {
      path,
      linkpath: oneName(h.linkpath, r.get('linkpath'), longLink, 'link target'),
      type,
      typeName,
      mode: h.mode,
      uid: num('uid', h.uid),
      gid: num('gid', h.gid),
      size: num('size', h.size),
      mtime: num('mtime', h.mtime, true),
      devmajor: num('SCHILY.devmajor', h.devmajor),
      devminor: num('SCHILY.devminor', h.devminor),
      xattrs: [],
    };
    for (const [k, v] of r) if (k.startsWith('SCHILY.xattr.')) e.xattrs.push([k.slice('SCHILY.xattr.'.length), v]);
    // Readers disagree on whether a directory's or a link's size means a data block follows
    // (node-tar and Go skip none, others skip it): only regular files may have data.
    if (e.size > 0 && type !== 'file' && type !== null) throw new UnsafeEntryError(path, `has ${e.size} bytes of data but is not a regular file`);
    // Old tars meant a directory by "name/" on a file entry, newer ones a file: ambiguous.
    if (type === 'file' && path.endsWith('/')) throw new UnsafeEntryError(path, 'is a file with a directory name');
    this.unread = e.size + padding(e.size);
    return e;
  }

  /** The data of the entry next() just returned, in chunks (views into the stream's buffers). */
  async *body(e: TarEntry): AsyncGenerator<Buffer> {
    let left = e.size;
    while (left > 0) {
      const c = await this.src.chunk(left);
      if (!c) throw new TarError(`the archive ends inside ${JSON.stringify(e.path)}`);
      left -= c.length;
      this.unread -= c.length;
      yield c;
    }
    if (!(await this.src.skip(padding(e.size)))) throw new TarError(`the archive ends inside ${JSON.stringify(e.path)}`);
    this.unread = 0;
  }

  /** Read the rest of the stream: what follows the end of the archive is part of the diff_id. */
  async drain(): Promise<void> {
    while (await this.src.chunk(1 << 30));
  }
}
