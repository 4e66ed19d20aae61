// The service trace's verdict and text (src/see/clustertrace.ts), on packet paths shaped as a
// 2-node cluster's nodes reported them (routes mode): pod cli 10.247.1.2 on node1 → service web
// 10.98.0.1:80 → backend web 10.247.2.2:8080 on node2.
import { describe, expect, it } from 'vitest';
import { chosenBackend, diagnoseCluster, inSubnet, renderClusterTrace, type ClusterTraceContext } from '../../../src/see/clustertrace.js';
import type { Hit, Hop, PacketPath } from '../../../src/see/tracereport.js';

const SEP = 'MINID-SEP-C7EATIQRPMBPLIJ3';
const SVC = 'MINID-SVC-HZVB5WQ6STJQFQ3E';
const hit = (table: string, chain: string, nft: string, verdict: string, iptables?: string): Hit => ({ table, chain, nft, verdict, iptables });
const hop = (hook: string, dev: string, src: string, dst: string, hits: Hit[] = []): Hop => ({ hook, dev, src, dst, hits, tables: [] });
const C = '10.247.1.2:63744';
const VIP = '10.98.0.1:80';
const BE = '10.247.2.2:8080';

const dnatHops = (): Hop[] => [
  hop('bridge in', 'mvc5513846', C, VIP),
  hop('PREROUTING', 'cni0', C, VIP, [
    hit('nat', 'PREROUTING', 'counter jump MINID-SERVICES', 'jump MINID-SERVICES'),
    hit('nat', 'MINID-SERVICES', 'ip daddr 10.98.0.1 tcp dport 80 jump ' + SVC, `jump ${SVC}`, `iptables -t nat -A MINID-SERVICES -d 10.98.0.1/32 -p tcp -m tcp --dport 80 -j ${SVC}`),
    hit('nat', SVC, `jump ${SEP}`, `jump ${SEP}`),
    hit('nat', SEP, 'meta l4proto tcp dnat to 10.247.2.2:8080', 'accept', `iptables -t nat -A ${SEP} -p tcp -m tcp -j DNAT --to-destination 10.247.2.2:8080`),
  ]),
];

function ctx(paths: Record<string, PacketPath[]>, over: Partial<ClusterTraceContext> = {}): ClusterTraceContext {
  return {
    mode: 'routes',
    service: { name: 'web', vip: '10.98.0.1', port: 80 },
    endpoints: [{ node: 'node2', container: 'web', ip: '10.247.2.2', port: 8080, veth: 'mv3adcb938', netns: 'minid-3adcb9380040' }],
    client: { name: 'cli', node: 'node1', ip: '10.247.1.2' },
    nodes: [
      { name: 'node1', netns: 'mcl-s-node1', ip: '192.168.10.11', podSubnet: '10.247.1.0/24' },
      { name: 'node2', netns: 'mcl-s-node2', ip: '192.168.10.12', podSubnet: '10.247.2.0/24' },
    ],
    paths,
    sport: 63744,
    table: 'minid_trace_s_63744',
    probe: 'curl ...',
    outcome: 'connected',
    routeGet: '10.247.2.2 via 192.168.10.12 dev eth0 src 192.168.10.11 uid 0',
    listening: { '10.247.2.2': 'LISTEN 0 9 *:8080 *:*' },
    conntrack: ['original  10.247.1.2:63744 → 10.98.0.1:80'],
    ...over,
  };
}

const connected = (): Record<string, PacketPath[]> => ({
  node1: [
    { direction: 'original', flags: 'SYN', hops: [...dnatHops(), hop('FORWARD', 'cni0 → eth0', C, BE), hop('POSTROUTING', 'eth0', C, BE)] },
    { direction: 'reply', flags: 'SYN-ACK', hops: [hop('PREROUTING', 'eth0', BE, C), hop('FORWARD', 'eth0 → cni0', BE, C), hop('bridge out', 'mvc5513846', VIP, C)] },
  ],
  node2: [
    { direction: 'original', flags: 'SYN', hops: [hop('PREROUTING', 'eth0', C, BE), hop('FORWARD', 'eth0 → cni0', C, BE), hop('bridge out', 'mv3adcb938', C, BE)] },
    { direction: 'reply', flags: 'SYN-ACK', hops: [hop('bridge in', 'mv3adcb938', BE, C), hop('PREROUTING', 'cni0', BE, C), hop('FORWARD', 'cni0 → eth0', BE, C)] },
  ],
});

