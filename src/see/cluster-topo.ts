// `minid topo --cluster`: the whole cluster as the kernel holds it — the LAN, each node with
// its LAN address, its pod bridge (cni0) and pods, and what joins the nodes' pod subnets
// (routes, or vxlan1 with its FDB and neighbour entries) — checked against the cluster's record
// (src/cluster/plan.ts says what `cluster up` made). Every disagreement is a Mark with its fix,
// as checks.ts words them. Pure: a ClusterSnapshot (cluster-read.ts) in, a ClusterTopo out, so
// a recorded snapshot replays in a unit test.
import type { ClusterState } from '../cluster/index.js';
import { NODE_BRIDGE, VXLAN_DEV, type ClusterNode } from '../cluster/plan.js';
import type { Mark } from './topo.js';
import type { Link, Route, Snapshot } from './snapshot.js';

export interface FdbEntry {
  mac: string;
  dst: string;
}
export interface NeighEntry {
  dst: string;
  lladdr: string | null;
  state: string;
}

export interface NodeSnapshot {
  name: string;
  /** The node could not be read (its namespace is gone, its minid failed): why. */
  error?: string;
  /** What the node's own minid read inside the node (its store, its namespace). */
  snapshot: Snapshot | null;
  /** --mode vxlan: vxlan1's FDB and neighbour entries. */
  fdb: FdbEntry[];
  neigh: NeighEntry[];
}

export interface ClusterSnapshot {
  state: ClusterState;
  /** The LAN bridge on the host and its ports (the nodes' uplinks). */
  lan: { bridge: Link | null; ports: Link[] };
  nodes: NodeSnapshot[];
  services: { name: string; type: string; clusterIP: string; port: number; nodePort?: number }[];
}

export interface RouteView {
  dst: string;
  via: string | null;
  dev: string | null;
  /** `cluster up` made it (the record calls for it). */
  expected: boolean;
  present: boolean;
  /** What the kernel holds instead, when it differs. */
  found?: string;
}

export interface NodeTopo {
  name: string;
  netns: { name: string; exists: boolean; error: string | null };
  ip: string;
  /** The uplink's host end on the LAN bridge, and eth0 inside the node. */
  uplink: { name: string; exists: boolean; up: boolean };
  eth0: { exists: boolean; up: boolean; addresses: string[] };
  ipForward: string | null;
  podSubnet: string;
  bridge: { name: string; exists: boolean; up: boolean; addresses: string[] };
  pods: { name: string; id: string; status: string; ip: string }[];
  routes: RouteView[];
  vxlan: null | {
    exists: boolean;
    up: boolean;
    mac: string | null;
    fdb: { mac: string; dst: string; node: string; present: boolean }[];
    neigh: { ip: string; mac: string; node: string; present: boolean }[];
  };
  marks: Mark[];
}

export interface ClusterTopo {
  store: string;
  mode: string;
  podCidr: string;
  lan: { cidr: string; bridge: { name: string; exists: boolean; up: boolean; addresses: string[] }; marks: Mark[] };
  nodes: NodeTopo[];
  services: ClusterSnapshot['services'];
}

const netOf = (s: string): string => s.split('/')[0];
const mark = (subject: string, title: string, found: string, fix: string): Mark => ({ check: subject.split(':')[0], subject, title, found, fix });

