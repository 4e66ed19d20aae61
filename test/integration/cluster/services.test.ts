// Services across a three-node cluster (src/cluster/services.ts, docs/cluster.md "Services"):
// kube-proxy's iptables rules inside every node. Two httpd backends labelled app=web on node1
// and node2, a client pod on node3: over 30 connections to the ClusterIP both answer; a removed
// backend gets no more traffic; the NodePort answers on every node's LAN address from a LAN
// namespace the test makes; a service without backends is refused at once (REJECT); `service
// rm` and `cluster down` leave nothing. Every address used is inside namespaces the test made.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';
import { clusterSuite, sh } from './helpers.js';

const { suite, storeId, ok, downLeavesNothing } = clusterSuite('services');
const lanNs = `msvc-lan-${process.pid}`;

/** A page naming the backend, served by busybox httpd on 8080. */
const httpd = (name: string) => `mkdir /www && echo backend-${name} > /www/index.html && exec httpd -f -p 8080 -h /www`;
const get = (ip: string, port: number, nc = 'nc') => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | ${nc} -w 3 ${ip} ${port}`;

/** minid's service objects a node's kernel holds (chains, jumps, the range's route). */
function nodeLeftovers(netns: string): string[] {
  const rules = sh('nsenter', [`--net=/run/netns/${netns}`, 'iptables-save'])
    .split('\n')
    .filter((l) => /MINID-(SERVICES|NODEPORTS|MARK-MASQ|PROXY-POSTROUTING|SVC-|SEP-)/.test(l));
  const routes = sh('ip', ['-n', netns, 'route', 'show', '10.97.0.0/16']).split('\n').filter(Boolean);
  return [...rules, ...routes];
}

describe('minid service', () => {
  afterAll(async () => {
    await suite.run(['cluster', 'down']); // a failed test's cluster, if any
  });

  it('ClusterIP spreads over backends on two nodes, NodePort on every node, REJECT without backends; rm and down leave nothing', async () => {
    const lan = freeSubnet((a) => `192.168.${50 + a}.0/24`);
    await ok(['cluster', 'up', '--nodes', '3', '--pod-cidr', '10.246.0.0/16', '--lan', lan]);
    const id = storeId();
    const nodes = [1, 2, 3].map((i) => ({ name: `node${i}`, netns: `mcl-${id}-node${i}`, ip: lan.replace(/0\/24$/, String(10 + i)) }));
    try {
      // Bad input: one line, exit 1, nothing made.
      for (const [args, text] of [
        [['service', 'create', 'web', '--port', '0', '--selector', 'app=web'], '--port'],
        [['service', 'create', 'web', '--port', '80', '--target-port', '70000', '--selector', 'app=web'], '--target-port'],
        [['service', 'create', 'web', '--port', '80', '--selector', 'app=web', '--service-cidr', '10.246.128.0/20'], 'overlaps the pod range'],
        [['service', 'create', 'web', '--port', '80', '--selector', 'app=web', '--service-cidr', lan], 'overlaps the LAN'],
        [['service', 'create', 'web', '--port', '80', '--selector', 'app=web', '--type', 'NodePort', '--node-port', '80'], '--node-port'],
        [['service', 'create', 'web', '--port', '80', '--selector', 'web'], '--selector'],
        [['service', 'rm', 'nosuch'], 'no such service'],
      ] as [string[], string][]) {
        const r = await suite.run(args);
        expect(r.exitCode, args.join(' ')).toBe(1);
        expect(String(r.stderr).trim().split('\n'), args.join(' ')).toHaveLength(1);
        expect(String(r.stderr)).toContain(text);
      }
      expect(fs.existsSync(path.join(suite.store.root, 'cluster', 'services.json'))).toBe(false);
      for (const n of nodes) expect(nodeLeftovers(n.netns)).toEqual([]);

      // Two backends on two nodes, a client on the third.
      await ok(['--node', 'node1', 'run', '-d', '--name', 'web1', '-l', 'app=web', 'busybox', 'sh', '-c', httpd('web1')]);
      await ok(['--node', 'node2', 'run', '-d', '--name', 'web2', '-l', 'app=web', 'busybox', 'sh', '-c', httpd('web2')]);
      await ok(['--node', 'node3', 'run', '-d', '--name', 'cli', 'busybox', 'sleep', '600']);

      const created = await ok(['service', 'create', 'web', '--port', '80', '--target-port', '8080', '--selector', 'app=web', '--type', 'NodePort', '--node-port', '30080', '--service-cidr', '10.97.0.0/16']);
      expect(created).toMatch(/Service web: NodePort 10\.97\.0\.1:80, node port 30080 .*-> 10\.246\.1\.\d+:8080 10\.246\.2\.\d+:8080/);
      // A selector that matches nothing is allowed: its connections are refused.
      expect(await ok(['service', 'create', 'empty', '--port', '81', '--selector', 'app=none'])).toContain('10.97.0.2:81');
      const ls = await ok(['service', 'ls']);
      expect(ls).toMatch(/web +NodePort +10\.97\.0\.1 +80:30080\/TCP +app=web +10\.246\.1\.\d+:8080\(node1\),10\.246\.2\.\d+:8080\(node2\)/);
      expect(ls).toMatch(/empty +ClusterIP +10\.97\.0\.2 +81\/TCP +app=none +<none>/);
      // The same rules on every node, none on the host.
      for (const n of nodes) expect(sh('nsenter', [`--net=/run/netns/${n.netns}`, 'iptables-save', '-t', 'nat'])).toMatch(/-A MINID-SVC-\S+ .*--probability 0\.5/);
      expect(sh('iptables-save', [])).not.toContain('MINID-SERVICES');

      // The service's names, from the node's DNS server (dns.test.ts checks the queries themselves).
      expect(await ok(['--node', 'node3', 'exec', 'cli', 'sh', '-c', `${get('web.svc', 80)}`])).toMatch(/backend-web[12]/);
      // From a backend itself: about half its connections come back to it (the SEP chain masquerades them: hairpin).
      const fromBackend = await ok(['--node', 'node1', 'exec', 'web1', 'sh', '-c', `for i in $(seq 10); do ${get('web', 80)}; done`]);
      expect(fromBackend.match(/backend-web[12]/g)).toHaveLength(10);

      // ~30 connections from node3's pod to the ClusterIP: both backends answer.
      const many = async (n: number) => {
        const out = await ok(['--node', 'node3', 'exec', 'cli', 'sh', '-c', `for i in $(seq ${n}); do ${get('10.97.0.1', 80)}; done`]);
        return { web1: out.split('backend-web1').length - 1, web2: out.split('backend-web2').length - 1 };
      };
      await eventually(async () => expect((await many(1)).web1 + (await many(1)).web2).toBe(2));
      const c = await many(30);
      expect(c.web1 + c.web2).toBe(30);
      expect(c.web1).toBeGreaterThan(0);
      expect(c.web2).toBeGreaterThan(0);

      // NodePort on every node's LAN address, from a machine on the LAN (a namespace of the test's).
      sh('ip', ['netns', 'add', lanNs]);
      sh('ip', ['link', 'add', `msv${process.pid % 100000}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lanNs]);
      sh('ip', ['link', 'set', `msv${process.pid % 100000}`, 'master', `mcl${id}`, 'up']);
      sh('ip', ['-n', lanNs, 'addr', 'add', lan.replace(/0\/24$/, '50/24'), 'dev', 'eth0']);
      sh('ip', ['-n', lanNs, 'link', 'set', 'eth0', 'up']);
      for (const n of nodes) {
        await eventually(() => {
          const page = execFileSync('nsenter', [`--net=/run/netns/${lanNs}`, 'sh', '-c', get(n.ip, 30080, 'busybox nc')], { encoding: 'utf8' });
          expect(page).toMatch(/backend-web[12]/);
        });
      }

      // No backend: refused at once (REJECT in filter), not a timeout.
      const t0 = Date.now();
      const refused = await suite.run(['--node', 'node3', 'exec', 'cli', 'sh', '-c', `${get('10.97.0.2', 81)}`]);
      expect(Date.now() - t0).toBeLessThan(2500);
      expect(String(refused.stderr) + String(refused.stdout)).toMatch(/refused/i);

      // One backend goes: the node's minid re-syncs the services; no more traffic to it.
      await ok(['--node', 'node1', 'rm', '-f', 'web1']);
      expect(await ok(['service', 'ls'])).not.toContain('(node1)');
      const after = await many(10);
      expect(after).toEqual({ web1: 0, web2: 10 });

      // rm: the last service takes the chains, the jumps and the route from every node.
      await ok(['service', 'rm', 'web']);
      expect(await ok(['service', 'ls'])).not.toMatch(/^web /m);
      await ok(['service', 'rm', 'empty']);
      for (const n of nodes) expect(nodeLeftovers(n.netns)).toEqual([]);
      expect(fs.existsSync(path.join(suite.store.root, 'cluster', 'services.json'))).toBe(false);
      expect(String((await suite.run(['--node', 'node3', 'exec', 'cli', 'nslookup', 'web.svc'])).stdout)).not.toContain('10.97.0.1');

      // cluster down takes services too.
      await ok(['service', 'create', 'again', '--port', '80', '--selector', 'app=web']);
    } finally {
      await downLeavesNothing(lanNs, nodes.map((n) => n.netns));
    }
    expect(sh('iptables-save', [])).not.toMatch(/MINID-(SERVICES|NODEPORTS|MARK-MASQ|PROXY-POSTROUTING|SVC-|SEP-)/);
  }, 180_000);
});
