// Malicious layers: each must be refused with a message naming the image, the layer and the
// entry, exit code 125, and nothing may change on the host or in the store.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, beforeAll } from 'vitest';
import { requireRoot, useTempStore, errorOf } from '../../fixtures/image/env.js';
import { writeOciLayout, writeDockerSaveDir, tarDirectory, snapshotTree, type FEntry } from '../../fixtures/image/builder.js';
import { loadImages, listImages } from '../../../src/image/store.js';

requireRoot();
const t = useTempStore('image-unsafe');

// A directory outside the store that the evil layers aim at.
let victim = '';
beforeAll(async () => {
  victim = path.join(t.base, 'victim');
  fs.mkdirSync(victim);
  fs.writeFileSync(path.join(victim, 'passwd'), 'untouched\n');
  // A good image first, so the store is not empty when the bad ones are refused.
  const dir = path.join(t.work, 'good');
  writeOciLayout(dir, [{ names: ['good:latest'], layers: [{ entries: [{ path: 'etc/', type: 'dir' }, { path: 'etc/passwd', data: 'root\n' }] }] }]);
  await loadImages(dir);
});

const evil: [string, () => FEntry[], string][] = [
  ['a ../ path', () => [{ path: '../../etc/x', data: 'pwned' }], 'entry "../../etc/x" escapes the layer'],
  ['a ../ path after a directory', () => [{ path: 'a/', type: 'dir' }, { path: 'a/../../x', data: 'pwned' }], 'entry "a/../../x" escapes the layer'],
  ['an absolute path', () => [{ path: '/etc/x', data: 'pwned' }], 'entry "/etc/x" is an absolute path'],
  [
    'a path through an absolute symlink',
    () => [{ path: 'a', type: 'symlink', linkpath: victim }, { path: 'a/passwd', data: 'pwned' }],
    'entry "a/passwd" goes through the symlink "a"',
  ],
  [
    'a path through a relative symlink',
    () => [{ path: 'a', type: 'symlink', linkpath: '../..' }, { path: 'a/tmp/x', data: 'pwned' }],
    'entry "a/tmp/x" goes through the symlink "a"',
  ],
  [
    'a path through a nested symlink',
    () => [{ path: 'd/', type: 'dir' }, { path: 'd/l', type: 'symlink', linkpath: '/' }, { path: 'd/l/etc/x', type: 'dir' }],
    'entry "d/l/etc/x" goes through the symlink "d/l"',
  ],
  ['a hard link to ../', () => [{ path: 'h', type: 'hardlink', linkpath: '../../etc/shadow' }], 'entry "h" is a hard link to "../../etc/shadow", which escapes the layer'],
  ['a hard link to an absolute path', () => [{ path: 'h', type: 'hardlink', linkpath: '/etc/shadow' }], 'entry "h" is a hard link to "/etc/shadow", which escapes the layer'],
  [
    'a hard link through a symlink',
    () => [{ path: 'a', type: 'symlink', linkpath: victim }, { path: 'h', type: 'hardlink', linkpath: 'a/passwd' }],
    'entry "h" is a hard link through the symlink "a"',
  ],
  [
    'a symlink replacing a directory that has entries',
    () => [{ path: 'd/', type: 'dir' }, { path: 'd/f', data: 'x' }, { path: 'd', type: 'symlink', linkpath: victim }],
    'entry "d" replaces a directory with a symlink',
  ],
  ['a whiteout of ..', () => [{ path: 'a/.wh...' }], 'entry "a/.wh..." is not a valid whiteout'],
  ['an unknown entry type', () => [{ path: 'weird', type: 'S', data: 'x' }], 'entry "weird" has a tar entry type we do not unpack (SparseFile)'],
];

