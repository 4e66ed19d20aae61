// `minid trace service:NAME --from NODE/POD` as text: one probe connection from a pod on one
// node to a service, followed through every node's netfilter (each node traced in its own
// namespace), hook by hook: the source node's service chains (MINID-SERVICES → MINID-SVC-x →
// MINID-SEP-y, the DNAT to a backend pod), its routing decision (a route via the other node's
// LAN address, or the vxlan1 overlay), the backend node's FORWARD and bridge port, the backend's
// socket, the reply back. Pure: src/cluster/trace.ts runs the commands; unit tests feed paths.
import { reachedPort, type Hit, type Hop, type PacketPath } from './tracereport.js';

export interface TraceNode {
  name: string;
  netns: string;
  /** Its LAN address and pod subnet. */
  ip: string;
  podSubnet: string;
}

export interface TraceEndpoint {
  node: string;
  container: string;
  ip: string;
  port: number;
  /** The node end of its veth pair (the bridge port it is behind). */
  veth: string;
  netns: string;
}

export interface ClusterTraceContext {
  mode: 'routes' | 'vxlan';
  service: { name: string; vip: string; port: number };
  endpoints: TraceEndpoint[];
  client: { name: string; node: string; ip: string };
  nodes: TraceNode[];
  /** The packets of the probe as each node's kernel reported them (node name → paths). */
  paths: Record<string, PacketPath[]>;
  sport: number;
  table: string;
  probe: string;
  outcome: 'connected' | 'refused' | 'timeout' | 'failed';
  /** `ip route get BACKEND` on the source node, after the probe ('' when not asked). */
  routeGet: string;
  /** `ss -Htln` in the backend's namespace, by backend IP. */
  listening: Record<string, string>;
  /** The source node's conntrack entry, described (describeConntrack). */
  conntrack: string[];
}

export interface ClusterVerdict {
  ok: boolean;
  summary: string;
  /** Where the packet died: 'node1: the routing decision after PREROUTING'. */
  hook?: string;
  details: string[];
}

const hits = (paths: PacketPath[] | undefined): Hit[] => (paths ?? []).flatMap((p) => p.hops.flatMap((h) => h.hits));
const isDnat = (h: Hit) => /\bdnat to\b/.test(h.nft);
const ipOf = (hostPort: string) => hostPort.split(':')[0];

/** The backend the service chain picked: the `dnat to IP:PORT` of the source node's MINID-SEP rule. */
export function chosenBackend(ctx: ClusterTraceContext): TraceEndpoint | null {
  const d = hits(ctx.paths[ctx.client.node]).find(isDnat);
  const m = d ? /dnat to (\d+\.\d+\.\d+\.\d+)(?::(\d+))?/.exec(d.nft) : null;
  if (!m) return null;
  return ctx.endpoints.find((e) => e.ip === m[1]) ?? { node: '?', container: '?', ip: m[1], port: Number(m[2] ?? ctx.service.port), veth: '', netns: '' };
}

const of = (ctx: ClusterTraceContext, node: string, dir: 'original' | 'reply') => (ctx.paths[node] ?? []).filter((p) => p.direction === dir && p.hops.length);

