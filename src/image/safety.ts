// Pure checks on the entries of a layer tarball, run BEFORE anything is written to disk.
//
// A layer is untrusted input that root unpacks. Every entry must land inside the layer
// directory, so we refuse:
//   - absolute names ("/etc/x") and names with ".." components ("../../etc/x"),
//   - any entry whose path goes through a symlink of the same layer ("a -> /etc", then
//     "a/passwd"): writing "a/passwd" would write /etc/passwd on the host,
//   - hard links whose target is absolute, escapes, goes through a symlink, or is not a
//     file seen earlier in this layer (link(2) does not care where the target lives),
//   - anything but a directory replacing a directory already holding entries (the entries
//     would be lost, and a symlink there would redirect later writes),
//   - entry types we do not understand (PAX sparse files, volume labels...).
//
// add() also returns the entry as the writer must write it: the normalized path, the
// normalized hard link target, and whether it is a whiteout marker (converted, not written).
//
// Whiteouts (OCI image spec, "Representing Changes"): ".wh.NAME" deletes NAME from the
// layers below; ".wh..wh..opq" hides everything below in its directory. overlayfs spells
// them differently: a 0/0 character device named NAME, and the xattr
// trusted.overlay.opaque=y on the directory. whiteoutOf() maps the first to the second.

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'chardev' | 'blockdev' | 'fifo';

export interface LayerEntry {
  /** The name as stored in the tarball. */
  path: string;
  type: EntryType;
  /** Target of a symlink or hard link, as stored. */
  linkpath?: string;
  size?: number;
}

export class UnsafeEntryError extends Error {
  constructor(
    public readonly entry: string,
    public readonly reason: string,
  ) {
    super(`entry ${JSON.stringify(entry)} ${reason}`);
    this.name = 'UnsafeEntryError';
  }
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/**
 * Normalize a tar entry name to a relative path ("a/b", or "" for the layer root).
 * Strips "./", duplicate and trailing slashes; throws UnsafeEntryError for absolute names
 * and ".." components.
 */
export function normalizeEntryPath(raw: string, what = raw): string {
  if (raw.includes('\0')) throw new UnsafeEntryError(what, 'contains a NUL byte');
  if (raw.startsWith('/')) throw new UnsafeEntryError(what, 'is an absolute path');
  const out: string[] = [];
  let depth = 0;
  let escapes = false;
  let dotdot = false;
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      dotdot = true;
      if (depth === 0) escapes = true;
      else depth--;
      continue;
    }
    depth++;
    out.push(part);
  }
  if (escapes) throw new UnsafeEntryError(what, 'escapes the layer');
  // "a/../b" stays inside, but GNU tar and node-tar would not agree on what it means.
  if (dotdot) throw new UnsafeEntryError(what, 'has a ".." path component');
  return out.join('/');
}

/** Parent of a normalized path ("" for top-level entries). */
export function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i === -1 ? '' : p.slice(0, i);
}

/** All proper ancestors of a normalized path, outermost first: "a/b/c" -> ["a", "a/b"]. */
export function ancestorsOf(p: string): string[] {
  const parts = p.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

export type Whiteout =
  | { kind: 'whiteout'; /** path of the marker file */ marker: string; /** the path it deletes */ target: string }
  | { kind: 'opaque'; marker: string; /** the directory made opaque ("" = layer root) */ dir: string }
  | { kind: 'meta'; marker: string } // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): dropped
  | null;

/** Map a normalized entry path to the overlayfs change it stands for (null: an ordinary entry). */
export function whiteoutOf(p: string): Whiteout {
  const dir = parentOf(p);
  const base = dir === '' ? p : p.slice(dir.length + 1);
  if (!base.startsWith(WHITEOUT_PREFIX)) return null;
  if (base === OPAQUE_MARKER) return { kind: 'opaque', marker: p, dir };
  if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return { kind: 'meta', marker: p };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') throw new UnsafeEntryError(p, 'is not a valid whiteout');
  return { kind: 'whiteout', marker: p, target: dir === '' ? name : `${dir}/${name}` };
}

/** Is this path inside aufs bookkeeping (".wh..wh.plnk/...")? Such entries are dropped. */
function insideMeta(p: string): boolean {
  return p.split('/').some((c) => c.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX) && c !== OPAQUE_MARKER);
}

/** What the writer writes for an entry the checker accepted. */
export interface CheckedEntry {
  /** Normalized path ("" = the layer root). */
  path: string;
  /** Normalized target of a hard link. */
  linkTarget?: string;
  /** A whiteout or opaque marker: not written, turned into overlayfs's form afterwards. */
  marker: boolean;
}

const KIND_NAMES: Record<EntryType, string> = {
  file: 'file',
  dir: 'directory',
  symlink: 'symlink',
  hardlink: 'hard link',
  chardev: 'character device',
  blockdev: 'block device',
  fifo: 'FIFO',
};

export interface LayerPlan {
  whiteouts: { marker: string; target: string }[];
  opaques: { marker: string; dir: string }[];
  /** Markers and aufs metadata to delete after unpacking (top-level ones only). */
  drop: string[];
  /** Sum of the regular files' sizes: what the layer takes on disk, roughly. */
  unpackedSize: number;
  entries: number;
}

