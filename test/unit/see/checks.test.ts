// The predicates over recorded snapshots: each break is one edit of a real host's snapshot.
// Host-wide settings (ip_forward, FORWARD's policy, br_netfilter) are only ever broken here,
// never on the test host.
import { describe, expect, it } from 'vitest';
import { allChecks, hostChecks, networkChecks, networksOf, type Check } from '../../../src/see/checks.js';
import { BRIDGE, NS, VETH, dropRules, hostLink, load } from './helpers.js';
import type { Snapshot } from '../../../src/see/snapshot.js';

const failedIds = (s: Snapshot): string[] => allChecks(s, networksOf(s)).filter((c) => !c.ok).map((c) => c.id);
const one = (s: Snapshot, id: string): Check => {
  const c = allChecks(s, networksOf(s)).filter((x) => x.id === id);
  expect(c.length).toBeGreaterThan(0);
  return c[0];
};

describe('checks over a recorded snapshot', () => {
  it('a healthy set-up passes every check', () => {
    const s = load();
    const cs = allChecks(s, networksOf(s));
    expect(cs.length).toBeGreaterThan(30);
    expect(cs.filter((c) => !c.ok)).toEqual([]);
    // One DNAT and one app check per published port.
    expect(cs.filter((c) => c.id === 'rule.dnat')).toHaveLength(2);
    expect(one(s, 'app.listening').found).toMatch(/^0\.0\.0\.0:80 nginx \(pid \d+\)$/);
  });

  it('ip_forward off: a failed check with the sysctl that fixes it', () => {
    const s = load();
    s.kernel.sysctls['net.ipv4.ip_forward'] = '0';
    const c = one(s, 'host.ip_forward');
    expect(c).toMatchObject({ ok: false, found: 'net.ipv4.ip_forward = 0', fix: 'sysctl -w net.ipv4.ip_forward=1' });
    expect(c.paths).toEqual(['hairpin', 'remote']); // the host's own connections are not forwarded
  });

  it("FORWARD's policy DROP: fine while minid's jump is there; names docker as the one who set it", () => {
    const s = load();
    s.kernel.iptables.policies['filter/FORWARD'] = 'DROP';
    s.kernel.iptables.chains.push('filter/DOCKER', 'filter/DOCKER-USER');
    let c = one(s, 'host.forward_policy');
    expect(c.ok).toBe(true);
    expect(c.found).toMatch(/policy DROP; set by docker \(dockerd sets FORWARD to DROP when it starts\), not minid/);
    expect(dropRules(s, (r) => r.startsWith('filter FORWARD ') && r.includes('-j MINID-FORWARD'))).toBe(1);
    c = one(s, 'host.forward_policy');
    expect(c).toMatchObject({ ok: false, fix: 'iptables -t filter -I FORWARD -m comment --comment minid -j MINID-FORWARD' });
    expect(failedIds(s)).toEqual(expect.arrayContaining(['host.forward_policy', 'host.hook.forward']));
  });

  it('a missing FORWARD ACCEPT rule is harmless under policy ACCEPT, a failure under DROP', () => {
    const s = load();
    dropRules(s, (r) => r.startsWith('filter MINID-FORWARD -i mtopo0'));
    expect(one(s, 'rule.forward.from_bridge')).toMatchObject({ ok: false, harmless: expect.stringMatching(/policy is ACCEPT/) });
    s.kernel.iptables.policies['filter/FORWARD'] = 'DROP';
    const c = one(s, 'rule.forward.from_bridge');
    expect(c.ok).toBe(false);
    expect(c.harmless).toBeUndefined();
    expect(one(s, 'host.forward_policy').ok).toBe(false);
  });

  it('br_netfilter decides whether hairpin mode is needed', () => {
    const s = load();
    hostLink(s, VETH).hairpin = false;
    expect(one(s, 'veth.host.hairpin')).toMatchObject({ ok: false, fix: `ip link set ${VETH} type bridge_slave hairpin on` });
    expect(one(s, 'veth.host.hairpin').harmless).toBeUndefined();
    s.kernel.brNetfilter = false;
    s.kernel.sysctls['net.bridge.bridge-nf-call-iptables'] = null;
    expect(one(s, 'veth.host.hairpin').harmless).toMatch(/not needed/);
    expect(one(s, 'host.br_netfilter').found).toMatch(/not loaded/);
  });

  it('rp_filter strict is fine while the subnet is routed to the bridge, a failure without that route', () => {
    const s = load();
    s.kernel.sysctls['net.ipv4.conf.all.rp_filter'] = '1';
    expect(one(s, 'bridge.rp_filter')).toMatchObject({ ok: true, found: expect.stringMatching(/strict/) });
    s.kernel.host.routes = s.kernel.host.routes.filter((r) => r.dev !== BRIDGE);
    expect(one(s, 'bridge.rp_filter').ok).toBe(false);
    expect(one(s, 'bridge.route').ok).toBe(false);
  });

  it('route_localnet off, a DNAT rule deleted, a veth end down, the app gone: each named with its fix', () => {
    const s = load();
    s.kernel.sysctls[`net.ipv4.conf.${BRIDGE}.route_localnet`] = '0';
    expect(dropRules(s, (r) => r.startsWith('nat MINID-DNAT') && r.includes('--dport 28081'))).toBe(1);
    hostLink(s, VETH).up = false;
    s.kernel.netns[NS].listening = [];
    expect(failedIds(s).sort()).toEqual(['app.listening', 'app.listening', 'bridge.route_localnet', 'rule.dnat', 'veth.host.up']);
    const cs = allChecks(s, networksOf(s));
    expect(cs.find((c) => c.id === 'bridge.route_localnet')!.fix).toBe(`sysctl -w net.ipv4.conf.${BRIDGE}.route_localnet=1`);
    expect(cs.find((c) => c.id === 'rule.dnat' && !c.ok)!.fix).toBe(
      'iptables -t nat -A MINID-DNAT -p tcp -m tcp --dport 28081 -m comment --comment minid:79fa9c7c:bridge:web:066e102aaf12 -j DNAT --to-destination 10.177.33.2:80',
    );
    expect(cs.find((c) => c.id === 'veth.host.up')!.fix).toBe(`ip link set ${VETH} up`);
    expect(cs.find((c) => c.id === 'app.listening')!.found).toBe('nothing listens on tcp port 80');
  });

  it('an app bound to 127.0.0.1 inside the container is named as such', () => {
    const s = load();
    s.kernel.netns[NS].listening = [{ proto: 'tcp', address: '127.0.0.1', port: 80 }];
    const c = one(s, 'app.listening');
    expect(c.ok).toBe(false);
    expect(c.found).toMatch(/listens on 127\.0\.0\.1 only/);
    expect(c.fix).toMatch(/0\.0\.0\.0/);
  });

  it('a container end without its prefix (/32), a missing default route, a missing namespace', () => {
    let s = load();
    const eth0 = s.kernel.netns[NS].links.find((l) => l.name === 'eth0')!;
    eth0.addresses = ['10.177.33.2/32'];
    s.kernel.netns[NS].routes = [];
    expect(one(s, 'container.address').fix).toBe(`ip -n ${NS} addr del 10.177.33.2/32 dev eth0 && ip -n ${NS} addr add 10.177.33.2/24 dev eth0  (a bare address is /32: the neighbours are unreachable)`);
    expect(one(s, 'container.default_route')).toMatchObject({ ok: false, found: 'no default route', fix: `ip -n ${NS} route replace default via 10.177.33.1` });
    s = load();
    s.kernel.netnsNames = [];
    s.kernel.nsids = {};
    s.kernel.netns[NS] = { name: NS, error: `/run/netns/${NS} does not exist`, links: [], routes: [], listening: [] };
    expect(failedIds(s)).toEqual(expect.arrayContaining(['netns.exists', 'veth.container.exists', 'app.listening']));
    // The name is gone but the container still runs in the namespace: give the name back.
    expect(one(s, 'netns.exists')).toMatchObject({
      found: `/run/netns/${NS} is missing (the namespace itself lives on: ${VETH}'s peer is in netns id 1, which has no name, and the container runs as pid 27380)`,
      fix: `ip netns attach ${NS} 27380  (gives the container's namespace its name back)`,
    });
    s.records.containers[0].status = 'exited';
    expect(one(s, 'netns.exists').fix).toMatch(/^the container lost its network: minid restart web/);
  });

  it('a host process on a published port is a conflict', () => {
    const s = load();
    s.kernel.host.listening.push({ proto: 'tcp', address: '0.0.0.0', port: 28081, process: 'python3 (pid 7)' });
    const c = allChecks(s, networksOf(s)).filter((x) => x.id === 'port.conflict' && !x.ok);
    expect(c).toHaveLength(1);
    expect(c[0].found).toMatch(/^python3 \(pid 7\) listens on 0\.0\.0\.0:28081/);
  });

  it("another DNAT of the same host port (docker, another store) is a conflict; other ports are not", () => {
    const s = load();
    s.kernel.iptables.otherDnat = [
      { chain: 'DOCKER', proto: 'tcp', dport: 28081, to: '172.17.0.2:80' },
      { chain: 'MINID-DNAT', proto: 'tcp', dport: 9999, to: '10.1.0.2:80', comment: 'minid:00000000:bridge:x:0123456789ab' },
    ];
    const c = allChecks(s, networksOf(s)).filter((x) => x.id === 'port.dnat_conflict' && !x.ok);
    expect(c.map((x) => [x.subject, x.found])).toEqual([['port:28081/tcp', 'nat DOCKER also DNATs 28081/tcp to 172.17.0.2:80: the first rule reached wins']]);
  });

  it('leftovers: a rule of a container that is gone, a bridge of a network that is gone', () => {
    const s = load();
    s.kernel.iptables.rules.push({ table: 'nat', chain: 'MINID-DNAT', args: ['-p', 'tcp', '-m', 'tcp', '--dport', '9', '-m', 'comment', '--comment', 'minid:79fa9c7c:bridge:old:0123456789ab', '-j', 'DNAT', '--to-destination', '10.177.33.9:9'], comment: 'minid:79fa9c7c:bridge:old:0123456789ab', packets: 0, bytes: 0 });
    s.kernel.host.links.push({ name: 'mbr-deadbeef000', ifindex: 99, kind: 'bridge', up: true, operstate: 'UP', addresses: [], mtu: 1500, alias: 'minid:79fa9c7c:gone' });
    // Another store's bridge is none of this store's business.
    s.kernel.host.links.push({ name: 'mbr-cafecafe000', ifindex: 98, kind: 'bridge', up: true, operstate: 'UP', addresses: [], mtu: 1500, alias: 'minid:00000000:gone' });
    const left = allChecks(s, networksOf(s)).filter((c) => c.id.startsWith('leftover'));
    expect(left.map((c) => [c.id, c.subject])).toEqual([['leftover.rule', 'rule:nat/MINID-DNAT'], ['leftover.bridge', 'link:mbr-deadbeef000']]);
    expect(left[0].fix).toMatch(/^minid system prune {2}\(or: iptables -t nat -D MINID-DNAT .*--dport 9 /);
  });

  it('a network no container joined yet expects nothing of the kernel', () => {
    const s = load();
    s.records.networks.push({ id: 'f'.repeat(64), name: 'later', driver: 'bridge', bridge: 'mbr-fffffffffff', subnet: '10.9.9.0/24', gateway: '10.9.9.1', created: '' });
    const later = s.records.networks[1];
    expect(networkChecks(s, later)).toEqual([]);
    expect(networksOf(s).map((n) => n.name)).toEqual(['bridge']);
    expect(hostChecks(s, [later])).toEqual([]);
  });
});