function buildNode(cs: ClusterSnapshot, node: ClusterNode, ns: NodeSnapshot | undefined): NodeTopo {
  const { state } = cs;
  const n = node.netns;
  const snap = ns?.snapshot ?? null;
  const links = snap?.kernel.host.links ?? [];
  const routes = snap?.kernel.host.routes ?? [];
  const link = (name: string): Link | undefined => links.find((l) => l.name === name);
  const marks: Mark[] = [];
  const exists = !!snap;
  if (!exists) marks.push(mark(`netns:${n}`, `node ${node.name} is a network namespace, ${n}`, ns?.error ?? 'not read', '`minid cluster down`, then `minid cluster up`'));

  const upl = cs.lan.ports.find((l) => l.name === node.uplink) ?? null;
  const uplHost = cs.lan.bridge ? upl : null;
  if (cs.lan.bridge && !upl) marks.push(mark(`link:${node.uplink}`, `${node.name}'s LAN cable ${node.uplink} is plugged into the LAN bridge ${state.bridge}`, 'no such port', '`minid cluster down`, then `minid cluster up`'));
  else if (upl && !upl.up) marks.push(mark(`link:${node.uplink}`, `${node.name}'s LAN cable ${node.uplink} is up`, `${node.uplink} is DOWN`, `ip link set ${node.uplink} up`));

  const eth0 = link('eth0');
  const lanAddr = `${node.ip}/${state.lan.split('/')[1]}`;
  if (exists) {
    if (!eth0) marks.push(mark(`link:${n}/eth0`, `${node.name} has eth0, its end of the LAN cable`, 'no eth0', '`minid cluster down`, then `minid cluster up`'));
    else {
      if (!eth0.up) marks.push(mark(`link:${n}/eth0`, `${node.name}'s eth0 is up`, 'eth0 is DOWN', `ip -n ${n} link set eth0 up`));
      if (!eth0.addresses.includes(lanAddr)) marks.push(mark(`addr:${n}/eth0`, `${node.name}'s eth0 has its LAN address ${lanAddr}`, eth0.addresses.join(' ') || 'no address', `ip -n ${n} addr add ${lanAddr} dev eth0`));
    }
  }
  const ipForward = snap ? (snap.kernel.sysctls['net.ipv4.ip_forward'] ?? null) : null;
  if (exists && ipForward !== '1') marks.push(mark(`sysctl:${n}/net.ipv4.ip_forward`, `${node.name} forwards between its pods and the LAN (ip_forward=1)`, `ip_forward=${ipForward ?? 'missing'}`, `ip netns exec ${n} sysctl -w net.ipv4.ip_forward=1`));

  // The pod bridge: made by the node's minid on its first pod; down or gone with pods is a ✗.
  const br = link(NODE_BRIDGE);
  const pods = (snap?.records.endpoints ?? []).map((e) => ({ name: e.containerName, id: e.containerId, status: snap!.records.containers.find((c) => c.id === e.containerId)?.status ?? 'unknown', ip: e.ip }));
  if (exists && br && !br.up) marks.push(mark(`link:${n}/${NODE_BRIDGE}`, `${node.name}'s pod bridge ${NODE_BRIDGE} is up`, `${NODE_BRIDGE} is DOWN: its pods are cut off`, `ip -n ${n} link set ${NODE_BRIDGE} up`));
  if (exists && !br && pods.length) marks.push(mark(`link:${n}/${NODE_BRIDGE}`, `${node.name} has its pod bridge ${NODE_BRIDGE}`, `no ${NODE_BRIDGE}, yet ${pods.length} pod(s)`, `minid --node ${node.name} network inspect bridge (the node's minid re-creates it on its next run)`));

  // What joins the pod subnets: one route per other node (via its LAN address, or its VTEP).
  const others = state.nodes.filter((p) => p !== node);
  const views: RouteView[] = [];
  for (const p of others) {
    const via = state.mode === 'routes' ? p.ip : netOf(p.podSubnet);
    const dev = state.mode === 'routes' ? 'eth0' : VXLAN_DEV;
    const have = routes.find((r) => r.dst === p.podSubnet);
    const right = !!have && have.gateway === via && have.dev === dev;
    const v: RouteView = { dst: p.podSubnet, via, dev, expected: true, present: right };
    const add = `${p.podSubnet} via ${via} dev ${dev}${state.mode === 'vxlan' ? ' onlink' : ''}`;
    if (have && !right) {
      v.found = routeText(have);
      if (exists) marks.push(mark(`route:${n}/${p.podSubnet}`, `${node.name} reaches ${p.name}'s pods ${p.podSubnet} via ${via} dev ${dev}`, `the route is ${routeText(have)}`, `ip -n ${n} route replace ${add}`));
    } else if (!have && exists) {
      marks.push(mark(`route:${n}/${p.podSubnet}`, `${node.name} reaches ${p.name}'s pods ${p.podSubnet} via ${via} dev ${dev}`, `no route to ${p.podSubnet}: packets for ${p.name}'s pods have no way there (or leave by a default route)`, `ip -n ${n} route add ${add}`));
    }
    views.push(v);
  }
  // Routes into the pod range that no record explains (made by hand, say): shown, not marked.
  const known = new Set([node.podSubnet, ...others.map((p) => p.podSubnet)]);
  const inPods = (r: Route): boolean => r.dst !== 'default' && !known.has(r.dst) && sameNet(r.dst, state.podCidr);
  for (const r of routes.filter(inPods)) views.push({ dst: r.dst, via: r.gateway ?? null, dev: r.dev ?? null, expected: false, present: true });

  let vxlan: NodeTopo['vxlan'] = null;
  if (state.mode === 'vxlan') {
    const vx = link(VXLAN_DEV);
    const fdb = others.map((p) => ({ mac: p.vtepMac, dst: p.ip, node: p.name, present: !!ns?.fdb.some((e) => e.mac === p.vtepMac && e.dst === p.ip) }));
    const neigh = others.map((p) => ({ ip: netOf(p.podSubnet), mac: p.vtepMac, node: p.name, present: !!ns?.neigh.some((e) => e.dst === netOf(p.podSubnet) && e.lladdr === p.vtepMac) }));
    vxlan = { exists: !!vx, up: !!vx?.up, mac: vx?.mac ?? null, fdb, neigh };
    if (exists && !vx) marks.push(mark(`link:${n}/${VXLAN_DEV}`, `${node.name} has its VTEP ${VXLAN_DEV}`, `no ${VXLAN_DEV}`, '`minid cluster down`, then `minid cluster up`'));
    else if (exists) {
      if (!vx!.up) marks.push(mark(`link:${n}/${VXLAN_DEV}`, `${node.name}'s VTEP ${VXLAN_DEV} is up`, `${VXLAN_DEV} is DOWN`, `ip -n ${n} link set ${VXLAN_DEV} up`));
      for (const f of fdb.filter((x) => !x.present))
        marks.push(mark(`fdb:${n}/${f.mac}`, `${node.name}'s ${VXLAN_DEV} sends frames for ${f.node}'s VTEP ${f.mac} to ${f.dst}`, `no FDB entry ${f.mac} dst ${f.dst}`, `bridge -n ${n} fdb append ${f.mac} dev ${VXLAN_DEV} dst ${f.dst}`));
      for (const e of neigh.filter((x) => !x.present))
        marks.push(mark(`neigh:${n}/${e.ip}`, `${node.name} knows ${e.node}'s VTEP address ${e.ip} is ${e.mac}`, `no neighbour entry ${e.ip} lladdr ${e.mac}`, `ip -n ${n} neigh replace ${e.ip} lladdr ${e.mac} dev ${VXLAN_DEV} nud permanent`));
    }
  }
  return {
    name: node.name,
    netns: { name: n, exists, error: ns?.error ?? null },
    ip: node.ip,
    uplink: { name: node.uplink, exists: !!uplHost, up: !!uplHost?.up },
    eth0: { exists: !!eth0, up: !!eth0?.up, addresses: eth0?.addresses ?? [] },
    ipForward,
    podSubnet: node.podSubnet,
    bridge: { name: NODE_BRIDGE, exists: !!br, up: !!br?.up, addresses: br?.addresses ?? [] },
    pods,
    routes: views,
    vxlan,
    marks,
  };
}

