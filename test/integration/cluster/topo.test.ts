// `minid topo --cluster` (src/see/cluster-read.ts, cluster-topo.ts): a two-node cluster
// (--mode routes) with one pod per node is drawn whole — both nodes, both pods, the routes
// between the pod subnets — read inside each node. A route deleted behind minid's back (inside
// node1's namespace) is marked, with the `ip -n ... route add ...` that puts it back; topo
// changes nothing (the route stays missing). `cluster down` leaves nothing. Every address used
// is inside namespaces the test made. Then --mode vxlan: an FDB entry of vxlan1 deleted the
// same way is marked with its `bridge -n ... fdb append ...`. Ranges apart from the other
// cluster tests: LANs 172.30.X.0/24, pods 10.248.0.0/16 and 10.249.0.0/16.
//
// RECORD_CLUSTER_SNAPSHOT=FILE also writes the raw snapshot of the broken cluster to FILE (how
// test/fixtures/see/cluster.snapshot.json was recorded).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freeSubnet } from '../../helpers/subnet.js';
import { clusterSuite, sh } from './helpers.js';

const { suite, storeId, ok } = clusterSuite('ctopo');

interface Json {
  nodes: { name: string; ip: string; podSubnet: string; pods: { name: string; ip: string }[]; routes: { dst: string; via: string; present: boolean }[]; marks: { subject: string; fix: string }[] }[];
  lan: { marks: unknown[] };
}

