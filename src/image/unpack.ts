// Writes the entries the checker accepted, exactly as the reader parsed them, into a fresh
// empty directory (the layer root). No tar program runs: what is written is what was checked.
//
// Every write happens in a directory this layer created (or the root), checked with lstat
// component by component the first time and remembered, so nothing is ever written through
// a symlink. A later entry replaces an earlier one of the same name (unlink, then create
// with O_EXCL|O_NOFOLLOW): it never writes through it.
//
// Order of the metadata calls matters: chown clears setuid/setgid and file capabilities, so
// owners first, then the full mode, then xattrs (security.capability), then times; directory
// times last of all, since creating their contents changes them.
//
// The calls that create a name (open with O_CREAT, mkdir, symlink, link) go to libuv's
// thread pool: they are the kernel's costliest part of an unpack (up to ~0.3 ms each on this
// machine's ext4, see ensureWorkDir in store.ts), so several layers unpacked at once spread
// them over the cores instead of queueing them on the main thread. A layer's own entries
// are still written one after the other, in archive order: every check below sees the disk
// as the entries before it left it. The quick calls on an open file stay synchronous.

import fs from 'node:fs';
import { promisify } from 'node:util';
import { run } from '../sys/exec.js';
import { parentOf, UnsafeEntryError, type CheckedEntry } from './safety.js';
import type { TarEntry } from './tar.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
const CREATE = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
const openFd = promisify(fs.open);

/** Processes a batch of mknod/setfattr calls may name at most (argument list limits). */
const BATCH = 500;

/**
 * xattrs a layer may set. security.capability (file capabilities, e.g. ping's cap_net_raw)
 * and user.*; never trusted.* (trusted.overlay.* would forge overlayfs whiteouts, redirects
 * and metacopy), nor security.selinux/ima or system.* ACLs, which belong to the host.
 */
function allowedXattr(name: string, type: TarEntry['type']): boolean {
  if (name === 'security.capability') return type === 'file';
  // The kernel refuses user.* on anything but files and directories.
  return name.startsWith('user.') && name.length > 5 && (type === 'file' || type === 'dir');
}

interface Node {
  rel: string;
  type: 'chardev' | 'blockdev' | 'fifo';
  e: TarEntry;
}

export interface WriterOptions {
  /**
   * An image archive, not a layer: its files are plain data owned by root, 0644/0755
   * (like tar --no-same-owner --no-same-permissions), no devices, no xattrs, and a ".wh."
   * name is an ordinary name. A layer keeps owners, modes, times, xattrs and devices.
   */
  archive: boolean;
}

export class LayerWriter {
  /** Paths known to be real directories of this layer (not symlinks): parents we may write in. */
  private readonly dirs = new Set<string>(['']);
  /** Directory mtimes, set at the end. */
  private readonly dirTimes = new Map<string, number>();
  /** Device nodes and FIFOs waiting for one batched mknod (Node has no mknod). */
  private nodes: Node[] = [];
  private readonly pendingNodes = new Set<string>();
  private readonly xattrs = new Map<string, [string, Buffer][]>();

  constructor(
    private readonly root: string,
    private readonly opts: WriterOptions,
  ) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /**
   * Make sure `rel` is a real directory of this layer, creating missing ones (0755, root,
   * as tar does for parents the archive does not list). The checker already refused paths
   * through this layer's symlinks; this is the check on the disk itself.
   */
  private async ensureDir(rel: string, entry: string): Promise<void> {
    if (this.dirs.has(rel)) return;
    await this.ensureDir(parentOf(rel), entry);
    const abs = this.abs(rel);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (!st) {
      await fs.promises.mkdir(abs, 0o755);
      fs.chmodSync(abs, 0o755); // mkdir applies the umask
    } else if (!st.isDirectory()) {
      throw new UnsafeEntryError(entry, `is inside ${JSON.stringify(rel)}, which is a ${st.isSymbolicLink() ? 'symlink' : 'non-directory'} on disk`);
    }
    this.dirs.add(rel);
  }

