// `minid topo`: the topology as the kernel holds it, in one JSON-ready object (the shape
// `--format json` prints and the tests snapshot), with every failed check (checks.ts) attached
// as a mark to the network or host it concerns. Pure: a Snapshot in, a Topo out.
import { comment } from '../network/names.js';
import { networkSetUp, endpointChecks, hostChecks, hostLink, leftoverChecks, netnsView, networkChecks, networksOf, portChecks, sysctl, containerEnd, type Check } from './checks.js';
import { hostRules, networkRules, portRulesOf, sameRule, type ExpectedRule } from './expected.js';
import { ruleText } from './parse.js';
import { cniChecks, cniLabel, hostSide, rulesNote } from './cni.js';
import type { IptRule, Listener, Route, Snapshot } from './snapshot.js';

export interface Mark {
  check: string;
  subject: string;
  title: string;
  found: string;
  fix?: string;
  /** A disagreement that does not stop packets (drawn "!"). */
  harmless?: string;
}

export interface RuleView {
  table: string;
  chain: string;
  rule: string;
  /** Whose it is: host (minid's hooks), network NAME, container NAME. */
  owner: string;
  /** minid's records call for it. */
  expected: boolean;
  /** The kernel holds it. */
  present: boolean;
  packets: number;
  bytes: number;
  /** A missing rule: the command that puts it back. */
  fix?: string;
}

export interface EndpointView {
  container: string;
  id: string;
  status: string;
  netns: { name: string; exists: boolean };
  /** The virtual cable: its host end (a bridge port) and its container end. */
  cable: {
    host: { name: string; exists: boolean; up: boolean; operstate: string; master: string | null; hairpin: boolean | null };
    container: { name: string; exists: boolean; up: boolean; operstate: string; addresses: string[]; pairedWithHostEnd: boolean };
  };
  expected: { address: string; gateway: string };
  routes: Route[];
  listening: Listener[];
  published: { protocol: string; hostIp: string; hostPort: number; containerPort: number }[];
}

export interface NetworkView {
  name: string;
  id: string;
  subnet: string;
  gateway: string;
  /** A container joined it (its bridge and rules should exist); false: only recorded so far. */
  setUp: boolean;
  bridge: {
    name: string;
    exists: boolean;
    up: boolean;
    operstate: string;
    alias: string | null;
    addresses: string[];
    routeLocalnet: string | null;
    rpFilter: string | null;
    ports: { name: string; up: boolean; hairpin: boolean | null; state: string | null }[];
  };
  endpoints: EndpointView[];
  rules: RuleView[];
  marks: Mark[];
}

/** A container of `minid run --cni NAME`, drawn from its CNI result and the kernel. */
export interface CniContainerView {
  container: string;
  id: string;
  status: string;
  netns: { name: string; exists: boolean };
  /** The interfaces inside the container the result names (eth0). */
  interfaces: { name: string; exists: boolean; up: boolean; operstate: string; kind: string | null; addresses: string[] }[];
  /** The host end of its cable, when the plugins made one (bridge, ptp): null for macvlan, ipvlan, ... */
  hostEnd: { name: string; exists: boolean; up: boolean; operstate: string; master: string | null; hairpin: boolean | null } | null;
  /** The bridge the result names, when there is one. */
  bridge: string | null;
  /** What the result says: addresses (CIDR) and gateway. */
  expected: { addresses: string[]; gateway: string };
  routes: Route[];
  listening: Listener[];
  published: { protocol: string; hostIp: string; hostPort: number; containerPort: number }[];
  /** Where the result was read: the CNI result cache, or the container's state. */
  resultFrom: 'cache' | 'state';
}

/** A CNI configuration list with the containers of this store on it. */
export interface CniNetworkView {
  name: string;
  /** "CNI network NAME (plugins: bridge, host-local, portmap)". */
  label: string;
  plugins: string[];
  cniVersion: string;
  /** The host bridges the results name. */
  bridges: { name: string; exists: boolean; up: boolean; operstate: string; addresses: string[] }[];
  containers: CniContainerView[];
  /** The plugins' rules are theirs: what minid says instead of checking them. */
  rules: string;
  marks: Mark[];
}

export interface Topo {
  store: string;
  host: {
    uplink: { dev: string; addresses: string[] } | null;
    ipForward: string | null;
    forwardPolicy: string;
    brNetfilter: { loaded: boolean; callIptables: string | null };
    rpFilterAll: string | null;
    /** minid's jumps into its chains, and the 127.0.0.0/8 guard. */
    rules: RuleView[];
    marks: Mark[];
  };
  networks: NetworkView[];
  /** Containers attached by CNI plugins (`minid run --cni`), by configuration list. */
  cni: CniNetworkView[];
  /** Objects of this store that no record explains. */
  leftovers: Mark[];
}

