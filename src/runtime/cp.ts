// `minid cp`: copy files between a container and the host, as `docker cp` does.
//
// The danger is a path of the container's: the image and whatever runs in the container
// decide what its symlinks point to, and a symlink /x -> /etc followed on the host would read
// or write the HOST's /etc. So no path of the container's is ever walked by minid itself.
// Both directions go through one tar stream, and the container's end of it is the host's
// static busybox `tar` run by `minid-init --in-root` (src/runtime/init.c): opened on the host,
// then chroot into the container's root (/proc/PID/root of a running container: the kernel's
// link to its root, with its mounts), then executed. Every path it touches is resolved by the
// kernel inside the container's root, while the container runs and changes its files: an
// absolute symlink leads to the container's own /etc, ".." stops at its root. (Node cannot
// call openat2(RESOLVE_IN_ROOT); walking the paths here by hand would race the container.)
// Nothing of the container's is executed: busybox is the host's, and it runs no other program.
//
// A stopped (or created) container has no root mounted: its overlay (image layers + its
// upper dir) is mounted for the copy in a mount namespace of its own (`unshare --mount`),
// read-only to copy from it, read-write to copy into it; the namespace, and the mount with
// it, is gone when the copy ends.
//
// The host's end is GNU tar, with docker's rules for what lands where (SRC_PATH/DEST_PATH in
// `docker cp --help`): a file onto a file overwrites it, into a folder goes in it, onto a
// missing name is saved under that name; a folder onto a missing name becomes that folder,
// into an existing one goes in it; SRC ending in "/." copies a folder's content. "-" is a tar
// stream: from the container to stdout, or from stdin into a container folder.
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { fail, MinidError } from '../errors.js';
import { spawnProcess } from '../sys/exec.js';
import { paths } from '../sys/paths.js';
import { readPid, type ContainerState } from './state.js';

/** The host's statically linked busybox (Debian's busybox-static): it needs no file of the container's. */
export const BUSYBOX = '/bin/busybox';

/** One end of `cp`: a host path, a container path, or "-" (a tar stream). */
export type CpEnd = { kind: 'host'; path: string } | { kind: 'container'; ref: string; path: string } | { kind: 'stream' };

/**
 * docker's reading of a cp argument: "-" is a stream; a path that starts with "/" or "." is
 * the host's (so "./a:b" is a file name); otherwise NAME:PATH is a container's.
 */
export function parseCpArg(arg: string): CpEnd {
  if (arg === '-') return { kind: 'stream' };
  const colon = arg.indexOf(':');
  if (arg.startsWith('/') || arg.startsWith('.') || colon <= 0) return { kind: 'host', path: arg };
  const p = arg.slice(colon + 1);
  // A container path is taken from its root, as docker does.
  return { kind: 'container', ref: arg.slice(0, colon), path: p.startsWith('/') ? p : `/${p}` };
}

/** What `docker cp` does with a source: the name it has, whether only its content is copied. */
export function splitSource(p: string): { parent: string; base: string; contentOnly: boolean } {
  const contentOnly = /(^|\/)\.$/.test(p);
  const clean = path.posix.normalize(contentOnly ? p.slice(0, -1) || '.' : p);
  const trimmed = clean.length > 1 ? clean.replace(/\/+$/, '') : clean;
  return { parent: path.posix.dirname(trimmed), base: path.posix.basename(trimmed) || '/', contentOnly };
}

/** A sed replacement (GNU tar's --transform) that means exactly `name`. */
const sedLiteral = (name: string) => name.replace(/[\\&|]/g, (c) => `\\${c}`);

/** GNU tar options that rename the copied item (the first component of every member). */
const renameTo = (name: string) => [`--transform=s|^[^/]*|${sedLiteral(name)}|S`];

/** What is at a path: 'directory', 'file' (anything else), or undefined when nothing is. */
type Kind = 'directory' | 'file' | undefined;

interface Root {
  /** argv that runs busybox APPLET ARGS... with the container's root as its root. */
  argv(applet: string[]): string[];
}

