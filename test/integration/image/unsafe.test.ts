// Malicious layers: each must be refused with a message naming the image, the layer and the
// entry, exit code 125, and nothing may change on the host or in the store.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
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
  ['an unknown entry type', () => [{ path: 'weird', type: 'V', data: 'x' }], 'entry "weird" has a tar entry type we do not unpack (TapeVolumeHeader)'],
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

// Issue 13, escape 3: node-tar (the checker) and GNU tar (the extractor) read one entry
// under two names, so a symlink "evil -> victim" was never checked, and the whiteouts
// below it were made on the host. One parser now reads both; two names are refused.
describe('parser differentials and writes through symlinks', () => {
  /** Load a one-image layout; return the error (or null) and check nothing outside changed. */
  async function attempt(layers: FEntry[][]): Promise<{ message: string; exitCode?: number } | null> {
    const dir = path.join(t.work, 'diff');
    writeOciLayout(dir, [{ names: ['diff:latest'], layers: layers.map((entries) => ({ entries })) }]);
    let err: { message: string; exitCode?: number } | null = null;
    try {
      await loadImages(dir);
    } catch (e) {
      err = e as { message: string };
    }
    expect(fs.readdirSync(victim)).toEqual(['passwd']);
    expect(fs.readFileSync(path.join(victim, 'passwd'), 'utf8')).toBe('untouched\n');
    expect(fs.statSync(path.join(victim, 'passwd')).isFile()).toBe(true);
    expect(execFileSync('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', victim]).toString()).toBe('');
    return err;
  }
  const through = (link: FEntry): FEntry[] => [
    link,
    { path: 'evil/.wh.passwd' },
    { path: 'evil/.wh..wh..opq' },
    { path: 'evil/planted', data: 'pwned' },
  ];

  for (const first of ['pax', 'gnu'] as const) {
    it(`refuses a symlink named one way by PAX and another by a GNU long name (${first} first)`, async () => {
      const e = await attempt([through({ path: 'innocent', type: 'symlink', linkpath: victim, pax: { path: 'innocent' }, gnuLongName: 'evil', first })]);
      expect(e?.message).toMatch(/is unsafe: entry "evil" has two different names: "innocent" in a PAX header and "evil" in a GNU long-name header$/);
      expect(e?.exitCode).toBe(125);
    });
  }

  it('refuses a hard link whose PAX linkpath and GNU long link differ', async () => {
    const e = await attempt([[{ path: 'ok', data: 'ok' }, { path: 'h', type: 'hardlink', linkpath: 'ok', pax: { linkpath: 'ok' }, gnuLongLink: '/etc/shadow' }]]);
    expect(e?.message).toMatch(/is unsafe: entry "\/etc\/shadow" has two different link targets/);
  });

  it('refuses a NUL inside a PAX path', async () => {
    const e = await attempt([[{ path: 'x', data: 'x', pax: { path: 'evil\0/../../x' } }]]);
    expect(e?.message).toMatch(/is unsafe: entry "evil\\u0000\/..\/..\/x" contains a NUL byte$/);
  });

  it('refuses a malformed PAX record (a reader that skipped it would see another name)', async () => {
    const e = await attempt([[{ path: 'x', data: 'x', paxRaw: '99 path=evil\n' }]]);
    expect(e?.message).toMatch(/ is not a valid tar archive \(a PAX header has a malformed record\)$/);
  });

  it('refuses whiteouts through a symlink of the same layer', async () => {
    const e = await attempt([through({ path: 'evil', type: 'symlink', linkpath: victim })]);
    expect(e?.message).toMatch(/is unsafe: entry "evil\/.wh.passwd" goes through the symlink "evil"$/);
  });

  it('makes harmless a symlink in one layer and writes and whiteouts under its name in the next', async () => {
    const e = await attempt([[{ path: 'evil', type: 'symlink', linkpath: victim }], through({ path: 'evil/', type: 'dir' }).slice(1)]);
    expect(e).toBeNull();
    // The upper layer has a directory of its own there; overlayfs shows it over the symlink.
    const [img] = (await listImages()).filter((i) => i.names.includes('diff:latest'));
    const upper = path.join(t.root, 'layers', img.layers[1].diffId.slice(7));
    expect(fs.lstatSync(path.join(upper, 'evil')).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(upper, 'evil/planted'), 'utf8')).toBe('pwned');
    expect(fs.lstatSync(path.join(upper, 'evil/passwd')).isCharacterDevice()).toBe(true);
  });
});

