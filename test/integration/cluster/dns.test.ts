// Cluster DNS (src/cluster/dns.ts, docs/cluster.md "Names"): one dnsmasq per node, inside the
// node's namespace, is its pods' nameserver (kubelet's clusterDNS). From a pod on node2, real
// DNS queries (busybox nslookup, and nc resolving through the search list, with no /etc/hosts
// line) reach a service whose backend is on node1; `service rm` makes the name NXDOMAIN; an
// unknown name is NXDOMAIN and nothing is forwarded; a killed server is started again by the
// next sync; `cluster down` stops every server by its recorded PID and leaves no file. Every
// address used is inside namespaces the test made.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, minid } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';
import { clusterSuite, sh } from './helpers.js';

const { suite, storeId, ok } = clusterSuite('cdns');

const dnsDir = () => path.join(suite.store.run, 'cluster', 'dns');
interface Server {
  pid: number;
  startTime: string;
}
const recorded = (node: string): Server => JSON.parse(fs.readFileSync(path.join(dnsDir(), `${node}.json`), 'utf8')) as Server;
/** Is it still that dnsmasq (same PID, same start time)? */
function running(s: Server): boolean {
  try {
    const st = fs.readFileSync(`/proc/${s.pid}/stat`, 'utf8');
    const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return st.includes('(dnsmasq)') && rest[0] !== 'Z' && rest[19] === s.startTime;
  } catch {
    return false;
  }
}

