// The trace-event parser and the trace report, on `nft -a monitor trace` output recorded on a
// Debian 12 host (iptables 1.8.9, nf_tables backend) while `minid trace` ran: a container "web"
// publishing 18080 -> 80 on bridge mhtr0 (10.199.77.0/24), store 48aab0f1. Other tables' marks
// (the marker packets, another helper's rules) are in the recordings as they were.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { groupPackets, parseNftHandles, parseTraceLine, traceTableScript, type TraceEvent } from '../../../src/see/nftrace.js';
import { describeConntrack, iptablesByPlace, parseConntrack, pathOf, reachedPort, type RuleBook } from '../../../src/see/tracereport.js';
import { diagnose, renderTrace, type TraceContext } from '../../../src/see/tracetext.js';

const dir = path.resolve(__dirname, '../../fixtures/trace');
const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');

function events(file: string): TraceEvent[] {
  return read(file)
    .split('\n')
    .map(parseTraceLine)
    .filter((e): e is TraceEvent => e !== null);
}

/** The table name and probe port of a recording: from its first line in minid's table. */
function recorded(file: string): { table: string; sport: number } {
  const m = /inet (minid_trace_48aab0f1_(\d+)) /.exec(read(file))!;
  return { table: m[1], sport: Number(m[2]) };
}

function book(): RuleBook {
  const places = new Map();
  for (const t of ['nat', 'filter']) for (const [h, p] of parseNftHandles(read(`${t}.nft`))) places.set(`${t} ${h}`, p);
  return { places, iptables: iptablesByPlace(read('iptables-save.txt')) };
}

function ctx(file: string, over: Partial<TraceContext> = {}): TraceContext {
  const r = recorded(file);
  return {
    container: { name: 'web', id: '0f937b9d11e2aaaa', ip: '10.199.77.2', bridge: 'mhtr0', veth: 'mv0f937b9d', netns: 'minid-0f937b9d11e2' },
    binding: { protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 18080, containerPort: 80 },
    source: '127.0.0.1',
    dst: '127.0.0.1',
    sport: r.sport,
    table: r.table,
    probe: 'curl ...',
    outcome: 'connected',
    listening: 'LISTEN 0 9 *:80 *:*',
    conntrack: [],
    dnatRule: { present: 'iptables -t nat -A MINID-DNAT ...', comment: 'minid:48aab0f1:bridge:web:0f937b9d11e2' },
    ...over,
  };
}

function paths(file: string) {
  const r = recorded(file);
  return groupPackets(events(file), r.table, r.sport).map((p) => pathOf(p, r.table, book()));
}

describe('parseTraceLine', () => {
  it('reads a packet line: the interface, addresses, ports and flags', () => {
    const e = parseTraceLine(
      'trace id 5c6a5d34 ip nat POSTROUTING packet: oif "mhtr0" ip saddr 127.0.0.1 ip daddr 10.199.77.2 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 40182 ip length 60 tcp sport 40123 tcp dport 80 tcp flags == syn tcp window 65495 ',
    )!;
    expect(e).toMatchObject({ id: '5c6a5d34', family: 'ip', table: 'nat', chain: 'POSTROUTING', kind: 'packet' });
    expect(e.fields).toMatchObject({ oif: 'mhtr0', 'ip saddr': '127.0.0.1', 'ip daddr': '10.199.77.2', 'tcp sport': '40123', 'tcp dport': '80', 'tcp flags': 'syn' });
  });

  it('reads a rule line: its text, handle and verdict', () => {
    const e = parseTraceLine('trace id e380ad34 ip nat MINID-DNAT rule tcp dport 18080  counter packets 2 bytes 120 dnat to 10.199.77.2:80 # handle 15334 (verdict accept)')!;
    expect(e).toMatchObject({ kind: 'rule', chain: 'MINID-DNAT', handle: 15334, verdict: 'accept', rule: 'tcp dport 18080 counter packets 2 bytes 120 dnat to 10.199.77.2:80' });
    expect(parseTraceLine('trace id e380ad34 ip nat OUTPUT rule fib daddr type local  counter packets 3 bytes 180 jump MINID-DNAT # handle 15329 (verdict jump MINID-DNAT)')!.verdict).toBe('jump MINID-DNAT');
  });

  it('reads a policy line and ignores what is not a trace line', () => {
    expect(parseTraceLine('trace id 5c6a5d34 ip filter INPUT policy drop ')).toMatchObject({ kind: 'policy', verdict: 'drop' });
    expect(parseTraceLine('# Warning: table ip nat is managed by iptables-nft, do not touch!')).toBeNull();
    expect(parseTraceLine('')).toBeNull();
  });
});

