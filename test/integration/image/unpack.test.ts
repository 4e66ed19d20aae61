// minid unpacks layers with its own reader and writer (tar.ts, unpack.ts). This checks that
// it writes what GNU tar writes (with the flags minid used before: numeric owners, modes,
// xattrs) for the same layers: the real images in .images/, a tree of this host written by
// GNU tar itself, and fixtures with every kind of entry. Each tree is compared by lstat
// fields, contents, link targets, hard-link groups and xattrs.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { requireRoot, useTempStore } from '../../fixtures/image/env.js';
import { tarBuffer, baseLayer, whiteoutLayer, type FEntry } from '../../fixtures/image/builder.js';
import { scanLayer, applyWhiteouts, sniffCompression, type Compression } from '../../../src/image/layer.js';

requireRoot();
const t = useTempStore('image-unpack');
const repo = path.resolve(__dirname, '../../..');
const started = Date.now() - 1000;

/** What a tree is, path by path, as a user (or overlayfs) would see it. */
function describeTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    const abs = rel ? path.join(root, rel) : root;
    const st = fs.lstatSync(abs);
    const ns = fs.lstatSync(abs, { bigint: true }).mtimeNs;
    const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'other';
    const f = [`${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`];
    // The root's time is that of the unpacking unless the layer lists "./".
    // Directories the archive does not list, and whiteouts, get the time of the unpacking.
    // To the microsecond: Node's utimes takes seconds as a double (about 240 ns steps today).
    if (rel) f.push(st.mtimeMs >= started ? 'mtime=now' : `mtime=${(ns + 500n) / 1000n}us`);
    if (kind === 'file') {
      f.push(`size=${st.size} sha=${createHash('sha256').update(fs.readFileSync(abs)).digest('hex').slice(0, 16)}`);
      const first = inodes.get(st.ino);
      if (first) f.push(`linked-to=${first}`);
      else if (st.nlink > 1) inodes.set(st.ino, rel);
    }
    if (kind === 'symlink') f.push(`-> ${fs.readlinkSync(abs)}`);
    if (kind === 'char' || kind === 'block') f.push(`rdev=${st.rdev}`);
    out[rel || '.'] = f.join(' ');
    if (kind === 'dir') for (const n of fs.readdirSync(abs).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  // Every xattr, trusted.* and security.* included, never through a symlink.
  const dump = execFileSync('getfattr', ['-h', '-R', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28 });
  for (const block of dump.split('\n\n')) {
    const [head, ...attrs] = block.trim().split('\n');
    if (!head) continue;
    const rel = head.replace(/^# file: /, '').replace(/^\.\/?/, '') || '.';
    out[`${rel} xattrs`] = attrs.sort().join(' ');
  }
  return out;
}

/** Unpack with minid's reader and writer, and with GNU tar plus the same whiteout step. */
async function bothWays(name: string, blob: string): Promise<{ ours: Record<string, string>; gnu: Record<string, string>; entries: number }> {
  const compression: Compression = await sniffCompression(blob);
  const ours = path.join(t.work, `${name}-ours`);
  const gnu = path.join(t.work, `${name}-gnu`);
  for (const d of [ours, gnu]) {
    fs.rmSync(d, { recursive: true, force: true });
    fs.mkdirSync(d, 0o755);
    fs.chmodSync(d, 0o755);
  }
  const scan = await scanLayer(blob, compression, undefined, { dest: ours });
  // What minid did before (git show e2d232c:src/image/layer.ts): GNU tar, then whiteouts.
  execFileSync('tar', [
    '--extract',
    `--file=${blob}`,
    ...(compression === 'gzip' ? ['--gzip'] : []),
    `--directory=${gnu}`,
    '--numeric-owner',
    '--same-owner',
    '--preserve-permissions',
    '--xattrs',
    '--xattrs-include=*',
    '--xattrs-exclude=trusted.overlay.*',
    '--warning=no-unknown-keyword',
  ]);
  // GNU tar set the directory times; making whiteouts in them afterwards would change them.
  const times = new Map<string, bigint>();
  const dirs = (rel: string) => {
    for (const d of fs.readdirSync(path.join(gnu, rel), { withFileTypes: true })) {
      if (!d.isDirectory()) continue;
      const r = rel ? `${rel}/${d.name}` : d.name;
      times.set(r, fs.lstatSync(path.join(gnu, r), { bigint: true }).mtimeNs);
      dirs(r);
    }
  };
  dirs('');
  await applyWhiteouts(gnu, scan.plan);
  for (const [r, ns] of times) {
    const p = path.join(gnu, r);
    if (!fs.existsSync(p) || fs.lstatSync(p, { bigint: true }).mtimeNs === ns) continue;
    const nsec = String(ns % 1_000_000_000n).padStart(9, '0');
    execFileSync('touch', ['-h', '-m', '-d', `@${ns / 1_000_000_000n}.${nsec}`, p]); // to the nanosecond
  }
  return { ours: describeTree(ours), gnu: describeTree(gnu), entries: scan.plan.entries };
}

function layerBlobs(image: string): string[] {
  const dir = path.join(repo, '.images', image);
  const blob = (d: string) => path.join(dir, 'blobs/sha256', d.slice(7));
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), 'utf8'));
  return manifest.layers.map((l: { digest: string }) => blob(l.digest));
}

