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
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';
import { clusterSuite, sh } from './helpers.js';

const { suite, storeId, ok, downLeavesNothing } = clusterSuite('svcvx');
const lanNs = `msvx-lan-${process.pid}`;
const lanLink = `msx${process.pid % 100000}`;
const RANGE = '10.98.0.0/16';
let lan = '';
let nodes: { name: string; netns: string; ip: string }[] = [];
let upExplained = '';

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
    upExplained = await ok(['cluster', 'up', '--nodes', '3', '--mode', 'vxlan', '--pod-cidr', '10.247.0.0/16', '--lan', lan, '--explain']);
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
    // (the last test took the cluster down already; this is for a run that failed before it)
    await downLeavesNothing(lanNs, nodes.map((n) => n.netns));
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
    // The rules are the nodes', never the host's.
    expect(sh('iptables-save', [])).not.toContain('MINID-SERVICES');
    // The pod packets crossed the overlay: each backend node's vxlan1 received some.
    for (const n of nodes.slice(0, 2)) expect(Number(sh('ip', ['netns', 'exec', n.netns, 'cat', '/sys/class/net/vxlan1/statistics/rx_packets']))).toBeGreaterThan(0);

    for (const n of nodes) {
      await eventually(() => {
        const page = execFileSync('nsenter', [`--net=/run/netns/${lanNs}`, 'sh', '-c', get(n.ip, 30081, 'busybox nc')], { encoding: 'utf8' });
        expect(page, n.name).toMatch(/backend-web[12]/);
      });
    }
  });
  it('cluster up --explain: every step with its chapter, a check to type, the result as a comment', () => {
    const heads = upExplained.match(/^# \[\d+\/\d+\] .*$/gm) ?? [];
    expect(heads.length).toBe(32); // 25 for the nodes, the LAN and the overlay; 7 for the DNS (the names, and per node its configuration and server)
    expect(upExplained.match(/^# {3}course: Networking › /gm)?.length).toBe(heads.length - 3); // the three sysfs mounts: "not in the course"
    expect(upExplained.match(/^# {3}check: \S/gm)?.length).toBe(heads.length);
    expect(upExplained).toMatch(/^# \[\d+\/32\] create the VXLAN device on node1: .*\n# {3}course: Networking › Weaveworks\(CNI\).*\n# {3}course caveat: .*8472.*\n# {3}check: ip -n mcl-\w+-node1 -d link show vxlan1\n/m);
    expect(upExplained).toMatch(/^# \[\d+\/32\] start node3's DNS server: .*\n# {3}course: Networking › DNS in Kubernetes.*\n# {3}check: nsenter --net=\/run\/netns\/mcl-\w+-node3 ss -lunp 'sport = :53'\n/m);
    expect(upExplained).toMatch(/^# Cluster up: 3 nodes on LAN /m);
  });

  it('service create --explain=script, replayed in bash, gives every node the same iptables state and names as minid', async () => {
    const script = await ok(['service', 'create', 'api', '--port', '81', '--target-port', '8080', '--selector', 'app=web', '--explain=script']);
    expect(script.startsWith('#!/usr/bin/env bash\n')).toBe(true);
    expect(script).toMatch(/^# {3}course: Networking › Service Networking: /m);
    expect(script).toMatch(/^# {3}check: nsenter --net=\/run\/netns\/mcl-\w+-node3 iptables -t nat -L MINID-SERVICES -n$/m);
    expect(script).toMatch(/^# Service api: ClusterIP 10\.98\.0\.2:81 -> /m);
    // The names as steps too: the records written (`cat > FILE`), every node's server reloaded.
    expect(script).toMatch(/^cat > \S+\/cluster\/dns\/records <<'EOF'\n(.*\n)*10\.98\.0\.2\tapi\.default\.svc\.cluster\.local api\.svc\n/m);
    expect(script.match(/^kill -HUP \d+$/gm)).toHaveLength(3);
    const lookup = (n: { netns: string; ip: string }) =>
      execFileSync('sh', ['-c', `nsenter --net=/run/netns/${n.netns} busybox nslookup api.svc ${n.ip} 2>&1 || true`], { encoding: 'utf8' });
    const made = nodes.map((n) => rulesOf(n.netns));
    expect(made[0]).toContain('"api cluster IP"');
    await ok(['service', 'rm', 'api']);
    expect(rulesOf(nodes[0].netns)).not.toContain('"api cluster IP"');
    const file = path.join(suite.tmp, 'service-create.sh');
    fs.writeFileSync(file, script);
    try {
      const replay = await execa('bash', [file], { reject: false });
      expect(replay.exitCode, replay.stderr).toBe(0);
      expect(nodes.map((n) => rulesOf(n.netns))).toEqual(made);
      // The replayed SIGHUP made the servers reread the replayed records.
      for (const n of nodes) expect(lookup(n), n.name).toMatch(/Address: 10\.98\.0\.2\b/);
    } finally {
      // The replay made rules minid has no record of: a sync takes them away (stale chains).
      await ok(['service', 'sync']);
    }
    for (const n of nodes) expect(rulesOf(n.netns)).not.toContain('"api');
    expect(lookup(nodes[2])).toContain('NXDOMAIN');
  });

  it('bad input with a cluster up: one line, exit 1, nothing made or changed (kernel and store)', async () => {
    const record = path.join(suite.store.root, 'cluster', 'services.json');
    const before = { record: fs.readFileSync(record, 'utf8'), rules: nodes.map((n) => rulesOf(n.netns)) };
    const create = (...a: string[]) => ['service', 'create', ...a];
    for (const [args, code, text] of [
      [create('web', '--port', '80', '--selector', 'app=web'), 1, 'a service "web" exists already'],
      [create('db', '--port', '80', '--selector', 'app=db', '--type', 'LoadBalancer'), 1, '--type must be ClusterIP or NodePort'],
      [create('db', '--port', '80', '--selector', 'app=db', '--node-port', '30081'), 1, 'node port 30081 is taken by service "web"'],
      [create('db', '--port', '80', '--selector', 'app=db', '--type', 'NodePort', '--node-port', '32768'), 1, '--node-port must be a port from 30000 to 32767'],
      [create('db', '--port', '65536', '--selector', 'app=db'), 1, '--port must be a port from 1 to 65535'],
      [create('db', '--port', '80', '--selector', 'app=db', '--service-cidr', '10.99.0.0/16'), 1, "the services' range is 10.98.0.0/16"],
      [create('Db', '--port', '80', '--selector', 'app=db'), 1, 'invalid service name'],
      [['cluster', 'up', '--nodes', '2'], 1, 'a cluster is already up'],
      [['--node', 'node9', 'ps'], 1, 'no node "node9" in the cluster: it has node1, node2, node3'],
      [['--node', 'node9', 'run', 'busybox', 'true'], 125, 'no node "node9"'],
      [['--node', 'node1'], 1, '--node node1 needs a command'],
      [['trace', 'service:web', '--from', 'node9/cli'], 1, 'no node "node9"'],
    ] as [string[], number, string][]) {
      const r = await suite.run(args);
      expect(r.exitCode, args.join(' ')).toBe(code);
      expect(String(r.stderr).trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(String(r.stderr), args.join(' ')).toContain(text);
    }
    expect(fs.readFileSync(record, 'utf8')).toBe(before.record);
    expect(nodes.map((n) => rulesOf(n.netns))).toEqual(before.rules);

    // A selector that matches nothing: the service answers with a reject (kube-proxy's), on its
    // VIP from a pod and on its node port from the LAN, at once rather than after a timeout.
    expect(await ok(create('empty', '--port', '82', '--selector', 'app=none', '--type', 'NodePort', '--node-port', '30082'))).toContain('no endpoints yet');
    const t0 = Date.now();
    const fromPod = await suite.run(['--node', 'node3', 'exec', 'cli', 'sh', '-c', get('10.98.0.2', 82)]);
    expect(String(fromPod.stderr) + String(fromPod.stdout)).toMatch(/refused/i);
    const fromLan = execFileSync('nsenter', [`--net=/run/netns/${lanNs}`, 'sh', '-c', `${get(nodes[0].ip, 30082, 'busybox nc')} 2>&1 || true`], { encoding: 'utf8' });
    expect(fromLan).toMatch(/refused/i);
    expect(Date.now() - t0).toBeLessThan(2500);
  });

  it('service rm --explain=md and service sync --explain: both step kinds, each with chapter, why and check', async () => {
    const sync = await ok(['service', 'sync', '--explain']);
    expect(sync).toMatch(/^# \[1\/3\] kube-proxy's rules on node1: Service networking: /m);
    expect(sync).toMatch(/^# web: 10\.247\.1\.\d+:8080 10\.247\.2\.\d+:8080$/m);
    const file = path.join(suite.tmp, 'rm.md');
    const r = await ok(['service', 'rm', 'web', 'empty', `--explain=${file}`]);
    expect(r.trim()).toBe('removed: web (10.98.0.1)\nremoved: empty (10.98.0.2)'); // the handout went to the file
    const md = fs.readFileSync(file, 'utf8');
    const sections = md.match(/^## \d+\/\d+\. .*$/gm) ?? [];
    // Each removal: kube-proxy's rules, then the names (DNS in Kubernetes), each server reloaded.
    const names = ["## 1/4. write the cluster's names", "## 2/4. reload node1's DNS server", "## 3/4. reload node2's DNS server", "## 4/4. reload node3's DNS server"];
    expect(sections).toEqual([
      "## 1/3. kube-proxy's rules on node1",
      "## 2/3. kube-proxy's rules on node2",
      "## 3/3. kube-proxy's rules on node3",
      ...names,
      "## 1/3. remove the services' rules from node1",
      "## 2/3. remove the services' rules from node2",
      "## 3/3. remove the services' rules from node3",
      ...names,
    ]);
    expect(md.match(/^- \*\*Course:\*\* Networking › Service Networking/gm)).toHaveLength(6);
    expect(md.match(/^- \*\*Course:\*\* Networking › DNS in Kubernetes/gm)).toHaveLength(8);
    expect(md.match(/^- \*\*Check it yourself:\*\* `grep 'read \.\*records' \S+\/node\d\.log \| tail -n 1`$/gm)).toHaveLength(6);
    expect(md.match(/^- \*\*Check it yourself:\*\* `nsenter --net=\/run\/netns\/mcl-/gm)).toHaveLength(6);
    for (const n of nodes) expect(rulesOf(n.netns)).not.toMatch(/MINID-(SERVICES|SVC-|SEP-|NODEPORTS)/);

    // No service left: the range is free to choose again, but not over the pods'.
    const again = await suite.run(['service', 'create', 'x', '--port', '80', '--selector', 'a=b', '--service-cidr', '10.247.128.0/17']);
    expect([again.exitCode, String(again.stderr).trim()]).toEqual([
      1,
      'minid: --service-cidr 10.247.128.0/17 overlaps the pod range 10.247.0.0/16: "the IP ranges of pods and services shouldn\'t overlap"; pick another (e.g. --service-cidr 10.96.0.0/16)',
    ]);
    expect(fs.existsSync(path.join(suite.store.root, 'cluster', 'services.json'))).toBe(false);
    for (const n of nodes) expect(rulesOf(n.netns)).not.toMatch(/MINID-(SERVICES|SVC-|SEP-|NODEPORTS)/);
  });

  it("cluster down --explain: the nodes' own steps (as typed on the host), then the cluster's, each with its chapter", async () => {
    const down = await ok(['cluster', 'down', '--explain']);
    expect(down).toMatch(/^# on node node1: minid system reset/m);
    expect(down).toMatch(/^nsenter --net=\/run\/netns\/mcl-\w+-node1 /m); // a node's own step, typed on the host
    expect(down).toMatch(/^# \[\d+\/\d+\] delete node node2: .*\n# {3}course: Networking › Cluster networking, the way back; .*\n# {3}check: ip netns list\nip netns del mcl-\w+-node2$/m);
    expect(down).toMatch(/^# \[10\/10\] delete the LAN: .*\n# {3}course: Networking › Cluster networking, the way back/m);
    expect(down).toMatch(/^# \[1\/3\] stop node1's DNS server: by its recorded PID.*\n# {3}course: Networking › DNS in Kubernetes, the way back.*\n# {3}check: ps -o pid,comm -p \d+ \|\| echo stopped\nkill \d+$/m);
    expect(down).toMatch(/^# Cluster down: 3 nodes and the LAN \S+ removed$/m);
  });
});
