// kube-proxy's rules as minid writes them on every node (src/cluster/proxy.ts): golden files a
// reviewer reads (update with `vitest -u`), and the arithmetic of the random spread.
import { describe, expect, it } from 'vitest';
import { chainHash, emptyView, parseView, restoreInput, ruleSet, syncSteps, viewOf, type Endpoint, type Service } from '../../../src/cluster/proxy.js';
import { formatPlan } from '../../../src/network/step.js';

const web: Service = { name: 'web', type: 'NodePort', clusterIP: '10.96.0.1', port: 80, targetPort: 8080, selector: { app: 'web' }, nodePort: 30080, created: '' };
const db: Service = { name: 'db', type: 'ClusterIP', clusterIP: '10.96.0.2', port: 5432, targetPort: 5432, selector: { app: 'db' }, created: '' };
const ep = (ip: string, node: string): Endpoint => ({ ip, port: 8080, node, container: `c-${ip}` });
const three = [ep('10.244.1.2', 'node1'), ep('10.244.2.2', 'node2'), ep('10.244.3.2', 'node3')];
const nodes = [1, 2].map((i) => ({ name: `node${i}`, netns: `mcl-0a1b2c3d-node${i}` }));

describe('kube-proxy rules', () => {
  it('names chains by a hash, as kube-proxy (16 base32 characters, fits iptables\' 28)', () => {
    expect(chainHash('web:tcp')).toMatch(/^[A-Z2-7]{16}$/);
    expect(chainHash('web:tcp')).toBe(chainHash('web:tcp'));
    expect(chainHash('web:tcp')).not.toBe(chainHash('db:tcp'));
  });

  it('spreads new connections with probability 1/(n-i): each endpoint gets 1/n', () => {
    const r = ruleSet([web], new Map([['web', three]]), '10.244.0.0/16');
    const probs = r.nat.rules.filter((l) => l.includes('--probability')).map((l) => Number(/--probability (\S+)/.exec(l)![1]));
    expect(probs).toEqual([Number((1 / 3).toFixed(11)), 0.5]);
    // the last endpoint has no statistic match: it takes what is left
    expect(r.nat.rules.filter((l) => l.includes('-j MINID-SEP-')).length).toBe(3);
  });

  it('a service without endpoints is refused in filter, with no NAT rules', () => {
    const r = ruleSet([db], new Map([['db', []]]), '10.244.0.0/16');
    expect(r.nat.rules.join('\n')).not.toContain('10.96.0.2');
    expect(r.filter.rules.filter((l) => !l.startsWith("#"))).toEqual([
      '-A MINID-SERVICES -d 10.96.0.2/32 -p tcp -m comment --comment "db has no endpoints" -m tcp --dport 5432 -j REJECT --reject-with icmp-port-unreachable',
    ]);
  });

  it('golden: a first sync (hooks added), a later one (stale chains removed), the last service gone', async () => {
    const first = ruleSet([web, db], new Map([['web', three.slice(0, 2)], ['db', []]]), '10.244.0.0/16');
    const later = ruleSet([web, db], new Map([['web', three.slice(1)], ['db', []]]), '10.244.0.0/16');
    const text = [
      '# first sync on a node with nothing of ours',
      restoreInput(first, emptyView()),
      '# a later sync: endpoint 10.244.1.2 went, 10.244.3.2 came',
      restoreInput(later, viewOf(first)),
      '# the last service removed',
      restoreInput(null, viewOf(later)),
    ].join('\n');
    await expect(text).toMatchFileSnapshot('__golden__/proxy-restore.txt');
  });

  it('golden: service create as --explain prints it (two nodes)', async () => {
    const want = ruleSet([web], new Map([['web', three.slice(0, 2)]]), '10.244.0.0/16');
    const steps = syncSteps(nodes, '10.96.0.0/16', want, null, new Map(), 'Service networking: kube-proxy writes the rules on every node');
    await expect(formatPlan(steps, 'service create web')).toMatchFileSnapshot('__golden__/service-create.sh');
    // Its undo takes everything away again.
    expect(steps[0].undo.map((c) => c.argv.join(' '))).toEqual(['nsenter --net=/run/netns/mcl-0a1b2c3d-node1 iptables-restore --noflush', 'ip -n mcl-0a1b2c3d-node1 route del 10.96.0.0/16 dev eth0']);
  });

  it('golden: the last service rm as --explain prints it (everything of the services goes from both nodes)', async () => {
    const had = ruleSet([web], new Map([['web', three.slice(0, 2)]]), '10.244.0.0/16');
    const steps = syncSteps(nodes, '10.96.0.0/16', null, had, new Map(nodes.map((n) => [n.name, viewOf(had)])), 'Service networking: the rules go with the service');
    expect(steps.map((s) => s.name)).toEqual(["remove the services' rules from node1", "remove the services' rules from node2"]);
    await expect(formatPlan(steps, 'service rm web')).toMatchFileSnapshot('__golden__/service-rm.sh');
  });

  it('reads what a node holds from iptables-save', () => {
    const save = [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':MINID-SERVICES - [0:0]',
      ':MINID-SVC-ABCDEFGHIJKLMNOP - [0:0]',
      ':MINID-DNAT - [0:0]',
      '-A PREROUTING -m comment --comment "minid service portals" -j MINID-SERVICES',
      'COMMIT',
      '*filter',
      ':MINID-SERVICES - [0:0]',
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES',
      'COMMIT',
    ].join('\n');
    const v = parseView(save, true);
    expect([...v.chains.nat]).toEqual(['MINID-SERVICES', 'MINID-SVC-ABCDEFGHIJKLMNOP']);
    expect([...v.chains.filter]).toEqual(['MINID-SERVICES']);
    expect([...v.hooks]).toEqual(['nat PREROUTING', 'filter FORWARD']);
    expect(v.route).toBe(true);
    // A jump the node's own minid pushed down (it inserted its own first) is moved back up.
    const pushed = parseView(save.replace('-A FORWARD -m conntrack', '-A FORWARD -j MINID-FORWARD\n-A FORWARD -m conntrack'), false);
    expect([...pushed.misplaced]).toEqual(['filter FORWARD']);
    expect(restoreInput(ruleSet([], new Map(), '10.244.0.0/16'), pushed)).toContain(
      '-D FORWARD -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES\n-I FORWARD 1 -m conntrack',
    );
  });
});
