// scanLayer reads a blob once: digest, diff_id and every header checked; nothing is written.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCompression, scanLayer, CorruptLayerError } from '../../../src/image/layer.js';
import { UnsafeEntryError } from '../../../src/image/safety.js';
import { tarBuffer, sha256, type FEntry } from '../../fixtures/image/builder.js';

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-layer-unit-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function blob(name: string, bytes: Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

const entries: FEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
  { path: 'etc/.wh.shadow' },
  { path: 'big', data: Buffer.alloc(300_000, 7) },
  { path: 'l', type: 'hardlink', linkpath: 'big' },
  { path: `${'d'.repeat(120)}/long-name`, data: 'long' },
];

describe('detectCompression', () => {
  it('knows gzip, zstd, bzip2, xz and plain tar by their magic', () => {
    expect(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(detectCompression(Buffer.from('BZh9'))).toBe('bzip2');
    expect(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]))).toBe('xz');
    expect(detectCompression(tarBuffer([{ path: 'x' }]))).toBe('none');
    expect(detectCompression(Buffer.alloc(0))).toBe('none');
  });
});

describe('scanLayer', () => {
  it('computes digest and diff_id of a gzip layer and plans its whiteouts', async () => {
    const tar = tarBuffer(entries);
    const gz = zlib.gzipSync(tar);
    const r = await scanLayer(blob('a.tar.gz', gz), 'gzip');
    expect(r.digest).toBe(sha256(gz));
    expect(r.diffId).toBe(sha256(tar));
    expect(r.size).toBe(gz.length);
    expect(r.plan.whiteouts).toEqual([{ marker: 'etc/.wh.shadow', target: 'etc/shadow' }]);
    expect(r.plan.unpackedSize).toBe(26 + 300_000 + 4);
  });

  it('digest and diff_id are equal for a plain tar', async () => {
    const tar = tarBuffer(entries);
    const r = await scanLayer(blob('a.tar', tar), 'none');
    expect(r.digest).toBe(sha256(tar));
    expect(r.diffId).toBe(sha256(tar));
  });

  it('accepts the empty layer (1024 zero bytes), refuses an empty blob', async () => {
    const empty = Buffer.alloc(1024);
    const r = await scanLayer(blob('empty.tar.gz', zlib.gzipSync(empty)), 'gzip');
    expect(r.diffId).toBe(sha256(empty));
    expect(r.plan.entries).toBe(0);
    await expect(scanLayer(blob('nothing', Buffer.alloc(0)), 'none')).rejects.toThrow('is empty: not a tar archive');
  });

  it('stops at the first unsafe entry', async () => {
    const tar = tarBuffer([{ path: 'ok', data: 'x' }, { path: 'a', type: 'symlink', linkpath: '/etc' }, { path: 'a/passwd', data: 'x' }]);
    await expect(scanLayer(blob('evil.tar', tar), 'none')).rejects.toThrow(new UnsafeEntryError('a/passwd', 'goes through the symlink "a"'));
  });

  it('checks names from PAX headers, not the truncated ustar name', async () => {
    const tar = tarBuffer([{ path: `${'a/'.repeat(60)}${'../'.repeat(62)}etc/x`, data: 'x' }]);
    await expect(scanLayer(blob('pax.tar', tar), 'none')).rejects.toThrow('escapes the layer');
  });

  it('refuses a layer compressed twice, broken gzip and garbage', async () => {
    const tar = tarBuffer(entries);
    await expect(scanLayer(blob('2x.gz', zlib.gzipSync(zlib.gzipSync(tar))), 'gzip')).rejects.toThrow(CorruptLayerError);
    await expect(scanLayer(blob('bad.gz', zlib.gzipSync(tar).subarray(0, 100)), 'gzip')).rejects.toThrow(/not valid gzip data/);
    await expect(scanLayer(blob('junk', Buffer.alloc(2048, 0x41)), 'none')).rejects.toThrow(/not a valid tar archive/);
  });

  it('streams zstd through the zstd program: digest and diff_id, broken data in zstd\'s words, an early stop ends zstd', async () => {
    const tar = tarBuffer(entries);
    const zst = execFileSync('zstd', ['-q', '-c'], { input: tar });
    const r = await scanLayer(blob('a.tar.zst', zst), 'zstd');
    expect([r.digest, r.diffId, r.size]).toEqual([sha256(zst), sha256(tar), zst.length]);
    const bad = Buffer.from(zst);
    bad[bad.length >> 1] ^= 0xff;
    await expect(scanLayer(blob('bad.zst', bad), 'zstd')).rejects.toThrow(/^is not valid zstd data \(.*(error|checksum|corrupt).*\)$/i);
    await expect(scanLayer(blob('cut.zst', zst.subarray(0, 60)), 'zstd')).rejects.toThrow(/^is not valid zstd data \(.+\)$/);
    const evil = execFileSync('zstd', ['-q', '-c'], { input: tarBuffer([{ path: 'a', type: 'symlink', linkpath: '/etc' }, { path: 'a/passwd', data: 'x' }, { path: 'pad', data: Buffer.alloc(4 << 20, 1) }]) });
    await expect(scanLayer(blob('evil.zst', evil), 'zstd')).rejects.toThrow(new UnsafeEntryError('a/passwd', 'goes through the symlink "a"'));
  });

  it('refuses a header with a bad checksum', async () => {
    const tar = tarBuffer(entries);
    tar[0] ^= 1; // the name changes, the checksum does not
    await expect(scanLayer(blob('cksum.tar', tar), 'none')).rejects.toThrow(/not a valid tar archive/);
  });
});