/** The container's root, for busybox: its live root, or its overlay mounted for the copy. */
export async function containerRoot(s: ContainerState, write: boolean, o: { layersOnly?: boolean } = {}): Promise<Root> {
  const { initBinary } = await import('./container.js');
  const init = initBinary();
  // layersOnly (`export`): the image and what the container wrote, without the mounts a
  // running container has (/proc, /sys, /dev, volumes): its overlay, mounted read-only again.
  const p = s.status === 'running' && !o.layersOnly ? readPid(s.config.id) : undefined;
  // Its pid with its start time: minid-init refuses a pid recycled since (another process's root).
  if (p) return { argv: (a) => [init, '--in-root', '--pid', String(p.pid), p.start, BUSYBOX, ...a] };
  const dir = paths.container(s.config.id);
  const layers = [...s.config.layers].reverse(); // overlayfs lists the top-most first
  const upper = path.join(dir, 'upper');
  const opts = write
    ? `nodev,lowerdir=${layers.join(':')},upperdir=${upper},workdir=${path.join(dir, 'work')}`
    : `ro,nodev,lowerdir=${[upper, ...layers].join(':')}`; // the upper dir read as the top layer: its whiteouts still hide
  const mnt = path.join(dir, 'rootfs');
  fs.mkdirSync(mnt, { recursive: true });
  const script = 'mount -t overlay -o "$1" overlay "$2" && shift 2 && exec "$@"';
  return { argv: (a) => ['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c', script, 'sh', opts, mnt, init, '--in-root', mnt, BUSYBOX, ...a] };
}

interface Done {
  code: number;
  stderr: string;
}

function finished(child: ChildProcess): Promise<Done> {
  const err: Buffer[] = [];
  child.stderr?.on('data', (d: Buffer) => err.push(d));
  return new Promise((resolve) => {
    child.on('error', (e) => resolve({ code: 127, stderr: e.message }));
    child.on('close', (code, sig) => resolve({ code: code ?? (sig ? 128 : 1), stderr: Buffer.concat(err).toString().trim() }));
  });
}

/** busybox's `stat -c %F` inside the root: what the path is (-L: through a final symlink). */
async function kindIn(root: Root, p: string, follow: boolean): Promise<Kind> {
  const child = await spawnProcess(root.argv(['stat', ...(follow ? ['-L'] : []), '-c', '%F', '--', p]), { stdio: ['ignore', 'pipe', 'pipe'], cleanEnv: true, env: {} });
  const out: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  const done = await finished(child);
  if (done.code !== 0) return undefined;
  return Buffer.concat(out).toString().trim() === 'directory' ? 'directory' : 'file';
}

/**
 * A path in the container as docker's archive endpoints describe it (X-Docker-Container-Path-Stat):
 * its name, size, Go FileMode (permissions, plus 1<<31 for a directory, 1<<27 for a symlink),
 * mtime and a symlink's target; undefined when it is not there. Read by busybox `stat` inside
 * the container's root, as the copy itself is.
 */
export async function statInContainer(s: ContainerState, p: string): Promise<{ name: string; size: number; mode: number; mtime: string; linkTarget: string } | undefined> {
  const root = await containerRoot(s, false);
  const child = await spawnProcess(root.argv(['stat', '-c', '%s %f %Y %N', '--', p]), { stdio: ['ignore', 'pipe', 'pipe'], cleanEnv: true, env: {} });
  const out: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  if ((await finished(child)).code !== 0) return undefined;
  const m = /^(\d+) ([0-9a-f]+) (\d+) (.*)$/s.exec(Buffer.concat(out).toString().trim());
  if (!m) return undefined;
  const raw = parseInt(m[2], 16);
  const type = raw & 0o170000;
  const mode = (raw & 0o7777) + (type === 0o040000 ? 2 ** 31 : type === 0o120000 ? 2 ** 27 : 0);
  // %N: 'name' or 'name' -> 'target'
  const link = /-> '(.*)'$/s.exec(m[4]);
  return { name: path.posix.basename(p.replace(/\/+$/, '')) || '/', size: Number(m[1]), mode, mtime: new Date(Number(m[3]) * 1000).toISOString(), linkTarget: type === 0o120000 && link ? link[1] : '' };
}

