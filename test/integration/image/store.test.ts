// The image store for real: load fixtures as root, look at what lands on disk, mount the
// layers with overlayfs, remove images and check the garbage collection.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it, beforeAll } from 'vitest';
import { requireRoot, useTempStore, errorOf } from '../../fixtures/image/env.js';
import {
  baseLayer,
  whiteoutLayer,
  writeOciLayout,
  writeDockerSaveDir,
  tarDirectory,
  snapshotTree,
  type FImage,
} from '../../fixtures/image/builder.js';
import { loadImages, listImages, resolveImage, layerPaths, removeImage } from '../../../src/image/store.js';

requireRoot();
const t = useTempStore('image-store');

const distro = (names: string[]): FImage => ({
  names,
  layers: [baseLayer(), whiteoutLayer()],
  config: { config: { Env: ['PATH=/bin'], Cmd: ['sh'], WorkingDir: '/', ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGQUIT' } },
});
const noUsers = () => [];

describe('loading an OCI image layout', () => {
  let dir = '';
  beforeAll(() => {
    dir = path.join(t.work, 'distro-oci');
    writeOciLayout(dir, [distro(['distro:latest', 'distro:1.0'])]);
  });

  it('loads every name and records the config', async () => {
    const started = performance.now();
    const [img] = await loadImages(dir);
    const ms = performance.now() - started;
    console.log(`load of the 2-layer fixture (OCI dir): ${ms.toFixed(0)} ms`);
    expect(img.names).toEqual(['distro:latest', 'distro:1.0']);
    expect(img.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(img.layers).toHaveLength(2);
    expect(img.config.config?.StopSignal).toBe('SIGQUIT');
    expect(img.config.rootfs.diff_ids).toEqual(img.layers.map((l) => l.diffId));
    expect(img.created).toBe('2024-01-02T03:04:05Z');
    expect(img.size).toBeGreaterThan(0);
    expect(fs.readdirSync(path.join(t.root, 'tmp'))).toEqual([]);
    for (const d of [img.id, img.manifestDigest, ...img.layers.map((l) => l.digest)]) {
      expect(fs.existsSync(path.join(t.root, 'blobs', 'sha256', d.slice(7)))).toBe(true);
    }
  });

  it('unpacks files, links, devices, modes, owners and xattrs', async () => {
    const img = await resolveImage('distro');
    const [base, top] = layerPaths(img);
    expect(base).toBe(path.join(t.root, 'layers', img.layers[0].diffId.slice(7)));
    const bb = fs.statSync(path.join(base, 'bin/busybox'));
    expect(fs.statSync(path.join(base, 'bin/sh')).ino).toBe(bb.ino); // hard link
    expect(bb.mode & 0o7777).toBe(0o755);
    expect(fs.readlinkSync(path.join(base, 'bin/ls'))).toBe('busybox');
    expect(fs.readlinkSync(path.join(base, 'etc/alternatives'))).toBe('/usr/share/alt');
    expect(fs.statSync(path.join(base, 'bin/su')).mode & 0o7777).toBe(0o4755);
    expect(fs.statSync(path.join(base, 'tmp')).mode & 0o7777).toBe(0o1777);
    const dev = fs.lstatSync(path.join(base, 'dev/null'));
    expect(dev.isCharacterDevice()).toBe(true);
    expect(dev.rdev).toBe(0x103); // 1:3
    expect(fs.lstatSync(path.join(base, 'dev/fifo')).isFIFO()).toBe(true);
    const motd = fs.statSync(path.join(base, 'etc/motd'));
    expect([motd.uid, motd.gid]).toEqual([1000, 1001]);
    expect(execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'user.minid.test', path.join(base, 'etc/motd')]).toString()).toBe('xattr-value');
    expect(fs.statSync(base).mode & 0o777).toBe(0o755);

    // Whiteouts became overlayfs whiteouts; the marker files are gone.
    for (const p of ['home/gone.txt', 'var/lib/old']) {
      const st = fs.lstatSync(path.join(top, p));
      expect(st.isCharacterDevice()).toBe(true);
      expect(st.rdev).toBe(0);
    }
    expect(fs.existsSync(path.join(top, 'home/.wh.gone.txt'))).toBe(false);
    expect(fs.existsSync(path.join(top, 'var/cache/.wh..wh..opq'))).toBe(false);
    expect(execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'trusted.overlay.opaque', path.join(top, 'var/cache')]).toString()).toBe('y');
  });

  it('gives overlayfs the right view: whiteouts hide, opaque dirs hide lower content', async () => {
    const img = await resolveImage('distro:1.0');
    const lower = layerPaths(img).reverse().join(':');
    const mnt = fs.mkdtempSync(path.join(t.work, 'mnt-'));
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower}`, mnt]);
    try {
      expect(fs.existsSync(path.join(mnt, 'home/gone.txt'))).toBe(false);
      expect(fs.existsSync(path.join(mnt, 'var/lib/old'))).toBe(false);
      expect(fs.readdirSync(path.join(mnt, 'var/cache'))).toEqual(['new']);
      expect(fs.readdirSync(path.join(mnt, 'home'))).toEqual([]);
      expect(fs.readFileSync(path.join(mnt, 'etc/hostname'), 'utf8')).toBe('minid\n');
      expect(fs.readFileSync(path.join(mnt, 'bin/busybox'), 'utf8')).toContain('fake busybox');
    } finally {
      execFileSync('umount', [mnt]);
      fs.rmdirSync(mnt);
    }
  });

  it('lists images and resolves names, ids and id prefixes', async () => {
    const img = await resolveImage('distro:latest');
    const list = await listImages();
    expect(list.map((i) => i.id)).toContain(img.id);
    expect((await resolveImage('docker.io/library/distro:latest')).id).toBe(img.id);
    expect((await resolveImage('library/distro')).id).toBe(img.id);
    expect((await resolveImage(img.id)).id).toBe(img.id);
    expect((await resolveImage(img.id.slice(7, 19))).id).toBe(img.id);
    expect((await resolveImage(`sha256:${img.id.slice(7, 19)}`)).id).toBe(img.id);
    expect((await resolveImage(`distro@${img.manifestDigest}`)).id).toBe(img.id);
    const e = await errorOf(() => resolveImage('foo'));
    expect(e.message).toBe('image "foo:latest" not found: load it with `minid load -i FILE` (or `make images`)');
    expect(e.exitCode).toBe(125);
    expect((await errorOf(() => resolveImage('Foo:'))).message).toBe('invalid reference format "Foo:"');
    expect((await errorOf(() => resolveImage('0123456789ab'))).message).toMatch(/^image "0123456789ab" not found/);
    expect((await errorOf(() => resolveImage(`sha256:${'0'.repeat(64)}`))).message).toMatch(/^image "sha256:0{64}" not found/);
  });

  it('loading the same image again changes nothing and reuses the layers', async () => {
    const before = snapshotTree(path.join(t.root, 'layers'));
    const [img] = await loadImages(dir);
    expect(img.names).toEqual(['distro:latest', 'distro:1.0']);
    expect(snapshotTree(path.join(t.root, 'layers'))).toEqual(before);
  });
});

describe('loading docker save archives', () => {
  it('loads a tar with several images and tags, sharing the common layer', async () => {
    const dir = path.join(t.work, 'save-dir');
    writeDockerSaveDir(dir, [
      { names: ['app:1', 'app:latest'], layers: [{ ...baseLayer(), compression: 'none' }, { entries: [{ path: 'app', data: 'app\n' }], compression: 'none' }] },
      { names: ['127.0.0.1:5000/tools:v2'], layers: [{ ...baseLayer(), compression: 'none' }, { entries: [{ path: 'tools', data: 'x' }], compression: 'gzip' }] },
    ]);
    const file = path.join(t.work, 'save.tar');
    tarDirectory(dir, file);
    const layersBefore = fs.readdirSync(path.join(t.root, 'layers')).length;
    const started = performance.now();
    const imgs = await loadImages(file);
    console.log(`load of a docker-save tar with 2 images (3 layers): ${(performance.now() - started).toFixed(0)} ms`);
    expect(imgs.map((i) => i.names)).toEqual([['app:1', 'app:latest'], ['127.0.0.1:5000/tools:v2']]);
    expect(imgs[0].layers[0].diffId).toBe(imgs[1].layers[0].diffId);
    // The base layer: same diff_id as the gzip base of "distro" -> not unpacked again.
    expect(fs.readdirSync(path.join(t.root, 'layers')).length).toBe(layersBefore + 2);
    expect((await resolveImage('127.0.0.1:5000/tools:v2')).id).toBe(imgs[1].id);
    // docker save has no manifest: the store wrote an OCI one.
    const manifest = JSON.parse(fs.readFileSync(path.join(t.root, 'blobs', 'sha256', imgs[1].manifestDigest.slice(7)), 'utf8'));
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([
      'application/vnd.oci.image.layer.v1.tar',
      'application/vnd.oci.image.layer.v1.tar+gzip',
    ]);
    expect(fs.readdirSync(path.join(t.root, 'tmp'))).toEqual([]);
  });

  it('loads a gzipped tar of an OCI layout, zstd layers, and names from the file name', async () => {
    const dir = path.join(t.work, 'zimg');
    writeOciLayout(dir, [{ names: ['zimg:latest'], layers: [{ entries: [{ path: 'z', data: 'zstd!\n' }], compression: 'zstd' }] }], 'tag');
    // Drop io.minid.image.name: the repository then comes from the file name.
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    delete index.manifests[0].annotations['io.minid.image.name'];
    fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
    const file = path.join(t.work, 'zeta.tar.gz');
    tarDirectory(dir, file, true);
    const [img] = await loadImages(file);
    expect(img.names).toEqual(['zeta:latest']);
    expect(fs.readFileSync(path.join(layerPaths(img)[0], 'z'), 'utf8')).toBe('zstd!\n');
  });

  it('moves a name to the newer image; the old one stays, dangling', async () => {
    const dir = path.join(t.work, 'v1');
    writeOciLayout(dir, [{ names: ['moving:latest'], layers: [{ entries: [{ path: 'v', data: '1' }] }] }]);
    const [v1] = await loadImages(dir);
    writeOciLayout(dir, [{ names: ['moving:latest'], layers: [{ entries: [{ path: 'v', data: '2' }] }] }]);
    const [v2] = await loadImages(dir);
    expect(v2.id).not.toBe(v1.id);
    expect((await resolveImage('moving')).id).toBe(v2.id);
    expect((await resolveImage(v1.id)).names).toEqual([]);
    expect(await removeImage(v1.id, { usedBy: noUsers })).toEqual([`Deleted: ${v1.id}`, `Deleted: ${v1.layers[0].diffId} (layer)`]);
  });
});

describe('odd but valid images', () => {
  it('loads an empty layer and a layer used twice; layerPaths lists it once, at its highest place', async () => {
    const dir = path.join(t.work, 'odd');
    const twice = { entries: [{ path: 'etc/', type: 'dir' }, { path: 'etc/twice', data: 'twice\n' }] };
    writeOciLayout(dir, [{ names: ['odd:latest'], layers: [twice, { entries: [] }, { entries: [{ path: 'etc/.wh.twice' }] }, twice] }]);
    const [img] = await loadImages(dir);
    expect(img.layers).toHaveLength(4);
    expect(img.layers[0].digest).toBe(img.layers[3].digest);
    const dirs = layerPaths(img);
    expect(dirs).toHaveLength(3);
    expect(dirs[2]).toBe(path.join(t.root, 'layers', img.layers[3].diffId.slice(7)));
    expect(fs.readdirSync(dirs[0])).toEqual([]);
    const mnt = fs.mkdtempSync(path.join(t.work, 'mnt-'));
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...dirs].reverse().join(':')}`, mnt]);
    try {
      expect(fs.readFileSync(path.join(mnt, 'etc/twice'), 'utf8')).toBe('twice\n');
    } finally {
      execFileSync('umount', [mnt]);
      fs.rmdirSync(mnt);
    }
    await removeImage('odd', { usedBy: noUsers });
  });
});

