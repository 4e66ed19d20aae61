// Image files read on the host as the container will see them (src/runtime/rootfs.ts): the
// layer stack merged as overlayfs merges it, the image's symlinks resolved inside the image,
// never a host symlink followed. Layers are temp folders; the host "secret" is a temp file too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_SYMLINK_HOPS, openInRoot, readContainerFile, readImageFile } from '../../../src/runtime/rootfs.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-rootfs-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

/** A host file an image's symlink points at: it must never be read. */
const secret = path.join(base, 'host-secret');
fs.writeFileSync(secret, 'intruder:x:0:0::/root:/bin/sh\n');

let n = 0;
let lower: string;
let upper: string;
beforeEach(() => {
  n++;
  lower = path.join(base, `t${n}`, 'lower');
  upper = path.join(base, `t${n}`, 'upper');
  fs.mkdirSync(lower, { recursive: true });
  fs.mkdirSync(upper, { recursive: true });
});

/** Write `files` (path -> contents, or { link } for a symlink) into a layer. */
function layer(dir: string, files: Record<string, string | { link: string }>): void {
  for (const [p, v] of Object.entries(files)) {
    const f = path.join(dir, p);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    if (typeof v === 'string') fs.writeFileSync(f, v);
    else fs.symlinkSync(v.link, f);
  }
}

describe('the layer stack', () => {
  it('reads the top-most layer that has the file; a folder is the union of its layers', () => {
    layer(lower, { 'etc/passwd': 'lower\n', 'etc/group': 'lower group\n' });
    layer(upper, { 'etc/passwd': 'upper\n' });
    expect(readImageFile([lower, upper], '/etc/passwd')).toBe('upper\n');
    expect(readImageFile([lower, upper], '/etc/group')).toBe('lower group\n');
    expect(readImageFile([lower], '/etc/passwd')).toBe('lower\n');
  });

  it('is empty for what is missing, a folder, or not a regular file', () => {
    layer(lower, { 'etc/passwd': 'x\n' });
    execFileSync('mkfifo', [path.join(lower, 'etc', 'fifo')]);
    expect(readImageFile([lower], '/etc/nothing')).toBe('');
    expect(readImageFile([lower], '/etc')).toBe('');
    expect(readImageFile([lower], '/etc/fifo')).toBe(''); // and does not block
    expect(readImageFile([lower], '/etc/passwd/x')).toBe(''); // a file is no folder
    expect(readImageFile([path.join(base, 'no-such-layer')], '/etc/passwd')).toBe('');
  });

  it('a file in an upper layer hides a lower folder of that name', () => {
    layer(lower, { 'etc/passwd': 'lower\n' });
    layer(upper, { etc: 'a file now\n' });
    expect(readImageFile([lower, upper], '/etc/passwd')).toBe('');
  });
});

describe("the image's symlinks, resolved inside the image", () => {
  it('an absolute target is taken from the image root, never the host', () => {
    layer(lower, { 'etc/passwd': { link: secret } });
    expect(readImageFile([lower], '/etc/passwd')).toBe('');
    layer(lower, { [secret.slice(1)]: 'the image own file\n' });
    expect(readImageFile([lower], '/etc/passwd')).toBe('the image own file\n');
  });

  it('a relative target is taken from the folder holding the link; `..` stops at the image root', () => {
    layer(lower, { 'etc/passwd': { link: '../data/passwd' }, 'data/passwd': 'relative\n' });
    layer(upper, { 'etc/group': { link: '../../../../../../data/passwd' } });
    expect(readImageFile([lower, upper], '/etc/passwd')).toBe('relative\n');
    expect(readImageFile([lower, upper], '/etc/group')).toBe('relative\n');
    expect(readImageFile([lower], '/../../etc/../data/./passwd')).toBe('relative\n');
  });

  it('a symlinked folder is followed inside the image, across layers', () => {
    layer(lower, { 'real/etc/passwd': 'via a folder link\n' });
    layer(upper, { etc: { link: '/real/etc' } });
    expect(readImageFile([lower, upper], '/etc/passwd')).toBe('via a folder link\n');
    // a folder link to a host folder leads nowhere on the host
    const host = path.join(base, `t${n}`, 'hostdir');
    layer(host, { passwd: 'host\n' });
    const other = path.join(base, `t${n}`, 'other');
    layer(other, { etc: { link: host } });
    expect(readImageFile([other], '/etc/passwd')).toBe('');
  });

  it(`follows ${MAX_SYMLINK_HOPS} symlinks at most, and ends a loop`, () => {
    const chain = (dir: string, hops: number) => {
      layer(dir, { target: 'end of chain\n' });
      for (let i = 0; i < hops; i++) layer(dir, { [`l${i}`]: { link: i + 1 < hops ? `l${i + 1}` : 'target' } });
    };
    chain(lower, MAX_SYMLINK_HOPS);
    expect(readImageFile([lower], '/l0')).toBe('end of chain\n');
    chain(upper, MAX_SYMLINK_HOPS + 1);
    expect(readImageFile([upper], '/l0')).toBe('');
    const loop = path.join(base, `t${n}`, 'loop');
    layer(loop, { a: { link: 'b' }, b: { link: '/a' } });
    expect(readImageFile([loop], '/a')).toBe('');
  });
});

describe('file descriptors', () => {
  it('every folder opened on the way is closed again', () => {
    layer(lower, { 'a/b/c/passwd': 'deep\n', 'x/y': { link: '/a/b/c' } });
    layer(upper, { 'a/b/other': '' });
    const open = () => fs.readdirSync('/proc/self/fd').length;
    const before = open();
    for (let i = 0; i < 20; i++) {
      expect(readImageFile([lower, upper], '/x/y/passwd')).toBe('deep\n');
      expect(readImageFile([lower, upper], '/x/y/none')).toBe('');
    }
    expect(open()).toBe(before);
  });
});

describe('a running container (readContainerFile)', () => {
  it("walks the container's root through /proc/PID/root (here this process's root: the host's)", () => {
    expect(readContainerFile(process.pid, secret)).toBe('intruder:x:0:0::/root:/bin/sh\n');
    expect(readContainerFile(process.pid, path.join(base, 'nothing'))).toBe('');
  });

  it('one root of its own, as a container has', () => {
    layer(lower, { 'etc/passwd': { link: '/etc/real' }, 'etc/real': 'in the root\n' });
    const fd = openInRoot([lower], '/etc/passwd');
    expect(fd).toBeTypeOf('number');
    expect(fs.readFileSync(fd!, 'utf8')).toBe('in the root\n');
    fs.closeSync(fd!);
  });
});