describe('service trace', () => {
  it('inSubnet', () => {
    expect(inSubnet('10.247.2.2', '10.247.2.0/24')).toBe(true);
    expect(inSubnet('10.247.3.2', '10.247.2.0/24')).toBe(false);
    expect(inSubnet('10.98.0.1', '10.96.0.0/14')).toBe(true);
  });

  it('finds the backend the SEP chain picked, from its DNAT', () => {
    expect(chosenBackend(ctx(connected()))?.container).toBe('web');
    expect(chosenBackend(ctx({ node1: [{ direction: 'original', flags: 'SYN', hops: [hop('PREROUTING', 'cni0', C, VIP)] }] }))).toBeNull();
  });

  it('a connection across nodes: node1 (service chains, route via node2), node2 (bridge port, socket), the reply back', () => {
    const c = ctx(connected());
    const v = diagnoseCluster(c);
    expect(v.ok).toBe(true);
    expect(v.summary).toBe('connected: web on node2 (10.247.2.2:8080) answered SYN-ACK; cli saw it come from 10.98.0.1:80');
    const t = renderClusterTrace(c, v);
    expect(t).toContain(`nat MINID-SERVICES: iptables -t nat -A MINID-SERVICES -d 10.98.0.1/32 -p tcp -m tcp --dport 80 -j ${SVC}`);
    expect(t).toContain(`DNAT --to-destination 10.247.2.2:8080`);
    expect(t).toContain("routing decision on node1: 10.247.2.2 out by eth0: node2's pod subnet 10.247.2.0/24 via 192.168.10.12, node2's LAN address → FORWARD");
    expect(t).toContain('on the LAN: out by eth0 to 192.168.10.12 (node2)');
    expect(t).toContain("the backend's socket: web in minid-3adcb9380040: LISTEN 0 9 *:8080 *:*");
    // The probe: node1 then node2; the reply: node2 then node1.
    expect(t.indexOf('on node2')).toBeGreaterThan(t.indexOf('on node1'));
    const reply = t.slice(t.indexOf('← the reply (SYN-ACK)'));
    expect(reply.indexOf('on node2')).toBeLessThan(reply.indexOf('on node1'));
    expect(reply).toContain("cli's socket: conntrack on node1 undid the DNAT");
  });

  it('vxlan: the routing decision and the LAN step name the overlay', () => {
    const p = connected();
    p.node1[0].hops[2] = hop('FORWARD', 'cni0 → vxlan1', C, BE);
    p.node1[0].hops[3] = hop('POSTROUTING', 'vxlan1', C, BE);
    const t = renderClusterTrace(ctx(p, { mode: 'vxlan' }), diagnoseCluster(ctx(p, { mode: 'vxlan' })));
    expect(t).toContain("node2's pod subnet 10.247.2.0/24 is behind the overlay (vxlan1 wraps the packet in UDP 8472 to 192.168.10.12)");
    expect(t).toContain('vxlan1 wraps it in UDP (VNI 1, port 8472) from 192.168.10.11 to 192.168.10.12 (node2)');
  });

  it('no route to node2 pods: died at node1\'s routing decision, with the missing route', () => {
    const c = ctx({ node1: [{ direction: 'original', flags: 'SYN', hops: dnatHops() }] }, { outcome: 'failed', routeGet: 'RTNETLINK answers: Network is unreachable', conntrack: [] });
    const v = diagnoseCluster(c);
    expect(v.ok).toBe(false);
    expect(v.hook).toBe('node1: the routing decision after PREROUTING');
    expect(v.details.join('\n')).toContain('ip -n mcl-s-node1 route add 10.247.2.0/24 via 192.168.10.12');
    const t = renderClusterTrace(c, v);
    expect(t).toContain('routing decision on node1: no route to 10.247.2.2 (RTNETLINK answers: Network is unreachable)');
    expect(t).toContain('← the reply: none seen');
    expect(t).not.toMatch(/^  on node2 \(netns/m);
  });

  it('a rule that drops on node2 is named; no DNAT on node1 is said', () => {
    const p = connected();
    p.node2[0].dropped = { hop: p.node2[0].hops[1], by: 'iptables -t filter -A FORWARD -j DROP' };
    const v = diagnoseCluster(ctx(p));
    expect(v.hook).toBe('node2: FORWARD (eth0 → cni0)');
    expect(v.details).toEqual(['killed by: iptables -t filter -A FORWARD -j DROP']);
    const none = diagnoseCluster(ctx({ node1: [{ direction: 'original', flags: 'SYN', hops: [hop('PREROUTING', 'cni0', C, VIP)] }] }, { outcome: 'timeout' }));
    expect(none.summary).toContain('never DNATed on node1');
  });

  it('a service without endpoints: REJECTed in node1\'s FORWARD, said so', () => {
    const fwd = hop('FORWARD', 'cni0 → eth0', C, VIP, [hit('filter', 'MINID-SERVICES', 'reject', 'drop', 'iptables -t filter -A MINID-SERVICES -d 10.98.0.1/32 -j REJECT')]);
    const path: PacketPath = { direction: 'original', flags: 'SYN', hops: [hop('PREROUTING', 'cni0', C, VIP), fwd], dropped: { hop: fwd, by: 'iptables -t filter -A MINID-SERVICES -d 10.98.0.1/32 -j REJECT' } };
    const v = diagnoseCluster(ctx({ node1: [path] }, { endpoints: [], outcome: 'refused' }));
    expect(v.hook).toBe('node1: FORWARD (cni0 → eth0)');
    expect(v.details[1]).toContain('has no endpoints');
  });

  it('the backend answers RST: nothing listens', () => {
    const p = connected();
    p.node2[1].flags = 'RST-ACK';
    expect(diagnoseCluster(ctx(p, { outcome: 'refused' })).summary).toContain('answered RST');
  });
});
