// `minid topo` in a terminal: the host, its virtual switches (bridges), the virtual cables
// (veth pairs) into each container's namespace, then minid's iptables rules with their live
// counters. Every place where the kernel and minid's records disagree carries a numbered ✗
// (or "!" when it does not stop packets) and is listed at the end with its fix. Pure.
import type { Mark, RuleView, Topo } from './topo.js';

const onOff = (v: string | null): string => (v === null ? 'missing' : v);

export function renderTopoText(t: Topo): string {
  const L: string[] = [];
  const all: Mark[] = [];
  /** " ✗1 ✗2" after an object: the marks whose subject is one of `subjects`. */
  const tag = (marks: Mark[], ...subjects: string[]): string => {
    const mine = marks.filter((m) => subjects.includes(m.subject));
    return mine
      .map((m) => {
        let i = all.indexOf(m);
        if (i < 0) i = all.push(m) - 1;
        return ` ${m.harmless ? '!' : '✗'}${i + 1}`;
      })
      .join('');
  };
  const h = t.host;
  const hm = h.marks;
  L.push(`host  (minid store ${t.store}; read from the kernel now)`);
  L.push(`│  ip_forward=${onOff(h.ipForward)}${tag(hm, 'sysctl:net.ipv4.ip_forward')}   FORWARD policy ${h.forwardPolicy}${tag(hm, 'chain:filter/FORWARD')}   rp_filter(all)=${onOff(h.rpFilterAll)}`);
  L.push(`│  br_netfilter ${h.brNetfilter.loaded ? `loaded, bridge-nf-call-iptables=${onOff(h.brNetfilter.callIptables)}` : 'not loaded'}`);
  L.push(h.uplink ? `├─ uplink ${h.uplink.dev} ${h.uplink.addresses.join(' ')}  (default route: containers leave through here, MASQUERADEd)` : '├─ uplink: none (no default route)');
  const cnis = t.cni ?? [];
  if (t.networks.length === 0 && cnis.length === 0) L.push('└─ (no network of this store has a bridge or a container)');
  t.networks.forEach((n, ni) => {
    const lastNet = ni === t.networks.length - 1 && cnis.length === 0;
    const nm = n.marks;
    const b = n.bridge;
    const bar = lastNet ? ' ' : '│';
    const brState = !n.setUp && !b.exists ? '(not set up yet: the first container connected creates it and its rules)' : b.exists ? `${b.up ? 'up' : 'DOWN'} ${b.addresses.join(' ') || '(no address)'}` : 'MISSING';
    L.push(`${lastNet ? '└─' : '├─'} bridge ${b.name} ${brState}${tag(nm, `link:${b.name}`)}  virtual switch of network "${n.name}" (id ${n.id.slice(0, 12)}) ${n.subnet}, gateway ${n.gateway}`);
    L.push(`${bar}     route_localnet=${onOff(b.routeLocalnet)}${tag(nm, `sysctl:net.ipv4.conf.${b.name}.route_localnet`)}  rp_filter=${onOff(b.rpFilter)}${tag(nm, `sysctl:net.ipv4.conf.${b.name}.rp_filter`)}`);
    if (n.endpoints.length === 0) L.push(`${bar}     (no containers)`);
    n.endpoints.forEach((e, ei) => {
      const last = ei === n.endpoints.length - 1;
      const k = last ? '   ' : '│  ';
      const hc = e.cable.host;
      const cc = e.cable.container;
      const hostEnd = hc.exists ? `${hc.name} ${hc.up ? 'up' : 'DOWN'}${hc.hairpin === null ? '' : hc.hairpin ? ' hairpin' : ' no-hairpin'}` : `${hc.name} MISSING`;
      const ctrEnd = cc.exists ? `${cc.name} ${cc.addresses.join(' ') || '(no address)'} ${cc.up ? 'up' : 'DOWN'}` : `${cc.name} MISSING`;
      const nsMarks = tag(nm, `netns:${e.netns.name}`, `container:${e.container}`);
      L.push(`${bar}     ${last ? '└─' : '├─'} ${hostEnd}${tag(nm, `link:${hc.name}`)} ══ virtual cable (veth) ══ ${ctrEnd}${tag(nm, `netns:${e.netns.name}/${cc.name}`)}`);
      L.push(`${bar}     ${k}   netns ${e.netns.name}${e.netns.exists ? '' : ' MISSING'}: container ${e.container} (${e.id.slice(0, 12)}) ${e.status}${nsMarks}`);
      const dflt = e.routes.find((r) => r.dst === 'default');
      L.push(`${bar}     ${k}   ${dflt ? `default via ${dflt.gateway}` : 'no default route'}; listening: ${e.listening.map((l) => `${l.proto} ${l.address}:${l.port}`).join(', ') || 'nothing'}`);
      for (const p of e.published) {
        const where = p.hostIp === '0.0.0.0' ? '*' : p.hostIp;
        L.push(`${bar}     ${k}   published ${where}:${p.hostPort} -> ${p.containerPort}/${p.protocol}${tag(nm, `socket:${e.container}:${p.containerPort}/${p.protocol}`, `port:${p.hostIp === '0.0.0.0' ? '' : p.hostIp + ':'}${p.hostPort}/${p.protocol}`)}`);
      }
    });
  });
  // CNI networks: drawn from the plugins' result (what they made), compared with the kernel.
  cnis.forEach((n, ni) => {
    const lastNet = ni === cnis.length - 1;
    const bar = lastNet ? ' ' : '│';
    const nm = n.marks;
    L.push(`${lastNet ? '└─' : '├─'} ${n.label}, cniVersion ${n.cniVersion || '?'}: the plugins made these links`);
    for (const b of n.bridges) {
      const st = b.exists ? `${b.up ? 'up' : 'DOWN'} ${b.addresses.join(' ') || '(no address)'}` : 'MISSING';
      L.push(`${bar}     bridge ${b.name} ${st}${tag(nm, `link:${b.name}`)}  (named in the CNI result)`);
    }
    n.containers.forEach((c, ci) => {
      const last = ci === n.containers.length - 1;
      const k = last ? '   ' : '│  ';
      const ifs = c.interfaces.map((i) => `${i.exists ? `${i.name} ${i.addresses.join(' ') || '(no address)'} ${i.up ? 'up' : 'DOWN'}` : `${i.name} MISSING`}${tag(nm, `netns:${c.netns.name}/${i.name}`)}`).join(', ');
      const he = c.hostEnd;
      const hostEnd = he ? (he.exists ? `${he.name} ${he.up ? 'up' : 'DOWN'}${he.hairpin === null ? '' : he.hairpin ? ' hairpin' : ' no-hairpin'}` : `${he.name} MISSING`) + tag(nm, `link:${he.name}`) : '';
      L.push(`${bar}     ${last ? '└─' : '├─'} ${he ? `${hostEnd} ══ virtual cable (veth) ══ ` : '(no host-side interface in the CNI result) '}${ifs}`);
      L.push(`${bar}     ${k}   netns ${c.netns.name}${c.netns.exists ? '' : ' MISSING'}: container ${c.container} (${c.id.slice(0, 12)}) ${c.status}${tag(nm, `netns:${c.netns.name}`, `container:${c.container}`)}`);
      const dflt = c.routes.find((r) => r.dst === 'default');
      L.push(`${bar}     ${k}   the plugins gave ${c.expected.addresses.join(' ') || 'no address'}${c.expected.gateway ? `, gateway ${c.expected.gateway}` : ''} (result from the ${c.resultFrom === 'cache' ? 'CNI result cache' : "container's state"})`);
      L.push(`${bar}     ${k}   ${dflt ? `default via ${dflt.gateway}` : 'no default route'}; listening: ${c.listening.map((l) => `${l.proto} ${l.address}:${l.port}`).join(', ') || 'nothing'}`);
      for (const p of c.published) L.push(`${bar}     ${k}   published ${p.hostIp === '0.0.0.0' ? '*' : p.hostIp}:${p.hostPort} -> ${p.containerPort}/${p.protocol} (by the plugins' rules)`);
    });
    L.push(`${bar}     rules: ${n.rules}`);
  });
  L.push('');
  L.push(`iptables: minid's rules of this store (live counters: packets bytes)`);
  const rules: { r: RuleView; marks: Mark[] }[] = [
    ...h.rules.map((r) => ({ r, marks: hm })),
    ...t.networks.flatMap((n) => n.rules.map((r) => ({ r, marks: n.marks }))),
  ];
  const w = Math.max(0, ...rules.map(({ r }) => `${r.table} ${r.chain}`.length));
  for (const { r, marks } of rules) {
    const where = `${r.table} ${r.chain}`.padEnd(w);
    const body = r.rule.replace(/^-A \S+ /, '').replace(/(^| )-m comment --comment \S+/, '').trim();
    if (!r.present) {
      const m = marks.find((x) => x.fix === r.fix);
      L.push(`  ${where}  MISSING ${body}${m ? tag([m], m.subject) : ''}   (${r.owner})`);
    } else {
      L.push(`  ${where}  ${String(r.packets).padStart(6)} ${String(r.bytes).padStart(8)}  ${body}   (${r.owner}${r.expected ? '' : ', not in minid\'s records'})`);
    }
  }
  for (const m of t.leftovers) tag([m], m.subject);
  // Marks not drawn above (a FORWARD policy that drops, say) are listed all the same.
  for (const m of [...hm, ...t.networks.flatMap((n) => n.marks), ...cnis.flatMap((n) => n.marks)]) if (!all.includes(m)) all.push(m);
  L.push('');
  if (all.length === 0) {
    L.push('✓ the kernel matches minid\'s records');
  } else {
    L.push(`Where the kernel and minid's records disagree (${all.length}):`);
    all.forEach((m, i) => {
      L.push(`  ${m.harmless ? '!' : '✗'}${i + 1} ${m.title}`);
      L.push(`      found: ${m.found}`);
      if (m.harmless) L.push(`      harmless here: ${m.harmless}`);
      if (m.fix) L.push(`      fix:   ${m.fix}`);
    });
  }
  return L.join('\n') + '\n';
}
