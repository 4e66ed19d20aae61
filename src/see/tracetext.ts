// The trace as text: the path hook by hook, each hit as the iptables command behind it, the
// conntrack entry, and the verdict (where the packet died, and what killed it). Pure.
import { reachedPort, type Hit, type Hop, type PacketPath } from './tracereport.js';
import type { PortBinding } from '../network/types.js';

export interface TraceContext {
  container: { name: string; id: string; ip: string; bridge: string; veth: string; netns: string };
  binding: PortBinding;
  /** Who probes: 'host (192.0.2.2)', '127.0.0.1', 'container client (10.0.0.3)'. */
  source: string;
  /** The address the probe dials. */
  dst: string;
  sport: number;
  table: string;
  probe: string;
  outcome: 'connected' | 'refused' | 'timeout';
  /** `ss -Htln` in the container's namespace for the container port ('' = nothing listens). */
  listening: string;
  conntrack: string[];
  /** minid's DNAT rule for the port: its line when present, and the comment it carries. */
  dnatRule: { present: string | null; comment: string };
  /** Said after the header (e.g. iptables is not nft-based here). */
  notes?: string[];
}

export interface Verdict {
  ok: boolean;
  /** One line: connected, or where it died and why. */
  summary: string;
  /** The hook where it died (absent when it connected). */
  hook?: string;
  /** The rule or the missing piece that killed it, and how to check/fix. */
  details: string[];
}

const isDnat = (h: Hit) => /\bdnat to\b/.test(h.nft);
const isMasq = (h: Hit) => /\bmasquerade\b/.test(h.nft);
const allHits = (p?: PacketPath) => (p ? p.hops.flatMap((h) => h.hits) : []);

/** Where the probe's connection got to, and, if it failed, why. */
export function diagnose(paths: PacketPath[], ctx: TraceContext): Verdict {
  const orig = paths.find((p) => p.direction === 'original');
  const reply = paths.find((p) => p.direction === 'reply');
  const port = ctx.binding.hostPort;
  const cport = `${ctx.container.ip}:${ctx.binding.containerPort}`;
  if (ctx.outcome === 'connected' && reply && !/RST/.test(reply.flags)) {
    return { ok: true, summary: `connected: ${cport} answered ${reply.flags}`, details: [] };
  }
  if (!orig) {
    return {
      ok: false,
      summary: `no packet of the probe was seen (${ctx.outcome})`,
      details: ['the kernel reported nothing for the probe: is nf_tables tracing available (`nft monitor trace`)?'],
    };
  }
  for (const p of paths) {
    if (p.dropped) {
      const h = p.dropped.hop;
      return {
        ok: false,
        hook: h.hook,
        summary: `the ${p.direction === 'original' ? 'probe' : 'reply'} died at ${hookTitle(h)}: a rule dropped it`,
        details: [`killed by: ${p.dropped.by}`],
      };
    }
  }
  const dnat = allHits(orig).find(isDnat);
  const last = orig.hops[orig.hops.length - 1];
  const reached = reachedPort(orig, ctx.container.veth);
  if (!dnat) {
    const where = orig.hops.find((h) => h.hook === 'INPUT') ?? last;
    const details = [
      `no DNAT rule matched in nat ${orig.hops[0]?.hook ?? 'PREROUTING'} → MINID-DNAT: the packet stayed addressed to ${ctx.dst}:${port}, the host itself,` +
        ` so routing delivered it to INPUT, where nothing listens on ${port}` + (ctx.outcome === 'refused' ? ': the host answered RST (connection refused)' : ''),
    ];
    if (!ctx.dnatRule.present) {
      details.push(`missing: minid's DNAT rule for ${port} (comment ${ctx.dnatRule.comment}) is not in MINID-DNAT: \`iptables -t nat -S MINID-DNAT\` shows what is left`);
      details.push(`fix: \`minid rm -f ${ctx.container.name}\` and run it again with -p ${port}:${ctx.binding.containerPort}, or re-add the rule: ` +
        `iptables -t nat -A MINID-DNAT -p tcp -m tcp --dport ${port} -m comment --comment "${ctx.dnatRule.comment}" -j DNAT --to-destination ${cport}`);
    } else {
      details.push(`the rule is there but did not match: ${ctx.dnatRule.present} (a -d address other than ${ctx.dst}? the jump from ${orig.hops[0]?.hook} missing?)`);
    }
    return { ok: false, hook: hookTitle(where), summary: `the probe died at ${hookTitle(where)}: it was never DNATed to ${cport}`, details };
  }
  if (!reached) {
    return {
      ok: false,
      hook: hookTitle(last),
      summary: `the probe was DNATed to ${cport} but never left by bridge port ${ctx.container.veth}; last seen at ${hookTitle(last)}`,
      details: [
        `check the route to ${ctx.container.ip} (\`ip route get ${ctx.container.ip}\`), the bridge ${ctx.container.bridge} and port ${ctx.container.veth} being up (\`ip -br link show master ${ctx.container.bridge}\`), and FORWARD (\`iptables -S FORWARD\`)`,
      ],
    };
  }
  const src = orig.hops[0]?.src.split(':')[0] ?? '';
  if (!reply && src.startsWith('127.') && !allHits(orig).some(isMasq)) {
    const network = ctx.dnatRule.comment.split(':').slice(0, 3).join(':');
    return {
      ok: false,
      hook: `the container ${ctx.container.name}'s eth0 (a martian source)`,
      summary: `the probe reached ${cport} with its source still ${src}: to the container's kernel a packet from its own loopback address arriving on eth0 is a martian, dropped, never answered`,
      details: [
        `missing: the MASQUERADE of 127.0.0.0/8 going out by ${ctx.container.bridge} (\`iptables -t nat -S MINID-POSTROUTING\`)`,
        `fix: iptables -t nat -A MINID-POSTROUTING -s 127.0.0.0/8 -o ${ctx.container.bridge} -m comment --comment "${network}" -j MASQUERADE`,
      ],
    };
  }
  if (reply && /RST/.test(reply.flags)) {
    return {
      ok: false,
      hook: `the container's socket`,
      summary: `the probe reached ${ctx.container.name}, which answered RST: nothing listens on ${ctx.binding.containerPort} inside`,
      details: [`check: ss -N ${ctx.container.netns} -tln   (the app must listen on 0.0.0.0:${ctx.binding.containerPort}, not 127.0.0.1)`],
    };
  }
  return {
    ok: false,
    hook: `bridge port ${ctx.container.veth}`,
    summary: `the probe left by bridge port ${ctx.container.veth} toward ${cport}, but no answer came back (${ctx.outcome})`,
    details: [
      ctx.listening ? `something listens in the container (${ctx.listening.split('\n')[0].trim()}): look at the container's firewall, or whether the reply went elsewhere` : `nothing listens on ${ctx.binding.containerPort} in the container (ss -N ${ctx.container.netns} -tln)`,
      `check the container end is up: ip -n ${ctx.container.netns} -br link`,
    ],
  };
}