describe('many whiteouts', () => {
  it('converts them in one batch', async () => {
    const dir = path.join(t.work, 'many');
    const names = Array.from({ length: 40 }, (_, i) => `f${i} with space`);
    writeOciLayout(dir, [
      {
        names: ['many:latest'],
        layers: [
          { entries: [{ path: 'd/', type: 'dir' }, ...names.map((n) => ({ path: `d/${n}`, data: n }))] },
          { entries: [{ path: 'd/', type: 'dir' }, ...names.slice(0, 30).map((n) => ({ path: `d/.wh.${n}` }))] },
        ],
      },
    ]);
    const [img] = await loadImages(dir);
    const top = layerPaths(img)[1];
    expect(fs.readdirSync(path.join(top, 'd')).sort()).toEqual(names.slice(0, 30).sort());
    for (const n of names.slice(0, 30)) expect(fs.lstatSync(path.join(top, 'd', n)).isCharacterDevice()).toBe(true);
    await removeImage('many', { usedBy: noUsers });
  });
});

describe('refusing broken input, leaving nothing behind', () => {
  const cases: [string, () => string, RegExp][] = [
    [
      'a layer blob that does not match its digest',
      () => {
        const dir = path.join(t.work, 'bad-digest');
        const [b] = writeOciLayout(dir, [{ names: ['bad:digest'], layers: [{ entries: [{ path: 'x', data: 'x' }], compression: 'none' }] }]);
        const blob = path.join(dir, 'blobs/sha256', b.layers[0].digest.slice(7));
        const bytes = fs.readFileSync(blob);
        bytes[600] ^= 1;
        fs.writeFileSync(blob, bytes);
        return dir;
      },
      /^layer sha256:[0-9a-f]{12} of image bad:digest is corrupt: its content does not match its digest \(got sha256:[0-9a-f]{64}\)$/,
    ],
    ...(['manifest', 'config'] as const).map((which): [string, () => string, RegExp] => [
      `a ${which} that does not match its digest (same size, one byte changed)`,
      () => {
        const dir = path.join(t.work, `bad-${which}-digest`);
        const [b] = writeOciLayout(dir, [{ names: [`bad:${which}`], layers: [{ entries: [{ path: 'x', data: 'x' }] }] }]);
        const blob = path.join(dir, 'blobs/sha256', (which === 'manifest' ? b.manifestDigest : b.configDigest).slice(7));
        fs.writeFileSync(blob, fs.readFileSync(blob).toString().replace(/^\{/, ' '));
        return dir;
      },
      /is not a valid image: .*sha256:[0-9a-f]{64} does not match its digest \(got sha256:[0-9a-f]{64}\)$/,
    ]),
    [
      'a descriptor whose digest is a path',
      () => {
        const dir = path.join(t.work, 'path-digest');
        writeOciLayout(dir, [{ names: ['bad:path'], layers: [{ entries: [{ path: 'x', data: 'x' }] }] }]);
        const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
        index.manifests[0].digest = 'sha256:../../../../etc/passwd';
        fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
        return dir;
      },
      /is not a valid image: unsupported or malformed digest "sha256:..\/..\/..\/..\/etc\/passwd" \(only sha256 is supported\)$/,
    ],
    [
      'a layer whose content does not match the diff_id in the config',
      () => {
        const dir = path.join(t.work, 'bad-diffid');
        writeOciLayout(dir, [{ names: ['bad:diffid'], layers: [{ entries: [{ path: 'x', data: 'x' }] }], mutateConfig: (c) => (c.rootfs.diff_ids[0] = `sha256:${'0'.repeat(64)}`) }]);
        return dir;
      },
      /^layer sha256:[0-9a-f]{12} of image bad:diffid is corrupt: its uncompressed content sha256:[0-9a-f]{12} does not match the diff_id sha256:000000000000 in the image config$/,
    ],
    [
      'a missing blob',
      () => {
        const dir = path.join(t.work, 'missing');
        const [b] = writeOciLayout(dir, [{ names: ['bad:missing'], layers: [{ entries: [{ path: 'x', data: 'x' }] }] }]);
        fs.rmSync(path.join(dir, 'blobs/sha256', b.layers[0].digest.slice(7)));
        return dir;
      },
      /is not a valid image: "blobs\/sha256\/[0-9a-f]{64}" is missing$/,
    ],
    [
      'truncated gzip',
      () => {
        const dir = path.join(t.work, 'trunc');
        writeDockerSaveDir(dir, [{ names: ['bad:trunc'], layers: [{ entries: [{ path: 'x', data: 'y'.repeat(5000) }], compression: 'gzip' }] }]);
        const layer = fs.readdirSync(dir).find((d) => fs.existsSync(path.join(dir, d, 'layer.tar')))!;
        const f = path.join(dir, layer, 'layer.tar');
        fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 40));
        return dir;
      },
      /^layer sha256:[0-9a-f]{12} of image bad:trunc is not valid gzip data/,
    ],
    [
      'a file that is no image at all',
      () => {
        const f = path.join(t.work, 'notimage.tar');
        fs.writeFileSync(f, 'hello');
        return f;
      },
      /^"[^"]+notimage.tar" is not a valid image: it is not a valid tar archive \(no tar header at its start\)$/,
    ],
    [
      'a second image that is broken after a good one',
      () => {
        const dir = path.join(t.work, 'half');
        writeOciLayout(dir, [
          { names: ['good:one'], layers: [{ entries: [{ path: 'good', data: 'good' }] }] },
          { names: ['bad:two'], layers: [{ entries: [{ path: '../evil', data: 'x' }] }] },
        ]);
        return dir;
      },
      /^layer sha256:[0-9a-f]{12} of image bad:two is unsafe: entry "..\/evil" escapes the layer$/,
    ],
  ];
  for (const [what, make, message] of cases) {
    it(`refuses ${what}`, async () => {
      const input = make();
      const before = snapshotTree(t.root);
      const e = await errorOf(() => loadImages(input));
      expect(e.message).toMatch(message);
      expect(e.exitCode).toBe(125);
      expect(snapshotTree(t.root)).toEqual(before);
    });
  }
});