const routeText = (r: Route): string => [r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : ''].filter(Boolean).join(' ');

const toInt = (ip: string): number => ip.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
/** A (CIDR) lies inside B (CIDR). */
function sameNet(a: string, b: string): boolean {
  const [ia, pa = '32'] = a.split('/');
  const [ib, pb = '32'] = b.split('/');
  if (Number(pa) < Number(pb)) return false;
  const p = Number(pb);
  const m = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
  return ((toInt(ia) & m) >>> 0) === ((toInt(ib) & m) >>> 0);
}

export function buildClusterTopo(cs: ClusterSnapshot): ClusterTopo {
  const { state } = cs;
  const lanMarks: Mark[] = [];
  const b = cs.lan.bridge;
  if (!b) lanMarks.push(mark(`link:${state.bridge}`, `the LAN is the bridge ${state.bridge} on the host`, `no link ${state.bridge}`, '`minid cluster down`, then `minid cluster up`'));
  else if (!b.up) lanMarks.push(mark(`link:${state.bridge}`, `the LAN bridge ${state.bridge} is up`, `${state.bridge} is DOWN: no node reaches another`, `ip link set ${state.bridge} up`));
  return {
    store: state.store,
    mode: state.mode,
    podCidr: state.podCidr,
    lan: { cidr: state.lan, bridge: { name: state.bridge, exists: !!b, up: !!b?.up, addresses: b?.addresses ?? [] }, marks: lanMarks },
    nodes: state.nodes.map((node) => buildNode(cs, node, cs.nodes.find((x) => x.name === node.name))),
    services: cs.services,
  };
}

/** Every mark, the LAN's first. */
export function clusterMarks(t: ClusterTopo): Mark[] {
  return [...t.lan.marks, ...t.nodes.flatMap((n) => n.marks)];
}