  /** Remove what an earlier entry of this layer put at `rel` (the checker allows only empty directories). */
  private removeExisting(rel: string): void {
    const abs = this.abs(rel);
    if (fs.lstatSync(abs).isDirectory()) {
      fs.rmdirSync(abs);
      this.dirs.delete(rel);
      this.dirTimes.delete(rel);
    } else {
      fs.unlinkSync(abs);
    }
    this.xattrs.delete(rel);
  }

  /** Run `make`; if the name exists, remove the earlier entry and run it again. */
  private async create<T>(rel: string, make: () => Promise<T>): Promise<T> {
    try {
      return await make();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      this.removeExisting(rel);
      return await make();
    }
  }

  async write(e: TarEntry, c: CheckedEntry, body: AsyncIterable<Buffer>): Promise<void> {
    // An entry replacing (or linking to) a node still waiting for mknod needs it made first.
    if (this.pendingNodes.has(c.path) || (c.linkTarget !== undefined && this.pendingNodes.has(c.linkTarget))) await this.flushNodes();
    if (c.path !== '') await this.ensureDir(parentOf(c.path), e.path);
    if (c.marker && !this.opts.archive) return; // whiteouts are made by applyWhiteouts, from the plan
    switch (e.type) {
      case 'file':
        return this.writeFile(e, c.path, body);
      case 'dir':
        return this.writeDir(e, c.path);
      case 'symlink':
        await this.create(c.path, () => fs.promises.symlink(e.linkpath, this.abs(c.path)));
        if (!this.opts.archive) {
          fs.lchownSync(this.abs(c.path), e.uid, e.gid);
          fs.lutimesSync(this.abs(c.path), e.mtime, e.mtime);
        }
        this.xattrs.delete(c.path);
        return;
      case 'hardlink':
        // link(2) does not follow a symlink at the target; the checker made sure the target
        // is a non-directory this layer wrote, reached through this layer's directories.
        await this.create(c.path, () => fs.promises.link(this.abs(c.linkTarget!), this.abs(c.path)));
        this.xattrs.delete(c.path);
        return;
      case 'chardev':
      case 'blockdev':
      case 'fifo':
        if (this.opts.archive) throw new UnsafeEntryError(e.path, `has a tar entry type we do not unpack (${e.typeName})`);
        this.removeIfExists(c.path);
        this.nodes.push({ rel: c.path, type: e.type, e });
        this.pendingNodes.add(c.path);
        if (this.nodes.length >= BATCH) await this.flushNodes();
        return;
      default:
        throw new UnsafeEntryError(e.path, `has a tar entry type we do not unpack (${e.typeName})`);
    }
  }

