import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePortSpec, parseExposedPort, resolvePorts, takenBy } from '../../../src/network/ports.js';
import { FakeProbe, resetSeams } from './helpers.js';

describe('parsePortSpec', () => {
  it.each([
    ['8080:80', { protocol: 'tcp', hostIp: '0.0.0.0', hostPorts: [8080, 8080], containerPorts: [80, 80] }],
    ['127.0.0.1:8080:80', { protocol: 'tcp', hostIp: '127.0.0.1', hostPorts: [8080, 8080], containerPorts: [80, 80] }],
    ['5353:53/udp', { protocol: 'udp', hostIp: '0.0.0.0', hostPorts: [5353, 5353], containerPorts: [53, 53] }],
    ['80', { protocol: 'tcp', hostIp: '0.0.0.0', hostPorts: null, containerPorts: [80, 80] }],
    ['80/UDP', { protocol: 'udp', hostIp: '0.0.0.0', hostPorts: null, containerPorts: [80, 80] }],
    ['127.0.0.1::80', { protocol: 'tcp', hostIp: '127.0.0.1', hostPorts: null, containerPorts: [80, 80] }],
    ['8000-8010:8000-8010', { protocol: 'tcp', hostIp: '0.0.0.0', hostPorts: [8000, 8010], containerPorts: [8000, 8010] }],
    ['8000-8010:80', { protocol: 'tcp', hostIp: '0.0.0.0', hostPorts: [8000, 8010], containerPorts: [80, 80] }],
    ['9000-9001', { protocol: 'tcp', hostIp: '0.0.0.0', hostPorts: null, containerPorts: [9000, 9001] }],
  ])('%s', (spec, want) => {
    expect(parsePortSpec(spec)).toEqual({ raw: spec, ...want });
  });

  it.each([
    ['', 'invalid port spec "": expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp], a range like 8000-8010:8000-8010, or CONTAINERPORT'],
    ['abc', 'invalid port spec "abc": container port "abc" is not a port number or range'],
    ['70000:80', 'invalid port spec "70000:80": port 70000 is out of range 1-65535'],
    ['8080:0', 'invalid port spec "8080:0": port 0 is out of range 1-65535'],
    ['8000-8010:80-85', 'invalid port spec "8000-8010:80-85": the host range has 11 ports but the container range has 6'],
    ['8080:80-81', 'invalid port spec "8080:80-81": the host range has 1 ports but the container range has 2'],
    ['8010-8000:80', 'invalid port spec "8010-8000:80": range 8010-8000 starts after it ends'],
    ['80/sctp', 'invalid port spec "80/sctp": protocol "sctp" is not supported (use tcp or udp)'],
    ['localhost:8080:80', 'invalid port spec "localhost:8080:80": "localhost" is not an IPv4 address'],
    ['[::1]:8080:80', 'invalid port spec "[::1]:8080:80": IPv6 host addresses are not supported'],
    [':80', 'invalid port spec ":80": the host port is empty (use CONTAINERPORT for a random one)'],
    ['8080:', 'invalid port spec "8080:": the container port is missing'],
    ['1:2:3:4', 'invalid port spec "1:2:3:4": expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp], a range like 8000-8010:8000-8010, or CONTAINERPORT'],
  ])('rejects %j', (spec, msg) => {
    expect(() => parsePortSpec(spec)).toThrow(msg);
  });

  it('parses image ExposedPorts keys', () => {
    expect(parseExposedPort('80/tcp')).toEqual({ protocol: 'tcp', port: 80 });
    expect(parseExposedPort('53/udp')).toEqual({ protocol: 'udp', port: 53 });
    expect(parseExposedPort('8080')).toEqual({ protocol: 'tcp', port: 8080 });
    expect(() => parseExposedPort('80/sctp')).toThrow(/protocol must be tcp or udp/);
  });
});

describe('resolvePorts', () => {
  let probe: FakeProbe;
  beforeEach(() => {
    probe = new FakeProbe().install();
  });
  afterEach(resetSeams);
  const none = takenBy([]);

  it('expands ranges one port at a time', async () => {
    const b = await resolvePorts([parsePortSpec('8000-8002:9000-9002/udp')], { taken: none });
    expect(b).toEqual([
      { protocol: 'udp', hostIp: '0.0.0.0', hostPort: 8000, containerPort: 9000 },
      { protocol: 'udp', hostIp: '0.0.0.0', hostPort: 8001, containerPort: 9001 },
      { protocol: 'udp', hostIp: '0.0.0.0', hostPort: 8002, containerPort: 9002 },
    ]);
  });

  it('picks a random free host port for -p CTRPORT, skipping busy ones', async () => {
    const seq = [0, 0.5];
    probe.holders.set('tcp/49153', 'process nginx (pid 7)');
    const b = await resolvePorts([parsePortSpec('80')], { taken: none, random: () => seq.shift() ?? 0.9 });
    expect(b).toEqual([{ protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 49153 + Math.floor(0.5 * (65535 - 49153 + 1)), containerPort: 80 }]);
  });

  it('picks the first free port of a host range for a single container port', async () => {
    probe.holders.set('tcp/8000', 'process x (pid 1)');
    const b = await resolvePorts([parsePortSpec('8000-8010:80')], { taken: takenBy([{ name: 'web', id: 'a'.repeat(64), ports: [{ protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8001, containerPort: 80 }] }]) });
    expect(b[0].hostPort).toBe(8002);
  });

  it('-P publishes every exposed port not already given with -p', async () => {
    const b = await resolvePorts([parsePortSpec('8080:80')], { taken: none, publishAll: true, exposedPorts: ['80/tcp', '53/udp'], random: () => 0 });
    expect(b).toEqual([
      { protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80 },
      { protocol: 'udp', hostIp: '0.0.0.0', hostPort: 49153, containerPort: 53 },
    ]);
  });

  it('refuses a port another container publishes, naming it', async () => {
    const taken = takenBy([{ name: 'web', id: '3f2a1b4c5d6e7f80', ports: [{ protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80 }] }]);
    await expect(resolvePorts([parsePortSpec('127.0.0.1:8080:81')], { taken })).rejects.toThrow(
      'cannot publish 127.0.0.1:8080/tcp: the port is already in use by container web (3f2a1b4c5d6e)',
    );
    // Another protocol, or another specific address, is fine.
    await expect(resolvePorts([parsePortSpec('8080:80/udp')], { taken })).resolves.toHaveLength(1);
  });

  it('refuses a port a host process holds, naming it', async () => {
    probe.holders.set('tcp/8080', 'process nginx (pid 4242)');
    await expect(resolvePorts([parsePortSpec('8080:80')], { taken: none })).rejects.toThrow('cannot publish 8080/tcp: the port is already in use by process nginx (pid 4242)');
  });

  it('refuses the same host port twice in one request', async () => {
    await expect(resolvePorts([parsePortSpec('8080:80'), parsePortSpec('127.0.0.1:8080:81')], { taken: none })).rejects.toThrow(
      'port 8080/tcp is published twice (127.0.0.1:8080:81 and 0.0.0.0:8080->80/tcp)',
    );
  });
});
