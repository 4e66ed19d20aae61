import { describe, expect, it } from 'vitest';
import { parsePortMappings } from '../../../src/cni/ports.js';

describe('parsePortMappings (docker -p to CNI portMappings)', () => {
  it('converts the common forms', () => {
    expect(parsePortMappings(['8080:80'])).toEqual([{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePortMappings(['127.0.0.1:8080:80/udp'])).toEqual([{ hostPort: 8080, containerPort: 80, protocol: 'udp', hostIP: '127.0.0.1' }]);
    expect(parsePortMappings(['[::1]:53:5353/udp'])).toEqual([{ hostPort: 53, containerPort: 5353, protocol: 'udp', hostIP: '::1' }]);
    expect(parsePortMappings(['0.0.0.0:80:80/sctp'])).toEqual([{ hostPort: 80, containerPort: 80, protocol: 'sctp' }]);
  });
  it('expands ranges', () => {
    expect(parsePortMappings(['8000-8002:80-82'])).toEqual([
      { hostPort: 8000, containerPort: 80, protocol: 'tcp' },
      { hostPort: 8001, containerPort: 81, protocol: 'tcp' },
      { hostPort: 8002, containerPort: 82, protocol: 'tcp' },
    ]);
  });
  it('refuses what CNI cannot do, clearly', () => {
    expect(() => parsePortMappings(['80'])).toThrow(/need a host port/);
    expect(() => parsePortMappings(['127.0.0.1::80'])).toThrow(/need a host port/);
    expect(() => parsePortMappings(['8000-8001:80'])).toThrow(/different sizes/);
    expect(() => parsePortMappings(['70000:80'])).toThrow(/out of range/);
    expect(() => parsePortMappings(['80:80/icmp'])).toThrow(/unknown protocol/);
    expect(() => parsePortMappings(['300.1.1.1:80:80'])).toThrow(/not an IPv4 address/);
    expect(() => parsePortMappings(['80:80', '127.0.0.1:80:81'])).toThrow(/both publish host port 80/);
  });
  it('allows the same port on tcp and udp', () => {
    expect(parsePortMappings(['53:53/tcp', '53:53/udp'])).toHaveLength(2);
  });
});