function hookTitle(h: Hop): string {
  if (h.hook === 'bridge out') return `bridge port ${h.dev} (leaving the bridge)`;
  if (h.hook === 'bridge in') return `bridge port ${h.dev} (entering the bridge)`;
  if (h.hook === 'bridge forward') return `bridge forward ${h.dev} (from port to port)`;
  if (h.hook === 'FORWARD') return `FORWARD (${h.dev ?? '?'})`;
  const dir = h.hook === 'PREROUTING' || h.hook === 'INPUT' ? 'iif' : 'oif';
  return `${h.hook} (${dir} ${h.dev ?? '?'})`;
}

const WHY: Record<string, string> = {
  PREROUTING: 'a packet arriving from an interface, before the routing decision',
  OUTPUT: 'a packet the host itself sends, before it leaves (nat OUTPUT may still rewrite it: then it is routed again)',
  INPUT: 'the routing decision found a local address: the packet is delivered to the host',
  FORWARD: 'the routing decision found another interface: the host routes the packet (ip_forward)',
  POSTROUTING: 'the last hook before the interface: source NAT (MASQUERADE) happens here',
  'bridge out': 'the bridge hands the frame to one of its ports: the veth whose other end is the container',
  'bridge in': 'a frame enters the bridge by a port: from the container',
  'bridge forward':
    'the bridge passes the frame from one port to another; with br_netfilter (bridge-nf-call-iptables=1) iptables sees it too, which is why hairpin needs MASQUERADE',
};

/** The routing decision between two hops, when there is one to show. */
function routing(prev: Hop, next: Hop): string | null {
  if (prev.hook !== 'PREROUTING' && prev.hook !== 'OUTPUT') return null;
  const dst = next.dst.split(':')[0];
  if (next.hook === 'INPUT') return `routing decision: ${dst} is an address of this host → INPUT`;
  if (next.hook === 'bridge forward') {
    return `routing decision (br_netfilter routes the bridged packet after DNAT): ${dst} is behind ${prev.dev ?? '?'} again → back into the bridge   check: ip route get ${dst}`;
  }
  if (next.hook === 'FORWARD' || next.hook === 'POSTROUTING') {
    const again = prev.hook === 'OUTPUT' && prev.dst !== next.dst ? ' (routed again: nat OUTPUT changed the destination)' : '';
    return `routing decision: ${dst} via ${(next.dev ?? '?').split(' → ').pop()}${again} → ${next.hook}   check: ip route get ${dst}`;
  }
  return null;
}