const httpd = `mkdir /www && echo backend-web1 > /www/index.html && exec httpd -f -p 8080 -h /www`;
const get = (host: string) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} 80`;

describe('cluster DNS', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await suite.run(['cluster', 'down']); // a failed test's cluster, if any
    for (const s of servers) if (running(s)) process.kill(s.pid, 'SIGKILL'); // only if down failed (the test then failed too)
  });

  it('a pod on another node resolves NAME, NAME.svc and the FQDN to the VIP and connects; rm makes it NXDOMAIN; nothing is forwarded; down stops the servers', async () => {
    const lan = freeSubnet((a) => `172.16.${a}.0/24`);
    const up = await suite.run(['cluster', 'up', '--nodes', '2', '--pod-cidr', '10.250.0.0/16', '--lan', lan, '--explain']);
    expect(up.exitCode, String(up.stderr)).toBe(0);
    const upText = String(up.stdout) + String(up.stderr);
    expect(upText).toMatch(/DNS in Kubernetes/);
    const id = storeId();
    const nodes = [1, 2].map((i) => ({ name: `node${i}`, netns: `mcl-${id}-node${i}`, ip: lan.replace(/0\/24$/, String(10 + i)) }));
    try {
      // The DNS steps are numbered steps of the up plan, each with its chapter, why and check;
      // the check, typed as printed, shows the server listening inside the node.
      for (const n of nodes) {
        const m = new RegExp(
          `^# \\[\\d+/\\d+\\] start ${n.name}'s DNS server: .*${n.ip.replace(/\./g, '\\.')}:53\n# {3}course: Networking › DNS in Kubernetes.*\n# {3}check: (nsenter --net=/run/netns/${n.netns} ss -lunp 'sport = :53')\nnsenter --net=/run/netns/${n.netns} dnsmasq --conf-file=\\S+/${n.name}\\.conf$`,
          'm',
        ).exec(upText);
        expect(m, upText).not.toBeNull();
        expect(sh('bash', ['-c', m![1]])).toMatch(/dnsmasq/);
      }
      expect(upText).toMatch(/^# \[\d+\/\d+\] write node1's DNS configuration: .*\n# {3}course: .*\n# {3}course caveat: .*\n# {3}check: cat \S+\/node1\.conf\ncat > \S+\/node1\.conf <<'EOF'$/m);

      // One dnsmasq per node, recorded, running inside the node's namespace.
      for (const n of nodes) {
        const s = recorded(n.name);
        servers.push(s);
        expect(running(s)).toBe(true);
        expect(fs.readlinkSync(`/proc/${s.pid}/ns/net`)).toBe(`net:[${fs.statSync(`/run/netns/${n.netns}`).ino}]`);
        expect(fs.readFileSync(path.join(dnsDir(), `${n.name}.conf`), 'utf8')).not.toMatch(/^server=/m);
      }

      await ok(['--node', 'node1', 'run', '-d', '--name', 'web1', '-l', 'app=web', 'busybox', 'sh', '-c', httpd]);
      await ok(['--node', 'node2', 'run', '-d', '--name', 'cli', 'busybox', 'sleep', '600']);
      const cli = (cmd: string) => suite.run(['--node', 'node2', 'exec', 'cli', 'sh', '-c', cmd]);
      // kubelet's resolv.conf: the node's own server, Kubernetes' search list, ndots:5.
      const resolv = await ok(['--node', 'node2', 'exec', 'cli', 'cat', '/etc/resolv.conf']);
      expect(resolv).toMatch(new RegExp(`^nameserver ${nodes[1].ip.replace(/\./g, '\\.')}$`, 'm'));
      expect(resolv).toMatch(/^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
      expect(resolv).toMatch(/^options ndots:5$/m);

      const created = await suite.run(['service', 'create', 'web', '--port', '80', '--target-port', '8080', '--selector', 'app=web', '--service-cidr', '10.98.0.0/16', '--explain']);
      expect(created.exitCode, String(created.stderr)).toBe(0);
      const createdText = String(created.stdout) + String(created.stderr);
      expect(createdText).toMatch(/DNS in Kubernetes.*CoreDNS/);
      // The records written, then each server reloaded (SIGHUP to its recorded PID); the reload's
      // check, typed as printed, finds dnsmasq's own line: it reread the records.
      expect(createdText).toMatch(/^# \[1\/3\] write the cluster's names: .*web\.default\.svc\.cluster\.local, web\.svc -> 10\.98\.0\.1$/m);
      const reload = new RegExp(`^# \\[2/3\\] reload node1's DNS server: SIGHUP.*\n# {3}course: Networking › DNS in Kubernetes.*\n# {3}check: (.*)\nkill -HUP ${recorded('node1').pid}$`, 'm').exec(createdText);
      expect(reload, createdText).not.toBeNull();
      await eventually(() => expect(sh('bash', ['-c', reload![1]])).toMatch(/read \S+\/records - 2 names$/m)); // web.default.svc.cluster.local and web.svc
      // One mechanism: DNS, no /etc/hosts lines.
      expect(await ok(['--node', 'node2', 'exec', 'cli', 'cat', '/etc/hosts'])).not.toContain('web');

      // Real DNS queries to the node's server (busybox nslookup asks the nameserver of resolv.conf).
      for (const name of ['web.default.svc.cluster.local', 'web.svc']) {
        const r = await cli(`nslookup ${name}`);
        expect(r.exitCode, `${name}: ${r.stdout}${r.stderr}`).toBe(0);
        expect(String(r.stdout)).toMatch(/Address: 10\.98\.0\.1\b/);
      }
      // The reverse lookup names the service's FQDN.
      expect(String((await cli('nslookup 10.98.0.1')).stdout)).toContain('name = web.default.svc.cluster.local');
      // By name, through the search list (no hosts line: the resolver asked the server), to the backend on node1.
      for (const name of ['web', 'web.default', 'web.svc']) {
        await eventually(async () => expect(String((await cli(get(name))).stdout)).toContain('backend-web1'));
      }
      // A pod by its name (Kubernetes' pod record: its address with dashes, in
      // default.pod.cluster.local), made up by the server; connected to across nodes.
      const web1 = (await ok(['--node', 'node1', 'inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', 'web1'])).trim();
      expect(web1).toMatch(/^10\.250\.1\.\d+$/);
      const podName = `${web1.replace(/\./g, '-')}.default.pod.cluster.local`;
      const byPod = await cli(`nslookup ${podName}`);
      expect(String(byPod.stdout), String(byPod.stderr)).toMatch(new RegExp(`Address: ${web1.replace(/\./g, '\\.')}$`, 'm'));
      expect(String((await cli(`printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${podName} 8080`)).stdout)).toContain('backend-web1');
      // Outside the pod range, or not an address: NXDOMAIN.
      for (const name of ['10-9-9-9.default.pod.cluster.local', 'web1.default.pod.cluster.local']) {
        const r = await cli(`nslookup ${name}`);
        expect(String(r.stdout) + String(r.stderr), name).toContain('NXDOMAIN');
      }
      const log = fs.readFileSync(path.join(dnsDir(), 'node2.log'), 'utf8');
      expect(log).toMatch(/query\[A\] web\.default\.svc\.cluster\.local from 10\.250\.2\.\d+/);

      // An unknown name: NXDOMAIN, answered by the node's server itself; nothing forwarded.
      const unknown = await cli('nslookup nosuch.example.com');
      expect(unknown.exitCode).not.toBe(0);
      expect(String(unknown.stdout) + String(unknown.stderr)).toContain('NXDOMAIN');
      const log2 = fs.readFileSync(path.join(dnsDir(), 'node2.log'), 'utf8');
      expect(log2).toMatch(/config nosuch\.example\.com is NXDOMAIN/);
      expect(log2).not.toMatch(/forwarded/);

      // A user network of a node: its server answers its containers' names and forwards the
      // rest to the node's DNS server, so the services resolve there too (search list and all).
      await ok(['--node', 'node2', 'network', 'create', 'apps']);
      await ok(['--node', 'node2', 'run', '-d', '--name', 'peer', '--network', 'apps', 'busybox', 'sleep', '600']);
      await ok(['--node', 'node2', 'run', '-d', '--name', 'onnet', '--network', 'apps', 'busybox', 'sleep', '600']);
      const onnet = (cmd: string) => suite.run(['--node', 'node2', 'exec', 'onnet', 'sh', '-c', cmd]);
      expect(await ok(['--node', 'node2', 'exec', 'onnet', 'cat', '/etc/resolv.conf'])).toMatch(/^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
      expect(String((await onnet('nslookup web.default.svc.cluster.local')).stdout)).toMatch(/Address: 10\.98\.0\.1\b/);
      // (busybox's nslookup stops at the search list's NXDOMAINs; ping asks the C library's resolver.)
      expect(String((await onnet('ping -c 1 -W 2 peer')).stdout)).toMatch(/^PING peer \(\d+\.\d+\.\d+\.\d+\)[^]*1 packets received/m);
      await eventually(async () => expect(String((await onnet(get('web'))).stdout)).toContain('backend-web1'));
      expect(String((await onnet('nslookup nosuch.example.com')).stdout) + String((await onnet('nslookup nosuch.example.com')).stderr)).toContain('NXDOMAIN');

      // A server that died is started again by the next sync (supervised lazily).
      process.kill(recorded('node2').pid, 'SIGKILL');
      await eventually(() => expect(running(recorded('node2'))).toBe(false));
      const status = await suite.run(['cluster', 'status']);
      expect(status.exitCode).toBe(1);
      expect(String(status.stdout)).toMatch(/node2 .*not running/);
      await ok(['service', 'sync']);
      const again = recorded('node2');
      servers.push(again);
      expect(running(again)).toBe(true);
      expect(await ok(['cluster', 'status'])).toMatch(new RegExp(`node2 .*\\(dnsmasq ${again.pid}\\)`));
      expect(String((await cli('nslookup web.svc')).stdout)).toMatch(/Address: 10\.98\.0\.1\b/);

      // rm: the name is gone from every node's server.
      await ok(['service', 'rm', 'web']);
      const gone = await cli('nslookup web.default.svc.cluster.local');
      expect(gone.exitCode).not.toBe(0);
      expect(String(gone.stdout) + String(gone.stderr)).toContain('NXDOMAIN');
      const fromNode1 = spawnSync('nsenter', [`--net=/run/netns/${nodes[0].netns}`, 'busybox', 'nslookup', 'web.svc', nodes[0].ip], { encoding: 'utf8' });
      expect(fromNode1.stdout + fromNode1.stderr).toContain('NXDOMAIN');
    } finally {
      const down = await suite.run(['cluster', 'down']);
      expect(down.exitCode, String(down.stderr)).toBe(0);
    }
    // No dnsmasq left (by the PIDs recorded), no file, no namespace.
    for (const s of servers) expect(running(s), `dnsmasq ${s.pid}`).toBe(false);
    expect(fs.existsSync(path.join(suite.store.run, 'cluster'))).toBe(false);
    expect(fs.existsSync(path.join(suite.store.root, 'cluster'))).toBe(false);
    expect(sh('ip', ['netns', 'list'])).not.toContain(`mcl-${id}-`);
  }, 180_000);
});

