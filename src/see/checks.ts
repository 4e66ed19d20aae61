// The predicates: pure functions over a Snapshot (snapshot.ts), each answering one question
// about one kernel object, with what was found and, when it fails, the fix (a command to type,
// or what to do). `minid topo` marks every failed check on the object it names, `minid why`
// lists the ones on one packet's path bottom-up, and the tests assert them on recorded
// snapshots; nothing here reads the host.
import { CHAIN, comment } from '../network/names.js';
import { hostRules, networkRules, portRulesOf, sameRule, type ExpectedRule } from './expected.js';
import type { NetworkRecord, PortBinding } from '../network/types.js';
import type { EndpointRecord, IptRule, Link, NetnsView, Snapshot } from './snapshot.js';
import { ruleText } from './parse.js';
import { inCidr, walk, type Packet, type Verdict } from './walk.js';

/**
 * The ways a packet can reach a published port (`minid why --from`):
 * host: the host to one of its own addresses; localhost: the host to 127.0.0.1;
 * hairpin: a container to its own published port through a host address;
 * neighbour: another container of the same network, straight to the container's address;
 * remote: a container of another network (or a LAN machine), through a host address.
 */
export type Path = 'host' | 'localhost' | 'hairpin' | 'neighbour' | 'remote';
const ALL: Path[] = ['host', 'localhost', 'hairpin', 'neighbour', 'remote'];

/** Where a check sits in the bottom-up order of `minid why` (the course's order of steps). */
export const ORDER = {
  container: 0, netns: 1, veth: 2, address: 3, route: 4, bridge: 5, forwarding: 6, forwardPolicy: 7,
  brNetfilter: 8, rpFilter: 9, masquerade: 10, dnat: 11, localhost: 12, app: 13, conflict: 14, leftover: 15,
} as const;

export interface Check {
  /** Stable id: "veth.host.up", "rule.dnat", ... (tests and labs select on it). */
  id: string;
  order: number;
  /** The kernel object it is about: "link:mv066e102a", "sysctl:net.ipv4.ip_forward", "rule:nat/MINID-DNAT", "netns:minid-...". */
  subject: string;
  /** What should hold, in the course's words. */
  title: string;
  ok: boolean;
  /** What the kernel holds now. */
  found: string;
  /** For a failed check: what to type (or do) to repair it. */
  fix?: string;
  /** A failed check that does not stop packets here, and why (drawn as "!" rather than "✗"). */
  harmless?: string;
  /** The packet paths it matters for; [] = none of them (topo still marks it). */
  paths: Path[];
}

// --- lookups over the snapshot -----------------------------------------------------------

export const hostLink = (s: Snapshot, name: string): Link | undefined => s.kernel.host.links.find((l) => l.name === name);
export const netnsView = (s: Snapshot, ns: string): NetnsView | undefined => s.kernel.netns[ns];
export const sysctl = (s: Snapshot, key: string): string | null => s.kernel.sysctls[key] ?? null;
const hasRule = (s: Snapshot, e: ExpectedRule): IptRule | undefined => s.kernel.iptables.rules.find((r) => sameRule(e, r));
const describeRule = (e: Pick<ExpectedRule, 'table' | 'chain' | 'args'>): string => `-t ${e.table} -A ${e.chain} ${e.args.filter((a, i, all) => a !== '--comment' && all[i - 1] !== '--comment' && !(a === '-m' && all[i + 1] === 'comment') && !(a === 'comment' && all[i - 1] === '-m')).join(' ')}`;
const counters = (r: IptRule): string => `${r.packets} packets, ${r.bytes} bytes`;
const linkState = (l: Link): string => `${l.up ? 'up' : 'down'} (operstate ${l.operstate})`;

function ruleCheck(s: Snapshot, e: ExpectedRule, id: string, order: number, title: string, paths: Path[]): Check {
  const r = hasRule(s, e);
  return {
    id, order, subject: `rule:${e.table}/${e.chain}`, title, paths,
    ok: !!r,
    found: r ? `${describeRule(e)}  [${counters(r)}]` : `missing: ${describeRule(e)}`,
    ...(r ? {} : { fix: e.add }),
  };
}

/** A sysctl that must have one value; `harmless` explains when a wrong value does not matter. */
function sysctlCheck(s: Snapshot, key: string, want: string, id: string, order: number, title: string, paths: Path[]): Check {
  const v = sysctl(s, key);
  return {
    id, order, subject: `sysctl:${key}`, title, paths,
    ok: v === want,
    found: v === null ? `${key} does not exist` : `${key} = ${v}`,
    ...(v === want ? {} : { fix: v === null ? `the interface is missing: see the checks above` : `sysctl -w ${key}=${want}` }),
  };
}

// --- the host ------------------------------------------------------------------------------

/** Who else manages this host's firewall: other software's chains give it away. */
export function firewallNeighbours(s: Snapshot): string[] {
  const names = new Set(s.kernel.iptables.chains.map((c) => c.split('/')[1]));
  const who: string[] = [];
  if (names.has('DOCKER') || names.has('DOCKER-USER')) who.push('docker (dockerd sets FORWARD to DROP when it starts)');
  if ([...names].some((n) => n.startsWith('LIBVIRT'))) who.push('libvirt');
  if ([...names].some((n) => n.startsWith('ufw'))) who.push('ufw');
  if ([...names].some((n) => n.startsWith('KUBE'))) who.push('kube-proxy');
  if ([...names].some((n) => n.startsWith('CNI-'))) who.push('CNI plugins');
  return who;
}