function hitLines(h: Hit): string[] {
  const verdict = h.verdict.replace(/^jump /, 'jump → ');
  const what = h.iptables ?? `nft: ${h.nft}`;
  const owner = h.comment?.startsWith('minid:') ? `   [minid's rule ${h.comment}]` : h.comment === 'minid' ? "   [minid's hook]" : '';
  return [`      ${h.table} ${h.chain}: ${what}`, `          → ${verdict}${owner}`];
}

export function renderTrace(paths: PacketPath[], ctx: TraceContext, v: Verdict): string {
  const c = ctx.container;
  const L: string[] = [];
  L.push(`trace: ${ctx.source} → ${ctx.dst}:${ctx.binding.hostPort}/tcp, published by ${c.name} (${c.id.slice(0, 12)}) as ${c.ip}:${ctx.binding.containerPort}`);
  L.push(`probe: ${ctx.probe}`);
  L.push(`       source port ${ctx.sport} (outside the kernel's ephemeral range): the trace table ${ctx.table} marks only this connection's SYN, SYN-ACK and RST`);
  L.push(`       (nftables: \`meta nftrace set 1\` in minid's own table, read back with \`nft monitor trace\`; the table is removed afterwards)`);
  for (const n of ctx.notes ?? []) L.push(`note:  ${n}`);
  let n = 0;
  const seen = new Set<string>();
  for (const p of paths) {
    L.push('');
    const again = seen.has(`${p.direction} ${p.flags}`) ? ', sent again: TCP retransmits when no answer comes' : '';
    seen.add(`${p.direction} ${p.flags}`);
    L.push(p.direction === 'original' ? `→ the probe (${p.flags}${again})` : `← the reply (${p.flags}${again})`);
    p.hops.forEach((h, i) => {
      const r = i > 0 ? routing(p.hops[i - 1], h) : null;
      if (r) L.push(`  ${++n}. ${r}`);
      L.push(`  ${++n}. ${hookTitle(h)}   ${h.src} → ${h.dst}`);
      L.push(`      (${WHY[h.hook] ?? ''})`);
      const tables = h.tables.filter((t) => t !== ctx.table);
      if (tables.length) L.push(`      tables seen here: ${tables.join(', ')}`);
      for (const hit of h.hits) L.push(...hitLines(hit));
      if (h.policy && !h.hits.some((x) => x.nft.startsWith('policy'))) L.push(`      ${h.policy}`);
    });
    if (p.direction === 'original' && reachedPort(p, c.veth)) {
      L.push(`  ${++n}. the container's socket in ${c.netns}: ${ctx.listening ? ctx.listening.split('\n')[0].replace(/\s+/g, ' ').trim() : `nothing listens on ${ctx.binding.containerPort}`}   check: ss -N ${c.netns} -tln`);
    }
    if (p.direction === 'reply' && !/RST/.test(p.flags) && p.hops.length) {
      L.push(`  ${++n}. the probe's socket: conntrack undid the NAT on the way back, so the answer comes from ${ctx.dst}:${ctx.binding.hostPort}, the address it dialled`);
    }
  }
  L.push('');
  const o = paths.find((p) => p.direction === 'original');
  const dnat = allHits(o).find(isDnat);
  const masq = allHits(o).find(isMasq);
  L.push('rules that rewrote the probe:');
  L.push(`  DNAT:       ${dnat ? dnat.iptables ?? dnat.nft : 'none matched'}`);
  const first = o?.hops[0]?.src.split(':')[0] ?? '?';
  const keeps = !dnat ? '' : first.startsWith('127.') ? `: the source stays ${first}, the container's own loopback address` : `: the source ${first} stays, the container answers it by its default route`;
  L.push(`  MASQUERADE: ${masq ? masq.iptables ?? masq.nft : `none matched${keeps}`}`);
  L.push('');
  L.push('conntrack entry (conntrack -L -p tcp --orig-port-src ' + ctx.sport + '):');
  if (ctx.conntrack.length) ctx.conntrack.forEach((l) => L.push('  ' + l));
  else L.push('  none (the kernel kept no connection for the probe)');
  L.push('');
  L.push(`result: ${v.summary}`);
  if (v.hook) L.push(`died at: ${v.hook}`);
  v.details.forEach((d) => L.push(`  ${d}`));
  return L.join('\n') + '\n';
}
