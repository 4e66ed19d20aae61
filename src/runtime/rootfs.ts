// Paths of an image as the container will see them, looked up on the host: its /etc/passwd
// and /etc/group for `-u NAME`, before the container runs (in the image's layers) or while it
// runs (`exec -u`, in its root through /proc/PID/root). The image's layers are plain folders on
// the host, and a hostile image can hold a symlink `etc/passwd -> /etc/shadow` or
// `etc -> /root`: opened on the host, that reads the host's file. So no host path is ever
// followed here: every component is looked at with lstat, and the image's own symlinks are
// resolved against the image's root, as the kernel will resolve them after pivot_root
// (runc's securejoin, done over the layer stack instead of one folder). The walk holds each
// folder open and takes the next name in it through /proc/self/fd/FD/NAME, opened with
// O_NOFOLLOW: a running container that swaps a folder for a symlink meanwhile gets a failed
// lookup, not a host file.
//
// The layer stack is read as overlayfs merges it: the top-most layer that has a name wins; a
// whiteout (a 0:0 character device) there hides it in the layers below; a directory's
// contents are the union of that directory in every layer down to the first layer where the
// name is not a directory. Opaque directories (trusted.overlay.opaque, an xattr Node cannot
// read) are not seen: a lower layer's file may then show through where the container sees
// none, which still reads only the image's own files.
import fs from 'node:fs';
import path from 'node:path';

/** Symlinks followed in one lookup at most (the kernel's limit, MAXSYMLINKS). */
export const MAX_SYMLINK_HOPS = 40;

/** A file larger than this is not an /etc file minid reads. */
const MAX_READ_BYTES = 4 << 20;

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

const isWhiteout = (st: fs.Stats): boolean => st.isCharacterDevice() && st.rdev === 0;

/** NAME in the folder open as `fd`: the kernel resolves the fd itself, then only NAME. */
const inDir = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined; // missing, or not a folder to look in
  }
}

/** The open folders of one walk, closed together at its end. */
class Fds {
  private readonly open: number[] = [];
  /**
   * Open `p` with `flags`, never through a symlink at its last component unless `follow` (a
   * root: the store's own path, or the magic link /proc/PID/root); undefined if that fails.
   */
  take(p: string, flags: number, follow = false): number | undefined {
    try {
      const fd = fs.openSync(p, follow ? flags : flags | O_NOFOLLOW);
      this.open.push(fd);
      return fd;
    } catch {
      return undefined; // gone, or swapped for a symlink since the lstat (ELOOP)
    }
  }
  /** The caller keeps `fd`: closeAll leaves it open. */
  keep(fd: number): number {
    this.open.splice(this.open.indexOf(fd), 1);
    return fd;
  }
  closeAll(): void {
    for (const fd of this.open.splice(0)) fs.closeSync(fd);
  }
}

/** What one name is in a merged folder: its top-most entry, and for a folder every layer's part. */
type Found =
  | { kind: 'dir'; dirs: number[] }
  | { kind: 'file'; fd: number }
  | { kind: 'symlink'; target: string }
  | { kind: 'none' };

/** Look `name` up in a merged folder (`dirs`: that folder in each layer, open, top-most first). */
function lookup(fds: Fds, dirs: number[], name: string, last: boolean): Found {
  for (let i = 0; i < dirs.length; i++) {
    const p = inDir(dirs[i], name);
    const st = lstatOrUndefined(p);
    if (!st) continue;
    if (isWhiteout(st)) return { kind: 'none' };
    if (st.isSymbolicLink()) return { kind: 'symlink', target: fs.readlinkSync(p) };
    if (st.isFile()) {
      // A file in the middle of a path is no folder; O_NONBLOCK: a fifo swapped in does not block.
      const fd = last ? fds.take(p, O_RDONLY | O_NONBLOCK) : undefined;
      return fd === undefined ? { kind: 'none' } : { kind: 'file', fd };
    }
    if (!st.isDirectory()) return { kind: 'none' }; // a device, a fifo, a socket: nothing to read
    const fd = fds.take(p, O_RDONLY | O_DIRECTORY);
    return fd === undefined ? { kind: 'none' } : { kind: 'dir', dirs: [fd, ...lowerDirs(fds, dirs.slice(i + 1), name)] };
  }
  return { kind: 'none' };
}

/** The layers below a folder that add to it: down to the first whiteout or non-folder. */
function lowerDirs(fds: Fds, dirs: number[], name: string): number[] {
  const out: number[] = [];
  for (const d of dirs) {
    const p = inDir(d, name);
    const st = lstatOrUndefined(p);
    if (!st) continue;
    if (!st.isDirectory()) break; // a whiteout, a file or a symlink hides the rest
    const fd = fds.take(p, O_RDONLY | O_DIRECTORY);
    if (fd === undefined) break;
    out.push(fd);
  }
  return out;
}

const components = (p: string): string[] => p.split('/').filter((c) => c !== '' && c !== '.');

/**
 * Open the file `p` (absolute, as the container sees it) of the root made of `roots` (host
 * folders, top-most first) if it is a regular file: undefined when it is missing, is not a
 * regular file, or takes more than MAX_SYMLINK_HOPS symlinks. `..` stops at the root, as it
 * does in a container. The fd is the caller's; every folder opened on the way is closed.
 */
export function openInRoot(roots: string[], p: string): number | undefined {
  const fds = new Fds();
  try {
    const top = roots.map((r) => fds.take(r, O_RDONLY | O_DIRECTORY, true)).filter((fd): fd is number => fd !== undefined);
    if (!top.length) return undefined;
    // What is left to walk (a symlink puts its target in front) and the merged folders walked
    // so far, the root first: `..` goes back one.
    let todo = components(p);
    const stack: number[][] = [top];
    let hops = 0;
    while (todo.length) {
      const [name, ...rest] = todo;
      todo = rest;
      if (name === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      const found = lookup(fds, stack[stack.length - 1], name, todo.length === 0);
      if (found.kind === 'none') return undefined;
      if (found.kind === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS) return undefined;
        // Absolute: from the root; relative: from the folder that holds the link.
        if (found.target.startsWith('/')) stack.length = 1;
        todo = [...components(found.target), ...todo];
        continue;
      }
      if (found.kind === 'file') return fds.keep(found.fd);
      stack.push(found.dirs);
    }
    return undefined; // the path names a folder
  } finally {
    fds.closeAll();
  }
}

/** Read a file opened by openInRoot: '' unless it is a regular file of a sensible size. */
function readOpened(fd: number | undefined): string {
  if (fd === undefined) return '';
  try {
    const st = fs.fstatSync(fd);
    return st.isFile() && st.size <= MAX_READ_BYTES ? fs.readFileSync(fd, 'utf8') : '';
  } finally {
    fs.closeSync(fd);
  }
}

/** The image file `p` as a container of the image will see it; layers lowest first, as the image lists them. '' when there is none. */
export function readImageFile(layers: string[], p: string): string {
  return readOpened(openInRoot([...layers].reverse(), p));
}

/** The file `p` of the running container whose PID 1 is `pid`, inside its root. '' when there is none. */
export function readContainerFile(pid: number, p: string): string {
  return readOpened(openInRoot([`/proc/${pid}/root`], p));
}