describe('removing images', () => {
  it('untags one name, then deletes the image and collects what no image uses', async () => {
    const dir = path.join(t.work, 'rm');
    writeOciLayout(dir, [{ names: ['rmme:a', 'rmme:b'], layers: [baseLayer(), { entries: [{ path: 'only-rmme', data: 'x' }] }] }]);
    const [img] = await loadImages(dir);
    const [shared, own] = layerPaths(img);
    expect(await removeImage('rmme:a', { usedBy: noUsers })).toEqual(['Untagged: rmme:a']);
    expect((await resolveImage('rmme:b')).names).toEqual(['rmme:b']);

    const used = await errorOf(() => removeImage('rmme:b', { usedBy: (id) => (id === img.id ? ['web', 'db'] : []) }));
    expect(used.message).toBe(`image rmme:b (${img.id.slice(0, 19)}) is used by containers web, db: remove them with \`minid rm\` first`);
    expect((await resolveImage('rmme:b')).id).toBe(img.id);

    const lines = await removeImage('rmme:b', { usedBy: noUsers });
    expect(lines).toEqual(['Untagged: rmme:b', `Deleted: ${img.id}`, `Deleted: ${img.layers[1].diffId} (layer)`]);
    expect(fs.existsSync(own)).toBe(false);
    expect(fs.existsSync(shared)).toBe(true); // still used by "distro"
    for (const d of [img.id, img.manifestDigest, img.layers[1].digest]) {
      expect(fs.existsSync(path.join(t.root, 'blobs/sha256', d.slice(7)))).toBe(false);
    }
    await expect(resolveImage('rmme:b')).rejects.toThrow('not found');
  });

  it('refuses an id with several names unless forced; -f keeps an image containers use', async () => {
    const dir = path.join(t.work, 'rm2');
    writeOciLayout(dir, [{ names: ['multi:a', 'multi:b'], layers: [{ entries: [{ path: 'm', data: 'm' }] }] }]);
    const [img] = await loadImages(dir);
    const e = await errorOf(() => removeImage(img.id.slice(7, 19), { usedBy: noUsers }));
    expect(e.message).toMatch(/must be forced/);
    expect(await removeImage(img.id, { force: true, usedBy: () => ['c1'] })).toEqual(['Untagged: multi:a', 'Untagged: multi:b']);
    expect((await resolveImage(img.id)).names).toEqual([]);
    expect(fs.existsSync(layerPaths(img)[0])).toBe(true);
    expect(await removeImage(img.id, { usedBy: noUsers })).toContain(`Deleted: ${img.id}`);
    expect((await errorOf(() => removeImage('nope', { usedBy: noUsers }))).message).toMatch(/^image "nope:latest" not found/);
  });
});