/**
 * Feed the entries of one layer in archive order; throws UnsafeEntryError at the first
 * entry that could write outside the layer. At the end, plan() says which whiteouts to
 * convert. Pure: it tracks the tree the entries would build, touches nothing.
 */
export class LayerChecker {
  /** What each path is now, after the entries seen so far. */
  private readonly kinds = new Map<string, EntryType>();
  /** Every path that has ever been a symlink: nothing may be written through it. */
  private readonly symlinks = new Set<string>();
  /** Directories that have (or had) something inside them. */
  private readonly parents = new Set<string>();
  private readonly whiteouts: { marker: string; target: string }[] = [];
  private readonly opaques: { marker: string; dir: string }[] = [];
  private readonly drop = new Set<string>();
  private unpackedSize = 0;
  private count = 0;

  add(e: LayerEntry): CheckedEntry {
    this.count++;
    let marker = false;
    let linkTarget: string | undefined;
    const p = normalizeEntryPath(e.path);
    for (const a of ancestorsOf(p)) {
      if (this.symlinks.has(a)) throw new UnsafeEntryError(e.path, `goes through the symlink ${JSON.stringify(a)}`);
      const k = this.kinds.get(a);
      if (k !== undefined && k !== 'dir') throw new UnsafeEntryError(e.path, `is inside ${JSON.stringify(a)}, which is not a directory`);
      this.parents.add(a);
    }
    if (p === '' && e.type !== 'dir') throw new UnsafeEntryError(e.path, 'replaces the layer root');

    if (insideMeta(p)) {
      const top = p.split('/').findIndex((c) => c.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX));
      this.drop.add(p.split('/').slice(0, top + 1).join('/'));
    } else {
      const wh = whiteoutOf(p);
      if (wh) {
        if (e.type === 'dir' || e.type === 'hardlink' || e.type === 'symlink') {
          throw new UnsafeEntryError(e.path, `is a whiteout but a ${e.type}, not a file`);
        }
        if (wh.kind === 'whiteout') this.whiteouts.push({ marker: wh.marker, target: wh.target });
        else if (wh.kind === 'opaque') this.opaques.push({ marker: wh.marker, dir: wh.dir });
        this.drop.add(p);
        marker = wh.kind !== 'meta';
      }
    }

    if (e.type !== 'dir' && this.parents.has(p)) throw new UnsafeEntryError(e.path, `replaces a directory with a ${KIND_NAMES[e.type]}`);
    switch (e.type) {
      case 'symlink':
        if (!e.linkpath) throw new UnsafeEntryError(e.path, 'is a symlink without a target');
        // The symlink itself may point anywhere (/bin -> usr/bin, a -> /etc are normal in a
        // rootfs): it is resolved inside the container. Only writing THROUGH it is dangerous.
        this.symlinks.add(p);
        break;
      case 'hardlink': {
        if (!e.linkpath) throw new UnsafeEntryError(e.path, 'is a hard link without a target');
        let target: string;
        try {
          target = normalizeEntryPath(e.linkpath, e.path);
        } catch (err) {
          if (err instanceof UnsafeEntryError) {
            throw new UnsafeEntryError(e.path, `is a hard link to ${JSON.stringify(e.linkpath)}, which escapes the layer`);
          }
          throw err;
        }
        for (const a of ancestorsOf(target)) {
          if (this.symlinks.has(a)) {
            throw new UnsafeEntryError(e.path, `is a hard link through the symlink ${JSON.stringify(a)}`);
          }
        }
        const k = this.kinds.get(target);
        if (k === undefined || k === 'dir') {
          throw new UnsafeEntryError(e.path, `is a hard link to ${JSON.stringify(e.linkpath)}, which is not a file of this layer`);
        }
        if (whiteoutOf(target) !== null) throw new UnsafeEntryError(e.path, 'is a hard link to a whiteout');
        // Replacing NAME unlinks it first: a link to itself would then point at nothing.
        if (target === p) throw new UnsafeEntryError(e.path, 'is a hard link to itself');
        linkTarget = target;
        break;
      }
      case 'file':
        this.unpackedSize += e.size ?? 0;
        break;
      case 'dir':
        if (this.kinds.has(p) && this.kinds.get(p) !== 'dir' && this.symlinks.has(p)) {
          throw new UnsafeEntryError(e.path, 'replaces a symlink with a directory');
        }
        break;
      default:
        break;
    }
    this.kinds.set(p, e.type);
    return { path: p, linkTarget, marker };
  }

  plan(): LayerPlan {
    return {
      whiteouts: [...this.whiteouts],
      opaques: [...this.opaques],
      drop: [...this.drop],
      unpackedSize: this.unpackedSize,
      entries: this.count,
    };
  }
}

/** Check a whole list of entries at once (for tests and small layers). */
export function checkLayerEntries(entries: LayerEntry[]): LayerPlan {
  const c = new LayerChecker();
  for (const e of entries) c.add(e);
  return c.plan();
}
