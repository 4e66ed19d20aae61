import { describe, expect, it } from 'vitest';
import {
  normalizeEntryPath,
  whiteoutOf,
  ancestorsOf,
  checkLayerEntries,
  UnsafeEntryError,
  type LayerEntry,
} from '../../../src/image/safety.js';

describe('normalizeEntryPath', () => {
  it.each([
    ['./', ''],
    ['.', ''],
    ['./etc/passwd', 'etc/passwd'],
    ['etc//passwd', 'etc/passwd'],
    ['usr/bin/', 'usr/bin'],
    ['././a/./b', 'a/b'],
    ['..foo/bar..', '..foo/bar..'],
  ])('%s -> %s', (raw, want) => {
    expect(normalizeEntryPath(raw)).toBe(want);
  });

  it.each([
    ['../x', 'escapes the layer'],
    ['../../etc/x', 'escapes the layer'],
    ['a/../../x', 'escapes the layer'],
    ['./..', 'escapes the layer'],
    ['/etc/x', 'is an absolute path'],
    ['//etc', 'is an absolute path'],
    ['a/../b', 'has a ".." path component'],
    ['a\0b', 'contains a NUL byte'],
  ])('refuses %s (%s)', (raw, why) => {
    expect(() => normalizeEntryPath(raw)).toThrow(new UnsafeEntryError(raw, why));
  });
});

describe('whiteoutOf maps OCI whiteouts to overlayfs', () => {
  it('maps .wh.NAME to a whiteout of NAME', () => {
    expect(whiteoutOf('etc/.wh.passwd')).toEqual({ kind: 'whiteout', marker: 'etc/.wh.passwd', target: 'etc/passwd' });
    expect(whiteoutOf('.wh.top')).toEqual({ kind: 'whiteout', marker: '.wh.top', target: 'top' });
    expect(whiteoutOf('a/.wh..hidden')).toEqual({ kind: 'whiteout', marker: 'a/.wh..hidden', target: 'a/.hidden' });
  });
  it('maps .wh..wh..opq to an opaque directory', () => {
    expect(whiteoutOf('var/cache/.wh..wh..opq')).toEqual({ kind: 'opaque', marker: 'var/cache/.wh..wh..opq', dir: 'var/cache' });
    expect(whiteoutOf('.wh..wh..opq')).toEqual({ kind: 'opaque', marker: '.wh..wh..opq', dir: '' });
  });
  it('treats other .wh..wh. names as aufs metadata', () => {
    expect(whiteoutOf('.wh..wh.plnk')).toEqual({ kind: 'meta', marker: '.wh..wh.plnk' });
  });
  it('leaves ordinary names alone', () => {
    expect(whiteoutOf('etc/passwd')).toBeNull();
    expect(whiteoutOf('etc/x.wh.y')).toBeNull();
    expect(whiteoutOf('.wh')).toBeNull();
  });
  it('refuses whiteouts of nothing, . or ..', () => {
    for (const p of ['a/.wh.', 'a/.wh..', 'a/.wh...']) expect(() => whiteoutOf(p)).toThrow(UnsafeEntryError);
  });
});

describe('ancestorsOf', () => {
  it('lists proper ancestors, outermost first', () => {
    expect(ancestorsOf('a/b/c')).toEqual(['a', 'a/b']);
    expect(ancestorsOf('a')).toEqual([]);
  });
});

const f = (path: string, size = 1): LayerEntry => ({ path, type: 'file', size });
const d = (path: string): LayerEntry => ({ path, type: 'dir' });
const sl = (path: string, linkpath: string): LayerEntry => ({ path, type: 'symlink', linkpath });
const hl = (path: string, linkpath: string): LayerEntry => ({ path, type: 'hardlink', linkpath });