export function hostChecks(s: Snapshot, nets: NetworkRecord[]): Check[] {
  const out: Check[] = [];
  // Before any network is set up, minid expects nothing of the host.
  if (!nets.some((n) => networkSetUp(s, n))) return out;
  out.push(sysctlCheck(s, 'net.ipv4.ip_forward', '1', 'host.ip_forward', ORDER.forwarding,
    'the host forwards packets between interfaces (ip_forward)', ['hairpin', 'remote']));

  // FORWARD's policy: minid never sets it; with DROP, its own rules must let its traffic through.
  const policy = s.kernel.iptables.policies['filter/FORWARD'] ?? 'ACCEPT';
  const hook = hostRules().find((r) => r.table === 'filter' && r.chain === 'FORWARD')!;
  const hooked = !!hasRule(s, hook);
  const nets_ok = nets.every((n) => networkRules(n, s.records.store).filter((r) => r.table === 'filter' && r.chain === CHAIN.forward).every((r) => hasRule(s, r)));
  const who = firewallNeighbours(s);
  const setter = policy === 'ACCEPT' ? '' : who.length ? `; set by ${who.join(' or ')}, not minid (minid never changes a policy)` : '; not set by minid (minid never changes a policy): a firewall script or `iptables -P FORWARD DROP`';
  const fwdOk = policy === 'ACCEPT' || (hooked && nets_ok);
  out.push({
    id: 'host.forward_policy', order: ORDER.forwardPolicy, subject: 'chain:filter/FORWARD', paths: ['hairpin', 'remote', 'neighbour'],
    title: "FORWARD lets the network's packets through (its policy, and minid's ACCEPT rules before it)",
    ok: fwdOk,
    found: `policy ${policy}${setter}${policy === 'ACCEPT' ? '' : hooked ? `; the jump to ${CHAIN.forward} is in place` : `; the jump to ${CHAIN.forward} is missing`}`,
    ...(fwdOk ? {} : { fix: hooked ? 'put back the missing ACCEPT rules listed below' : hook.add }),
  });

  // br_netfilter: whether frames a bridge forwards (container to container, hairpin) meet iptables.
  const call = sysctl(s, 'net.bridge.bridge-nf-call-iptables');
  out.push({
    id: 'host.br_netfilter', order: ORDER.brNetfilter, subject: 'sysctl:net.bridge.bridge-nf-call-iptables', paths: ['hairpin', 'neighbour'],
    title: 'br_netfilter: do bridged frames go through iptables? (either way works; it decides what hairpin needs)',
    ok: true,
    found: !s.kernel.brNetfilter
      ? 'br_netfilter is not loaded: frames between containers of a bridge never meet iptables'
      : `br_netfilter is loaded, bridge-nf-call-iptables = ${call}${call === '1' ? ': bridged frames go through FORWARD and nat too, so hairpin needs hairpin mode on the port plus MASQUERADE' : ''}`,
  });

  const hooks = hostRules();
  const hookPaths = (r: ExpectedRule): Path[] =>
    r.chain === 'PREROUTING' ? ['hairpin', 'remote'] : r.chain === 'OUTPUT' ? ['host', 'localhost'] : r.chain === 'POSTROUTING' ? ['localhost', 'hairpin'] : r.chain === 'FORWARD' ? ['hairpin', 'remote', 'neighbour'] : [];
  for (const r of hooks) {
    const target = r.args[r.args.indexOf('-j') + 1];
    const what = target === 'DROP' ? 'the guard: outside packets to 127.0.0.0/8 are dropped (CVE-2020-8558)' : `${r.chain} jumps to ${target}`;
    const order = r.chain === 'PREROUTING' || r.chain === 'OUTPUT' ? ORDER.dnat : r.chain === 'POSTROUTING' ? ORDER.masquerade : ORDER.forwardPolicy;
    out.push(ruleCheck(s, r, `host.hook.${r.chain.toLowerCase()}${target === 'DROP' ? '.guard' : ''}`, order, what, hookPaths(r)));
  }
  return out;
}

// --- a network: its bridge and rules ---------------------------------------------------------

/** Should the network's bridge and rules exist? Once a container joined it, until its teardown. */
export function networkSetUp(s: Snapshot, net: NetworkRecord): boolean {
  return s.records.networksUp.includes(net.name) || s.records.endpoints.some((e) => e.network === net.name);
}