describe('malformed image metadata: one clear line, nothing written', () => {
  const cases: [string, (dir: string) => void][] = [
    ['index.json is null', (d) => fs.writeFileSync(path.join(d, 'index.json'), 'null')],
    ['index.json is not JSON', (d) => fs.writeFileSync(path.join(d, 'index.json'), '{"manifests": [')],
    ['index.json lists null', (d) => fs.writeFileSync(path.join(d, 'index.json'), '{"manifests": [null]}')],
    ['index.json lists a number', (d) => fs.writeFileSync(path.join(d, 'index.json'), '{"manifests": [5]}')],
    ['a descriptor has no digest', (d) => fs.writeFileSync(path.join(d, 'index.json'), '{"manifests": [{"size": 3}]}')],
  ];
  for (const [what, mutate] of cases) {
    it(`refuses an OCI layout whose ${what}`, async () => {
      const dir = path.join(t.work, 'badjson');
      writeOciLayout(dir, [{ names: ['badjson:latest'], layers: [{ entries: [{ path: 'x', data: 'x' }] }] }]);
      mutate(dir);
      const before = snapshotTree(t.root);
      const e = await errorOf(() => loadImages(dir));
      expect(e.message).toMatch(/^"[^"]+badjson" is not a valid image: [^\n]+$/);
      expect(e.exitCode).toBe(125);
      expect(snapshotTree(t.root)).toEqual(before);
    });
  }

  /** Replace a blob of the layout (manifest or config) and fix the digests that name it. */
  const blobCases: [string, (m: any) => unknown, RegExp][] = [
    ['manifest is null', () => null, /manifest sha256:[0-9a-f]+ has no config or layers$/],
    ['manifest lists a null layer', (m) => ({ ...m, layers: [null] }), /./],
    ['manifest has a config that is a string', (m) => ({ ...m, config: 'x' }), /./],
  ];
  for (const [what, change, want] of blobCases) {
    it(`refuses an OCI layout whose ${what}`, async () => {
      const dir = path.join(t.work, 'badjson');
      const [b] = writeOciLayout(dir, [{ names: ['badjson:latest'], layers: [{ entries: [{ path: 'x', data: 'x' }] }] }]);
      const bytes = Buffer.from(JSON.stringify(change(JSON.parse(b.manifestBytes.toString()))));
      const { sha256 } = await import('../../fixtures/image/builder.js');
      fs.writeFileSync(path.join(dir, 'blobs/sha256', sha256(bytes).slice(7)), bytes);
      const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
      Object.assign(index.manifests[0], { digest: sha256(bytes), size: bytes.length });
      fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
      const e = await errorOf(() => loadImages(dir));
      expect(e.message).toMatch(/^"[^"]+badjson" is not a valid image: [^\n]+$/);
      expect(e.message).toMatch(want);
    });
  }

  it('refuses an image config that is null, and a docker manifest.json that lists null', async () => {
    const dir = path.join(t.work, 'badsave');
    writeDockerSaveDir(dir, [{ names: ['bad:save'], layers: [{ entries: [{ path: 'x', data: 'x' }], compression: 'none' }] }]);
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, m[0].Config), 'null');
    m[0].Config = m[0].Config.replace(/^[0-9a-f]{64}/, 'config');
    fs.renameSync(path.join(dir, m[0].Config.replace(/^config/, JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'))[0].Config.slice(0, 64))), path.join(dir, m[0].Config));
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    expect((await errorOf(() => loadImages(dir))).message).toMatch(/is not a valid image: image config sha256:[0-9a-f]+ has no rootfs.diff_ids$/);
    fs.writeFileSync(path.join(dir, 'manifest.json'), '[null]');
    expect((await errorOf(() => loadImages(dir))).message).toMatch(/is not a valid image: manifest.json has an entry without Config or Layers$/);
  });
});

describe('inputs that never end', () => {
  it('refuses a device as the input instead of reading it forever', async () => {
    const e = await errorOf(() => loadImages('/dev/zero'));
    expect(e.message).toBe('"/dev/zero" is not a valid image: it is a character device, not a file or a directory');
    expect(e.exitCode).toBe(125);
  });

  it('`minid load -i` of /dev/zero, or of a pipe that never ends, ends at once: one line, 125, nothing written', async () => {
    const { cli } = await import('../../helpers/minid.js');
    const { execa } = await import('execa');
    await execa(cli, ['images', '-q']); // the CLI makes the store's layout (containers/) on its first run
    const before = snapshotTree(t.root);
    const cases: [string, string][] = [
      [`exec "$0" load -i /dev/zero`, '"/dev/zero" is not a valid image: it is a character device, not a file or a directory'],
      [`cat /dev/zero | "$0" load -i /dev/stdin`, '"/dev/stdin" is not a valid image: it is a pipe, not a file or a directory'],
      [`exec "$0" load -i /dev/fd/3 3</dev/zero`, '"/dev/fd/3" is not a valid image: it is a character device, not a file or a directory'],
    ];
    for (const [script, message] of cases) {
      // The timeout is the hang check: load must end on its own, long before it.
      const r = await execa('bash', ['-c', script, cli], { reject: false, timeout: 30_000 });
      expect([r.exitCode, r.stderr], script).toEqual([1, `minid: ${message}`]);
    }
    expect(snapshotTree(t.root)).toEqual(before);
  });
});
