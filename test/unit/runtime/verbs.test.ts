// docker cp's reading of its arguments and where a source lands (src/runtime/cp.ts).
import { describe, expect, it } from 'vitest';
import { parseCpArg, placement, splitSource } from '../../../src/runtime/cp.js';
import { parsePrivatePort, portLines } from '../../../src/runtime/port.js';

describe('cp arguments', () => {
  it('reads NAME:PATH, host paths and "-" as docker does', () => {
    expect(parseCpArg('web:/etc/hosts')).toEqual({ kind: 'container', ref: 'web', path: '/etc/hosts' });
    expect(parseCpArg('web:etc')).toEqual({ kind: 'container', ref: 'web', path: '/etc' });
    expect(parseCpArg('./a:b')).toEqual({ kind: 'host', path: './a:b' });
    expect(parseCpArg('/tmp/x')).toEqual({ kind: 'host', path: '/tmp/x' });
    expect(parseCpArg('file')).toEqual({ kind: 'host', path: 'file' });
    expect(parseCpArg('-')).toEqual({ kind: 'stream' });
  });

  it('splits a source into folder, name and "/." (content only)', () => {
    expect(splitSource('/d/e/')).toEqual({ parent: '/d', base: 'e', contentOnly: false });
    expect(splitSource('/d/.')).toEqual({ parent: '/', base: 'd', contentOnly: true });
    expect(splitSource('f')).toEqual({ parent: '.', base: 'f', contentOnly: false });
  });

  it('places a source by docker\'s SRC_PATH/DEST_PATH rules', () => {
    const file = { kind: 'file' as const, base: 'f', contentOnly: false };
    const dir = { kind: 'directory' as const, base: 'd', contentOnly: false };
    expect(placement(file, '/x', 'directory', 'directory')).toEqual({ dir: '/x' });
    expect(placement(file, '/x', 'file', 'directory')).toEqual({ dir: '/', rename: 'x' });
    expect(placement(file, '/x', undefined, 'directory')).toEqual({ dir: '/', rename: 'x' });
    expect(placement(dir, '/y/z', undefined, 'directory')).toEqual({ dir: '/y', rename: 'z' });
    expect(placement({ ...dir, contentOnly: true }, '/y/z', undefined, 'directory')).toEqual({ dir: '/y/z', mkdir: true });
    expect(() => placement(dir, '/x', 'file', 'directory')).toThrow(/cannot copy a directory onto the file/);
    expect(() => placement(file, '/x/', undefined, 'directory')).toThrow(/does not exist/);
    expect(() => placement(file, '/no/x', undefined, undefined)).toThrow(/does not exist/);
  });
});

describe('port', () => {
  const ports = [
    { protocol: 'tcp' as const, hostIp: '', hostPort: 8080, containerPort: 80 },
    { protocol: 'udp' as const, hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53 },
  ];
  it('prints docker\'s lines', () => {
    expect(portLines('web', ports)).toEqual(['80/tcp -> 0.0.0.0:8080', '53/udp -> 127.0.0.1:5353']);
    expect(portLines('web', ports, '80')).toEqual(['0.0.0.0:8080']);
    expect(portLines('web', ports, '53/udp')).toEqual(['127.0.0.1:5353']);
    expect(() => portLines('web', ports, '53')).toThrow(/no public port '53\/tcp' published for web/);
    expect(() => parsePrivatePort('70000')).toThrow(/invalid port/);
  });
});

describe('top', () => {
  it('keeps the container\'s rows, CMD with its spaces, in docker\'s columns', async () => {
    const { parsePs } = await import('../../../src/runtime/top.js');
    const { tabwrite: topTable0, humanSize } = await import('../../../src/cli/tabwrite.js');
    const topTable = (t: string[], r: string[][]) => topTable0([t, ...r], 20);
    expect([humanSize(0), humanSize(999), humanSize(1234567), humanSize(4_400_000)]).toEqual(['0B', '999B', '1.235MB', '4.4MB']);
    const ps = 'UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 7 0 10:01 ? 00:00:00 sleep 300\n';
    const { titles, rows } = parsePs(ps, new Set([42]));
    expect(rows).toEqual([['root', '42', '7', '0', '10:01', '?', '00:00:00', 'sleep 300']]);
    expect(topTable(titles.slice(0, 2), [['root', '42']])).toBe('UID                 PID\nroot                42\n');
    expect(() => parsePs('COMMAND\nsh\n', new Set())).toThrow(/no PID column/);
  });
});

describe('diff', () => {
  it('says A for what the image lacks, C for what it has, and hides mount stubs', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { diffLines } = await import('../../../src/runtime/diff.js');
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-diff-'));
    try {
      const layer = path.join(base, 'layer');
      const upper = path.join(base, 'upper');
      for (const d of [`${layer}/etc`, `${layer}/usr/bin`, `${upper}/etc`, `${upper}/usr/new/sub`, `${upper}/run`]) fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(`${layer}/etc/passwd`, 'root\n');
      fs.writeFileSync(`${upper}/etc/hosts`, ''); // a stub for the bind mount
      fs.writeFileSync(`${upper}/usr/new/sub/f`, 'x');
      fs.symlinkSync('/etc', `${layer}/link`);
      fs.mkdirSync(`${upper}/link`); // a name the image has (C); its symlink to /etc is never followed
      expect(diffLines(upper, [layer])).toEqual(['C /link', 'A /run', 'C /usr', 'A /usr/new', 'A /usr/new/sub', 'A /usr/new/sub/f']);
      fs.writeFileSync(`${upper}/etc/passwd`, 'root\nz\n');
      expect(diffLines(upper, [layer]).slice(0, 2)).toEqual(['C /etc', 'C /etc/passwd']);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