export function networkChecks(s: Snapshot, net: NetworkRecord): Check[] {
  const out: Check[] = [];
  // Not set up yet (no container ever joined): nothing is expected in the kernel.
  if (!networkSetUp(s, net) && !hostLink(s, net.bridge)) return out;
  const br = hostLink(s, net.bridge);
  const sub = `link:${net.bridge}`;
  const addr = `${net.gateway}/${net.subnet.split('/')[1]}`;
  const want = comment(s.records.store, net.name);
  out.push({
    id: 'bridge.exists', order: ORDER.bridge, subject: sub, paths: ALL,
    title: `the virtual switch (bridge) ${net.bridge} exists`,
    ok: !!br, found: br ? `${net.bridge}: ${br.kind ?? 'not a bridge'}, ${linkState(br)}` : `no link ${net.bridge}`,
    ...(br ? {} : { fix: `minid recreates it with its rules when a container joins the network: minid restart <a container of ${net.name}>` }),
  });
  if (!br) return out;
  out.push({
    id: 'bridge.alias', order: ORDER.bridge, subject: sub, paths: [],
    title: `the bridge is labelled as this store's (alias ${want})`,
    ok: br.alias === want, found: br.alias ? `alias ${br.alias}` : 'no alias',
    ...(br.alias === want ? {} : { fix: `ip link set ${net.bridge} alias ${want}` }),
  });
  out.push({
    id: 'bridge.up', order: ORDER.bridge, subject: sub, paths: ALL,
    title: 'the bridge is up', ok: br.up, found: linkState(br),
    ...(br.up ? {} : { fix: `ip link set ${net.bridge} up` }),
  });
  const hasAddr = br.addresses.includes(addr);
  out.push({
    id: 'bridge.address', order: ORDER.bridge, subject: sub, paths: ALL,
    title: `the bridge has the gateway address ${addr}`,
    ok: hasAddr, found: br.addresses.length ? br.addresses.join(' ') : 'no IPv4 address',
    ...(hasAddr ? {} : { fix: `ip addr add ${addr} dev ${net.bridge}` }),
  });
  const route = s.kernel.host.routes.find((r) => r.dst === net.subnet && r.dev === net.bridge);
  out.push({
    id: 'bridge.route', order: ORDER.bridge, subject: sub, paths: ALL,
    title: `the host routes ${net.subnet} to the bridge`,
    ok: !!route, found: route ? `${net.subnet} dev ${net.bridge}` : `no route to ${net.subnet} dev ${net.bridge}`,
    ...(route ? {} : { fix: `ip route add ${net.subnet} dev ${net.bridge}  (it comes with the address: ip addr add ${addr} dev ${net.bridge})` }),
  });
  // rp_filter: the stricter of all and the interface; strict (1) drops a packet whose source
  // the host would not route back out of the interface it came in by.
  const rpAll = Number(sysctl(s, 'net.ipv4.conf.all.rp_filter') ?? 0);
  const rpBr = Number(sysctl(s, `net.ipv4.conf.${net.bridge}.rp_filter`) ?? 0);
  const rp = Math.max(rpAll, rpBr);
  const rpOk = rp !== 1 || !!route;
  out.push({
    id: 'bridge.rp_filter', order: ORDER.rpFilter, subject: `sysctl:net.ipv4.conf.${net.bridge}.rp_filter`, paths: ALL,
    title: "reverse-path filtering keeps the containers' packets (rp_filter)",
    ok: rpOk,
    found: `rp_filter: all = ${rpAll}, ${net.bridge} = ${rpBr} (the higher counts: ${rp === 0 ? 'off' : rp === 1 ? `strict, fine while ${net.subnet} is routed to ${net.bridge}` : 'loose'})`,
    ...(rpOk ? {} : { fix: `give the bridge its address (the route comes with it): ip addr add ${addr} dev ${net.bridge}` }),
  });
  out.push(sysctlCheck(s, `net.ipv4.conf.${net.bridge}.route_localnet`, '1', 'bridge.route_localnet', ORDER.localhost,
    `the bridge may carry 127.0.0.1 traffic (route_localnet), so 127.0.0.1:PORT can be DNATed into it`, ['localhost']));

  // The network's rules, as plan.ts adds them.
  for (const r of networkRules(net, s.records.store)) {
    const target = r.args[r.args.indexOf('-j') + 1];
    const a = r.args.join(' ');
    let id = 'rule.other';
    let title = '';
    let paths: Path[] = [];
    let order: number = ORDER.masquerade;
    if (target === 'MASQUERADE' && a.includes('! -o')) [id, title, paths] = ['rule.masquerade.out', 'MASQUERADE: containers leaving for the outside get the host address', []];
    else if (target === 'MASQUERADE' && a.includes('--ctstate DNAT')) [id, title, paths] = ['rule.masquerade.hairpin', 'MASQUERADE hairpin: a container reaching a published port through the host gets its reply back through the host', ['hairpin']];
    else if (target === 'MASQUERADE') [id, title, paths, order] = ['rule.masquerade.localhost', 'MASQUERADE localhost: 127.0.0.1 clients get the gateway as source (a container cannot answer 127.0.0.1)', ['localhost'], ORDER.localhost];
    else if (r.chain === CHAIN.forward && a.includes('-i')) [id, title, paths, order] = ['rule.forward.from_bridge', 'FORWARD accepts what comes from the bridge', ['hairpin', 'neighbour', 'remote'], ORDER.forwardPolicy];
    else if (r.chain === CHAIN.forward) [id, title, paths, order] = ['rule.forward.replies', 'FORWARD accepts replies into the bridge', [], ORDER.forwardPolicy];
    else [id, title, paths, order] = [`rule.isolation.${r.chain === CHAIN.isolation1 ? 1 : 2}`, 'isolation from the other minid networks', [], ORDER.forwardPolicy];
    const c = ruleCheck(s, r, id, order, title, paths);
    if (!c.ok && r.table === 'filter' && (s.kernel.iptables.policies['filter/FORWARD'] ?? 'ACCEPT') === 'ACCEPT' && target === 'ACCEPT')
      c.harmless = "FORWARD's policy is ACCEPT: nothing is dropped without it (until a firewall sets DROP)";
    out.push(c);
  }
  return out;
}

// --- a container's attachment: namespace, cable, address, route ---------------------------------

/** The veth end inside the namespace that pairs with the host end, by ifindex. */
export function containerEnd(s: Snapshot, ep: EndpointRecord): Link | undefined {
  const view = netnsView(s, ep.netnsName);
  return view?.links.find((l) => l.name === ep.ifName);
}

/** The first check of every container, on any network: minid's record says it runs. */
export function runningCheck(s: Snapshot, id: string, name: string): Check {
  const rec = s.records.containers.find((c) => c.id === id);
  const running = rec?.status === 'running';
  return {
    id: 'container.running', order: ORDER.container, subject: `container:${name}`, paths: ALL,
    title: `container ${name} is running`, ok: running, found: rec ? rec.status : 'no such container in the store',
    ...(running ? {} : { fix: `minid start ${name}` }),
  };
}