function hostKind(p: string, follow: boolean): Kind {
  const st = follow ? fs.statSync(p, { throwIfNoEntry: false }) : fs.lstatSync(p, { throwIfNoEntry: false });
  return !st ? undefined : st.isDirectory() ? 'directory' : 'file';
}

/**
 * Where a source lands, by docker's rules: the folder the tar stream is unpacked in and the
 * name its top entry gets there (undefined: keep its own). `kind`: the source's; `dest`: what
 * is at the destination (followed through a symlink), its path, and how it was written.
 */
export function placement(src: { kind: 'directory' | 'file'; base: string; contentOnly: boolean }, destPath: string, dest: Kind, destParent: Kind): { dir: string; rename?: string; mkdir?: boolean } {
  const trailing = destPath.endsWith('/') || /(^|\/)\.$/.test(destPath);
  if (dest === 'directory') return { dir: destPath }; // in it (its content, for "/.")
  if (dest === 'file') {
    if (src.kind === 'directory') fail(`cannot copy a directory onto the file ${destPath}: give a folder or a new name`, 1);
    if (trailing) fail(`destination ${destPath} is not a directory: drop the trailing slash to overwrite the file`, 1);
    return { dir: path.posix.dirname(destPath), rename: path.posix.basename(destPath) };
  }
  // Nothing there: the source is saved under that name (its parent must exist).
  if (trailing && src.kind === 'file') fail(`destination directory ${destPath} does not exist: create it first`, 1);
  if (destParent !== 'directory') fail(`destination directory ${path.posix.dirname(destPath.replace(/\/+$/, '')) || '/'} does not exist: create it first`, 1);
  const clean = destPath.replace(/\/+$/, '');
  if (src.contentOnly) return { dir: clean, mkdir: true };
  return { dir: path.posix.dirname(clean), rename: path.posix.basename(clean) };
}

export interface CpOptions {
  /** -a: keep the files' owners (default: the receiving side's root, as docker does). */
  archive?: boolean;
  /** -L: follow a symlink given as SRC (docker's --follow-link). */
  followLink?: boolean;
}

/** Wait for a pipeline: the first failure's stderr is the error (one line). */
async function pipeline(steps: Promise<Done>[], what: string): Promise<void> {
  const results = await Promise.all(steps);
  const bad = results.find((r) => r.code !== 0);
  if (bad) throw new MinidError(`${what}: ${(bad.stderr.split('\n').pop() || `exit ${bad.code}`).replace(/^(tar|stat|busybox): /, '')}`, 1);
}

/** Copy out of a container: to a host path, or as a tar stream to `out` (dest "-"). */
export async function copyFromContainer(s: ContainerState, srcPath: string, dest: { host: string } | { stream: NodeJS.WritableStream }, o: CpOptions): Promise<void> {
  const root = await containerRoot(s, false);
  const src = splitSource(srcPath);
  const kind = await kindIn(root, srcPath, !!o.followLink || src.contentOnly || srcPath.endsWith('/'));
  if (!kind) fail(`no such file or directory in container ${s.config.name}: ${srcPath}`, 1);
  if (src.contentOnly && kind !== 'directory') fail(`${srcPath}: not a directory`, 1);
  // -L: a symlink source is copied as what it points to (tar -h), inside the root.
  const tarArgs = ['tar', '-c', ...(o.followLink ? ['-h'] : []), '-f', '-', '-C', src.contentOnly ? srcPath.slice(0, -1) || '/' : src.parent, src.contentOnly ? '.' : src.base];
  const reader = await spawnProcess(root.argv(tarArgs), { stdio: ['ignore', 'pipe', 'pipe'], cleanEnv: true, env: {} });
  if ('stream' in dest) {
    reader.stdout!.pipe(dest.stream as NodeJS.WritableStream, { end: false });
    await pipeline([finished(reader)], `cannot copy ${srcPath} from ${s.config.name}`);
    return;
  }
  const to = placement({ kind, ...src }, dest.host, hostKind(dest.host, true), hostKind(path.dirname(dest.host.replace(/\/+$/, '')) || '/', true));
  if (to.mkdir) fs.mkdirSync(to.dir);
  const unpack = ['tar', '-x', '-f', '-', '-C', to.dir, ...(o.archive ? ['--same-owner'] : ['--no-same-owner']), ...(to.rename && to.rename !== src.base ? renameTo(to.rename) : [])];
  const writer = await spawnProcess(unpack, { stdio: ['pipe', 'ignore', 'pipe'] });
  reader.stdout!.pipe(writer.stdin!);
  writer.stdin!.on('error', () => {});
  await pipeline([finished(reader), finished(writer)], `cannot copy ${srcPath} from ${s.config.name}`);
}

