// What `minid run` takes into the container's /etc/hostname, /etc/hosts and /etc/resolv.conf
// (-h, --add-host, --dns, --dns-search), checked before anything is set up
// (src/network/files.ts): docker's rules, and no value that adds lines of its own.
import { describe, expect, it } from 'vitest';
import { parseAddHost, renderHosts, renderResolvConf, validateDns, validateDnsOption, validateDnsSearch, validateHostname, validateNetFileInput } from '../../../src/network/files.js';

const oneLine = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    const m = (e as Error).message;
    expect(m).not.toContain('\n');
    return m;
  }
  throw new Error('expected an error');
};

describe('-h / --hostname (RFC 1123, as docker checks it)', () => {
  it('takes dotted labels of letters, digits and inner hyphens', () => {
    for (const h of ['web', 'web-1', 'a', 'web.example.com', '1abc', 'x'.repeat(63)]) expect(validateHostname(h)).toBe(h);
  });
  it('refuses the rest, in one line', () => {
    for (const h of ['', 'a b', 'a\nb', '-web', 'web-', 'a..b', 'a_b', 'web.', 'x'.repeat(64), 'a#b', '127.0.0.1 evil'])
      expect(oneLine(() => validateHostname(h))).toMatch(/^invalid hostname ".*": use letters, digits and "-"/);
  });
});

describe('--dns', () => {
  it('takes IPv4 and IPv6 addresses', () => {
    for (const ip of ['1.1.1.1', '10.0.0.53', '::1', '2001:db8::53', '::ffff:1.2.3.4']) expect(validateDns(ip)).toBe(ip);
  });
  it('refuses what is not one', () => {
    for (const ip of ['1.2.3', '1.2.3.256', 'dns.google', '1.1.1.1\nnameserver 6.6.6.6', ' 1.1.1.1', 'fe80::1%eth0', '0x7f.1', ''])
      expect(oneLine(() => validateDns(ip))).toMatch(/^invalid --dns ".*": not an IP address/);
  });
});

describe('--dns-search', () => {
  it("takes domain names, and '.' for none", () => {
    for (const d of ['example.com', 'corp', 'a-b.example.com.', '.']) expect(validateDnsSearch(d)).toBe(d);
  });
  it('refuses the rest', () => {
    for (const d of ['a.com\nnameserver 6.6.6.6', 'a b', '-bad', '123', 'a..b', '', 'x'.repeat(64) + '.com', 'a;b'])
      expect(oneLine(() => validateDnsSearch(d))).toMatch(/^invalid --dns-search/);
  });
});

describe('--add-host', () => {
  it('NAME:IP, NAME=IP, IPv6 bare or in brackets, host-gateway', () => {
    expect(parseAddHost('db:10.0.0.5')).toEqual({ name: 'db', ip: '10.0.0.5' });
    expect(parseAddHost('db=10.0.0.5')).toEqual({ name: 'db', ip: '10.0.0.5' });
    expect(parseAddHost('v6:::1')).toEqual({ name: 'v6', ip: '::1' });
    expect(parseAddHost('v6:[2001:db8::1]')).toEqual({ name: 'v6', ip: '2001:db8::1' });
    expect(parseAddHost('my_svc.local:host-gateway')).toEqual({ name: 'my_svc.local', ip: 'host-gateway' });
  });
  it('refuses a bad form, name or address, in one line', () => {
    expect(oneLine(() => parseAddHost('nocolon'))).toBe('invalid --add-host "nocolon": expected NAME:IP (e.g. db:10.0.0.5)');
    expect(oneLine(() => parseAddHost(':1.2.3.4'))).toMatch(/expected NAME:IP/);
    expect(oneLine(() => parseAddHost('x:1.2.3'))).toMatch(/"1.2.3" is not an IP address/);
    expect(oneLine(() => parseAddHost('a\nb:1.2.3.4'))).toMatch(/^invalid --add-host "a\\nb:1.2.3.4": "a\\nb" is not a host name/);
    expect(oneLine(() => parseAddHost('a:1.2.3.4\n6.6.6.6 evil'))).toMatch(/is not an IP address/);
    expect(oneLine(() => parseAddHost('a b:1.2.3.4'))).toMatch(/is not a host name/);
    expect(oneLine(() => parseAddHost('#x:1.2.3.4'))).toMatch(/is not a host name/);
  });
  it('host-gateway needs a network with a gateway: known before anything is set up', () => {
    const o = { mode: 'bridge', dns: [], dnsSearch: [], addHosts: ['gw:host-gateway'] };
    expect(() => validateNetFileInput(o)).not.toThrow();
    for (const mode of ['none', 'host', 'container:web'])
      expect(oneLine(() => validateNetFileInput({ ...o, mode }))).toBe(`--add-host gw:host-gateway needs a bridge network (there is no gateway with --network ${mode})`);
  });
});

describe('the renderers apply the same rules', () => {
  it('no --add-host, --dns, --dns-search or DNS option can add a line', () => {
    expect(() => renderHosts({ hostname: 'x', addHosts: ['a:1.2.3.4\n6.6.6.6 evil'] })).toThrow(/is not an IP address/);
    expect(() => renderResolvConf('', { dns: ['1.1.1.1\nnameserver 6.6.6.6'] })).toThrow(/invalid --dns/);
    expect(() => renderResolvConf('', { dnsSearch: ['a\nnameserver 6.6.6.6'] })).toThrow(/invalid --dns-search/);
    expect(() => renderResolvConf('', { dnsOptions: ['ndots:2\nnameserver 6.6.6.6'] })).toThrow(/invalid DNS option/);
    expect(validateDnsOption('ndots:2')).toBe('ndots:2');
  });
  it('checks every value, the first bad one named', () => {
    const ok = { mode: 'bridge', hostname: 'web', dns: ['1.1.1.1'], dnsSearch: ['example.com'], addHosts: ['db:10.0.0.5'] };
    expect(() => validateNetFileInput(ok)).not.toThrow();
    expect(oneLine(() => validateNetFileInput({ ...ok, dns: ['1.1.1.1', 'nope'] }))).toMatch(/"nope"/);
    expect(oneLine(() => validateNetFileInput({ ...ok, hostname: 'a b' }))).toMatch(/invalid hostname "a b"/);
  });
});