/** Where the probe's connection got to, and, if it failed, where it died and why. Pure. */
export function diagnoseCluster(ctx: ClusterTraceContext): ClusterVerdict {
  const src = ctx.client.node;
  const origSrc = of(ctx, src, 'original');
  const svc = `${ctx.service.vip}:${ctx.service.port}`;
  if (!origSrc.length) {
    return { ok: false, summary: `no packet of the probe was seen on ${src} (${ctx.outcome})`, details: ['the kernel reported nothing for the probe: is nf_tables tracing available in the node (`nft monitor trace`)?'] };
  }
  for (const n of ctx.nodes) {
    for (const p of ctx.paths[n.name] ?? []) {
      if (!p.dropped) continue;
      return {
        ok: false,
        hook: `${n.name}: ${hookTitle(p.dropped.hop)}`,
        summary: `the ${p.direction === 'original' ? 'probe' : 'reply'} died on ${n.name} at ${hookTitle(p.dropped.hop)}: a rule dropped or rejected it`,
        details: [
          `killed by: ${p.dropped.by}`,
          ...(ctx.endpoints.length
            ? []
            : [`the service ${ctx.service.name} has no endpoints (no running pod matches its selector): kube-proxy's REJECT answers "connection refused" at once`]),
        ],
      };
    }
  }
  const be = chosenBackend(ctx);
  if (!be) {
    const last = origSrc[0].hops[origSrc[0].hops.length - 1];
    return {
      ok: false,
      hook: `${src}: ${hookTitle(origSrc[0].hops[0])}`,
      summary: `the probe was never DNATed on ${src}: no rule of MINID-SERVICES sent ${svc} to a MINID-SVC chain (last seen at ${hookTitle(last)})`,
      details: [`check: nsenter --net=/run/netns/${nodeOf(ctx, src)?.netns} iptables -t nat -S MINID-SERVICES   (the service's rule -d ${ctx.service.vip}/32 --dport ${ctx.service.port}), and \`minid service sync\``],
    };
  }
  const beAt = `${be.ip}:${be.port}`;
  const origBe = of(ctx, be.node, 'original');
  if (be.node !== src && !origBe.length) {
    const p = origSrc[origSrc.length - 1];
    const left = p.hops.find((h) => h.hook === 'POSTROUTING' || h.hook === 'FORWARD');
    const sn = nodeOf(ctx, src);
    const bn = nodeOf(ctx, be.node);
    if (!left) {
      const details = [`${sn?.name} has no route to ${be.ip}: \`ip -n ${sn?.netns} route get ${be.ip}\` says: ${ctx.routeGet.trim() || '(nothing)'}`];
      if (bn) {
        details.push(
          ctx.mode === 'vxlan'
            ? `missing: the overlay's route to ${bn.name}'s pods: ip -n ${sn?.netns} route add ${bn.podSubnet} via ${bn.podSubnet.split('/')[0]} dev vxlan1 onlink`
            : `missing: the route to ${bn.name}'s pods: ip -n ${sn?.netns} route add ${bn.podSubnet} via ${bn.ip}   (\`minid cluster status\` shows the routes each node should have)`,
        );
      }
      return {
        ok: false,
        hook: `${src}: the routing decision after PREROUTING`,
        summary: `the probe died on ${src} at the routing decision: DNATed to ${beAt} (${be.container} on ${be.node}), but ${src} has no route to ${be.ip}`,
        details,
      };
    }
    return {
      ok: false,
      hook: `the LAN between ${src} and ${be.node}`,
      summary: `the probe left ${src} (${hookTitle(p.hops[p.hops.length - 1])}) toward ${beAt} but never reached ${be.node}`,
      details: [`check the LAN: the uplinks and ${ctx.mode === 'vxlan' ? "vxlan1's FDB (`bridge fdb show dev vxlan1`)" : 'the route on ' + src + ` (\`ip -n ${sn?.netns} route get ${be.ip}\`)`}`],
    };
  }
  const beLast = origBe[origBe.length - 1];
  if (!origBe.some((p) => reachedPort(p, be.veth))) {
    const last = beLast.hops[beLast.hops.length - 1];
    return {
      ok: false,
      hook: `${be.node}: ${hookTitle(last)}`,
      summary: `the probe reached ${be.node} but never left by bridge port ${be.veth} toward ${be.container} (${beAt}); last seen at ${hookTitle(last)}`,
      details: [`check on ${be.node}: the route to ${be.ip}, the bridge port ${be.veth} being up, and FORWARD (\`iptables -S FORWARD\` in the node)`],
    };
  }
  const replyBe = of(ctx, be.node, 'reply');
  if (replyBe.some((p) => /RST/.test(p.flags))) {
    return { ok: false, hook: `${be.container}'s socket`, summary: `the probe reached ${be.container} on ${be.node}, which answered RST: nothing listens on ${be.port}`, details: [`check: ss -N ${be.netns} -tln`] };
  }
  if (!replyBe.length) {
    return { ok: false, hook: `bridge port ${be.veth} on ${be.node}`, summary: `the probe left by bridge port ${be.veth} toward ${beAt}, but no answer came back (${ctx.outcome})`, details: [`check: ss -N ${be.netns} -tln`] };
  }
  const replySrc = of(ctx, src, 'reply');
  if (!replySrc.length || ctx.outcome !== 'connected') {
    return { ok: false, hook: `the way back from ${be.node} to ${src}`, summary: `${be.container} answered (${replyBe[0].flags}), but the reply never reached ${src}'s pod (${ctx.outcome})`, details: [`check ${be.node}'s route back to ${ctx.client.ip}`] };
  }
  return { ok: true, summary: `connected: ${be.container} on ${be.node} (${beAt}) answered ${replyBe[0].flags}; ${ctx.client.name} saw it come from ${svc}`, details: [] };
}

const nodeOf = (ctx: ClusterTraceContext, name: string) => ctx.nodes.find((n) => n.name === name);

function hookTitle(h: Hop): string {
  if (h.hook === 'bridge out') return `bridge port ${h.dev} (leaving the bridge)`;
  if (h.hook === 'bridge in') return `bridge port ${h.dev} (entering the bridge)`;
  if (h.hook === 'bridge forward') return `bridge forward ${h.dev}`;
  if (h.hook === 'FORWARD') return `FORWARD (${h.dev ?? '?'})`;
  const dir = h.hook === 'PREROUTING' || h.hook === 'INPUT' ? 'iif' : 'oif';
  return `${h.hook} (${dir} ${h.dev ?? '?'})`;
}

/** The routing decision between two hops of a node, when there is one to show. */
function routing(node: TraceNode, prev: Hop, next: Hop, ctx: ClusterTraceContext): string | null {
  if (prev.hook !== 'PREROUTING' || (next.hook !== 'FORWARD' && next.hook !== 'INPUT')) return null;
  const dst = ipOf(next.dst);
  if (next.hook === 'INPUT') return `routing decision on ${node.name}: ${dst} is an address of the node → INPUT`;
  const oif = (next.dev ?? '?').split(' → ').pop();
  const owner = ctx.nodes.find((n) => n.name !== node.name && inSubnet(dst, n.podSubnet));
  const how =
    owner && oif === 'vxlan1'
      ? `: ${owner.name}'s pod subnet ${owner.podSubnet} is behind the overlay (vxlan1 wraps the packet in UDP 8472 to ${owner.ip})`
      : owner
        ? `: ${owner.name}'s pod subnet ${owner.podSubnet} via ${owner.ip}, ${owner.name}'s LAN address`
        : inSubnet(dst, node.podSubnet)
          ? `: a pod of ${node.name}, on its bridge`
          : '';
  return `routing decision on ${node.name}: ${dst} out by ${oif}${how} → FORWARD   check: ip -n ${node.netns} route get ${dst}`;
}

export function inSubnet(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/');
  const n = (a: string) => a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(net) / size);
}

