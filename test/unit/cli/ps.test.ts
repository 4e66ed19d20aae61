// `minid ps`: docker's COMMAND column and --filter rules (src/cli/commands/ps.ts).
import { describe, expect, it } from 'vitest';
import { commandText, ellipsis, matches, parseFilters } from '../../../src/cli/commands/ps.js';
import type { ContainerState } from '../../../src/runtime/state.js';

type Ports = { hostPort: number; containerPort: number; protocol: string }[];
const ctr = (name: string, o: Partial<{ status: 'running' | 'exited'; code: number; created: string; labels: Record<string, string>; image: string; mode: string; volumes: object[]; ports: Ports; exposed: string[] }> = {}): ContainerState =>
  ({
    config: {
      id: name.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'),
      name,
      created: o.created ?? '2026-12-06T03:00:00.000Z',
      image: o.image ?? 'busybox',
      imageId: 'sha256:' + 'ab'.repeat(32),
      argv: ['sleep', '1'],
      labels: o.labels ?? {},
      net: { mode: o.mode ?? 'none', network: undefined },
      volumes: o.volumes ?? [],
      exposedPorts: o.exposed ?? [],
      ...(o.ports ? { attachment: { ports: o.ports } } : {}),
    },
    status: o.status ?? 'running',
    exit: o.status === 'exited' ? { exitCode: o.code ?? 0, finishedAt: '' } : undefined,
  }) as unknown as ContainerState;

describe('COMMAND as docker prints it', () => {
  it('arguments with spaces in single quotes, cut at 20 with …, in double quotes', () => {
    expect(commandText(['nginx', '-g', 'daemon off;'])).toBe(`"nginx -g 'daemon of…"`);
    expect(commandText(['nginx', '-g', 'daemon off;'], false)).toBe(`"nginx -g 'daemon off;'"`);
    expect(commandText(['sleep', '300'])).toBe('"sleep 300"');
    expect(commandText(['echo', 'a"b'])).toBe('"echo a\\"b"');
    expect(ellipsis('12345678901234567890', 20)).toBe('12345678901234567890');
    expect(ellipsis('123456789012345678901', 20)).toBe('1234567890123456789…');
  });
});

describe('--filter', () => {
  const all = [
    ctr('web', { labels: { tier: 'front' }, mode: 'bridge', created: '2026-12-06T03:00:03.000Z' }),
    ctr('db', { status: 'exited', code: 3, labels: { tier: 'back', backup: '' }, created: '2026-12-06T03:00:02.000Z' }),
    ctr('job', { status: 'exited', code: 0, image: 'nginx:latest', created: '2026-12-06T03:00:01.000Z' }),
  ];
  const pick = (...f: string[]) => all.filter((s) => matches(s, parseFilters(f), all)).map((s) => s.config.name);
  it('each key; values of one key are alternatives (but every label must hold, as docker), keys must all hold', () => {
    expect(pick('status=exited')).toEqual(['db', 'job']);
    expect(pick('exited=3')).toEqual(['db']);
    expect(pick('label=tier')).toEqual(['web', 'db']);
    expect(pick('label=tier=back')).toEqual(['db']);
    expect(pick('label=backup=')).toEqual(['db']);
    expect(pick('label=tier', 'label=backup')).toEqual(['db']);
    expect(pick('label=tier=front', 'label=tier=back')).toEqual([]);
    expect(pick('name=^w', 'name=^j')).toEqual(['web', 'job']);
    expect(pick('ancestor=nginx')).toEqual(['job']);
    expect(pick('network=none', 'status=exited')).toEqual(['db', 'job']);
    const ids = (name: string) => (name === 'bridge' ? 'b1d9e' : 'e0e0f').padEnd(64, '0');
    expect(all.filter((s) => matches(s, parseFilters(['network=b1d']), all, ids)).map((s) => s.config.name)).toEqual(['web']);
    expect(pick('since=job')).toEqual(['web', 'db']);
    expect(pick('before=web', 'since=job')).toEqual(['db']);
  });
  it('volume=: a volume name, a bind source or a path in the container', () => {
    const box = [
      ctr('a', { volumes: [{ type: 'volume', name: 'db', host: '/store/volumes/db/_data', container: '/var/db' }] }),
      ctr('b', { volumes: [{ host: '/srv/www', container: '/www', readonly: true }, { type: 'tmpfs', host: '', container: '/t' }] }),
      ctr('c'),
    ];
    const p = (...f: string[]) => box.filter((s) => matches(s, parseFilters(f), box)).map((s) => s.config.name);
    expect(p('volume=db')).toEqual(['a']);
    expect(p('volume=/var/db')).toEqual(['a']);
    expect(p('volume=/srv/www')).toEqual(['b']);
    expect(p('volume=/t', 'volume=db')).toEqual(['a', 'b']);
    expect(p('volume=/store/volumes/db/_data')).toEqual([]);
  });
  it('publish= (the host port) and expose= (the container port, or exposed while running), ranges and protocols', () => {
    const box = [
      ctr('pub', { ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], exposed: ['80/tcp'] }),
      ctr('exp', { exposed: ['53/udp', '9000/tcp'] }),
      ctr('gone', { status: 'exited', exposed: ['9000/tcp'] }),
    ];
    const p = (...f: string[]) => box.filter((s) => matches(s, parseFilters(f), box)).map((s) => s.config.name);
    expect(p('publish=8080')).toEqual(['pub']);
    expect(p('publish=80')).toEqual([]);
    expect(p('expose=80/tcp')).toEqual(['pub']);
    expect(p('expose=53')).toEqual([]);
    expect(p('expose=53/udp')).toEqual(['exp']);
    expect(p('expose=8000-9000')).toEqual(['exp']);
    expect(p('publish=8080', 'expose=9000')).toEqual(['pub', 'exp']);
  });
  it('health=: a container without a health check is "none"', () => {
    expect(pick('health=none')).toEqual(['web', 'db', 'job']);
    expect(pick('health=healthy')).toEqual([]);
  });
  it('bad filters: one line, exit 1 (the daemon refuses them)', () => {
    expect(() => parseFilters(['publish=80:80'])).toThrow(/^filter for 'publish' should not contain ':': 80:80/);
    expect(() => parseFilters(['expose=abc'])).toThrow(/invalid filter 'expose=abc': use PORT\[\/PROTO\]/);
    expect(() => parseFilters(['expose=90-80'])).toThrow(/invalid filter 'expose=90-80'/);
    expect(() => parseFilters(['health=bogus'])).toThrow(/invalid filter 'health=bogus': use starting, healthy, unhealthy or none/);
    expect(() => parseFilters(['colour=red'])).toThrow(/invalid filter 'colour'/);
    expect(() => parseFilters(['status=sleeping'])).toThrow(/invalid filter 'status=sleeping'/);
    expect(() => parseFilters(['nokey'])).toThrow(/expected name=value/);
    try {
      parseFilters(['exited=x']);
    } catch (e: any) {
      expect(e.exitCode).toBe(1);
    }
  });
});
