// tar.ts is the one parser that decides what a layer holds, for the check and the write
// alike. Where two readers could disagree (PAX against GNU headers, odd fields), it either
// reads what GNU tar reads or refuses the archive.
import { describe, expect, it } from 'vitest';
import { TarReader, TarError, type TarEntry } from '../../../src/image/tar.js';
import { UnsafeEntryError } from '../../../src/image/safety.js';
import { tarBuffer, type FEntry } from '../../fixtures/image/builder.js';

/** Every entry of an archive, fed in chunks of `chunk` bytes (headers then span chunks). */
async function entries(tar: Buffer, chunk = 1 << 20): Promise<(TarEntry & { data: string })[]> {
  async function* chunks() {
    for (let i = 0; i < tar.length; i += chunk) yield tar.subarray(i, i + chunk);
  }
  const r = new TarReader(chunks());
  const out: (TarEntry & { data: string })[] = [];
  for (let e = await r.next(); e; e = await r.next()) {
    const parts: Buffer[] = [];
    for await (const c of r.body(e)) parts.push(Buffer.from(c));
    out.push({ ...e, data: Buffer.concat(parts).toString() });
  }
  return out;
}

const one = async (e: FEntry) => (await entries(tarBuffer([e])))[0];
const refusal = async (list: FEntry[] | Buffer): Promise<Error> => {
  try {
    await entries(Buffer.isBuffer(list) ? list : tarBuffer(list));
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the archive to be refused');
};

describe('what every entry is', () => {
  it('reads files, directories, links, devices and FIFOs with their metadata', async () => {
    const got = await entries(
      tarBuffer([
        { path: 'd/', type: 'dir', mode: 0o1777, uid: 5, gid: 6, mtime: 1_600_000_000 },
        { path: 'd/f', data: 'hello', mode: 0o4755 },
        { path: 'd/h', type: 'hardlink', linkpath: 'd/f' },
        { path: 'd/s', type: 'symlink', linkpath: '/etc/passwd' },
        { path: 'null', type: 'char', devmajor: 1, devminor: 3 },
        { path: 'sda', type: 'block', devmajor: 8, devminor: 0 },
        { path: 'p', type: 'fifo' },
        { path: 'x', data: 'y', xattrs: { 'security.capability': 'caps', 'user.a': 'b' } },
      ]),
      7,
    );
    expect(got.map((e) => [e.path, e.type, e.linkpath, e.data])).toEqual([
      ['d/', 'dir', '', ''],
      ['d/f', 'file', '', 'hello'],
      ['d/h', 'hardlink', 'd/f', ''],
      ['d/s', 'symlink', '/etc/passwd', ''],
      ['null', 'chardev', '', ''],
      ['sda', 'blockdev', '', ''],
      ['p', 'fifo', '', ''],
      ['x', 'file', '', 'y'],
    ]);
    expect([got[0].mode, got[0].uid, got[0].gid, got[0].mtime]).toEqual([0o1777, 5, 6, 1_600_000_000]);
    expect(got[1].mode).toBe(0o4755);
    expect([got[4].devmajor, got[4].devminor, got[5].devmajor]).toEqual([1, 3, 8]);
    expect(got[7].xattrs.map(([k, v]) => [k, v.toString()])).toEqual([
      ['security.capability', 'caps'],
      ['user.a', 'b'],
    ]);
  });

  it('joins the ustar prefix field and the name, as GNU tar does', async () => {
    expect((await one({ path: 'x', headerName: 'bin/sh', prefix: 'usr/local' })).path).toBe('usr/local/bin/sh');
  });

  it('reads numeric fields in base-256 (ids and sizes too big for octal)', async () => {
    const e = await one({ path: 'f', data: 'abc', uid: 0, base256: { uid: 3_000_000, gid: 70_000_000, size: 3, mtime: 1_700_000_000 } });
    expect([e.uid, e.gid, e.size, e.mtime, e.data]).toEqual([3_000_000, 70_000_000, 3, 1_700_000_000, 'abc']);
  });

  it('takes PAX records over the header fields (path, linkpath, ids, size, fractional mtime)', async () => {
    const e = await one({ path: 'short', type: 'symlink', linkpath: 'x', pax: { path: 'a/b/long', linkpath: 't/u', uid: '4000000', mtime: '1700000000.5' } });
    expect([e.path, e.linkpath, e.uid, e.mtime]).toEqual(['a/b/long', 't/u', 4_000_000, 1_700_000_000.5]);
  });

  it('reads names and link targets longer than 100 bytes from GNU L and K records', async () => {
    const long = `${'d'.repeat(150)}/f`;
    const e = await one({ path: long, type: 'symlink', linkpath: `${'t'.repeat(120)}`, gnuLongName: long, gnuLongLink: 't'.repeat(120) });
    expect([e.path, e.linkpath]).toEqual([long, 't'.repeat(120)]);
  });

  it('ends a header name at its first NUL, as C readers do', async () => {
    expect((await one({ path: 'x', headerName: 'safe\0/../../etc/passwd' })).path).toBe('safe');
    expect((await one({ path: 'x', gnuLongName: 'safe\0/../../etc/passwd' })).path).toBe('safe');
  });
});

describe('the PAX-against-GNU differential (issue 13): one name or a refusal', () => {
  for (const first of ['pax', 'gnu'] as const) {
    it(`refuses a PAX path and a GNU long name that differ (${first} first)`, async () => {
      const e = await refusal([{ path: 'innocent', type: 'symlink', linkpath: '/elsewhere', pax: { path: 'innocent' }, gnuLongName: 'evil', first }]);
      expect(e).toBeInstanceOf(UnsafeEntryError);
      expect(e.message).toBe('entry "evil" has two different names: "innocent" in a PAX header and "evil" in a GNU long-name header');
    });

    it(`accepts them when they agree (${first} first)`, async () => {
      expect((await one({ path: 'same', pax: { path: 'same' }, gnuLongName: 'same', first })).path).toBe('same');
    });

    it(`refuses a PAX linkpath and a GNU long link that differ (${first} first)`, async () => {
      const e = await refusal([{ path: 'l', type: 'symlink', linkpath: 'x', pax: { linkpath: 'usr/lib' }, gnuLongLink: '/etc', first }]);
      expect(e.message).toMatch(/^entry "\/etc" has two different link targets: "usr\/lib" in a PAX header and "\/etc"/);
    });
  }

  it('keeps a NUL inside a PAX path, for the checker to refuse', async () => {
    expect((await one({ path: 'x', pax: { path: 'a\0/../../x' } })).path).toBe('a\0/../../x');
  });
});

describe('archives that readers could read differently are refused', () => {
  const cases: [string, () => FEntry[] | Buffer, RegExp][] = [
    ['a PAX record whose length is too long', () => [{ path: 'x', paxRaw: '99 path=evil\n' }], /^a PAX header has a malformed record$/],
    ['a PAX record whose length is too short', () => [{ path: 'x', paxRaw: '9 path=evil\n' }], /^a PAX header has a malformed record$/],
    ['a PAX record without a length', () => [{ path: 'x', paxRaw: 'path=evil\n' }], /^a PAX header has a malformed record$/],
    ['a PAX record without "="', () => [{ path: 'x', paxRaw: '10 pathxx\n' }], /^a PAX header has a malformed record$/],
    ['a repeated PAX record', () => [{ path: 'x', paxRaw: '13 path=good\n13 path=evil\n' }], /^a PAX header repeats the record "path"$/],
    ['a malformed PAX number', () => [{ path: 'x', pax: { uid: '-1' } }], /^a PAX header has a malformed uid \("-1"\)$/],
    [
      'two PAX headers before one entry',
      () => Buffer.concat([tarBuffer([{ path: 'a', pax: { path: 'one' } }]).subarray(0, 1024), tarBuffer([{ path: 'b', pax: { path: 'two' } }])]),
      /^two PAX headers precede one entry$/,
    ],
    ['two GNU long names before one entry', twoLong, /^two GNU long names precede one entry$/],
    ['a global PAX header that sets a path', globalPath, /^a global PAX header sets "path"$/],
    ['a sparse file', () => [{ path: 's', pax: { 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0' } }], /^entry "s" is a sparse file, which we do not unpack$/],
    ['data on a symlink', () => [{ path: 's', type: 'symlink', linkpath: 't', pax: { size: '512' }, data: Buffer.alloc(512) }], /has 512 bytes of data but is not a regular file$/],
    ['a bad header checksum', () => corrupt(148), /^a header checksum is wrong$/],
    ['a lone zero block followed by entries', loneZero, /^a lone zero block is followed by more entries$/],
    ['a name that is not UTF-8', latin1Name, /has a name that is not valid UTF-8$/],
    ['an archive cut inside a file', () => tarBuffer([{ path: 'f', data: Buffer.alloc(2000, 1) }]).subarray(0, 1500), /^the archive ends inside "f"$/],
  ];
  for (const [what, tar, want] of cases) {
    it(`refuses ${what}`, async () => {
      const e = await refusal(tar());
      expect(e instanceof TarError || e instanceof UnsafeEntryError).toBe(true);
      expect(e.message).toMatch(want);
    });
  }
});

function twoLong(): Buffer {
  const a = tarBuffer([{ path: 'x', gnuLongName: 'a' }]);
  return Buffer.concat([a.subarray(0, 1024), a]); // the L header and its body, twice
}

function globalPath(): Buffer {
  const t = tarBuffer([{ path: 'x', pax: { path: 'y' } }]);
  t[156] = 'g'.charCodeAt(0);
  return fixChecksum(t, 0);
}

function corrupt(at: number): Buffer {
  // The second header: a bad first one reads as "not a tar at all".
  const t = tarBuffer([{ path: 'x', data: 'y' }, { path: 'z', data: 'y' }]);
  t[1024 + at] = 0x37;
  return t;
}

function loneZero(): Buffer {
  const a = tarBuffer([{ path: 'a', data: 'a' }]);
  const b = tarBuffer([{ path: 'b', data: 'b' }]);
  return Buffer.concat([a.subarray(0, 1024), Buffer.alloc(512), b]);
}

function latin1Name(): Buffer {
  const t = tarBuffer([{ path: 'caf?' }]);
  t[3] = 0xe9; // "café" in latin1: not UTF-8
  return fixChecksum(t, 0);
}

/** Recompute the checksum of the header at `off` after a test changed it. */
function fixChecksum(t: Buffer, off: number): Buffer {
  t.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = off; i < off + 512; i++) sum += t[i];
  t.write(sum.toString(8).padStart(6, '0') + '\0 ', off + 148, 'latin1');
  return t;
}
