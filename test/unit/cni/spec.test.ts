import { describe, expect, it } from 'vitest';
import { ErrorCode, compareVersions, convertResult, errorCodeName, parseCniArgs, resultProblem, toCurrent, validateIfName } from '../../../src/cni/spec.js';

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

describe('error codes', () => {
  it("keep the spec's numbers (SPEC.md, Well-known Error Codes) and libcni's", () => {
    expect(ErrorCode).toMatchObject({
      INCOMPATIBLE_CNI_VERSION: 1,
      UNSUPPORTED_FIELD: 2,
      UNKNOWN_CONTAINER: 3,
      INVALID_ENVIRONMENT_VARIABLES: 4,
      IO_FAILURE: 5,
      DECODING_FAILURE: 6,
      INVALID_NETWORK_CONFIG: 7,
      TRY_AGAIN_LATER: 11,
      PLUGIN_NOT_AVAILABLE: 50,
      LIMITED_CONNECTIVITY: 51,
      UNKNOWN: 0,
      INVALID_NETNS: 8,
      INTERNAL: 999,
    });
  });
  it("give minid's own codes distinct numbers from 100 up (1-99 are the spec's)", () => {
    const spec = [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 50, 51, 999];
    const own = Object.values(ErrorCode).filter((c) => !spec.includes(c));
    expect(own.length).toBeGreaterThan(0);
    for (const c of own) expect(c).toBeGreaterThanOrEqual(100);
    expect(new Set(Object.values(ErrorCode)).size).toBe(Object.values(ErrorCode).length);
  });
  it('are named for a runtime by the spec; a code >= 100 means what its plugin says', () => {
    expect(errorCodeName(ErrorCode.TRY_AGAIN_LATER)).toBe('try again later');
    expect(errorCodeName(ErrorCode.INTERNAL)).toBe('internal error');
    expect(errorCodeName(ErrorCode.RULES_FAILURE)).toBe('plugin-specific error');
    expect(errorCodeName(42)).toBe('error code 42');
  });
});