/** The drawing in a terminal: the LAN, the nodes hanging off it, and the marks with their fixes. */
export function renderClusterText(t: ClusterTopo): string {
  const L: string[] = [];
  const all = clusterMarks(t);
  const tag = (...subjects: string[]): string =>
    all
      .map((m, i) => (subjects.includes(m.subject) ? ` ✗${i + 1}` : ''))
      .join('');
  const b = t.lan.bridge;
  L.push(`cluster  (minid store ${t.store}; mode ${t.mode}; pods in ${t.podCidr}; read from the kernel now)`);
  L.push(`LAN ${t.lan.cidr}: bridge ${b.name} on the host ${b.exists ? (b.up ? 'up' : 'DOWN') : 'MISSING'}${b.addresses.length ? ` ${b.addresses.join(' ')}` : ' (no address: the host is not on the LAN)'}${tag(`link:${b.name}`)}`);
  t.nodes.forEach((n, i) => {
    const last = i === t.nodes.length - 1;
    const bar = last ? '   ' : '│  ';
    const ns = n.netns.name;
    const eth0 = n.eth0.exists ? `eth0 ${n.eth0.addresses.join(' ') || '(no address)'} ${n.eth0.up ? 'up' : 'DOWN'}` : 'eth0 MISSING';
    L.push(`${last ? '└─' : '├─'} ${n.uplink.name}${n.uplink.exists ? '' : ' MISSING'}${tag(`link:${n.uplink.name}`)} ══ LAN cable ══ ${eth0}${tag(`link:${ns}/eth0`, `addr:${ns}/eth0`)}`);
    L.push(`${bar}  node ${n.name}: netns ${ns}${n.netns.exists ? '' : ' UNREADABLE'}${tag(`netns:${ns}`)}   ip_forward=${n.ipForward ?? '?'}${tag(`sysctl:${ns}/net.ipv4.ip_forward`)}`);
    const brState = n.bridge.exists ? `${n.bridge.up ? 'up' : 'DOWN'} ${n.bridge.addresses.join(' ') || '(no address)'}` : '(not set up yet: the node\'s first pod creates it)';
    L.push(`${bar}    pod bridge ${n.bridge.name} ${brState}${tag(`link:${ns}/${n.bridge.name}`)}   pod subnet ${n.podSubnet}`);
    if (n.pods.length === 0) L.push(`${bar}      (no pods)`);
    for (const p of n.pods) L.push(`${bar}      pod ${p.name} (${p.id.slice(0, 12)}) ${p.status} ${p.ip}`);
    L.push(`${bar}    routes to the other nodes' pods:`);
    if (n.routes.length === 0) L.push(`${bar}      (none: a single node)`);
    for (const r of n.routes) {
      const what = `${r.dst} via ${r.via} dev ${r.dev}`;
      if (!r.expected) L.push(`${bar}      ${what}   (not in the cluster's record)`);
      else if (r.present) L.push(`${bar}      ${what}`);
      else L.push(`${bar}      MISSING ${what}${r.found ? ` (found: ${r.found})` : ''}${tag(`route:${ns}/${r.dst}`)}`);
    }
    if (n.vxlan) {
      const v = n.vxlan;
      L.push(`${bar}    ${VXLAN_DEV} ${v.exists ? `${v.up ? 'up' : 'DOWN'} ${v.mac ?? ''}` : 'MISSING'}${tag(`link:${ns}/${VXLAN_DEV}`)}`);
      for (const f of v.fdb) L.push(`${bar}      fdb ${f.mac} -> ${f.dst} (${f.node})${f.present ? '' : ` MISSING${tag(`fdb:${ns}/${f.mac}`)}`}`);
      for (const e of v.neigh) L.push(`${bar}      neigh ${e.ip} -> ${e.mac} (${e.node})${e.present ? '' : ` MISSING${tag(`neigh:${ns}/${e.ip}`)}`}`);
    }
  });
  if (t.services.length) {
    L.push('');
    L.push("services (kube-proxy's chains inside every node):");
    for (const s of t.services) L.push(`  ${s.name}  ${s.type}  ${s.clusterIP}:${s.port}${s.nodePort ? `  node port ${s.nodePort} on every node's LAN address` : ''}`);
  }
  L.push('');
  if (all.length === 0) L.push("✓ the kernel matches the cluster's record");
  else {
    L.push(`Where the kernel and the cluster's record disagree (${all.length}):`);
    all.forEach((m, i) => {
      L.push(`  ✗${i + 1} ${m.title}`);
      L.push(`      found: ${m.found}`);
      if (m.fix) L.push(`      fix:   ${m.fix}`);
    });
  }
  return L.join('\n') + '\n';
}
