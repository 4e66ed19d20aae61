// walk.ts: one packet through recorded iptables rules, as netfilter would take it; and the
// lab predicates of checks.ts that ask it (DNAT, MASQUERADE, FORWARD) and read routes and
// addresses, on snapshots made from `iptables-save` text.
import { describe, expect, it } from 'vitest';
import { parseSaveCounters } from '../../../src/see/parse.js';
import { inCidr, walk } from '../../../src/see/walk.js';
import { addressCheck, dnatCheck, forwardCheck, HOST, masqueradeCheck, resolverCheck, routeToCheck } from '../../../src/see/checks.js';
import type { Snapshot } from '../../../src/see/snapshot.js';

function snap(save: string, routes: Snapshot['kernel']['host']['routes'] = []): Snapshot {
  const { policies, chains, rules } = parseSaveCounters(save, () => true);
  return {
    kernel: {
      host: { links: [{ name: 'eth0', ifindex: 2, up: true, operstate: 'UP', addresses: ['192.168.1.10/24'], mtu: 1500 }], routes, listening: [] },
      sysctls: {}, brNetfilter: true, iptables: { policies, chains, rules }, netnsNames: [], netns: {}, nsids: {},
    },
    records: { store: 'lab', networks: [], networksUp: [], endpoints: [], containers: [] },
  };
}

const NAT = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-DN-1 - [0:0]
[3:180] -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: lab" -m multiport --dports 8080 -j CNI-DN-1
-A CNI-DN-1 -s 10.22.0.2/32 -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x2000/0x2000
-A CNI-DN-1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.22.0.2:80
-A PREROUTING -p udp -m udp --dport 53 -j DNAT --to-destination 10.22.0.9:53
-A POSTROUTING -s 192.168.15.0/24 ! -o v-net-0 -j MASQUERADE
-A POSTROUTING -m physdev --physdev-is-bridged -j MASQUERADE
-A POSTROUTING -s 192.168.15.1/32 -d 192.168.15.1/32 -p tcp -m conntrack --ctstate DNAT -j MASQUERADE
COMMIT
`;

describe('walk', () => {
  it('matches CIDRs, a bare address being /32 and /0 everything', () => {
    expect(inCidr('192.168.15.2', '192.168.15.0/24')).toBe(true);
    expect(inCidr('192.168.16.2', '192.168.15.0/24')).toBe(false);
    expect(inCidr('10.0.0.1', '10.0.0.1')).toBe(true);
    expect(inCidr('8.8.8.8', '0.0.0.0/0')).toBe(true);
  });

  it('follows jumps into user chains, past MARK, to the DNAT (multiport, addrtype LOCAL)', () => {
    const v = walk(snap(NAT), 'nat', 'PREROUTING', { proto: 'tcp', src: '192.168.1.20', dst: '192.168.1.10', dport: 8080, in: 'eth0' });
    expect(v.target).toBe('DNAT');
    expect(v.to).toBe('10.22.0.2:80');
    // Not a local address: addrtype LOCAL does not match, nothing else does: the policy.
    expect(walk(snap(NAT), 'nat', 'PREROUTING', { proto: 'tcp', src: '192.168.1.20', dst: '192.168.1.99', dport: 8080 }).target).toBe('ACCEPT');
    // The protocol decides: udp 8080 is not tcp 8080.
    expect(walk(snap(NAT), 'nat', 'PREROUTING', { proto: 'udp', src: '192.168.1.20', dst: '192.168.1.10', dport: 8080 }).target).toBe('ACCEPT');
  });

  it('honours ! -o, conntrack states, and skips (and counts) matches it cannot read', () => {
    const s = snap(NAT);
    const out = walk(s, 'nat', 'POSTROUTING', { proto: 'icmp', src: '192.168.15.2', dst: '192.168.1.20', out: 'eth0' });
    expect(out.target).toBe('MASQUERADE');
    const bridged = walk(s, 'nat', 'POSTROUTING', { proto: 'tcp', src: '192.168.15.1', dst: '192.168.15.2', dport: 80, out: 'v-net-0' });
    expect(bridged.target).toBe('ACCEPT');
    expect(bridged.unknown.map((r) => r.args.join(' '))).toEqual(['-m physdev --physdev-is-bridged -j MASQUERADE']);
    const hairpin = walk(s, 'nat', 'POSTROUTING', { proto: 'tcp', src: '192.168.15.1', dst: '192.168.15.1', dport: 80, out: 'v-net-0', ct: ['NEW', 'DNAT'] });
    expect(hairpin.target).toBe('MASQUERADE');
  });

  it("falls to the chain's policy, and RETURN comes back to the caller", () => {
    const s = snap(`*filter