/** Copy into a container: a host path, or a tar stream from `input` (src "-") unpacked in a folder. */
/**
 * docker's rule for --read-only: nothing is copied onto the root, only into a writable volume
 * (or, while the container runs, a writable --tmpfs). Judged by the path as given.
 */
function refuseReadOnlyRoot(s: ContainerState, destPath: string): void {
  if (!s.config.readOnly) return;
  const p = path.posix.normalize(path.posix.join('/', destPath));
  const under = (m: string) => p === m || p.startsWith(m.endsWith('/') ? m : `${m}/`);
  const writable = [
    ...s.config.volumes.filter((v) => !v.readonly).map((v) => v.container),
    ...(s.status === 'running' ? (s.config.tmpfs ?? []).filter((t) => !t.options.split(',').includes('ro')).map((t) => t.container) : []),
  ];
  if (!writable.some(under)) fail(`container ${s.config.name}'s root is read-only (--read-only): copy into one of its writable volumes or tmpfs mounts instead`, 1);
}

export async function copyToContainer(s: ContainerState, src: { host: string } | { stream: NodeJS.ReadableStream }, destPath: string, o: CpOptions): Promise<void> {
  refuseReadOnlyRoot(s, destPath);
  const root = await containerRoot(s, true);
  const destKind = await kindIn(root, destPath, true);
  let dir: string;
  let pack: string[] | undefined;
  if ('stream' in src) {
    if (destKind !== 'directory') fail(`destination ${destPath} in container ${s.config.name} must be an existing directory to unpack a tar stream into`, 1);
    dir = destPath;
  } else {
    const hostSrc = splitSource(src.host);
    const kind = hostKind(src.host, !!o.followLink || hostSrc.contentOnly);
    if (!kind) fail(`no such file or directory: ${src.host}`, 1);
    if (hostSrc.contentOnly && kind !== 'directory') fail(`${src.host}: not a directory`, 1);
    const parentKind = destKind ? undefined : await kindIn(root, path.posix.dirname(destPath.replace(/\/+$/, '')) || '/', true);
    const to = placement({ kind, ...hostSrc }, destPath, destKind, parentKind);
    dir = to.dir;
    if (to.mkdir) {
      const mk = await spawnProcess(root.argv(['mkdir', '--', dir]), { stdio: ['ignore', 'ignore', 'pipe'], cleanEnv: true, env: {} });
      await pipeline([finished(mk)], `cannot create ${dir} in ${s.config.name}`);
    }
    pack = [
      'tar', '-c', '-f', '-', ...(o.followLink ? ['-h'] : []),
      // Without -a the files become the container root's (docker's rule), with it they keep their owners.
      ...(o.archive ? [] : ['--owner=0', '--group=0', '--numeric-owner']),
      ...(to.rename && to.rename !== hostSrc.base ? renameTo(to.rename) : []),
      '-C', hostSrc.contentOnly ? src.host.slice(0, -1) || '/' : hostSrc.parent, hostSrc.contentOnly ? '.' : hostSrc.base,
    ];
  }
  const unpack = await spawnProcess(root.argv(['tar', '-x', '-f', '-', '-C', dir]), { stdio: ['pipe', 'ignore', 'pipe'], cleanEnv: true, env: {} });
  unpack.stdin!.on('error', () => {});
  const steps = [finished(unpack)];
  if (pack) {
    const packer = await spawnProcess(pack, { stdio: ['ignore', 'pipe', 'pipe'] });
    packer.stdout!.pipe(unpack.stdin!);
    steps.push(finished(packer));
  } else (src as { stream: NodeJS.ReadableStream }).stream.pipe(unpack.stdin!);
  await pipeline(steps, `cannot copy into ${s.config.name}:${destPath}`);
}
