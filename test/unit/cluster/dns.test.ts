// The cluster DNS server's files (src/cluster/dns.ts): the names every node's dnsmasq reads and
// its configuration; and its steps (`cluster up`, `service create|rm|sync`, `cluster down`) as
// --explain prints them: golden files a reviewer reads (update with `vitest -u`). Pure: what the
// servers do is checked in test/integration/cluster/dns.test.ts.
import { describe, expect, it } from 'vitest';
import { dnsDownSteps, dnsSyncSteps, dnsUpSteps, renderNames, renderNodeConf, serviceNames, type ServerView } from '../../../src/cluster/dns.js';
import { layout } from '../../../src/cluster/plan.js';
import { parseSubnet } from '../../../src/network/cidr.js';
import { formatPlan } from '../../../src/network/step.js';
import type { ServerRecord } from '../../../src/network/dns/server.js';

const DIR = '/run/minid/cluster/dns';
const three = () =>
  layout({ store: '0a1b2c3d', mode: 'routes', lan: parseSubnet('192.168.1.0/24'), podCidr: parseSubnet('10.244.0.0/16'), nodes: 3, sysfsDir: (n) => `/run/minid/cluster/sysfs/${n}` });
const server = (pid: number, address: string): ServerRecord => ({ pid, startTime: '4242', address, port: 53, forwarders: [], started: '2026-12-06T08:00:00.000Z' });

describe('cluster DNS files', () => {
  it("names each service by its FQDN (first: it answers the reverse lookup) and NAME.svc, sorted", () => {
    expect(serviceNames('web')).toEqual(['web.default.svc.cluster.local', 'web.svc']);
    const text = renderNames([
      { name: 'web', clusterIP: '10.96.0.1' },
      { name: 'db', clusterIP: '10.96.0.2' },
    ]);
    expect(text.split('\n').slice(1)).toEqual(['10.96.0.2\tdb.default.svc.cluster.local db.svc', '10.96.0.1\tweb.default.svc.cluster.local web.svc', '']);
    expect(renderNames([]).split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([]);
  });

  it('listens on the node address only, reads only the records, forwards nothing', () => {
    const conf = renderNodeConf({ node: 'node1', netns: 'mcl-x-node1', address: '192.168.5.11', podCidr: '10.244.0.0/16', records: '/r/records', pidFile: '/r/node1.pid', logFile: '/r/node1.log' });
    const lines = conf.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      'listen-address=192.168.5.11',
      'bind-interfaces',
      'port=53',
      'no-hosts',
      'addn-hosts=/r/records',
      'synth-domain=default.pod.cluster.local,10.244.0.0/16',
      'local=/#/',
      'no-resolv',
      'no-poll',
      'log-queries=extra',
      'user=root',
      'pid-file=/r/node1.pid',
      'log-facility=/r/node1.log',
    ]);
    expect(lines.some((l) => l.startsWith('server='))).toBe(false);
  });
});

describe('cluster DNS steps (golden)', () => {
  it('cluster up: the names, then per node its configuration and its server, each with the chapter, a why and a check', async () => {
    const steps = dnsUpSteps(three(), DIR);
    expect(steps.map((s) => s.name)).toEqual([
      "write the cluster's names",
      "write node1's DNS configuration",
      "start node1's DNS server",
      "write node2's DNS configuration",
      "start node2's DNS server",
      "write node3's DNS configuration",
      "start node3's DNS server",
    ]);
    for (const s of steps) expect(s.act, s.name).toBeDefined();
    const text = formatPlan(steps, 'cluster up: the DNS steps');
    expect(text.match(/^# {3}course: Networking › DNS in Kubernetes/gm)).toHaveLength(steps.length);
    expect(text.match(/^# {3}check: \S/gm)).toHaveLength(steps.length);
    expect(text).toContain("#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node2 ss -lunp 'sport = :53'\nnsenter --net=/run/netns/mcl-0a1b2c3d-node2 dnsmasq --conf-file=/run/minid/cluster/dns/node2.conf\n");
    await expect(text).toMatchFileSnapshot('__golden__/dns-up.sh');
  });

  it("a server's undo is known once it runs (its PID); a sync's start has none", () => {
    const up = dnsUpSteps(three(), DIR)[2];
    expect(up.act?.undo).toBeDefined();
    expect(up.undo).toEqual([]); // `kill PID` once started (the act sets it)
    const views = new Map<string, ServerView>([['node1', { rec: null, running: false, nodeThere: true }]]);
    const again = dnsSyncSteps(three(), [], views, DIR).find((s) => s.name.startsWith('start'))!;
    expect(again.act?.undo).toBeUndefined();
  });

  it('service create|rm|sync: the names rewritten, running servers reloaded, a dead one started again, a gone node left alone', async () => {
    const views = new Map<string, ServerView>([
      ['node1', { rec: server(101, '192.168.1.11'), running: true, nodeThere: true }],
      ['node2', { rec: server(102, '192.168.1.12'), running: false, nodeThere: true }],
      ['node3', { rec: server(103, '192.168.1.13'), running: false, nodeThere: false }],
    ]);
    const steps = dnsSyncSteps(three(), [{ name: 'web', clusterIP: '10.96.0.1' }], views, DIR);
    expect(steps.map((s) => s.name)).toEqual(["write the cluster's names", "reload node1's DNS server", "write node2's DNS configuration", "start node2's DNS server"]);
    expect(steps[3].why).toMatch(/^it is not running any more/);
    const text = formatPlan(steps, 'service create web');
    expect(text).toContain("#   check: grep 'read .*records' /run/minid/cluster/dns/node1.log | tail -n 1\nkill -HUP 101\n");
    expect(text).toContain("cat > /run/minid/cluster/dns/records <<'EOF'\n");
    await expect(text).toMatchFileSnapshot('__golden__/dns-sync.sh');
  });

  it('cluster down: each running server stopped by its recorded PID', async () => {
    const steps = dnsDownSteps([{ node: 'node1', rec: server(101, '192.168.1.11') }, { node: 'node3', rec: server(103, '192.168.1.13') }], DIR);
    const text = formatPlan(steps, 'cluster down');
    expect(text).toContain('#   check: ps -o pid,comm -p 103 || echo stopped\nkill 103\n');
    await expect(text).toMatchFileSnapshot('__golden__/dns-down.sh');
  });
});
