// The parsers, fed the tools' real output (recorded on Debian 12, iproute2 6.1, iptables 1.8.9).
import { describe, expect, it } from 'vitest';
import { parseIpAddr, parseNsids, parseRoutes, parseSaveCounters, parseSs, ruleText } from '../../../src/see/parse.js';

describe('parsers', () => {
  it('ip -j -d addr: kind, flags, bridge port and hairpin, veth peer, IPv4 addresses only', () => {
    const json = JSON.stringify([
      { ifindex: 5113, link_index: 2, ifname: 'mv066e102a', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1400, master: 'mtopo0', operstate: 'UP', address: 'e2:aa:aa:17:d5:22', link_netnsid: 1,
        linkinfo: { info_kind: 'veth', info_slave_kind: 'bridge', info_slave_data: { state: 'forwarding', hairpin: true } },
        addr_info: [{ family: 'inet6', local: 'fe80::e0aa:aaff:fe17:d522', prefixlen: 64 }] },
      { ifindex: 5112, ifname: 'mtopo0', flags: ['BROADCAST', 'MULTICAST'], mtu: 1400, operstate: 'DOWN', ifalias: 'minid:79fa9c7c:bridge', linkinfo: { info_kind: 'bridge' },
        addr_info: [{ family: 'inet', local: '10.177.33.1', prefixlen: 24 }] },
    ]);
    expect(parseIpAddr(json)).toEqual([
      { name: 'mv066e102a', ifindex: 5113, kind: 'veth', up: true, operstate: 'UP', master: 'mtopo0', mac: 'e2:aa:aa:17:d5:22', addresses: [], mtu: 1400, peerIfindex: 2, peerNetnsId: 1, hairpin: true, portState: 'forwarding' },
      { name: 'mtopo0', ifindex: 5112, kind: 'bridge', up: false, operstate: 'DOWN', alias: 'minid:79fa9c7c:bridge', addresses: ['10.177.33.1/24'], mtu: 1400 },
    ]);
  });

  it('ip -j route, ss -ltunp, ip netns list-id', () => {
    expect(parseRoutes('[{"dst":"default","gateway":"10.177.33.1","dev":"eth0","flags":[]},{"dst":"10.177.33.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.177.33.2","flags":[]}]')).toEqual([
      { dst: 'default', gateway: '10.177.33.1', dev: 'eth0' },
      { dst: '10.177.33.0/24', dev: 'eth0' },
    ]);
    const ss = [
      'tcp LISTEN 0      511    0.0.0.0:80 0.0.0.0:* users:(("nginx",pid=27398,fd=5),("nginx",pid=27380,fd=5))',
      'tcp LISTEN 0      4096      [::]:22      [::]:*',
      'udp UNCONN 0      0      127.0.0.53%lo:53 0.0.0.0:*',
      'tcp LISTEN 0      128          *:8080       *:*',
    ].join('\n');
    expect(parseSs(ss)).toEqual([
      { proto: 'tcp', address: '0.0.0.0', port: 80, process: 'nginx (pid 27398)' },
      { proto: 'tcp', address: '::', port: 22 },
      { proto: 'udp', address: '127.0.0.53', port: 53 },
      { proto: 'tcp', address: '0.0.0.0', port: 8080 },
    ]);
    expect(parseNsids('nsid 0 (iproute2 netns name: minid-0f937b9d11e2)\nnsid 1 (iproute2 netns name: minid-066e102aaf12)\n')).toEqual({ 0: 'minid-0f937b9d11e2', 1: 'minid-066e102aaf12' });
  });

  it('iptables-save -c: policies, chains, the rules kept, with counters', () => {
    const save = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD DROP [12:720]',
      ':DOCKER - [0:0]',
      '[0:0] -A FORWARD -m comment --comment minid -j MINID-FORWARD',
      '[5:300] -A FORWARD -j DOCKER',
      'COMMIT',
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      '[1:60] -A MINID-DNAT -d 127.0.0.1/32 -p tcp -m tcp --dport 28080 -m comment --comment "minid:79fa9c7c:bridge:web:066e102aaf12" -j DNAT --to-destination 10.177.33.2:80',
      'COMMIT',
    ].join('\n');
    const p = parseSaveCounters(save, (r) => !!r.comment);
    expect(p.policies).toEqual({ 'filter/INPUT': 'ACCEPT', 'filter/FORWARD': 'DROP', 'nat/PREROUTING': 'ACCEPT' });
    expect(p.chains).toEqual(['filter/INPUT', 'filter/FORWARD', 'filter/DOCKER', 'nat/PREROUTING']);
    expect(p.rules.map((r) => [r.table, r.chain, r.comment, r.packets, r.bytes])).toEqual([
      ['filter', 'FORWARD', 'minid', 0, 0],
      ['nat', 'MINID-DNAT', 'minid:79fa9c7c:bridge:web:066e102aaf12', 1, 60],
    ]);
    expect(ruleText(p.rules[1])).toBe('-A MINID-DNAT -d 127.0.0.1/32 -p tcp -m tcp --dport 28080 -m comment --comment minid:79fa9c7c:bridge:web:066e102aaf12 -j DNAT --to-destination 10.177.33.2:80');
  });
});