const toMark = (c: Check): Mark => {
  const m: Mark = { check: c.id, subject: c.subject, title: c.title, found: c.found };
  if (c.fix) m.fix = c.fix;
  if (c.harmless) m.harmless = c.harmless;
  return m;
};
const marksOf = (cs: Check[]): Mark[] => cs.filter((c) => !c.ok).map(toMark);

function ruleViews(s: Snapshot, expected: { rule: ExpectedRule; owner: string }[], extra: (r: IptRule) => string | null): RuleView[] {
  const out: RuleView[] = [];
  const seen = new Set<IptRule>();
  for (const { rule, owner } of expected) {
    // The same rule may be expected twice (two host ports to one container port): one view each.
    const have = s.kernel.iptables.rules.find((r) => !seen.has(r) && sameRule(rule, r));
    if (have) seen.add(have);
    const v: RuleView = { table: rule.table, chain: rule.chain, rule: ruleText(rule), owner, expected: true, present: !!have, packets: have?.packets ?? 0, bytes: have?.bytes ?? 0 };
    if (!have) v.fix = rule.add;
    out.push(v);
  }
  for (const r of s.kernel.iptables.rules) {
    if (seen.has(r)) continue;
    const owner = extra(r);
    if (owner) out.push({ table: r.table, chain: r.chain, rule: ruleText(r), owner, expected: false, present: true, packets: r.packets, bytes: r.bytes });
  }
  return out;
}

/** The CNI networks of the snapshot (only NAME's when given), their containers and marks. */
export function cniViews(s: Snapshot, name?: string): CniNetworkView[] {
  const recs = (s.records.cni ?? []).filter((r) => !name || r.network === name);
  const names = [...new Set(recs.map((r) => r.network))].sort();
  return names.map((n) => {
    const mine = recs.filter((r) => r.network === n);
    const checks: Check[] = [];
    const bridges = new Set<string>();
    const containers = mine.map((r): CniContainerView => {
      checks.push(...cniChecks(s, r));
      const side = hostSide(s, r);
      if (side.bridge) bridges.add(side.bridge);
      const view = netnsView(s, r.netnsName);
      const end = side.end ? hostLink(s, side.end) : undefined;
      const inside = r.interfaces.filter((i) => i.sandbox).map((i) => i.name);
      return {
        container: r.containerName,
        id: r.containerId,
        status: s.records.containers.find((x) => x.id === r.containerId)?.status ?? 'unknown',
        netns: { name: r.netnsName, exists: s.kernel.netnsNames.includes(r.netnsName) },
        interfaces: (inside.length ? inside : [r.ifName]).map((name) => {
          const l = view?.links.find((x) => x.name === name);
          return { name, exists: !!l, up: !!l?.up, operstate: l?.operstate ?? 'ABSENT', kind: l?.kind ?? null, addresses: l?.addresses ?? [] };
        }),
        hostEnd: side.end ? { name: side.end, exists: !!end, up: !!end?.up, operstate: end?.operstate ?? 'ABSENT', master: end?.master ?? null, hairpin: end?.hairpin ?? null } : null,
        bridge: side.bridge ?? null,
        expected: { addresses: r.ips.map((i) => i.address), gateway: r.ips.find((i) => i.gateway)?.gateway ?? '' },
        routes: view?.routes ?? [],
        listening: view?.listening ?? [],
        published: r.ports.map((b) => ({ protocol: b.protocol, hostIp: b.hostIp || '0.0.0.0', hostPort: b.hostPort, containerPort: b.containerPort })),
        resultFrom: r.resultFrom,
      };
    });
    const first = mine[0];
    return {
      name: n,
      label: cniLabel(first),
      plugins: first.plugins,
      cniVersion: first.cniVersion,
      bridges: [...bridges].sort().map((b) => {
        const l = hostLink(s, b);
        return { name: b, exists: !!l, up: !!l?.up, operstate: l?.operstate ?? 'ABSENT', addresses: l?.addresses ?? [] };
      }),
      containers,
      rules: rulesNote(first),
      marks: marksOf(checks),
    };
  });
}

