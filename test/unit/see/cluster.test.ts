// `minid topo --cluster` over a snapshot recorded on a real host (test/integration/cluster/
// topo.test.ts with RECORD_CLUSTER_SNAPSHOT): two nodes, --mode routes, LAN 172.30.236.0/24,
// pods 10.248.0.0/16, one pod per node; node1's route to node2's pods was deleted behind
// minid's back. Small edits repair it or break it in other ways.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildClusterTopo, clusterMarks, renderClusterText, type ClusterSnapshot } from '../../../src/see/cluster-topo.js';
import { renderClusterSvg } from '../../../src/see/cluster-svg.js';
import { parseFdb, parseNeigh } from '../../../src/see/cluster-read.js';

const FILE = path.resolve(__dirname, '../../fixtures/see/cluster.snapshot.json');
const load = (): ClusterSnapshot => JSON.parse(fs.readFileSync(FILE, 'utf8')) as ClusterSnapshot;
const NS1 = 'mcl-dab64eef-node1';
const NS2 = 'mcl-dab64eef-node2';
const snapOf = (cs: ClusterSnapshot, i: number) => cs.nodes[i].snapshot!;

/** Put node1's route to node2's pods back, as `cluster up` made it. */
function repaired(): ClusterSnapshot {
  const cs = load();
  snapOf(cs, 0).kernel.host.routes.push({ dst: '10.248.2.0/24', gateway: '172.30.236.12', dev: 'eth0' });
  return cs;
}