describe('parseNftHandles + iptablesByPlace: an nft rule back to the iptables command', () => {
  it('finds minid rules by their place in the chain, with their comment', () => {
    const b = book();
    const dnat = [...b.places.entries()].find(([k, p]) => k.startsWith('nat ') && p.chain === 'MINID-DNAT' && p.index === 2)!;
    expect(b.iptables.get('nat MINID-DNAT')![2]).toContain('--dport 18080');
    expect(dnat[0]).toBe('nat 15403');
  });
});

describe('the traced path', () => {
  it('127.0.0.1 to a published port: OUTPUT DNAT, routed again, MASQUERADE, out by the bridge port, SYN-ACK back', () => {
    const ps = paths('localhost-ok.txt');
    expect(ps.map((p) => `${p.direction} ${p.flags}`)).toEqual(['original SYN', 'reply SYN-ACK']);
    const [o, r] = ps;
    expect(o.hops.map((h) => h.hook)).toEqual(['OUTPUT', 'POSTROUTING', 'bridge out']);
    const hits = o.hops.flatMap((h) => h.hits);
    expect(hits.find((h) => /dnat to/.test(h.nft))!.iptables).toBe(
      'iptables -t nat -A MINID-DNAT -p tcp -m tcp --dport 18080 -m comment --comment "minid:48aab0f1:bridge:web:0f937b9d11e2" -j DNAT --to-destination 10.199.77.2:80',
    );
    expect(hits.find((h) => /masquerade/.test(h.nft))!.comment).toBe('minid:48aab0f1:bridge');
    expect(reachedPort(o, 'mv0f937b9d')).toBe(true);
    expect(r.hops.map((h) => h.hook)).toEqual(['bridge in', 'PREROUTING', 'INPUT']);
    expect(diagnose(ps, ctx('localhost-ok.txt')).ok).toBe(true);
  });

  it('from another container to the host address (hairpin): DNAT in PREROUTING, bridge forward, FORWARD, hairpin MASQUERADE', () => {
    const ps = paths('hairpin-ok.txt');
    const o = ps.find((p) => p.direction === 'original')!;
    expect(o.hops.map((h) => h.hook)).toEqual(['bridge in', 'PREROUTING', 'bridge forward', 'FORWARD', 'POSTROUTING']);
    const masq = o.hops.flatMap((h) => h.hits).find((h) => /masquerade/.test(h.nft))!;
    expect(masq.iptables).toContain('-o mhtr0 -m conntrack --ctstate DNAT');
    expect(reachedPort(o, 'mv0f937b9d')).toBe(true);
    const text = renderTrace(ps, ctx('hairpin-ok.txt', { source: 'container client (10.199.77.3)', dst: '192.0.2.2' }), diagnose(ps, ctx('hairpin-ok.txt')));
    expect(text).toContain('br_netfilter');
    expect(text).toMatch(/MASQUERADE: iptables -t nat -A MINID-POSTROUTING -s 10\.199\.77\.0\/24 -o mhtr0/);
  });

  it('with the DNAT rule gone: the probe is delivered to the host (INPUT) and refused; the missing rule is named', () => {
    const ps = paths('localhost-no-dnat.txt');
    const o = ps.find((p) => p.direction === 'original')!;
    expect(o.hops.map((h) => h.hook)).toEqual(['OUTPUT', 'POSTROUTING', 'PREROUTING', 'INPUT']);
    expect(ps.find((p) => p.direction === 'reply')!.flags).toMatch(/RST/);
    const c = ctx('localhost-no-dnat.txt', { outcome: 'refused', dnatRule: { present: null, comment: 'minid:48aab0f1:bridge:web:0f937b9d11e2' } });
    const v = diagnose(ps, c);
    expect(v.ok).toBe(false);
    expect(v.hook).toBe('INPUT (iif lo)');
    expect(v.details.join('\n')).toContain('iptables -t nat -A MINID-DNAT -p tcp -m tcp --dport 18080');
    const text = renderTrace(ps, c, v);
    expect(text).toContain('died at: INPUT (iif lo)');
    expect(text).toContain('DNAT:       none matched');
  });

  it('names a rule that dropped the packet, and its hook', () => {
    const lines = [
      'trace id 00000001 inet minid_trace_48aab0f1_61000 out packet: oif "lo" ip saddr 127.0.0.1 ip daddr 127.0.0.1 ip protocol tcp tcp sport 61000 tcp dport 18080 tcp flags == syn',
      'trace id 00000001 ip nat OUTPUT packet: oif "lo" ip saddr 127.0.0.1 ip daddr 127.0.0.1 tcp sport 61000 tcp dport 18080 tcp flags == syn',
      'trace id 00000001 ip nat POSTROUTING packet: oif "mhtr0" ip saddr 127.0.0.1 ip daddr 10.199.77.2 tcp sport 61000 tcp dport 80 tcp flags == syn',
      'trace id 00000001 ip filter OUTPUT packet: oif "mhtr0" ip saddr 127.0.0.1 ip daddr 10.199.77.2 tcp sport 61000 tcp dport 80 tcp flags == syn',
      'trace id 00000001 ip filter OUTPUT rule ip daddr 10.199.77.2 counter packets 1 bytes 60 drop # handle 99999 (verdict drop)',
    ];
    const evs = lines.map(parseTraceLine).filter((e): e is TraceEvent => e !== null);
    const ps = groupPackets(evs, 'minid_trace_48aab0f1_61000', 61000).map((p) => pathOf(p, 'minid_trace_48aab0f1_61000', book()));
    const v = diagnose(ps, ctx('localhost-ok.txt', { outcome: 'timeout' }));
    expect(v.ok).toBe(false);
    expect(v.summary).toContain('died at OUTPUT (oif mhtr0)');
    expect(v.details[0]).toContain('drop');
  });
});

