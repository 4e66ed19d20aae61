// A full disk while unpacking: the store lives on a 2 MB tmpfs, the layer unpacks to 4 MB.
import fs from 'node:fs';
import zlib from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, errorOf } from '../../fixtures/image/env.js';
import { writeOciLayout, writeDockerSaveDir, snapshotTree } from '../../fixtures/image/builder.js';
import { loadImages, listImages } from '../../../src/image/store.js';

requireRoot();

let base = '';
let mnt = '';
let mounted = false;
const saved = { root: process.env.MINID_ROOT, run: process.env.MINID_RUN };

beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-image-enospc-'));
  mnt = path.join(base, 'store');
  fs.mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'minid-test-enospc', mnt]);
  mounted = true;
  process.env.MINID_ROOT = mnt;
  process.env.MINID_RUN = path.join(base, 'run');
});

afterAll(() => {
  process.env.MINID_ROOT = saved.root;
  process.env.MINID_RUN = saved.run;
  if (saved.root === undefined) delete process.env.MINID_ROOT;
  if (saved.run === undefined) delete process.env.MINID_RUN;
  let busy: unknown = null;
  if (mounted) {
    try {
      execFileSync('umount', [mnt], { stdio: 'pipe' });
    } catch (e) {
      // Something still holds a file in the store open (a leak): detach it anyway, then fail.
      busy = e;
      execFileSync('umount', ['-l', mnt]);
    }
  }
  if (base) fs.rmSync(base, { recursive: true, force: true });
  if (busy) throw busy;
});

describe('no space left on device', () => {
  it('says what happened and what to do, and leaves nothing behind', async () => {
    const small = path.join(base, 'small');
    writeOciLayout(small, [{ names: ['small:latest'], layers: [{ entries: [{ path: 'f', data: 'small' }] }] }]);
    await loadImages(small);

    const big = path.join(base, 'big');
    const [b] = writeOciLayout(big, [
      { names: ['big:latest'], layers: [{ entries: [{ path: 'zeros', data: Buffer.alloc(4 << 20) }, { path: 'more', data: Buffer.alloc(1 << 20) }] }] },
    ]);
    const before = snapshotTree(mnt);
    const e = await errorOf(() => loadImages(big));
    expect(e.message).toBe(`no space left on device while unpacking layer ${b.layers[0].digest.slice(0, 19)}: free space under ${mnt} and retry`);
    expect(e.exitCode).toBe(125);
    expect(snapshotTree(mnt)).toEqual(before);
    expect(fs.readdirSync(path.join(mnt, 'tmp'))).toEqual([]);
    expect((await listImages()).flatMap((i) => i.names)).toEqual(['small:latest']);
  });

  it('also when the docker-save archive itself does not fit', async () => {
    const dir = path.join(base, 'save');
    writeDockerSaveDir(dir, [{ names: ['huge:latest'], layers: [{ entries: [{ path: 'zeros', data: Buffer.alloc(3 << 20) }], compression: 'none' }] }]);
    const file = path.join(base, 'save.tar');
    execFileSync('tar', ['-C', dir, '-cf', file, '.']);
    const before = snapshotTree(mnt);
    const e = await errorOf(() => loadImages(file));
    expect(e.message).toBe(`no space left on device while reading ${file}: free space under ${mnt} and retry`);
    expect(snapshotTree(mnt)).toEqual(before);
  });

  it('stops a gzip bomb (64 MB of zeros in 64 kB) at its header, leaving nothing', async () => {
    const dir = path.join(base, 'bomb');
    const [b] = writeOciLayout(dir, [{ names: ['bomb:latest'], layers: [{ entries: [{ path: 'zeros', data: Buffer.alloc(64 << 20) }] }] }]);
    expect(b.layers[0].bytes.length).toBeLessThan(128 << 10);
    const before = snapshotTree(mnt);
    const e = await errorOf(() => loadImages(dir));
    expect(e.message).toBe(`no space left on device while unpacking layer ${b.layers[0].digest.slice(0, 19)}: free space under ${mnt} and retry`);
    expect(snapshotTree(mnt)).toEqual(before);
  });

  it('and when the disk really fills up (two layers that each fit, unpacked at once)', async () => {
    const dir = path.join(base, 'two');
    const [b] = writeOciLayout(dir, [
      {
        names: ['two:latest'],
        layers: [{ entries: [{ path: 'a', data: Buffer.alloc(1200 << 10, 1) }] }, { entries: [{ path: 'b', data: Buffer.alloc(1200 << 10, 2) }] }],
      },
    ]);
    const before = snapshotTree(mnt);
    const e = await errorOf(() => loadImages(dir));
    const ids = b.layers.map((l) => l.digest.slice(0, 19)).join('|');
    expect(e.message).toMatch(new RegExp(`^no space left on device while unpacking layer (${ids}): free space under ${mnt} and retry$`));
    expect(snapshotTree(mnt)).toEqual(before);
    expect(fs.readdirSync(path.join(mnt, 'tmp'))).toEqual([]);
  });

  it('and for a gzipped docker-save archive that is a bomb', async () => {
    const file = path.join(base, 'bomb.tar.gz');
    const { tarBuffer } = await import('../../fixtures/image/builder.js');
    fs.writeFileSync(file, zlib.gzipSync(tarBuffer([{ path: 'manifest.json', data: '[]' }, { path: 'blob', data: Buffer.alloc(64 << 20) }])));
    const before = snapshotTree(mnt);
    const e = await errorOf(() => loadImages(file));
    expect(e.message).toBe(`no space left on device while reading ${file}: free space under ${mnt} and retry`);
    expect(snapshotTree(mnt)).toEqual(before);
  });
});
