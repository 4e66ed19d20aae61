// The few lines of tar writing in src/image/save.ts: headers GNU tar reads back as written.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tarHeader } from '../../../src/image/save.js';

const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

describe('tar headers of minid save', () => {
  it('GNU tar lists and extracts what they describe', () => {
    const data = Buffer.from('{"a":1}\n');
    const archive = Buffer.concat([tarHeader('d/', 0, '5'), tarHeader('d/manifest.json', data.length, '0'), pad(data), Buffer.alloc(1024)]);
    const list = execFileSync('tar', ['tvf', '-', '--numeric-owner'], { input: archive }).toString();
    expect(list).toMatch(/^drwxr-xr-x 0\/0 +0 1970-01-01 00:00 d\/\n-rw-r--r-- 0\/0 +8 1970-01-01 00:00 d\/manifest\.json\n$/);
    expect(execFileSync('tar', ['xOf', '-', 'd/manifest.json'], { input: archive }).toString()).toBe('{"a":1}\n');
  });

  it('sizes of 8 GiB and more in base-256; the checksum covers the header', () => {
    const h = tarHeader('big', 9 * 2 ** 30, '0');
    expect(h[124]).toBe(0x80);
    expect(h.readBigUInt64BE(128)).toBe(BigInt(9 * 2 ** 30));
    const stored = parseInt(h.subarray(148, 154).toString('ascii'), 8);
    const copy = Buffer.from(h);
    copy.fill(' ', 148, 156);
    expect(stored).toBe(copy.reduce((n, b) => n + b, 0));
    expect(() => tarHeader('x'.repeat(101), 0, '0')).toThrow(/too long/);
  });
});