describe('the verdict without MASQUERADE of 127.0.0.0/8', () => {
  it('the probe reaches the container with source 127.0.0.1, a martian there: the missing rule is named', () => {
    const T = 'minid_trace_48aab0f1_61000';
    const lines = [
      `trace id 00000002 inet ${T} out packet: oif "lo" ip saddr 127.0.0.1 ip daddr 127.0.0.1 tcp sport 61000 tcp dport 18080 tcp flags == syn`,
      'trace id 00000002 ip nat MINID-DNAT rule tcp dport 18080 counter packets 1 bytes 60 dnat to 10.199.77.2:80 # handle 15403 (verdict accept)',
      `trace id 00000002 bridge ${T} out packet: oif "mv0f937b9d" ip saddr 127.0.0.1 ip daddr 10.199.77.2 tcp sport 61000 tcp dport 80 tcp flags == syn`,
    ];
    const evs = lines.map(parseTraceLine).filter((e): e is TraceEvent => e !== null);
    const ps = groupPackets(evs, T, 61000).map((p) => pathOf(p, T, book()));
    const v = diagnose(ps, ctx('localhost-ok.txt', { outcome: 'timeout', table: T, sport: 61000 }));
    expect(v.ok).toBe(false);
    expect(v.summary).toContain('martian');
    expect(v.details.join('\n')).toContain('iptables -t nat -A MINID-POSTROUTING -s 127.0.0.0/8 -o mhtr0 -m comment --comment "minid:48aab0f1:bridge" -j MASQUERADE');
  });
});

describe('conntrack', () => {
  it('shows original → DNAT → reply', () => {
    const e = parseConntrack(
      'tcp      6 118 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=40123 dport=18080 src=10.199.77.2 dst=10.199.77.1 sport=80 dport=40123 [ASSURED] mark=0 use=1\n',
    )!;
    expect(describeConntrack(e)).toEqual([
      'original  127.0.0.1:40123 → 127.0.0.1:18080',
      'DNAT      destination 127.0.0.1:18080 → 10.199.77.2:80 (the reply comes from there)',
      'reply     10.199.77.2:80 → 10.199.77.1:40123  (source NAT: the container answers 10.199.77.1, conntrack turns it back into 127.0.0.1)',
      'state     TIME_WAIT',
    ]);
    expect(parseConntrack('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n')).toBeNull();
  });
});

describe('traceTableScript', () => {
  it("marks only the probe's SYN/SYN-ACK/RST, in minid's own inet and bridge tables, before raw", () => {
    const s = traceTableScript('minid_trace_48aab0f1_61000', 61000);
    expect(s).toContain('table inet minid_trace_48aab0f1_61000 {');
    expect(s).toContain('table bridge minid_trace_48aab0f1_61000 {');
    expect(s).toContain('tcp sport 61000 tcp flags & (syn|rst) != 0 meta nftrace set 1');
    expect(s).toContain('priority -350');
    expect(s).not.toMatch(/table ip (nat|filter)/);
  });
});