export function buildTopo(s: Snapshot, network?: string): Topo {
  // A CNI network's name: that network alone (minid's own networks are not asked for).
  const cniOnly = !!network && (s.records.cni ?? []).some((r) => r.network === network) && !s.records.networks.some((n) => n.name === network);
  const nets = cniOnly ? [] : networksOf(s, network);
  const uplinkRoute = s.kernel.host.routes.find((r) => r.dst === 'default' && r.dev);
  const up = uplinkRoute ? hostLink(s, uplinkRoute.dev!) : undefined;
  const hostMarks = marksOf(hostChecks(s, nets));
  const topo: Topo = {
    store: s.records.store,
    host: {
      uplink: up ? { dev: up.name, addresses: up.addresses } : null,
      ipForward: sysctl(s, 'net.ipv4.ip_forward'),
      forwardPolicy: s.kernel.iptables.policies['filter/FORWARD'] ?? 'ACCEPT',
      brNetfilter: { loaded: s.kernel.brNetfilter, callIptables: sysctl(s, 'net.bridge.bridge-nf-call-iptables') },
      rpFilterAll: sysctl(s, 'net.ipv4.conf.all.rp_filter'),
      rules: ruleViews(s, nets.some((n) => networkSetUp(s, n)) ? hostRules().map((rule) => ({ rule, owner: 'host' })) : [], (r) => (r.comment === 'minid' ? 'host' : null)),
      marks: hostMarks,
    },
    networks: [],
    // All of them, or the one asked for (none when a network of minid's is asked for).
    cni: !network ? cniViews(s) : cniOnly ? cniViews(s, network) : [],
    leftovers: marksOf(leftoverChecks(s)),
  };
  for (const net of nets) {
    const br = hostLink(s, net.bridge);
    const eps = s.records.endpoints.filter((e) => e.network === net.name);
    const checks: Check[] = [...networkChecks(s, net)];
    const endpoints: EndpointView[] = eps.map((ep) => {
      checks.push(...endpointChecks(s, ep, net));
      for (const b of ep.ports) checks.push(...portChecks(s, ep, net, b));
      const h = hostLink(s, ep.veth);
      const c = containerEnd(s, ep);
      const view = netnsView(s, ep.netnsName);
      return {
        container: ep.containerName,
        id: ep.containerId,
        status: s.records.containers.find((x) => x.id === ep.containerId)?.status ?? 'unknown',
        netns: { name: ep.netnsName, exists: s.kernel.netnsNames.includes(ep.netnsName) },
        cable: {
          host: { name: ep.veth, exists: !!h, up: !!h?.up, operstate: h?.operstate ?? 'ABSENT', master: h?.master ?? null, hairpin: h?.hairpin ?? null },
          container: {
            name: ep.ifName, exists: !!c, up: !!c?.up, operstate: c?.operstate ?? 'ABSENT', addresses: c?.addresses ?? [],
            pairedWithHostEnd: !!c && !!h && c.peerIfindex === h.ifindex,
          },
        },
        expected: { address: `${ep.ip}/${ep.prefixLength}`, gateway: ep.gateway },
        routes: view?.routes ?? [],
        listening: view?.listening ?? [],
        published: ep.ports.map((b) => ({ protocol: b.protocol, hostIp: b.hostIp, hostPort: b.hostPort, containerPort: b.containerPort })),
      };
    });
    const netComment = comment(s.records.store, net.name);
    const expected = !networkSetUp(s, net) ? [] : [
      ...networkRules(net, s.records.store).map((rule) => ({ rule, owner: `network ${net.name}` })),
      ...eps.flatMap((ep) => ep.ports.flatMap((b) => portRulesOf(ep, b, net, s.records.store).map((rule) => ({ rule, owner: `container ${ep.containerName}` })))),
    ];
    const rules = ruleViews(s, expected, (r) => {
      if (r.comment === netComment) return `network ${net.name}`;
      if (r.comment?.startsWith(netComment + ':')) return `container ${r.comment.split(':')[3]}`;
      return null;
    });
    topo.networks.push({
      name: net.name,
      id: net.id,
      subnet: net.subnet,
      gateway: net.gateway,
      setUp: networkSetUp(s, net),
      bridge: {
        name: net.bridge,
        exists: !!br,
        up: !!br?.up,
        operstate: br?.operstate ?? 'ABSENT',
        alias: br?.alias ?? null,
        addresses: br?.addresses ?? [],
        routeLocalnet: sysctl(s, `net.ipv4.conf.${net.bridge}.route_localnet`),
        rpFilter: sysctl(s, `net.ipv4.conf.${net.bridge}.rp_filter`),
        ports: s.kernel.host.links.filter((l) => l.master === net.bridge).map((l) => ({ name: l.name, up: l.up, hairpin: l.hairpin ?? null, state: l.portState ?? null })),
      },
      endpoints,
      rules,
      marks: marksOf(checks),
    });
  }
  return topo;
}

/** Every mark of a topo, host first. */
export function allMarks(t: Topo): Mark[] {
  return [...t.host.marks, ...t.networks.flatMap((n) => n.marks), ...(t.cni ?? []).flatMap((n) => n.marks), ...t.leftovers];
}
