import { describe, expect, it } from 'vitest';
import { compareVersions, convertResult, parseCniArgs, resultProblem, toCurrent, validateIfName } from '../../../src/cni/spec.js';

const r040 = {
  cniVersion: '0.4.0',
  interfaces: [{ name: 'br0', mac: 'aa:aa:aa:aa:aa:aa' }, { name: 'eth0', mac: 'bb:bb:bb:bb:bb:bb', sandbox: '/run/netns/x' }],
  ips: [
    { version: '4', address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 1 },
    { version: '6', address: 'fd00::5/64', interface: 1 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }],
  dns: { nameservers: ['10.1.0.1'] },
};

describe('CNI versions', () => {
  it('compares semantic versions', () => {
    expect(compareVersions('1.0.0', '0.4.0')).toBeGreaterThan(0);
    expect(compareVersions('0.3.1', '0.3.0')).toBeGreaterThan(0);
    expect(compareVersions('1.1.0', '1.1.0')).toBe(0);
    expect(compareVersions('0.4', '0.4.0')).toBe(0);
    expect(() => compareVersions('x', '1.0.0')).toThrow(/invalid CNI version/);
  });
});

describe('result conversion', () => {
  it('0.4.0 -> 1.0.0 drops ips[].version and keeps everything else', () => {
    const r = convertResult(r040, '1.0.0');
    expect(r.cniVersion).toBe('1.0.0');
    expect(r.ips).toEqual([
      { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 1 },
      { address: 'fd00::5/64', interface: 1 },
    ]);
    expect(r.interfaces).toEqual(r040.interfaces);
    expect(r.routes).toEqual(r040.routes);
    expect(r.dns).toEqual(r040.dns);
  });
  it('1.1.0 -> 0.4.0 adds ips[].version by address family', () => {
    const r = convertResult(convertResult(r040, '1.1.0'), '0.4.0');
    expect(r).toEqual(r040);
  });
  it('0.2.0 legacy results convert both ways', () => {
    const legacy = { cniVersion: '0.2.0', ip4: { ip: '10.1.0.5/24', gateway: '10.1.0.1', routes: [{ dst: '0.0.0.0/0' }] }, dns: {} };
    const cur = toCurrent(legacy);
    expect(cur.ips).toEqual([{ address: '10.1.0.5/24', gateway: '10.1.0.1' }]);
    expect(cur.routes).toEqual([{ dst: '0.0.0.0/0' }]);
    const back = convertResult(r040, '0.2.0') as any;
    expect(back.ip4).toEqual({ ip: '10.1.0.5/24', gateway: '10.1.0.1', routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }] });
    expect(back.ip6).toEqual({ ip: 'fd00::5/64' });
  });
  it('spots unusable results', () => {
    expect(resultProblem({ ips: [{ address: '10.0.0.1' }] })).toMatch(/CIDR/);
    expect(resultProblem({ interfaces: [], ips: [{ address: '10.0.0.1/24', interface: 0 }] })).toMatch(/interface index 0/);
    expect(resultProblem(r040)).toBeNull();
  });
});

describe('names and args', () => {
  it('validates interface names like libcni', () => {
    expect(validateIfName('eth0')).toBeNull();
    expect(validateIfName('a'.repeat(16))).toMatch(/too long/);
    expect(validateIfName('a/b')).toMatch(/contains/);
  });
  it('parses CNI_ARGS', () => {
    expect(parseCniArgs('IgnoreUnknown=1;IP=10.0.0.2')).toEqual([
      ['IgnoreUnknown', '1'],
      ['IP', '10.0.0.2'],
    ]);
  });
});
