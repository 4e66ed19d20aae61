// `minid trace service:NAME --from NODE/POD` (src/cluster/trace.ts): a 2-node cluster (routes
// mode), a backend labelled app=web on node2, a service, a client pod on node1. The trace names
// the service's SVC/SEP chains and the DNAT to the backend's pod IP on node1, the route via
// node2's LAN address, node2's bridge port and the backend's socket, and the reply. Then the
// route to node2's pods is deleted on node1 behind minid's back: the trace names node1's routing
// decision as where the probe died. Ctrl-C in the middle leaves no trace table in any node; nor
// does any trace; `cluster down` leaves nothing. Then once in vxlan mode: the overlay is named. Every address used is inside namespaces the test made.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, eventually } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';
import { clusterSuite, sh } from './helpers.js';

const { suite, storeId, ok } = clusterSuite('ctrace');

/** minid's trace tables in a namespace (none may be left). */
const traceTables = (netns: string): string[] => sh('nsenter', [`--net=/run/netns/${netns}`, 'nft', 'list', 'tables']).split('\n').filter((l) => l.includes('minid_trace_'));

describe('minid trace service:NAME', () => {
  afterAll(async () => {
    await suite.run(['cluster', 'down']); // a failed test's cluster, if any
  });

  it('follows a pod on node1 to a backend on node2 (DNAT, route, socket, reply), then names where it died without the route', async () => {
    const lan = freeSubnet((a) => `192.168.${a}.0/24`);
    await ok(['cluster', 'up', '--nodes', '2', '--mode', 'routes', '--pod-cidr', '10.247.0.0/16', '--lan', lan]);
    const id = storeId();
    const nodes = [1, 2].map((i) => ({ name: `node${i}`, netns: `mcl-${id}-node${i}`, ip: lan.replace(/0\/24$/, String(10 + i)) }));
    try {
      await ok(['--node', 'node2', 'run', '-d', '--name', 'web', '-l', 'app=web', 'busybox', 'sh', '-c', 'mkdir /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www']);
      await ok(['--node', 'node1', 'run', '-d', '--name', 'cli', 'busybox', 'sleep', '600']);
      await ok(['service', 'create', 'web', '--port', '80', '--target-port', '8080', '--selector', 'app=web', '--service-cidr', '10.98.0.0/16']);
      const webIp = (await ok(['--node', 'node2', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'web'])).trim();
      expect(webIp).toMatch(/^10\.247\.2\./);

      // Bad input: one line, exit 1.
      for (const [args, text] of [
        [['trace', 'service:nosuch', '--from', 'node1/cli'], 'no such service'],
        [['trace', 'service:web', '--from', 'cli'], 'NODE/POD'],
        [['trace', 'service:web', '--from', 'node9/cli'], 'no node "node9"'],
        [['trace', 'service:web', '--from', 'node1/nosuch'], 'no running pod'],
      ] as [string[], string][]) {
        const r = await suite.run(args);
        expect(r.exitCode, args.join(' ')).toBe(1);
        expect(String(r.stderr).trim().split('\n'), args.join(' ')).toHaveLength(1);
        expect(String(r.stderr)).toContain(text);
      }

      // The backend answers (httpd is up) before the trace.
      await eventually(async () => expect(await ok(['--node', 'node1', 'exec', 'cli', 'sh', '-c', "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 10.98.0.1 80"])).toContain('hi'));

      const r = await suite.run(['trace', 'service:web', '--from', 'node1/cli']);
      const text = String(r.stdout);
      expect(r.exitCode, text + String(r.stderr)).toBe(0);
      expect(text).toMatch(/nat MINID-SERVICES: iptables -t nat -A MINID-SERVICES .*-j MINID-SVC-[A-Z2-7]{16}/);
      expect(text).toMatch(/nat MINID-SEP-[A-Z2-7]{16}: iptables -t nat -A MINID-SEP-\S+ .*--to-destination 10\.247\.2\.\d+:8080/);
      expect(text).toContain(`DNAT --to-destination ${webIp}:8080`);
      expect(text).toContain(`routing decision on node1: ${webIp} out by eth0: node2's pod subnet 10.247.2.0/24 via ${nodes[1].ip}`);
      expect(text).toMatch(/on node2 \(netns/);
      expect(text).toMatch(/bridge port mv\S+ \(leaving the bridge\)/);
      expect(text).toMatch(/the backend's socket: web in minid-\S+: LISTEN/);
      expect(text).toMatch(/← the reply \(SYN-ACK\)/);
      expect(text).toContain(`DNAT      destination 10.98.0.1:80 → ${webIp}:8080`);
      expect(text).toMatch(/result: connected: web on node2/);
      for (const n of nodes) expect(traceTables(n.netns)).toEqual([]);

      // A service without endpoints: REJECTed in node1's FORWARD (kube-proxy's "connection refused").
      await ok(['service', 'create', 'empty', '--port', '81', '--selector', 'app=none']);
      const rej = await suite.run(['trace', 'service:empty', '--from', 'node1/cli']);
      expect(rej.exitCode, String(rej.stdout) + String(rej.stderr)).toBe(1);
      expect(String(rej.stdout)).toMatch(/died at: node1: FORWARD \(cni0 → eth0\)\n  killed by: iptables -t filter -A MINID-SERVICES .*-j REJECT/);
      expect(String(rej.stdout)).toContain('has no endpoints');

      // Ctrl-C in the middle: the trace tables go from every node all the same.
      const p = execa(cli, ['trace', 'service:web', '--from', 'node1/cli'], { env: suite.store.env, reject: false });
      const seen = () => traceTables(nodes[1].netns).length > 0;
      for (let i = 0; i < 200 && !seen(); i++) await new Promise((res) => setTimeout(res, 10));
      expect(seen()).toBe(true);
      p.kill('SIGINT');
      expect((await p).exitCode).toBe(130);
      for (const n of nodes) expect(traceTables(n.netns)).toEqual([]);

      // The route to node2's pods deleted on node1, behind minid's back.
      sh('ip', ['-n', nodes[0].netns, 'route', 'del', '10.247.2.0/24']);
      const dead = await suite.run(['trace', 'service:web', '--from', 'node1/cli']);
      const dt = String(dead.stdout);
      expect(dead.exitCode, dt + String(dead.stderr)).toBe(1);
      expect(dt).toContain(`DNAT --to-destination ${webIp}:8080`);
      expect(dt).toContain('died at: node1: the routing decision after PREROUTING');
      expect(dt).toContain(`ip -n ${nodes[0].netns} route add 10.247.2.0/24 via ${nodes[1].ip}`);
      expect(dt).not.toMatch(/on node2 \(netns/);
      for (const n of nodes) expect(traceTables(n.netns)).toEqual([]);
    } finally {
      const down = await suite.run(['cluster', 'down']);
      expect(down.exitCode, String(down.stderr)).toBe(0);
    }
    for (const n of nodes) expect(fs.existsSync(`/run/netns/${n.netns}`)).toBe(false);
    expect(fs.existsSync(path.join(suite.store.root, 'cluster'))).toBe(false);
    expect(sh('ip', ['-o', 'link', 'show'])).not.toContain(`mcl${id}`);
    expect(sh('nft', ['list', 'tables'])).not.toContain(`minid_trace_${id}`);
  }, 180_000);

  it('vxlan mode: the routing decision names the overlay', async () => {
    const lan = freeSubnet((a) => `192.168.${a}.0/24`);
    await ok(['cluster', 'up', '--nodes', '2', '--mode', 'vxlan', '--pod-cidr', '10.247.0.0/16', '--lan', lan]);
    const id = storeId();
    try {
      await ok(['--node', 'node2', 'run', '-d', '--name', 'web', '-l', 'app=web', 'busybox', 'sh', '-c', 'mkdir /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www']);
      await ok(['--node', 'node1', 'run', '-d', '--name', 'cli', 'busybox', 'sleep', '600']);
      await ok(['service', 'create', 'web', '--port', '80', '--target-port', '8080', '--selector', 'app=web', '--service-cidr', '10.98.0.0/16']);
      await eventually(async () => expect(await ok(['--node', 'node1', 'exec', 'cli', 'sh', '-c', "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 10.98.0.1 80"])).toContain('hi'));
      const r = await suite.run(['trace', 'service:web', '--from', 'node1/cli']);
      const text = String(r.stdout);
      expect(r.exitCode, text + String(r.stderr)).toBe(0);
      expect(text).toMatch(/routing decision on node1: 10\.247\.2\.\d+ out by vxlan1: node2's pod subnet 10\.247\.2\.0\/24 is behind the overlay/);
      expect(text).toContain('vxlan1 wraps it in UDP (VNI 1, port 8472)');
      expect(text).toMatch(/result: connected: web on node2/);
    } finally {
      const down = await suite.run(['cluster', 'down']);
      expect(down.exitCode, String(down.stderr)).toBe(0);
    }
    expect(sh('ip', ['netns', 'list'])).not.toContain(`mcl-${id}-`);
    expect(sh('nft', ['list', 'tables'])).not.toContain(`minid_trace_${id}`);
  }, 180_000);
});