function hitLines(h: Hit): string[] {
  const what = h.iptables ?? `nft: ${h.nft}`;
  return [`        ${h.table} ${h.chain}: ${what}`, `            → ${h.verdict.replace(/^jump /, 'jump → ')}`];
}

export function renderClusterTrace(ctx: ClusterTraceContext, v: ClusterVerdict): string {
  const L: string[] = [];
  const s = ctx.service;
  const eps = ctx.endpoints.map((e) => `${e.ip}:${e.port} (${e.container} on ${e.node})`).join(', ') || 'none';
  L.push(`trace: pod ${ctx.client.name} (${ctx.client.ip}) on ${ctx.client.node} → service ${s.name} ${s.vip}:${s.port}/tcp, endpoints ${eps}`);
  L.push(`probe: ${ctx.probe}`);
  L.push(`       source port ${ctx.sport}: the trace table ${ctx.table}, made in every node's namespace, marks only this connection's SYN, SYN-ACK and RST`);
  L.push(`       (\`nft monitor trace\` runs inside each node; the tables are removed afterwards; mode ${ctx.mode})`);
  const be = chosenBackend(ctx);
  const src = ctx.client.node;
  // The probe goes source node → backend node, the reply the other way; other nodes last.
  const order = (dir: 'original' | 'reply') => {
    const pair = be && be.node !== src ? [src, be.node] : [src];
    const others = ctx.nodes.map((n) => n.name).filter((n) => !pair.includes(n));
    return [...(dir === 'original' ? pair : [...pair].reverse()), ...others];
  };
  let k = 0;
  for (const dir of ['original', 'reply'] as const) {
    L.push('');
    const all = ctx.nodes.flatMap((n) => of(ctx, n.name, dir));
    const flags = all[0]?.flags ?? '';
    L.push(dir === 'original' ? `→ the probe (${flags || 'SYN'})` : `← the reply${flags ? ` (${flags})` : ': none seen'}`);
    for (const name of order(dir)) {
      const node = nodeOf(ctx, name);
      const ps = of(ctx, name, dir);
      if (!node || !ps.length) continue;
      const p = ps[0];
      L.push(`  on ${name} (netns ${node.netns}, LAN ${node.ip}, pods ${node.podSubnet})${ps.length > 1 ? `: seen ${ps.length} times (TCP sent it again)` : ''}`);
      p.hops.forEach((h, i) => {
        const r = i > 0 ? routing(node, p.hops[i - 1], h, ctx) : null;
        if (r) L.push(`    ${++k}. ${r}`);
        L.push(`    ${++k}. ${hookTitle(h)}   ${h.src} → ${h.dst}`);
        for (const hit of h.hits) L.push(...hitLines(hit));
        if (h.policy && !h.hits.some((x) => x.nft.startsWith('policy'))) L.push(`        ${h.policy}`);
      });
      const last = p.hops[p.hops.length - 1];
      if (dir === 'original' && name === src && last?.hook === 'PREROUTING' && be && be.node !== src) {
        // DNATed, then nothing: the routing decision found no way to the backend.
        L.push(`    ${++k}. routing decision on ${name}: no route to ${be.ip} (${ctx.routeGet.trim() || 'ip route get found nothing'}): the packet is dropped here, the node answers ICMP "network unreachable"`);
      }
      if (dir === 'original' && name === src && last && be && be.node !== src && (last.hook === 'POSTROUTING' || last.hook === 'FORWARD')) {
        const bn = nodeOf(ctx, be.node);
        L.push(
          ctx.mode === 'vxlan'
            ? `    ${++k}. on the LAN: vxlan1 wraps it in UDP (VNI 1, port 8472) from ${node.ip} to ${bn?.ip} (${be.node}), which unwraps it`
            : `    ${++k}. on the LAN: out by eth0 to ${bn?.ip} (${be.node}), unchanged: no NAT between pods, the destination is ${be.ip}`,
        );
      }
      if (dir === 'original' && be && name === be.node && ps.some((x) => reachedPort(x, be.veth))) {
        const l = ctx.listening[be.ip] ?? '';
        L.push(`    ${++k}. the backend's socket: ${be.container} in ${be.netns}: ${l ? l.split('\n')[0].replace(/\s+/g, ' ').trim() : `nothing listens on ${be.port}`}   check: ss -N ${be.netns} -tln`);
      }
      if (dir === 'reply' && name === src && !/RST/.test(p.flags) && ctx.outcome === 'connected') {
        L.push(`    ${++k}. ${ctx.client.name}'s socket: conntrack on ${src} undid the DNAT, so the answer comes from ${s.vip}:${s.port}, the address it dialled`);
      }
    }
  }
  L.push('');
  const dnat = hits(ctx.paths[src]).find(isDnat);
  L.push(`the service's DNAT on ${src}: ${dnat ? dnat.iptables ?? dnat.nft : 'none matched'}`);
  L.push('');
  const n = nodeOf(ctx, src);
  L.push(`conntrack entry on ${src} (ip netns exec ${n?.netns} conntrack -L -p tcp --orig-port-src ${ctx.sport}):`);
  if (ctx.conntrack.length) ctx.conntrack.forEach((l) => L.push('  ' + l));
  else L.push('  none (the node kept no connection for the probe)');
  L.push('');
  L.push(`result: ${v.summary}`);
  if (v.hook) L.push(`died at: ${v.hook}`);
  v.details.forEach((d) => L.push(`  ${d}`));
  return L.join('\n') + '\n';
}