describe('topo --cluster', () => {
  it('draws the LAN, both nodes, their pods and routes; a healthy cluster has no mark', () => {
    const t = buildClusterTopo(repaired());
    expect(clusterMarks(t)).toEqual([]);
    expect(t.nodes.map((n) => [n.name, n.ip, n.podSubnet, n.bridge.up, n.pods.map((p) => p.name)])).toEqual([
      ['node1', '172.30.236.11', '10.248.1.0/24', true, ['p1']],
      ['node2', '172.30.236.12', '10.248.2.0/24', true, ['p2']],
    ]);
    const text = renderClusterText(t);
    expect(text).toContain('LAN 172.30.236.0/24: bridge mcldab64eef on the host up (no address: the host is not on the LAN)');
    expect(text).toMatch(/├─ mcldab64eefn1 ══ LAN cable ══ eth0 172\.30\.236\.11\/24 up/);
    expect(text).toMatch(/pod bridge cni0 up 10\.248\.1\.1\/24 +pod subnet 10\.248\.1\.0\/24/);
    expect(text).toMatch(/pod p1 \([0-9a-f]{12}\) running 10\.248\.1\.\d+/);
    expect(text).toContain('10.248.2.0/24 via 172.30.236.12 dev eth0');
    expect(text.trimEnd().split('\n').pop()).toBe("✓ the kernel matches the cluster's record");
  });

  it('marks a missing route with the command that puts it back', () => {
    const t = buildClusterTopo(load());
    expect(clusterMarks(t)).toEqual([
      expect.objectContaining({ subject: `route:${NS1}/10.248.2.0/24`, fix: `ip -n ${NS1} route add 10.248.2.0/24 via 172.30.236.12 dev eth0` }),
    ]);
    expect(t.nodes[0].routes).toEqual([{ dst: '10.248.2.0/24', via: '172.30.236.12', dev: 'eth0', expected: true, present: false }]);
    const text = renderClusterText(t);
    expect(text).toContain('MISSING 10.248.2.0/24 via 172.30.236.12 dev eth0 ✗1');
    expect(text).toContain(`      fix:   ip -n ${NS1} route add 10.248.2.0/24 via 172.30.236.12 dev eth0`);
    const svg = renderClusterSvg(t);
    expect(svg).toMatch(/^<svg [^>]*>/);
    expect(svg).toContain('fill="#c0392b">  MISSING 10.248.2.0/24 via 172.30.236.12</text>');
    expect(svg).toContain(`fix: ip -n ${NS1} route add 10.248.2.0/24 via 172.30.236.12 dev eth0`);
  });

  it('a route through the wrong node is replaced, not added', () => {
    const cs = repaired();
    snapOf(cs, 0).kernel.host.routes.find((r) => r.dst === '10.248.2.0/24')!.gateway = '172.30.236.99';
    const [m] = clusterMarks(buildClusterTopo(cs));
    expect(m.found).toBe('the route is 10.248.2.0/24 via 172.30.236.99 dev eth0');
    expect(m.fix).toBe(`ip -n ${NS1} route replace 10.248.2.0/24 via 172.30.236.12 dev eth0`);
  });

  it('marks a node\'s pod bridge down, the LAN bridge down, a node that cannot be read', () => {
    const cs = repaired();
    snapOf(cs, 1).kernel.host.links.find((l) => l.name === 'cni0')!.up = false;
    cs.lan.bridge!.up = false;
    cs.nodes[0] = { ...cs.nodes[0], snapshot: null, error: `/run/netns/${NS1} does not exist` };
    const t = buildClusterTopo(cs);
    expect(clusterMarks(t).map((m) => [m.subject, m.fix])).toEqual([
      ['link:mcldab64eef', 'ip link set mcldab64eef up'],
      [`netns:${NS1}`, '`minid cluster down`, then `minid cluster up`'],
      [`link:${NS2}/cni0`, `ip -n ${NS2} link set cni0 up`],
    ]);
    const text = renderClusterText(t);
    expect(text).toContain('bridge mcldab64eef on the host DOWN (no address: the host is not on the LAN) ✗1');
    expect(text).toContain(`node node1: netns ${NS1} UNREADABLE ✗2`);
    expect(text).toMatch(/pod bridge cni0 DOWN 10\.248\.2\.1\/24 ✗3/);
  });

  it('--mode vxlan: marks a missing FDB entry and neighbour entry with their fixes', () => {
    const cs = repaired();
    cs.state.mode = 'vxlan';
    const [n1, n2] = cs.state.nodes;
    const vx = (mac: string) => ({ name: 'vxlan1', ifindex: 9, kind: 'vxlan', up: true, operstate: 'UNKNOWN', addresses: [], mtu: 1450, mac });
    snapOf(cs, 0).kernel.host.links.push(vx(n1.vtepMac));
    snapOf(cs, 1).kernel.host.links.push(vx(n2.vtepMac));
    // The routes go to the other node's VTEP address instead of its LAN address.
    for (const [i, p] of [[0, n2], [1, n1]] as const) {
      const s = snapOf(cs, i);
      s.kernel.host.routes = s.kernel.host.routes.map((r) => (r.dst === p.podSubnet ? { dst: r.dst, gateway: p.podSubnet.split('/')[0], dev: 'vxlan1' } : r));
    }
    cs.nodes[0].fdb = parseFdb(JSON.stringify([{ mac: n2.vtepMac, dst: n2.ip, flags: [] }, { mac: '00:00:00:00:00:00', flags: [] }]));
    cs.nodes[0].neigh = parseNeigh(JSON.stringify([{ dst: '10.248.2.0', lladdr: n2.vtepMac, state: ['PERMANENT'] }]));
    // node2 lost both of its entries for node1.
    const t = buildClusterTopo(cs);
    expect(clusterMarks(t).map((m) => m.fix)).toEqual([
      `bridge -n ${NS2} fdb append ${n1.vtepMac} dev vxlan1 dst ${n1.ip}`,
      `ip -n ${NS2} neigh replace 10.248.1.0 lladdr ${n1.vtepMac} dev vxlan1 nud permanent`,
    ]);
    const text = renderClusterText(t);
    expect(text).toContain(`fdb ${n2.vtepMac} -> ${n2.ip} (node2)\n`);
    expect(text).toContain(`fdb ${n1.vtepMac} -> ${n1.ip} (node1) MISSING ✗1`);
  });
});