:FORWARD DROP [0:0]
:MINE - [0:0]
-A FORWARD -j MINE
-A FORWARD -o v-net-0 -j ACCEPT
-A MINE -d 10.0.0.0/8 -j RETURN
-A MINE -j ACCEPT
COMMIT
`);
    expect(walk(s, 'filter', 'FORWARD', { proto: 'tcp', src: '1.1.1.1', dst: '192.168.15.2', dport: 80 }).target).toBe('ACCEPT');
    expect(walk(s, 'filter', 'FORWARD', { proto: 'tcp', src: '1.1.1.1', dst: '10.1.1.1', dport: 80 }).target).toBe('DROP');
    expect(walk(s, 'filter', 'FORWARD', { proto: 'tcp', src: '1.1.1.1', dst: '10.1.1.1', dport: 80, out: 'v-net-0' }).target).toBe('ACCEPT');
  });
});

describe('lab predicates', () => {
  it('dnatCheck names the rule that decides, or the port left unchanged', () => {
    const s = snap('*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.15.2\nCOMMIT\n');
    const c = dnatCheck(s, 'PREROUTING', { proto: 'tcp', src: '192.168.1.20', dst: '192.168.1.10', dport: 8080, in: 'eth0' }, '192.168.15.2:80');
    expect(c.ok).toBe(false);
    expect(c.found).toBe('DNAT to 192.168.15.2 by -A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.15.2');
    expect(c.fix).toBe('iptables -t nat -A PREROUTING -p tcp -d 192.168.1.10 --dport 8080 -j DNAT --to-destination 192.168.15.2:80');
  });

  it('masqueradeCheck: wanted for the LAN, unwanted between containers', () => {
    const s = snap('*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE\nCOMMIT\n');
    expect(masqueradeCheck(s, { proto: 'icmp', src: '192.168.15.2', dst: '192.168.1.20', out: 'eth0' }, true, 'x').ok).toBe(true);
    const c = masqueradeCheck(s, { proto: 'tcp', src: '192.168.15.1', dst: '192.168.15.2', dport: 80, out: 'v-net-0' }, false, 'x');
    expect(c.ok).toBe(false);
    expect(c.found).toContain('MASQUERADE by -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE');
  });

  it('forwardCheck needs both ways through a DROP policy', () => {
    const one = snap('*filter\n:FORWARD DROP [0:0]\n-A FORWARD -o v-net-0 -j ACCEPT\nCOMMIT\n');
    const p = { proto: 'tcp' as const, src: '192.168.1.20', dst: '192.168.15.2', dport: 80, in: 'eth0', out: 'v-net-0' };
    const c = forwardCheck(one, p);
    expect(c.ok).toBe(false);
    expect(c.found).toMatch(/^there: ACCEPT by .*; back: DROP \(the chain's policy\)$/);
    expect(forwardCheck(snap('*filter\n:FORWARD DROP [0:0]\n-A FORWARD -o v-net-0 -j ACCEPT\n-A FORWARD -i v-net-0 -j ACCEPT\nCOMMIT\n'), p).ok).toBe(true);
  });

  it('routeToCheck: 0.0.0.0 without /0 is a host route, said so', () => {
    const s = snap('', [{ dst: '0.0.0.0', gateway: '192.168.15.5', dev: 'veth-blue' }, { dst: '192.168.15.0/24', dev: 'veth-blue' }]);
    const c = routeToCheck(s, HOST, '192.168.1.20', '192.168.15.5');
    expect(c.ok).toBe(false);
    expect(c.found).toContain('no route covers 192.168.1.20');
    expect(c.found).toContain('0.0.0.0 without /0 is a host route');
    const d = snap('', [{ dst: 'default', gateway: '192.168.15.5', dev: 'veth-blue' }]);
    expect(routeToCheck(d, HOST, '192.168.1.20', '192.168.15.5').ok).toBe(true);
  });

  it('addressCheck: a /32 is replaced, not added to', () => {
    const s = snap('');
    s.kernel.host.links.push({ name: 'veth-red', ifindex: 5, up: true, operstate: 'UP', addresses: ['192.168.15.1/32'], mtu: 1500 });
    const c = addressCheck(s, HOST, 'veth-red', '192.168.15.1/24');
    expect(c.ok).toBe(false);
    expect(c.fix).toBe('ip addr del 192.168.15.1/32 dev veth-red && ip addr add 192.168.15.1/24 dev veth-red');
  });

  it("resolverCheck reads the namespace's resolv.conf", () => {
    expect(resolverCheck('minid-lab-dns-red', null, '192.168.15.5').found).toContain("keeps the host's /etc/resolv.conf");
    expect(resolverCheck('minid-lab-dns-red', 'nameserver 192.168.15.5\n', '192.168.15.5').ok).toBe(true);
  });
});