  private removeIfExists(rel: string): void {
    try {
      this.removeExisting(rel);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private async writeFile(e: TarEntry, rel: string, body: AsyncIterable<Buffer>): Promise<void> {
    const fd = await this.create(rel, () => openFd(this.abs(rel), CREATE, 0o600));
    try {
      if (e.sparse) await writeSparse(fd, e.sparse, body);
      else for await (const chunk of body) writeAll(fd, chunk);
      if (!this.opts.archive) {
        fs.fchownSync(fd, e.uid, e.gid);
        fs.fchmodSync(fd, e.mode);
        fs.futimesSync(fd, e.mtime, e.mtime);
      } else {
        fs.fchmodSync(fd, 0o644);
      }
    } finally {
      fs.closeSync(fd);
    }
    this.setXattrs(rel, e);
  }

  private async writeDir(e: TarEntry, rel: string): Promise<void> {
    const abs = this.abs(rel);
    if (rel !== '' && !this.dirs.has(rel)) {
      // An existing directory (a parent made earlier, or the same directory listed twice)
      // is kept with its contents and gets this entry's metadata, as tar does.
      try {
        await fs.promises.mkdir(abs, 0o700);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (!fs.lstatSync(abs).isDirectory()) {
          this.removeExisting(rel);
          fs.mkdirSync(abs, 0o700);
        }
      }
      this.dirs.add(rel);
    }
    if (!this.opts.archive) {
      fs.lchownSync(abs, e.uid, e.gid);
      fs.chmodSync(abs, e.mode); // a real directory (checked above): chmod cannot follow a symlink here
      this.dirTimes.set(rel, e.mtime);
    } else {
      fs.chmodSync(abs, 0o755);
    }
    this.setXattrs(rel, e);
  }

  private setXattrs(rel: string, e: TarEntry): void {
    const keep = !this.opts.archive ? e.xattrs.filter(([name]) => allowedXattr(name, e.type)) : [];
    if (keep.length) this.xattrs.set(rel, keep);
    else this.xattrs.delete(rel);
  }

  /** mknod the waiting device nodes and FIFOs: one shell per BATCH, then owners, modes, times. */
  private async flushNodes(): Promise<void> {
    const nodes = this.nodes;
    this.nodes = [];
    this.pendingNodes.clear();
    if (nodes.length === 0) return;
    const args = nodes.flatMap((n) =>
      n.type === 'fifo' ? [this.abs(n.rel), 'p', '-', '-'] : [this.abs(n.rel), n.type === 'chardev' ? 'c' : 'b', String(n.e.devmajor), String(n.e.devminor)],
    );
    // mknod fails on an existing name and does not follow a symlink in the last component;
    // the parents are this layer's directories (ensureDir).
    const script = 'while [ $# -gt 0 ]; do if [ "$2" = p ]; then mknod -- "$1" p; else mknod -- "$1" "$2" "$3" "$4"; fi || exit 1; shift 4; done';
    await run(['sh', '-c', script, 'mknod-nodes', ...args]);
    for (const n of nodes) {
      const abs = this.abs(n.rel);
      fs.lchownSync(abs, n.e.uid, n.e.gid);
      fs.chmodSync(abs, n.e.mode); // the node mknod just made: not a symlink
      fs.lutimesSync(abs, n.e.mtime, n.e.mtime);
    }
  }

  /** Everything still batched: device nodes, then xattrs (after the final chown of each file). */
  async flush(): Promise<void> {
    await this.flushNodes();
    const all = [...this.xattrs];
    for (let i = 0; i < all.length; i += BATCH) {
      const dump = all
        .slice(i, i + BATCH)
        .map(([rel, xs]) => `# file: ${escapeName(rel === '' ? '.' : rel)}\n${xs.map(([k, v]) => `${k}=0s${v.toString('base64')}\n`).join('')}`)
        .join('\n');
      // -h: lsetxattr, never through a symlink; names are relative to the layer root.
      await run(['setfattr', '-h', '--restore=-'], { input: dump + '\n', cwd: this.root });
    }
    this.xattrs.clear();
  }

  /** Directory times, once nothing more is created in them (whiteouts included). */
  setDirectoryTimes(): void {
    for (const [rel, mtime] of this.dirTimes) fs.lutimesSync(this.abs(rel), mtime, mtime);
  }
}

/** The segments of a sparse file at their offsets; the holes stay holes (as GNU tar leaves them). */
async function writeSparse(fd: number, sparse: NonNullable<TarEntry['sparse']>, body: AsyncIterable<Buffer>): Promise<void> {
  let seg = 0;
  let done = 0; // bytes of segment `seg` written so far
  for await (let chunk of body) {
    while (chunk.length > 0) {
      while (sparse.map[seg][1] === done) (seg++, (done = 0));
      const [off, len] = sparse.map[seg];
      const n = Math.min(len - done, chunk.length);
      let w = 0;
      while (w < n) w += fs.writeSync(fd, chunk, w, n - w, off + done + w);
      done += n;
      chunk = chunk.subarray(n);
    }
  }
  fs.ftruncateSync(fd, sparse.realSize);
}

function writeAll(fd: number, chunk: Buffer): void {
  let off = 0;
  while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
}

/** A name for setfattr --restore: bytes outside printable ASCII, space and backslash as \ooo. */
function escapeName(rel: string): string {
  let out = '';
  for (const b of Buffer.from(rel, 'utf8')) {
    out += b > 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}