export function endpointChecks(s: Snapshot, ep: EndpointRecord, net: NetworkRecord): Check[] {
  const out: Check[] = [];
  const rec = s.records.containers.find((c) => c.id === ep.containerId);
  const running = rec?.status === 'running';
  out.push(runningCheck(s, ep.containerId, ep.containerName));
  const nsOk = s.kernel.netnsNames.includes(ep.netnsName);
  const view = netnsView(s, ep.netnsName);
  const host = hostLink(s, ep.veth);
  // The host end names the namespace its peer lives in (link-netnsid); `ip netns list-id` maps
  // that id to a name. A namespace whose name was deleted lives on while a process is in it.
  const peerNs = host?.peerNetnsId !== undefined ? s.kernel.nsids[String(host.peerNetnsId)] : undefined;
  const alive = !nsOk && host?.peerNetnsId !== undefined && running && rec?.pid;
  out.push({
    id: 'netns.exists', order: ORDER.netns, subject: `netns:${ep.netnsName}`, paths: ALL,
    title: `the container's network namespace ${ep.netnsName} exists`,
    ok: nsOk && !view?.error,
    found: !nsOk
      ? `/run/netns/${ep.netnsName} is missing${alive ? ` (the namespace itself lives on: ${ep.veth}'s peer is in netns id ${host!.peerNetnsId}${peerNs ? ` (${peerNs})` : ', which has no name'}, and the container runs as pid ${rec!.pid})` : ''}`
      : view?.error ? `cannot read it: ${view.error}` : `/run/netns/${ep.netnsName}`,
    ...(nsOk && !view?.error
      ? {}
      : { fix: alive ? `ip netns attach ${ep.netnsName} ${rec!.pid}  (gives the container's namespace its name back)` : `the container lost its network: minid restart ${ep.containerName} (or minid rm -f ${ep.containerName}, then minid system prune)` }),
  });
  const inner = containerEnd(s, ep);
  out.push({
    id: 'veth.host.exists', order: ORDER.veth, subject: `link:${ep.veth}`, paths: ALL,
    title: `the host end of the virtual cable, ${ep.veth}, exists and is plugged into ${net.bridge}`,
    ok: !!host && host.master === net.bridge,
    found: !host ? `no link ${ep.veth}` : host.master ? `${ep.veth} on ${host.master}` : `${ep.veth} is not on any bridge`,
    ...(host && host.master === net.bridge ? {} : { fix: host ? `ip link set ${ep.veth} master ${net.bridge}` : `minid restart ${ep.containerName}` }),
  });
  if (host) {
    out.push({
      id: 'veth.host.up', order: ORDER.veth, subject: `link:${ep.veth}`, paths: ALL,
      title: `the host end ${ep.veth} is up`, ok: host.up, found: linkState(host),
      ...(host.up ? {} : { fix: `ip link set ${ep.veth} up` }),
    });
    const brnf = s.kernel.brNetfilter && sysctl(s, 'net.bridge.bridge-nf-call-iptables') === '1';
    const hp: Check = {
      id: 'veth.host.hairpin', order: ORDER.brNetfilter, subject: `link:${ep.veth}`, paths: ['hairpin'],
      title: `hairpin mode on bridge port ${ep.veth} (a frame may leave by the port it came in)`, ok: !!host.hairpin,
      found: `hairpin ${host.hairpin ? 'on' : 'off'}`,
      ...(host.hairpin ? {} : { fix: `ip link set ${ep.veth} type bridge_slave hairpin on` }),
    };
    if (!hp.ok && !brnf) hp.harmless = 'not needed while bridged frames skip iptables (bridge-nf-call-iptables is not 1)';
    out.push(hp);
  }
  out.push({
    id: 'veth.container.exists', order: ORDER.veth, subject: `netns:${ep.netnsName}/${ep.ifName}`, paths: ALL,
    title: `the container end ${ep.ifName} exists in ${ep.netnsName} and pairs with ${ep.veth}`,
    ok: !!inner && (!host || inner.peerIfindex === host.ifindex),
    found: !inner
      ? `no ${ep.ifName} in ${ep.netnsName}`
      : host && inner.peerIfindex !== host.ifindex
        ? `${ep.ifName}'s other end is ifindex ${inner.peerIfindex}, not ${ep.veth} (${host.ifindex})`
        : `${ep.ifName} (ifindex ${inner.ifindex}) <-> ${ep.veth} (ifindex ${host?.ifindex ?? '?'}${peerNs ? `, its peer in ${peerNs}` : ''})`,
    ...(inner && (!host || inner.peerIfindex === host.ifindex) ? {} : { fix: `minid restart ${ep.containerName}` }),
  });
  if (inner) {
    out.push({
      id: 'veth.container.up', order: ORDER.veth, subject: `netns:${ep.netnsName}/${ep.ifName}`, paths: ALL,
      title: `the container end ${ep.ifName} is up`, ok: inner.up, found: linkState(inner),
      ...(inner.up ? {} : { fix: `ip -n ${ep.netnsName} link set ${ep.ifName} up` }),
    });
    const want = `${ep.ip}/${ep.prefixLength}`;
    const has = inner.addresses.includes(want);
    const sameIp = inner.addresses.find((a) => a.split('/')[0] === ep.ip);
    out.push({
      id: 'container.address', order: ORDER.address, subject: `netns:${ep.netnsName}/${ep.ifName}`, paths: ALL,
      title: `${ep.ifName} has address and prefix ${want}`, ok: has,
      found: inner.addresses.length ? inner.addresses.join(' ') : 'no IPv4 address',
      ...(has ? {} : { fix: (sameIp ? `ip -n ${ep.netnsName} addr del ${sameIp} dev ${ep.ifName} && ` : '') + `ip -n ${ep.netnsName} addr add ${want} dev ${ep.ifName}  (a bare address is /32: the neighbours are unreachable)` }),
    });
  }
  if (view && !view.error && ep.ifName === 'eth0') {
    const dflt = view.routes.find((r) => r.dst === 'default');
    const ok = !!dflt && dflt.gateway === ep.gateway;
    out.push({
      id: 'container.default_route', order: ORDER.route, subject: `netns:${ep.netnsName}`, paths: ['host', 'hairpin', 'remote'],
      title: `the container's default route goes via the gateway ${ep.gateway}`, ok,
      found: dflt ? `default via ${dflt.gateway ?? '(none)'} dev ${dflt.dev ?? '?'}` : 'no default route',
      ...(ok ? {} : { fix: `ip -n ${ep.netnsName} route replace default via ${ep.gateway}` }),
    });
  }
  return out;
}

// --- a published port ---------------------------------------------------------------------

const isLoopback = (a: string): boolean => a.startsWith('127.') || a === '::1';

/** Is something listening in the container on PORT where forwarded packets arrive? */
export function appCheck(s: Snapshot, ep: EndpointRecord, proto: 'tcp' | 'udp', port: number): Check {
  const view = netnsView(s, ep.netnsName);
  const base = { id: 'app.listening', order: ORDER.app, subject: `socket:${ep.containerName}:${port}/${proto}`, paths: ALL };
  const title = `the app in ${ep.containerName} listens on ${proto} port ${port} (0.0.0.0 or ${ep.ip})`;
  if (!view || view.error) return { ...base, title, ok: false, found: 'cannot read its sockets: the namespace is missing', fix: `see the namespace check above` };
  const mine = view.listening.filter((l) => l.proto === proto && l.port === port);
  const good = mine.find((l) => l.address === '0.0.0.0' || l.address === '::' || l.address === ep.ip);
  if (good) return { ...base, title, ok: true, found: `${good.address}:${port}${good.process ? ` ${good.process}` : ''}` };
  if (mine.length)
    return {
      ...base, title, ok: false,
      found: `listens on ${mine.map((l) => l.address).join(', ')} only: DNATed packets arrive for ${ep.ip}`,
      fix: `make the app listen on 0.0.0.0 (e.g. \`nc -l -p ${port}\` rather than \`-s 127.0.0.1\`), then minid restart ${ep.containerName}`,
    };
  const others = view.listening.filter((l) => l.proto === proto).map((l) => `${l.address}:${l.port}`);
  return {
    ...base, title, ok: false,
    found: `nothing listens on ${proto} port ${port}${others.length ? ` (listening: ${others.join(', ')})` : ''}`,
    fix: `start the app (minid logs ${ep.containerName} tells why it stopped; minid restart ${ep.containerName})`,
  };
}

export function portChecks(s: Snapshot, ep: EndpointRecord, net: NetworkRecord, b: PortBinding): Check[] {
  const out: Check[] = [];
  const where = b.hostIp === '0.0.0.0' ? '' : `${b.hostIp}:`;
  const [dnat, fwd] = portRulesOf(ep, b, net, s.records.store);
  const dnatPaths: Path[] = b.hostIp === '0.0.0.0' ? ['host', 'localhost', 'hairpin', 'remote'] : isLoopback(b.hostIp) ? ['localhost'] : ['host', 'hairpin', 'remote'];
  out.push(ruleCheck(s, dnat, 'rule.dnat', ORDER.dnat, `DNAT ${where}${b.hostPort}/${b.protocol} to ${ep.ip}:${b.containerPort} (in ${CHAIN.dnat}, reached from PREROUTING and OUTPUT)`, dnatPaths));
  const f = ruleCheck(s, fwd, 'rule.forward.port', ORDER.forwardPolicy, `FORWARD accepts new connections to ${ep.ip}:${b.containerPort}`, ['remote']);
  if (!f.ok && (s.kernel.iptables.policies['filter/FORWARD'] ?? 'ACCEPT') === 'ACCEPT') f.harmless = "FORWARD's policy is ACCEPT: nothing is dropped without it";
  out.push(f);
  out.push(appCheck(s, ep, b.protocol, b.containerPort));
  // A host process on the same port: DNAT takes its packets first, so it never sees them.
  const clash = s.kernel.host.listening.find(
    (l) => l.proto === b.protocol && l.port === b.hostPort && (b.hostIp === '0.0.0.0' || l.address === '0.0.0.0' || l.address === '::' || l.address === b.hostIp),
  );
  out.push({
    id: 'port.conflict', order: ORDER.conflict, subject: `port:${where}${b.hostPort}/${b.protocol}`, paths: ALL,
    title: `no host process also listens on ${where}${b.hostPort}/${b.protocol}`,
    ok: !clash,
    found: clash ? `${clash.process ?? 'a host process'} listens on ${clash.address}:${clash.port}: DNAT hands its packets to the container first` : 'free on the host',
    ...(clash ? { fix: `stop ${clash.process ?? 'that process'} or publish another host port (-p OTHER:${b.containerPort})` } : {}),
  });
  // Another DNAT of the same port (another minid store, docker, a CNI portmap): whichever rule
  // the nat chains reach first takes the packets.
  const rival = (s.kernel.iptables.otherDnat ?? []).find((d) => d.proto === b.protocol && d.dport === b.hostPort);
  out.push({
    id: 'port.dnat_conflict', order: ORDER.conflict, subject: `port:${where}${b.hostPort}/${b.protocol}`, paths: ALL,
    title: `no other DNAT rule (another store, docker, CNI) takes ${b.hostPort}/${b.protocol}`,
    ok: !rival,
    found: rival ? `nat ${rival.chain} also DNATs ${b.hostPort}/${b.protocol} to ${rival.to}${rival.comment ? ` (${rival.comment})` : ''}: the first rule reached wins` : 'no other DNAT of this port',
    ...(rival ? { fix: `remove the other publisher (its owner: ${rival.comment ?? rival.chain}) or publish another host port (-p OTHER:${b.containerPort})` } : {}),
  });
  return out;
}

// --- leftovers: kernel objects of this store that no record explains ---------------------------

export function leftoverChecks(s: Snapshot): Check[] {
  const out: Check[] = [];
  const known = new Set(s.records.endpoints.map((e) => e.containerId.slice(0, 12)));
  // A CNI container's rules are its plugins', not this store's: only its namespace is minid's.
  const held = new Set([...(s.records.namespaces ?? []), ...(s.records.cni ?? []).map((c) => c.netnsName)]);
  const nets = new Set(s.records.networks.map((n) => n.name));
  for (const r of s.kernel.iptables.rules) {
    const m = /^minid:[0-9a-f]{8}:([^:]+)(?::([^:]*):([^:]+))?$/.exec(r.comment ?? '');
    if (!m) continue;
    const orphan = m[3] ? !known.has(m[3]) : !nets.has(m[1]);
    if (!orphan) continue;
    out.push({
      id: 'leftover.rule', order: ORDER.leftover, subject: `rule:${r.table}/${r.chain}`, paths: ALL,
      title: 'no rule of a container or network that is gone', ok: false,
      found: `${describeRule(r)} (${r.comment}) belongs to ${m[3] ? `container ${m[2]} (${m[3]}), which has no endpoint` : `network ${m[1]}, which has no record`}`,
      fix: `minid system prune  (or: iptables -t ${r.table} -D ${r.chain} ${r.args.map((a) => (/\s|"/.test(a) ? JSON.stringify(a) : a)).join(' ')})`,
    });
  }
  for (const l of s.kernel.host.links) {
    const m = /^minid:([0-9a-f]{8}):([^:]+)$/.exec(l.alias ?? '');
    if (!m || m[1] !== s.records.store || nets.has(m[2])) continue;
    out.push({
      id: 'leftover.bridge', order: ORDER.leftover, subject: `link:${l.name}`, paths: [],
      title: 'no bridge of a network that is gone', ok: false, found: `${l.name} (alias ${l.alias}): network ${m[2]} has no record`,
      fix: `minid system prune  (or: ip link del ${l.name})`,
    });
  }
  const containers = new Set(s.records.containers.map((c) => c.id.slice(0, 12)));
  for (const ns of s.kernel.netnsNames) {
    const id = /^minid-([0-9a-f]{12})$/.exec(ns)?.[1];
    if (!id || !containers.has(id) || known.has(id) || held.has(ns)) continue;
    out.push({
      id: 'leftover.netns', order: ORDER.leftover, subject: `netns:${ns}`, paths: [],
      title: 'no namespace of a container that is not attached', ok: false, found: `${ns} is left of a container with no endpoint`,
      fix: `minid system prune  (or: ip netns del ${ns})`,
    });
  }
  return out;
}

// --- everything at once (topo) ---------------------------------------------------------------

/** The networks worth looking at: those named, else those with a bridge or an endpoint. */
export function networksOf(s: Snapshot, name?: string): NetworkRecord[] {
  if (name) return s.records.networks.filter((n) => n.name === name || n.id.startsWith(name));
  return s.records.networks.filter((n) => hostLink(s, n.bridge) || networkSetUp(s, n));
}

export function allChecks(s: Snapshot, nets: NetworkRecord[]): Check[] {
  const out = [...hostChecks(s, nets)];
  for (const net of nets) {
    out.push(...networkChecks(s, net));
    for (const ep of s.records.endpoints.filter((e) => e.network === net.name)) {
      out.push(...endpointChecks(s, ep, net));
      for (const b of ep.ports) out.push(...portChecks(s, ep, net, b));
    }
  }
  out.push(...leftoverChecks(s));
  return out;
}

export const failed = (cs: Check[]): Check[] => cs.filter((c) => !c.ok);

// --- any namespace: the predicates a lab (src/labs/) states its goal with ----------------------
// A lab reads one of its namespaces as the host (read.ts, `where.netns`) and its "containers"
// as namespace views; these predicates name either by `where`: HOST or a namespace's name.
// Rules are judged by what they do to a packet (walk.ts), not by how they are spelled.

export const HOST = 'host';

function linksIn(s: Snapshot, where: string): Link[] | null {
  if (where === HOST) return s.kernel.host.links;
  const v = netnsView(s, where);
  return v && !v.error ? v.links : null;
}
const ipOf = (where: string): string => (where === HOST ? 'ip' : `ip -n ${where}`);
const inWhere = (where: string): string => (where === HOST ? 'the host' : where);
const lab = (c: Omit<Check, 'order' | 'paths'> & { order?: number }): Check => ({ order: 0, paths: [], ...c });
const missingNs = (where: string, id: string, subject: string, title: string): Check =>
  lab({ id, subject, title, ok: false, found: `namespace ${where} is missing or unreadable`, fix: `ip netns add ${where}` });

export function netnsExistsCheck(s: Snapshot, ns: string): Check {
  const ok = s.kernel.netnsNames.includes(ns);
  return lab({ id: 'netns.exists', order: ORDER.netns, subject: `netns:${ns}`, title: `the network namespace ${ns} exists`, ok, found: ok ? `/run/netns/${ns}` : `no /run/netns/${ns}`, ...(ok ? {} : { fix: `ip netns add ${ns}` }) });
}

export function netnsGoneCheck(s: Snapshot, ns: string, why: string): Check {
  const ok = !s.kernel.netnsNames.includes(ns);
  return lab({ id: 'netns.gone', order: ORDER.leftover, subject: `netns:${ns}`, title: `no namespace ${ns} is left (${why})`, ok, found: ok ? `no /run/netns/${ns}` : `/run/netns/${ns} is still there`, ...(ok ? {} : { fix: `ip netns del ${ns}` }) });
}

/** A link exists in WHERE (and is of KIND: veth, bridge...). */
export function linkExistsCheck(s: Snapshot, where: string, name: string, kind?: string): Check {
  const subject = `link:${where === HOST ? '' : `${where}/`}${name}`;
  const title = `${kind ? `the ${kind} ` : ''}${name} exists in ${inWhere(where)}`;
  const links = linksIn(s, where);
  if (!links) return missingNs(where, 'link.exists', subject, title);
  const l = links.find((x) => x.name === name);
  const ok = !!l && (!kind || l.kind === kind);
  const found = !l ? `no ${name} in ${inWhere(where)} (it has: ${links.map((x) => x.name).join(', ')})` : `${name}: ${l.kind ?? 'a device'}, ${linkState(l)}`;
  return lab({ id: 'link.exists', order: kind === 'bridge' ? ORDER.bridge : ORDER.veth, subject, title, ok, found, ...(ok ? {} : { fix: kind === 'bridge' ? `${ipOf(where)} link add ${name} type bridge` : `create it: ${ipOf(where)} link add ${name} type ${kind ?? 'veth'} ...` }) });
}

export function linkUpCheck(s: Snapshot, where: string, name: string): Check {
  const subject = `link:${where === HOST ? '' : `${where}/`}${name}`;
  const title = `${name} in ${inWhere(where)} is up`;
  const links = linksIn(s, where);
  if (!links) return missingNs(where, 'link.up', subject, title);
  const l = links.find((x) => x.name === name);
  if (!l) return lab({ id: 'link.up', order: ORDER.veth, subject, title, ok: false, found: `no ${name} in ${inWhere(where)}`, fix: 'create it first (see above)' });
  return lab({ id: 'link.up', order: ORDER.veth, subject, title, ok: l.up, found: linkState(l), ...(l.up ? {} : { fix: `${ipOf(where)} link set ${name} up` }) });
}

/** Only these links in WHERE (docker's --network none: lo and nothing else). */
export function onlyLinksCheck(s: Snapshot, where: string, names: string[]): Check {
  const links = linksIn(s, where);
  if (!links) return missingNs(where, 'link.only', `netns:${where}`, `${inWhere(where)} has ${names.join(', ')} and nothing else`);
  const extra = links.filter((l) => !names.includes(l.name)).map((l) => l.name);
  return lab({ id: 'link.only', order: ORDER.veth, subject: `netns:${where}`, title: `${inWhere(where)} has ${names.join(', ')} and nothing else`, ok: !extra.length, found: `links: ${links.map((l) => l.name).join(', ') || 'none'}`, ...(extra.length ? { fix: extra.map((n) => `${ipOf(where)} link del ${n}`).join('; ') } : {}) });
}

/** A bridge port of the host: plugged into BRIDGE. */
export function bridgePortCheck(s: Snapshot, name: string, bridge: string): Check {
  const l = hostLink(s, name);
  const ok = l?.master === bridge;
  return lab({ id: 'link.master', order: ORDER.bridge, subject: `link:${name}`, title: `${name} is plugged into the bridge ${bridge}`, ok, found: !l ? `no ${name}` : l.master ? `${name} on ${l.master}` : `${name} is on no bridge`, ...(ok ? {} : { fix: `ip link set ${name} master ${bridge}` }) });
}

/** Hairpin mode on a host bridge port (a frame may leave by the port it came in). */
export function hairpinCheck(s: Snapshot, name: string): Check {
  const l = hostLink(s, name);
  const ok = !!l?.hairpin;
  return lab({ id: 'link.hairpin', order: ORDER.brNetfilter, subject: `link:${name}`, title: `hairpin mode on bridge port ${name}`, ok, found: !l ? `no ${name}` : `hairpin ${l.hairpin ? 'on' : 'off'}`, ...(ok ? {} : { fix: `ip link set ${name} type bridge_slave hairpin on` }) });
}

/** Two links are the two ends of one veth cable. */
export function vethPairCheck(s: Snapshot, a: [string, string], b: [string, string]): Check {
  const la = linksIn(s, a[0])?.find((x) => x.name === a[1]);
  const lb = linksIn(s, b[0])?.find((x) => x.name === b[1]);
  const ok = !!la && !!lb && la.kind === 'veth' && la.peerIfindex === lb.ifindex && lb.peerIfindex === la.ifindex;
  const name = (w: [string, string]) => `${w[1]} (${inWhere(w[0])})`;
  return lab({
    id: 'veth.pair', order: ORDER.veth, subject: `link:${a[1]}`, title: `${name(a)} and ${name(b)} are the two ends of one cable`, ok,
    found: !la || !lb ? `missing: ${[!la ? name(a) : '', !lb ? name(b) : ''].filter(Boolean).join(' and ')}` : `${a[1]} (ifindex ${la.ifindex}, peer ${la.peerIfindex ?? '-'}), ${b[1]} (ifindex ${lb.ifindex}, peer ${lb.peerIfindex ?? '-'})`,
    ...(ok ? {} : { fix: `ip link add ${a[1]} type veth peer name ${b[1]}, then move each end: ip link set NAME netns NS` }),
  });
}

/** WHERE's DEV holds ADDRESS/PREFIX (a bare address is /32: the neighbours are off-link). */
export function addressCheck(s: Snapshot, where: string, dev: string, cidr: string): Check {
  const subject = `link:${where === HOST ? '' : `${where}/`}${dev}`;
  const title = `${dev} in ${inWhere(where)} has the address ${cidr}`;
  const links = linksIn(s, where);
  if (!links) return missingNs(where, 'address', subject, title);
  const l = links.find((x) => x.name === dev);
  if (!l) return lab({ id: 'address', order: ORDER.address, subject, title, ok: false, found: `no ${dev} in ${inWhere(where)}`, fix: 'create the link first (see above)' });
  const ok = l.addresses.includes(cidr);
  const ip = cidr.split('/')[0];
  const same = l.addresses.find((a) => a.split('/')[0] === ip);
  return lab({
    id: 'address', order: ORDER.address, subject, title, ok,
    found: l.addresses.length ? l.addresses.join(' ') : 'no IPv4 address',
    ...(ok ? {} : { fix: (same ? `${ipOf(where)} addr del ${same} dev ${dev} && ` : '') + `${ipOf(where)} addr add ${cidr} dev ${dev}` }),
  });
}

/** A route in WHERE: to DST ('default' or CIDR) via GATEWAY (or, without one, out of DEV). */
export function routeCheck(s: Snapshot, where: string, dst: string, via?: string, dev?: string): Check {
  const routes = where === HOST ? s.kernel.host.routes : netnsView(s, where)?.routes ?? [];
  const ok = routes.some((r) => r.dst === dst && (!via || r.gateway === via) && (!dev || r.dev === dev));
  const host0 = routes.find((r) => r.dst === '0.0.0.0');
  const list = routes.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`);
  return lab({
    id: 'route', order: ORDER.route, subject: `route:${where}`, title: `${inWhere(where)} routes ${dst}${via ? ` via ${via}` : dev ? ` out of ${dev}` : ''}`, ok,
    found: (list.length ? list.join('; ') : 'no routes') + (host0 && dst === 'default' ? ' (0.0.0.0 is a host route to the single address 0.0.0.0/32, not a default)' : ''),
    ...(ok ? {} : { fix: `${ipOf(where)} route replace ${dst}${via ? ` via ${via}` : ''}${dev ? ` dev ${dev}` : ''}` }),
  });
}

/** A sysctl of the host (per namespace: a lab's own). */
export function sysctlIs(s: Snapshot, key: string, want: string, title: string): Check {
  return lab(sysctlCheck(s, key, want, `sysctl.${key}`, ORDER.forwarding, title, []));
}

/** Something in WHERE listens on PROTO PORT where packets for ADDR arrive (0.0.0.0 or ADDR itself). */
export function listeningCheck(s: Snapshot, where: string, proto: 'tcp' | 'udp', port: number, addr: string): Check {
  const ls = where === HOST ? s.kernel.host.listening : netnsView(s, where)?.listening ?? [];
  const mine = ls.filter((l) => l.proto === proto && l.port === port);
  const good = mine.find((l) => l.address === '0.0.0.0' || l.address === '::' || l.address === addr);
  return lab({
    id: 'app.listening', order: ORDER.app, subject: `socket:${where}:${port}/${proto}`, title: `an app in ${inWhere(where)} listens on ${proto} port ${port} for ${addr}`, ok: !!good,
    found: good ? `${good.address}:${port}${good.process ? ` ${good.process}` : ''}` : mine.length ? `listens on ${mine.map((l) => l.address).join(', ')} only: packets arrive for ${addr}` : `nothing listens on ${proto} port ${port}`,
    ...(good ? {} : { fix: `start the app on 0.0.0.0:${port} (or ${addr}:${port})` }),
  });
}

const describePacket = (p: Packet): string =>
  `${p.proto} ${p.src} -> ${p.dst}${p.dport ? `:${p.dport}` : ''}${p.in ? ` in ${p.in}` : ''}${p.out ? ` out ${p.out}` : ''}${p.ct ? ` (${p.ct.join(',')})` : ''}`;
const verdictText = (v: Verdict): string =>
  (v.rule ? `${v.target}${v.to ? ` to ${v.to}` : ''} by ${ruleText(v.rule)}` : v.target === 'ACCEPT' ? 'no rule took it: it goes on unchanged (policy ACCEPT)' : `${v.target} (the chain's policy)`) +
  (v.unknown.length ? `; ${v.unknown.length} rule(s) with matches this check cannot read were skipped` : '');

/** nat CHAIN (PREROUTING for packets from outside, OUTPUT for the host's own) DNATs P to TO. */
export function dnatCheck(s: Snapshot, chain: 'PREROUTING' | 'OUTPUT', p: Packet, to: string): Check {
  const v = walk(s, 'nat', chain, p);
  const ok = v.target === 'DNAT' && v.to === to;
  return lab({
    id: `dnat.${chain.toLowerCase()}`, order: ORDER.dnat, subject: `rule:nat/${chain}`, title: `nat ${chain} sends ${describePacket(p)} on to ${to}`, ok, found: verdictText(v),
    ...(ok ? {} : { fix: `iptables -t nat -A ${chain} -p ${p.proto}${p.dst ? ` -d ${p.dst}` : ''} --dport ${p.dport} -j DNAT --to-destination ${to}` }),
  });
}

/** nat POSTROUTING masquerades P (want true) or leaves its source alone (want false). */
export function masqueradeCheck(s: Snapshot, p: Packet, want: boolean, why: string): Check {
  const v = walk(s, 'nat', 'POSTROUTING', p);
  const masq = v.target === 'MASQUERADE' || v.target === 'SNAT';
  const ok = masq === want;
  return lab({
    id: want ? 'masquerade' : 'masquerade.not', order: ORDER.masquerade, subject: 'rule:nat/POSTROUTING',
    title: `nat POSTROUTING ${want ? 'masquerades' : 'does not masquerade'} ${describePacket(p)} (${why})`, ok, found: verdictText(v),
    ...(ok ? {} : { fix: want ? `iptables -t nat -A POSTROUTING -s ${p.src}${p.out ? ` -o ${p.out}` : ''} -j MASQUERADE` : `narrow the rule that matched (delete it: iptables -t nat -D POSTROUTING ...; add it back with ! -o ${p.out ?? 'BRIDGE'})` }),
  });
}

/** filter FORWARD lets P through, and its replies (ESTABLISHED) back. */
export function forwardCheck(s: Snapshot, p: Packet): Check {
  const there = walk(s, 'filter', 'FORWARD', { ...p, ct: p.ct ?? ['NEW'] });
  const back = walk(s, 'filter', 'FORWARD', { proto: p.proto, src: p.dst, dst: p.src, ...(p.dport ? { sport: p.dport } : {}), ...(p.out ? { in: p.out } : {}), ...(p.in ? { out: p.in } : {}), ct: ['ESTABLISHED'] });
  const ok = there.target === 'ACCEPT' && back.target === 'ACCEPT';
  return lab({
    id: 'forward', order: ORDER.forwardPolicy, subject: 'chain:filter/FORWARD', title: `filter FORWARD lets ${describePacket(p)} through, and its replies back`, ok,
    found: `there: ${verdictText(there)}; back: ${verdictText(back)}`,
    ...(ok ? {} : { fix: `iptables -A FORWARD ${p.out ? `-o ${p.out} ` : ''}-j ACCEPT; iptables -A FORWARD ${p.out ? `-i ${p.out} ` : ''}-j ACCEPT  (or iptables -P FORWARD ACCEPT)` }),
  });
}

/** The route WHERE takes to ADDR (the longest prefix that covers it) goes via VIA. */
export function routeToCheck(s: Snapshot, where: string, addr: string, via: string): Check {
  const routes = where === HOST ? s.kernel.host.routes : netnsView(s, where)?.routes ?? [];
  const len = (d: string): number => (d === 'default' ? 0 : Number(d.split('/')[1] ?? 32));
  const covering = routes.filter((r) => (r.dst === 'default' ? true : inCidr(addr, r.dst.includes('/') ? r.dst : `${r.dst}/32`))).sort((a, b) => len(b.dst) - len(a.dst));
  const best = covering[0];
  const ok = !!best && best.gateway === via;
  const host0 = routes.find((r) => r.dst === '0.0.0.0');
  const list = routes.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`);
  return lab({
    id: 'route', order: ORDER.route, subject: `route:${where}`, title: `${inWhere(where)} sends packets for ${addr} via the gateway ${via}`, ok,
    found: (best ? `${addr} takes ${best.dst}${best.gateway ? ` via ${best.gateway}` : ' (no gateway)'}` : `no route covers ${addr}`) + ` (routes: ${list.join('; ') || 'none'})` +
      (host0 ? '; 0.0.0.0 without /0 is a host route to the one address 0.0.0.0, not a default route' : ''),
    ...(ok ? {} : { fix: `${ipOf(where)} route replace default via ${via}` }),
  });
}

/**
 * The resolver a namespace uses: `ip netns exec NS` mounts /etc/netns/NS/resolv.conf over
 * /etc/resolv.conf (else the host's file applies). TEXT: that file's content, null if absent.
 */
export function resolverCheck(ns: string, text: string | null, server: string): Check {
  const file = `/etc/netns/${ns}/resolv.conf`;
  const servers = [...(text ?? '').matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]);
  const ok = servers[0] === server;
  return lab({
    id: 'resolver', order: ORDER.app, subject: `file:${file}`, title: `programs in ${ns} ask the DNS server ${server} first`, ok,
    found: text === null ? `no ${file}: \`ip netns exec ${ns}\` keeps the host's /etc/resolv.conf` : servers.length ? `${file}: nameserver ${servers.join(', ')}` : `${file} names no nameserver`,
    ...(ok ? {} : { fix: `mkdir -p /etc/netns/${ns} && echo 'nameserver ${server}' > ${file}` }),
  });
}