describe('LayerChecker', () => {
  it('accepts a normal rootfs with symlinks pointing anywhere', () => {
    const plan = checkLayerEntries([
      d('./'),
      d('usr/'),
      d('usr/bin/'),
      f('usr/bin/busybox', 100),
      hl('usr/bin/sh', 'usr/bin/busybox'),
      hl('usr/bin/ash', './usr/bin/busybox'),
      sl('bin', 'usr/bin'),
      sl('etc/alternatives/x', '/usr/bin/busybox'),
      sl('up', '../../..'),
      { path: 'dev/null', type: 'chardev' },
      { path: 'dev/sda', type: 'blockdev' },
      { path: 'run/fifo', type: 'fifo' },
      f('usr/bin/busybox', 200), // replaced later in the same layer
    ]);
    expect(plan.unpackedSize).toBe(300);
    expect(plan.whiteouts).toEqual([]);
    expect(plan.entries).toBe(13);
  });

  it('collects whiteouts and opaque directories', () => {
    const plan = checkLayerEntries([d('etc/'), f('etc/.wh.passwd', 0), d('var/cache/'), f('var/cache/.wh..wh..opq', 0), f('var/cache/new'), f('.wh..wh.aufs'), d('.wh..wh.plnk/'), f('.wh..wh.plnk/123')]);
    expect(plan.whiteouts).toEqual([{ marker: 'etc/.wh.passwd', target: 'etc/passwd' }]);
    expect(plan.opaques).toEqual([{ marker: 'var/cache/.wh..wh..opq', dir: 'var/cache' }]);
    expect(plan.drop.sort()).toEqual(['.wh..wh.aufs', '.wh..wh.plnk', 'etc/.wh.passwd', 'var/cache/.wh..wh..opq']);
  });

  const refuse: [string, LayerEntry[], string][] = [
    ['an escaping name', [f('../x')], 'entry "../x" escapes the layer'],
    ['an absolute name', [f('/etc/passwd')], 'entry "/etc/passwd" is an absolute path'],
    ['a write through an absolute symlink', [sl('a', '/etc'), f('a/passwd')], 'entry "a/passwd" goes through the symlink "a"'],
    ['a write through a relative symlink', [sl('a', '../..'), f('a/x')], 'entry "a/x" goes through the symlink "a"'],
    ['a write through a symlink to inside', [d('x/'), sl('a', 'x'), f('a/y')], 'entry "a/y" goes through the symlink "a"'],
    ['a write through a symlink via ./', [sl('a', '/etc'), f('./a/passwd')], 'entry "./a/passwd" goes through the symlink "a"'],
    ['a write through a symlink replaced by a dir', [sl('a', '/etc'), d('a/'), f('a/passwd')], 'entry "a/" replaces a symlink with a directory'],
    ['a directory through a symlink', [sl('a', '/'), d('a/etc/')], 'entry "a/etc/" goes through the symlink "a"'],
    ['a symlink over a populated directory', [f('d/f'), sl('d', '/etc')], 'entry "d" replaces a directory with a symlink'],
    ['a hard link out', [hl('h', '../etc/shadow')], 'entry "h" is a hard link to "../etc/shadow", which escapes the layer'],
    ['an absolute hard link', [hl('h', '/etc/shadow')], 'entry "h" is a hard link to "/etc/shadow", which escapes the layer'],
    ['a hard link through a symlink', [sl('a', '/etc'), hl('h', 'a/shadow')], 'entry "h" is a hard link through the symlink "a"'],
    ['a hard link to nothing in the layer', [hl('h', 'etc/shadow')], 'entry "h" is a hard link to "etc/shadow", which is not a file of this layer'],
    ['a hard link to a directory', [d('etc/'), hl('h', 'etc')], 'entry "h" is a hard link to "etc", which is not a file of this layer'],
    ['a hard link to a whiteout', [f('.wh.x'), hl('h', '.wh.x')], 'entry "h" is a hard link to a whiteout'],
    ['a path under a file', [f('a'), f('a/b')], 'entry "a/b" is inside "a", which is not a directory'],
    ['a whiteout that is a symlink', [sl('.wh.x', '/etc/passwd')], 'entry ".wh.x" is a whiteout but a symlink, not a file'],
    ['replacing the layer root with a file', [f('./')], 'entry "./" replaces the layer root'],
    ['a symlink without target', [{ path: 'a', type: 'symlink' }], 'entry "a" is a symlink without a target'],
  ];
  for (const [what, entries, message] of refuse) {
    it(`refuses ${what}`, () => {
      expect(() => checkLayerEntries(entries)).toThrow(message);
    });
  }
});