function writeBlob(name: string, entries: FEntry[], gzip = true): string {
  const file = path.join(t.work, name);
  const tar = tarBuffer(entries);
  fs.writeFileSync(file, gzip ? zlib.gzipSync(tar) : tar);
  return file;
}

// A v2 file capability: cap_net_raw permitted and effective (what `setcap cap_net_raw+ep` writes).
const CAP_NET_RAW = '\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00';

const fidelity: FEntry[] = [
  { path: './', type: 'dir', mode: 0o755, mtime: 1_500_000_000 },
  { path: 'usr/', type: 'dir', mtime: 1_500_000_001 },
  { path: 'usr/bin/', type: 'dir', mode: 0o2775, uid: 0, gid: 50 },
  { path: 'usr/bin/ping', data: 'ping\n', mode: 0o755, xattrs: { 'security.capability': CAP_NET_RAW, 'user.origin': 'iputils' } },
  { path: 'usr/bin/sudo', data: 'sudo\n', mode: 0o4755 },
  { path: 'usr/bin/wall', data: 'wall\n', mode: 0o2755, gid: 5 },
  { path: 'usr/bin/both', data: 'both\n', mode: 0o6711, uid: 1000, gid: 1000 },
  { path: 'usr/bin/none', data: 'none\n', mode: 0 },
  { path: 'usr/bin/big-ids', data: 'ids\n', uid: 3_000_000, gid: 70_000, base256: { uid: 3_000_000 } },
  { path: 'usr/bin/x', type: 'hardlink', linkpath: 'usr/bin/sudo' },
  { path: 'usr/bin/y', type: 'hardlink', linkpath: 'usr/bin/x' },
  { path: 'usr/lib/', type: 'dir', mode: 0o700, uid: 33, gid: 33, mtime: 1_400_000_000 },
  { path: 'usr/lib/frac', data: 'frac\n', pax: { mtime: '1600000000.25' } },
  { path: `usr/lib/${'p'.repeat(120)}/${'q'.repeat(60)}`, data: 'pax long name\n' },
  { path: `usr/lib/${'g'.repeat(150)}`, data: 'gnu long name\n', gnuLongName: `usr/lib/${'g'.repeat(150)}` },
  { path: 'usr/lib/ln-long', type: 'symlink', linkpath: `/${'t'.repeat(200)}`, gnuLongLink: `/${'t'.repeat(200)}` },
  { path: 'x', headerName: 'prefixed', prefix: 'usr/share', data: 'from the prefix field\n' },
  { path: 'x', headerName: 'usr/share/nul\0/../../../etc/passwd', data: 'a header name ends at its NUL\n' },
  { path: 'usr/share/abs', type: 'symlink', linkpath: '/etc/passwd', uid: 7, gid: 7, mtime: 1_300_000_000 },
  { path: 'usr/share/rel', type: 'symlink', linkpath: '../../x/../y' },
  { path: 'usr/share/dangling', type: 'symlink', linkpath: 'nowhere' },
  { path: 'dev/', type: 'dir' },
  { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
  { path: 'dev/sda1', type: 'block', devmajor: 8, devminor: 1, mode: 0o660, gid: 6 },
  { path: 'dev/initctl', type: 'fifo', mode: 0o600 },
  { path: 'tmp/', type: 'dir', mode: 0o1777 },
  { path: 'empty/', type: 'dir', mode: 0o555 },
  { path: 'replaced', data: 'first\n' },
  { path: 'replaced', data: 'second, wins\n' },
  { path: 'relinked', type: 'symlink', linkpath: 'a' },
  { path: 'relinked', type: 'symlink', linkpath: 'b' },
  { path: 'twice/', type: 'dir', mode: 0o700 },
  { path: 'twice/f', data: 'f\n' },
  { path: 'twice/', type: 'dir', mode: 0o750, mtime: 1_234_567_890 },
  { path: 'gone/', type: 'dir' },
  { path: 'gone/.wh.old' },
  { path: 'gone/.wh..wh..opq' },
  { path: '.wh.removed' },
];

describe('minid writes what GNU tar writes', () => {
  for (const image of ['busybox', 'nginx']) {
    it(`for every layer of .images/${image}`, async () => {
      for (const [i, blob] of layerBlobs(image).entries()) {
        const { ours, gnu, entries } = await bothWays(`${image}-${i}`, blob);
        expect(entries).toBeGreaterThan(10);
        expect(ours).toEqual(gnu);
      }
    });
  }

  it('for a tree of this host archived by GNU tar (setuid programs, hard links, xattrs)', async () => {
    const file = path.join(t.work, 'host.tar');
    const have = ['usr/sbin', 'usr/share/zoneinfo', 'usr/bin/passwd', 'usr/bin/su', 'usr/bin/ping'].filter((p) => fs.existsSync(`/${p}`));
    execFileSync('tar', ['-C', '/', '--format=posix', '--xattrs', '--xattrs-include=*', '--numeric-owner', '-cf', file, ...have]);
    const { ours, gnu, entries } = await bothWays('host', file);
    expect(entries).toBeGreaterThan(100);
    expect(ours).toEqual(gnu);
  });

  it('for sparse files as GNU tar -S writes them (holes kept; a map with extension blocks)', async () => {
    const src = path.join(t.work, 'sparse-src');
    fs.rmSync(src, { recursive: true, force: true });
    fs.mkdirSync(path.join(src, 'var/log'), { recursive: true });
    const write = (name: string, size: number, at: number[]) => {
      const fd = fs.openSync(path.join(src, name), 'w');
      for (const off of at) fs.writeSync(fd, Buffer.alloc(5000, off % 251), 0, 5000, off);
      fs.ftruncateSync(fd, size);
      fs.closeSync(fd);
    };
    write('var/log/lastlog', 64 << 20, [0, 1 << 20, 40 << 20]); // a hole at the end too
    write('var/log/many', 32 << 20, Array.from({ length: 30 }, (_, i) => i * (1 << 20) + 12345)); // > 4 segments
    const file = path.join(t.work, 'sparse.tar');
    execFileSync('tar', ['-C', src, '--format=gnu', '--sparse', '--numeric-owner', '-cf', file, '.']);
    expect(fs.statSync(file).size).toBeLessThan(1 << 20);
    const { ours, gnu } = await bothWays('sparse', file);
    expect(ours).toEqual(gnu);
    expect(ours['var/log/lastlog']).toMatch(/ size=67108864 /);
    expect(fs.statSync(path.join(t.work, 'sparse-ours/var/log/lastlog')).blocks * 512).toBeLessThan(1 << 20);
  });

  it('for every kind of entry, with whiteouts', async () => {
    const { ours, gnu } = await bothWays('fidelity', writeBlob('fidelity.tar.gz', fidelity));
    expect(ours).toEqual(gnu);
    // What the test is about, spelled out.
    expect(ours['usr/bin/ping xattrs']).toBe('security.capability=0x0100000200200000000000000000000000000000 user.origin=0x69707574696c73');
    expect(ours['usr/bin/both']).toMatch(/^file 6711 1000:1000 /);
    expect(ours['usr/bin/big-ids']).toMatch(/^file 644 3000000:70000 /);
    expect(ours['usr/bin/y']).toMatch(/linked-to=usr\/bin\/sudo$/);
    expect(ours['usr/lib/frac']).toMatch(/mtime=1600000000250000us /);
    expect(ours['usr/share/prefixed']).toMatch(/^file 644 0:0 /);
    expect(ours['usr/share/nul']).toMatch(/^file 644 0:0 .* size=30 /);
    expect(ours['dev/sda1']).toMatch(/^block 660 0:6 .* rdev=2049$/);
    expect(ours['gone/old']).toMatch(/^char \d+ 0:0 .* rdev=0$/);
    expect(ours['gone xattrs']).toBe('trusted.overlay.opaque=0x79');
    expect(ours.removed).toMatch(/^char \d+ 0:0 .* rdev=0$/);
    expect(Object.keys(ours).filter((k) => k.includes('.wh.'))).toEqual([]);
  });

  it('for the fixture distro and its whiteout layer', async () => {
    for (const [i, layer] of [baseLayer(), whiteoutLayer()].entries()) {
      const { ours, gnu } = await bothWays(`distro-${i}`, writeBlob(`distro-${i}.tar`, layer.entries, false));
      expect(ours).toEqual(gnu);
    }
  });
});