describe('minid topo --cluster', () => {
  afterAll(async () => {
    await suite.run(['cluster', 'down']); // a failed test's cluster, if any
  });

  it('draws both nodes, their pods and routes; marks a route deleted behind minid\'s back with its fix', async () => {
    // No cluster yet: one line, exit 1.
    const none = await suite.run(['topo', '--cluster']);
    expect([none.exitCode, String(none.stderr).trim()]).toEqual([1, 'minid: there is no cluster: `minid cluster up` makes one']);
    const lan = freeSubnet((a) => `172.16.${200 + a}.0/24`);
    await ok(['cluster', 'up', '--nodes', '2', '--pod-cidr', '10.248.0.0/16', '--lan', lan]);
    const id = storeId();
    const ns1 = `mcl-${id}-node1`;
    const ids: string[] = [];
    try {
      ids.push((await ok(['--node', 'node1', 'run', '-d', '--name', 'p1', 'busybox', 'sleep', '300'])).trim());
      ids.push((await ok(['--node', 'node2', 'run', '-d', '--name', 'p2', 'busybox', 'sleep', '300'])).trim());

      const good = JSON.parse(await ok(['topo', '--cluster', '--format', 'json'])) as Json;
      expect(good.nodes.map((n) => n.name)).toEqual(['node1', 'node2']);
      expect(good.nodes.map((n) => n.pods.map((p) => p.name))).toEqual([['p1'], ['p2']]);
      expect(good.nodes[0].pods[0].ip.startsWith('10.248.1.')).toBe(true);
      expect(good.nodes[1].pods[0].ip.startsWith('10.248.2.')).toBe(true);
      expect(good.nodes[0].routes).toEqual([expect.objectContaining({ dst: '10.248.2.0/24', via: good.nodes[1].ip, present: true })]);
      expect(good.nodes[1].routes).toEqual([expect.objectContaining({ dst: '10.248.1.0/24', via: good.nodes[0].ip, present: true })]);
      expect([...good.lan.marks, ...good.nodes.flatMap((n) => n.marks)]).toEqual([]);
      expect(await ok(['topo', '--cluster'])).toContain("✓ the kernel matches the cluster's record");
      expect(await ok(['cluster', 'status'])).toContain('minid topo --cluster');

      // Behind minid's back: node1 forgets the way to node2's pods.
      sh('ip', ['-n', ns1, 'route', 'del', '10.248.2.0/24']);
      const r = await suite.run(['topo', '--cluster', '--format', 'json']);
      expect(r.exitCode).toBe(1);
      const bad = JSON.parse(String(r.stdout)) as Json;
      expect(bad.nodes[0].routes[0].present).toBe(false);
      expect(bad.nodes[0].marks).toEqual([expect.objectContaining({ subject: `route:${ns1}/10.248.2.0/24`, fix: `ip -n ${ns1} route add 10.248.2.0/24 via ${bad.nodes[1].ip} dev eth0` })]);
      expect(bad.nodes[1].marks).toEqual([]);
      const text = await suite.run(['topo', '--cluster']);
      expect(text.exitCode).toBe(1);
      expect(String(text.stdout)).toMatch(/MISSING 10\.248\.2\.0\/24 via \S+ dev eth0 ✗1/);
      expect(String(text.stdout)).toContain(`fix:   ip -n ${ns1} route add 10.248.2.0/24`);
      const svg = await suite.run(['topo', '--cluster', '--format', 'svg']);
      expect(String(svg.stdout)).toMatch(/^<svg[\s\S]*route add 10\.248\.2\.0\/24[\s\S]*<\/svg>\s*$/);
      if (process.env.RECORD_CLUSTER_SNAPSHOT) fs.writeFileSync(process.env.RECORD_CLUSTER_SNAPSHOT, String((await suite.run(['topo', '--cluster', '--format', 'snapshot'])).stdout));
      // Read-only: the route is still missing.
      expect(sh('ip', ['-n', ns1, 'route', 'show', '10.248.2.0/24'])).toBe('');
    } finally {
      const down = await suite.run(['cluster', 'down']);
      expect(down.exitCode, String(down.stderr)).toBe(0);
    }
    // Nothing left: no node, no LAN, no record.
    expect(sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith(`mcl-${id}-`))).toEqual([]);
    expect(sh('ip', ['-o', 'link', 'show']).split('\n').filter((l) => l.includes(`mcl${id}`))).toEqual([]);
    for (const d of [path.join(suite.store.root, 'cluster'), path.join(suite.store.run, 'cluster')]) expect(fs.existsSync(d)).toBe(false);
    // nor the pods' namespaces, cables or rules.
    for (const c of ids) {
      expect(sh('ip', ['netns', 'list'])).not.toContain(`minid-${c.slice(0, 12)}`);
      expect(sh('ip', ['-o', 'link', 'show'])).not.toContain(`mv${c.slice(0, 8)}`);
      expect(sh('iptables-save', [])).not.toContain(c.slice(0, 12));
    }
  });

  it('--mode vxlan: draws vxlan1\'s FDB and neighbour entries; marks an FDB entry deleted behind minid\'s back', async () => {
    const lan = freeSubnet((a) => `172.16.${150 + a}.0/24`);
    await ok(['cluster', 'up', '--nodes', '2', '--mode', 'vxlan', '--pod-cidr', '10.249.0.0/16', '--lan', lan]);
    const id = storeId();
    const ns1 = `mcl-${id}-node1`;
    try {
      type V = Json['nodes'][number] & { vxlan: { fdb: { mac: string; dst: string; present: boolean }[]; neigh: { present: boolean }[] } };
      const good = JSON.parse(await ok(['topo', '--cluster', '--format', 'json'])) as { nodes: V[] };
      for (const n of good.nodes) {
        expect(n.vxlan.fdb.map((f) => f.present)).toEqual([true]);
        expect(n.vxlan.neigh.map((f) => f.present)).toEqual([true]);
        expect(n.marks).toEqual([]);
      }
      const { mac, dst } = good.nodes[0].vxlan.fdb[0];
      sh('bridge', ['-n', ns1, 'fdb', 'del', mac, 'dev', 'vxlan1', 'dst', dst]);
      const r = await suite.run(['topo', '--cluster', '--format', 'json']);
      expect(r.exitCode).toBe(1);
      const bad = JSON.parse(String(r.stdout)) as { nodes: V[] };
      expect(bad.nodes[0].marks).toEqual([expect.objectContaining({ fix: `bridge -n ${ns1} fdb append ${mac} dev vxlan1 dst ${dst}` })]);
      expect(bad.nodes[1].marks).toEqual([]);
    } finally {
      const down = await suite.run(['cluster', 'down']);
      expect(down.exitCode, String(down.stderr)).toBe(0);
    }
    expect(sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith(`mcl-${id}-`))).toEqual([]);
    expect(sh('ip', ['-o', 'link', 'show']).split('\n').filter((l) => l.includes(`mcl${id}`))).toEqual([]);
  });
});