describe('cluster DNS: an up that fails at a server', () => {
  const leftovers = (): number[] =>
    fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`${dnsDir()}/node`);
      } catch {
        return false;
      }
    }).map(Number);
  afterAll(async () => {
    for (const pid of leftovers()) process.kill(pid, 'SIGKILL'); // only if the undo failed (the test then failed too)
    await suite.run(['cluster', 'down']);
  });

  it("undoes the whole plan: node1's server (started) is stopped, the nodes and the LAN go", async () => {
    // A dnsmasq that refuses node2's configuration (first in PATH: nsenter finds it), as a taken port would.
    const bin = path.join(suite.tmp, 'fake-bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(
      path.join(bin, 'dnsmasq'),
      '#!/bin/sh\ncase "$*" in *node2.conf*) echo "dnsmasq: failed to create listening socket: Address already in use" >&2; exit 2;; esac\nexec /usr/sbin/dnsmasq "$@"\n',
      { mode: 0o755 },
    );
    const lan = freeSubnet((a) => `172.16.${50 + a}.0/24`);
    const r = await minid(suite.store, ['cluster', 'up', '--nodes', '2', '--pod-cidr', '10.251.0.0/16', '--lan', lan, '--explain'], { env: { ...suite.store.env, PATH: `${bin}:${process.env.PATH}` } });
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stderr).trim().split('\n')).toHaveLength(1);
    expect(String(r.stderr)).toMatch(/cluster up failed at step \d+\/\d+ "start node2's DNS server": .*Address already in use; undid the steps already applied/);
    // The rollback, printed: node1's server stopped by the PID it got.
    expect(String(r.stdout)).toMatch(/^# \[\d+\/\d+\] undo "start node1's DNS server": roll back \(a later step failed\): a server started by a `cluster up` that failed later is stopped by its recorded PID.*\nkill \d+$/m);
    expect(leftovers()).toEqual([]);
    const id = storeId();
    expect(sh('ip', ['netns', 'list'])).not.toContain(`mcl-${id}-`);
    expect(sh('ip', ['-o', 'link', 'show'])).not.toContain(`mcl${id}`);
    expect(fs.existsSync(path.join(suite.store.root, 'cluster'))).toBe(false);
  }, 120_000);
});