describe('unsafe layers are refused', () => {
  for (const [what, entries, why] of evil) {
    it(`refuses ${what}`, async () => {
      const dir = path.join(t.work, 'evil');
      const [built] = writeOciLayout(dir, [
        { names: ['evil:latest'], layers: [{ entries: [{ path: 'ok', data: 'fine' }] }, { entries: [{ path: 'bin/', type: 'dir' }, ...entries()] }] },
      ]);
      const before = snapshotTree(t.root);
      const e = await errorOf(() => loadImages(dir));
      expect(e.message).toBe(`layer ${built.layers[1].digest.slice(0, 19)} of image evil:latest is unsafe: ${why}`);
      expect(e.exitCode).toBe(125);
      expect(snapshotTree(t.root)).toEqual(before);
      expect(fs.readFileSync(path.join(victim, 'passwd'), 'utf8')).toBe('untouched\n');
      expect(fs.readdirSync(victim)).toEqual(['passwd']);
      expect((await listImages()).flatMap((i) => i.names)).toEqual(['good:latest']);
    });
  }

  it('refuses an unsafe layer inside a docker-save tar, naming it by diff_id', async () => {
    const dir = path.join(t.work, 'evil-save');
    const [built] = writeDockerSaveDir(dir, [{ names: ['evil:saved'], layers: [{ entries: [{ path: '../../x', data: 'x' }], compression: 'none' }] }]);
    const file = path.join(t.work, 'evil-save.tar');
    tarDirectory(dir, file);
    const before = snapshotTree(t.root);
    const e = await errorOf(() => loadImages(file));
    expect(e.message).toBe(`layer ${built.layers[0].diffId.slice(0, 19)} of image evil:saved is unsafe: entry "../../x" escapes the layer`);
    expect(snapshotTree(t.root)).toEqual(before);
  });

  it('refuses an archive whose manifest points outside it', async () => {
    const dir = path.join(t.work, 'evil-manifest');
    writeDockerSaveDir(dir, [{ names: ['evil:manifest'], layers: [{ entries: [{ path: 'x', data: 'x' }], compression: 'none' }] }]);
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    m[0].Layers[0] = '../../../../etc/passwd';
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    const e = await errorOf(() => loadImages(dir));
    expect(e.message).toMatch(/is not a valid image: it refers to "..\/..\/..\/..\/etc\/passwd", outside the archive$/);
  });

  it('refuses an archive whose blob is a symlink out of it', async () => {
    const dir = path.join(t.work, 'evil-symlink');
    const [b] = writeOciLayout(dir, [{ names: ['evil:symlink'], layers: [{ entries: [{ path: 'x', data: 'x' }] }] }]);
    const blob = path.join(dir, 'blobs/sha256', b.layers[0].digest.slice(7));
    fs.rmSync(blob);
    fs.symlinkSync(path.join(victim, 'passwd'), blob);
    const e = await errorOf(() => loadImages(dir));
    expect(e.message).toMatch(/points outside the archive$/);
  });
});

describe('unsafe archives are refused before anything is unpacked', () => {
  it('refuses an image tar with an escaping entry', async () => {
    const { tarBuffer } = await import('../../fixtures/image/builder.js');
    const file = path.join(t.work, 'evil-outer.tar');
    fs.writeFileSync(file, tarBuffer([{ path: 'manifest.json', data: '[]' }, { path: '../../../evil-outer', data: 'x' }]));
    const before = snapshotTree(t.root);
    const e = await errorOf(() => loadImages(file));
    expect(e.message).toBe(`${JSON.stringify(file)} is not a valid image: entry "../../../evil-outer" escapes the layer`);
    expect(snapshotTree(t.root)).toEqual(before);
    expect(fs.existsSync(path.join(t.root, '..', 'evil-outer'))).toBe(false);
  });

  it('refuses an image tar with a device file', async () => {
    const { tarBuffer } = await import('../../fixtures/image/builder.js');
    const file = path.join(t.work, 'evil-dev.tar');
    fs.writeFileSync(file, tarBuffer([{ path: 'manifest.json', data: '[]' }, { path: 'sda', type: 'block', devmajor: 8, devminor: 0 }]));
    const e = await errorOf(() => loadImages(file));
    expect(e.message).toBe(`${JSON.stringify(file)} is not a valid image: entry "sda" has a tar entry type we do not unpack (BlockDevice)`);
  });
});
