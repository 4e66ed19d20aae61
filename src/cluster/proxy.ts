// Services, as kube-proxy's iptables mode writes them (course notes, chapter "Service
// networking"). Pure: from the services and their endpoints to the text `iptables-restore
// --noflush` takes inside each node; services.ts reads the state and runs it.
//
// A service is "a virtual object that runs across the cluster": no process, no interface,
// only an address (from the service range) and a port that every node rewrites. The same rules
// go on EVERY node, in chains of minid's own (kube-proxy's names, KUBE- -> MINID-):
//
//   nat PREROUTING, OUTPUT -> MINID-SERVICES
//     -d VIP -p tcp --dport P            -> MINID-SVC-<hash>       (one chain per service)
//     (last) --dst-type LOCAL            -> MINID-NODEPORTS        (-p tcp --dport N: mark, then MINID-SVC-<hash>)
//   MINID-SVC-<hash>: new connections spread over the endpoints, the i-th of n taken with
//     -m statistic --mode random --probability 1/(n-i), the last one always (so each gets 1/n)
//   MINID-SEP-<hash>: DNAT --to-destination POD_IP:T            (one chain per endpoint)
//   MINID-MARK-MASQ: sets mark 0x4000; nat POSTROUTING -> MINID-PROXY-POSTROUTING masquerades
//     marked packets (traffic from outside the pod network, NodePort, a pod reaching itself)
//   filter INPUT, FORWARD, OUTPUT -> MINID-SERVICES: a service without endpoints REJECTs (fast
//     "connection refused", not a timeout)
import { createHash } from 'node:crypto';
import { cmd, type Step } from '../network/step.js';
import type { Cmd } from '../network/types.js';

export type ServiceType = 'ClusterIP' | 'NodePort';

export interface Service {
  name: string;
  type: ServiceType;
  clusterIP: string;
  port: number;
  targetPort: number;
  /** Labels a container must carry (all of them) to be an endpoint. */
  selector: Record<string, string>;
  nodePort?: number;
  created: string;
}

export interface Endpoint {
  ip: string;
  port: number;
  node: string;
  container: string;
}

export const SERVICES_CHAIN = 'MINID-SERVICES';
export const NODEPORTS_CHAIN = 'MINID-NODEPORTS';
export const MARK_MASQ_CHAIN = 'MINID-MARK-MASQ';
export const POSTROUTING_CHAIN = 'MINID-PROXY-POSTROUTING';
/** kube-proxy's masquerade bit (--iptables-masquerade-bit 14). */
export const MASQ_MARK = '0x4000';
/** What names a per-service or per-endpoint chain (so stale ones are found and removed). */
export const PER_OBJECT_CHAIN = /^MINID-(SVC|SEP)-[A-Z2-7]{16}$/;
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

/** The jumps into minid's chains from the built-in ones: [table, chain, rule spec]. */
export const HOOKS: [table: 'nat' | 'filter', chain: string, spec: string][] = [
  ['nat', 'PREROUTING', `-m comment --comment "minid service portals" -j ${SERVICES_CHAIN}`],
  ['nat', 'OUTPUT', `-m comment --comment "minid service portals" -j ${SERVICES_CHAIN}`],
  ['nat', 'POSTROUTING', `-m comment --comment "minid postrouting rules" -j ${POSTROUTING_CHAIN}`],
  ['filter', 'INPUT', `-m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j ${SERVICES_CHAIN}`],
  ['filter', 'FORWARD', `-m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j ${SERVICES_CHAIN}`],
  ['filter', 'OUTPUT', `-m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j ${SERVICES_CHAIN}`],
];
export const hookKey = (table: string, chain: string): string => `${table} ${chain}`;

/** kube-proxy's chain suffix: the first 16 characters of base32(sha256(what)). */
export function chainHash(what: string): string {
  const bytes = createHash('sha256').update(what).digest();
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += abc[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= 0xff;
    if (out.length >= 16) break;
  }
  return out;
}

export const svcChain = (s: Service): string => `MINID-SVC-${chainHash(`${s.name}:tcp`)}`;
export const sepChain = (s: Service, e: Endpoint): string => `MINID-SEP-${chainHash(`${s.name}:tcp:${e.ip}:${e.port}`)}`;

/** The chains minid owns in each table, and their rules (`-A ...` lines), for one node. */
export interface RuleSet {
  nat: { chains: string[]; rules: string[] };
  filter: { chains: string[]; rules: string[] };
}

/**
 * The rules of every node (the same everywhere: a service is cluster-wide). `podCidr` is the
 * cluster's pod range: a ClusterIP reached from outside it (the node itself) is masqueraded, as
 * kube-proxy does with --cluster-cidr.
 */
export function ruleSet(services: Service[], endpoints: Map<string, Endpoint[]>, podCidr: string): RuleSet {
  const nat = { chains: [SERVICES_CHAIN, NODEPORTS_CHAIN, MARK_MASQ_CHAIN, POSTROUTING_CHAIN], rules: [] as string[] };
  const filter = { chains: [SERVICES_CHAIN], rules: [] as string[] };
  nat.rules.push(
    `# the masquerade step: ${MARK_MASQ_CHAIN} marks a packet, ${POSTROUTING_CHAIN} (from POSTROUTING) masquerades the marked ones`,
    `-A ${MARK_MASQ_CHAIN} -j MARK --or-mark ${MASQ_MARK}`,
    `-A ${POSTROUTING_CHAIN} -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`,
    // Clear the mark: a packet that goes round again (re-routed) is not masqueraded twice.
    `-A ${POSTROUTING_CHAIN} -j MARK --xor-mark ${MASQ_MARK}`,
    `-A ${POSTROUTING_CHAIN} -m comment --comment "minid service traffic requiring SNAT" -j MASQUERADE`,
  );
  const svcRules: string[] = [];
  const nodePortRules: string[] = [];
  const chainRules: string[] = [];
  for (const s of [...services].sort((a, b) => a.name.localeCompare(b.name))) {
    const eps = endpoints.get(s.name) ?? [];
    const dst = `-d ${s.clusterIP}/32 -p tcp -m tcp --dport ${s.port}`;
    if (eps.length === 0) {
      // kube-proxy: no endpoints, no NAT rules; the filter table refuses the connection.
      filter.rules.push(`# service ${s.name} has no endpoints: connections are refused at once (REJECT), not left to time out`);
      filter.rules.push(`-A ${SERVICES_CHAIN} ${dst.replace(' -m tcp', ` -m comment --comment "${s.name} has no endpoints" -m tcp`)} -j REJECT --reject-with icmp-port-unreachable`);
      if (s.nodePort)
        filter.rules.push(
          `-A ${SERVICES_CHAIN} -p tcp -m comment --comment "${s.name} has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport ${s.nodePort} -j REJECT --reject-with icmp-port-unreachable`,
        );
      continue;
    }
    const svc = svcChain(s);
    nat.chains.push(svc);
    svcRules.push(`-A ${SERVICES_CHAIN} -d ${s.clusterIP}/32 -p tcp -m comment --comment "${s.name} cluster IP" -m tcp --dport ${s.port} -j ${svc}`);
    if (s.nodePort) {
      nodePortRules.push(
        `-A ${NODEPORTS_CHAIN} -p tcp -m comment --comment "${s.name}" -m tcp --dport ${s.nodePort} -j ${MARK_MASQ_CHAIN}`,
        `-A ${NODEPORTS_CHAIN} -p tcp -m comment --comment "${s.name}" -m tcp --dport ${s.nodePort} -j ${svc}`,
      );
    }
    chainRules.push(
      `# service ${s.name}: new connections spread over its ${eps.length} endpoint(s), the i-th of n taken with probability 1/(n-i)`,
    );
    chainRules.push(`-A ${svc} ! -s ${podCidr} ${dst.replace(' -m tcp', ` -m comment --comment "${s.name} cluster IP" -m tcp`)} -j ${MARK_MASQ_CHAIN}`);
    eps.forEach((e, i) => {
      const sep = sepChain(s, e);
      const n = eps.length;
      // The i-th endpoint takes 1/(n-i) of what is left: each ends up with 1/n of the connections.
      const pick = i < n - 1 ? `-m statistic --mode random --probability ${(1 / (n - i)).toFixed(11)} ` : '';
      chainRules.push(`-A ${svc} -m comment --comment "${s.name} -> ${e.ip}:${e.port}" ${pick}-j ${sep}`);
    });
    for (const e of eps) {
      const sep = sepChain(s, e);
      nat.chains.push(sep);
      chainRules.push(
        `# endpoint ${e.ip}:${e.port} (${e.container} on ${e.node}): the destination rewritten`,
        // A pod reaching itself through the service (hairpin) must not see its own address as the source.
        `-A ${sep} -s ${e.ip}/32 -m comment --comment "${s.name}" -j ${MARK_MASQ_CHAIN}`,
        `-A ${sep} -p tcp -m comment --comment "${s.name}" -m tcp -j DNAT --to-destination ${e.ip}:${e.port}`,
      );
    }
  }
  nat.rules.push(
    `# the services' portals: each service IP:port to its chain; then the node ports, on the node's own addresses`,
    ...svcRules,
    // kube-proxy: "this must be the last rule in this chain".
    `-A ${SERVICES_CHAIN} -m comment --comment "minid service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j ${NODEPORTS_CHAIN}`,
    ...nodePortRules,
    ...chainRules,
  );
  return { nat, filter };
}

/** What of minid's services a node's kernel holds (read from `iptables-save` and `ip route`). */
export interface NodeView {
  chains: { nat: Set<string>; filter: Set<string> };
  /** hookKey(table, chain) of each jump present as the chain's first rule. */
  hooks: Set<string>;
  /** Jumps present but no longer first (the node's minid inserted its own jumps above them since). */
  misplaced: Set<string>;
  /** The route of the service range. */
  route: boolean;
}

export const emptyView = (): NodeView => ({ chains: { nat: new Set(), filter: new Set() }, hooks: new Set(), misplaced: new Set(), route: false });

/** Read a node's view from `iptables-save` (nat and filter) and whether the range's route is there. */
export function parseView(save: string, route: boolean): NodeView {
  const v = { ...emptyView(), route };
  let table = '';
  const seen = new Set<string>(); // built-in chains whose first rule was read
  for (const l of save.split('\n')) {
    if (l.startsWith('*')) {
      table = l.slice(1);
      seen.clear();
    }
    if (table !== 'nat' && table !== 'filter') continue;
    const m = /^:(\S+) /.exec(l);
    if (m && (m[1] === SERVICES_CHAIN || m[1] === NODEPORTS_CHAIN || m[1] === MARK_MASQ_CHAIN || m[1] === POSTROUTING_CHAIN || PER_OBJECT_CHAIN.test(m[1]))) {
      v.chains[table].add(m[1]);
    }
    for (const [t, chain, spec] of HOOKS) {
      if (t !== table || !l.startsWith(`-A ${chain} `)) continue;
      const first = !seen.has(chain);
      seen.add(chain);
      if (l.endsWith(`-j ${spec.split(' -j ')[1]}`)) (first ? v.hooks : v.misplaced).add(hookKey(t, chain));
    }
  }
  return v;
}

/** The view a node has once `want` is applied (for the undo of that step). */
export function viewOf(want: RuleSet | null): NodeView {
  if (!want) return emptyView();
  return { chains: { nat: new Set(want.nat.chains), filter: new Set(want.filter.chains) }, hooks: new Set(HOOKS.map(([t, c]) => hookKey(t, c))), misplaced: new Set(), route: true };
}

/**
 * The input of `iptables-restore --noflush` that takes a node from `now` to `want` (null: no
 * services, every trace removed). Declaring a chain (`:NAME - [0:0]`) in --noflush mode creates
 * it or empties it; its rules are then written whole, as kube-proxy does on every sync. Chains
 * no longer wanted are emptied and deleted (-X); the jumps are added once, and removed last.
 */
export function restoreInput(want: RuleSet | null, now: NodeView): string {
  const out: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    const wanted = want ? want[table].chains : [];
    const stale = [...now.chains[table]].filter((c) => !wanted.includes(c)).sort();
    const hooks = HOOKS.filter(([t]) => t === table);
    const has = (t: string, c: string) => now.hooks.has(hookKey(t, c)) || now.misplaced.has(hookKey(t, c));
    if (!wanted.length && !stale.length && !hooks.some(([t, c]) => has(t, c))) continue;
    out.push(`*${table}`);
    for (const c of [...wanted, ...stale]) out.push(`:${c} - [0:0]`);
    if (want) {
      out.push(...want[table].rules);
      // Each jump is the first rule of its chain: in FORWARD before the node's own minid
      // accepts what leaves its bridge, in POSTROUTING before the cluster's "no NAT between
      // pods" RETURN (a pod reaching itself is masqueraded). One pushed down is moved up.
      if (hooks.some(([t, c]) => !now.hooks.has(hookKey(t, c)))) out.push(`# the jumps into minid's chains, each the first rule of its built-in chain`);
      for (const [t, chain, spec] of hooks) {
        if (now.misplaced.has(hookKey(t, chain))) out.push(`-D ${chain} ${spec}`);
        if (!now.hooks.has(hookKey(t, chain))) out.push(`-I ${chain} 1 ${spec}`);
      }
    } else {
      for (const [t, chain, spec] of hooks) if (has(t, chain)) out.push(`-D ${chain} ${spec}`);
    }
    for (const c of stale) out.push(`-X ${c}`);
    out.push('COMMIT');
  }
  return out.length ? out.join('\n') + '\n' : '';
}

export interface NodeTarget {
  name: string;
  netns: string;
}

/** The commands that take one node from `now` to `want`. */
export function syncCommands(node: NodeTarget, serviceCidr: string, want: RuleSet | null, now: NodeView): Cmd[] {
  const cmds: Cmd[] = [];
  // The nodes here have no default route: a real node would send service addresses to its
  // gateway. A route of the range through eth0 takes them to FORWARD, where a service without
  // endpoints is refused (with endpoints, PREROUTING's DNAT has rewritten them before routing).
  if (want && !now.route) cmds.push(cmd('ip', '-n', node.netns, 'route', 'replace', serviceCidr, 'dev', 'eth0'));
  const input = restoreInput(want, now);
  if (input) cmds.push({ argv: ['nsenter', `--net=/run/netns/${node.netns}`, 'iptables-restore', '--noflush'], input });
  if (!want && now.route) cmds.push(cmd('ip', '-n', node.netns, 'route', 'del', serviceCidr, 'dev', 'eth0'));
  return cmds;
}

/** One step per node: its rules made to match the services (undo: back to what it had). */
export function syncSteps(nodes: NodeTarget[], serviceCidr: string, want: RuleSet | null, before: RuleSet | null, views: Map<string, NodeView>, why: string): Step[] {
  return nodes.map((n) => {
    const now = views.get(n.name) ?? emptyView();
    const apply = syncCommands(n, serviceCidr, want, now);
    return {
      name: want ? `kube-proxy's rules on ${n.name}` : `remove the services' rules from ${n.name}`,
      why,
      apply,
      undo: syncCommands(n, serviceCidr, before, viewOf(want)),
      owner: 'host' as const,
      skip: apply.length ? undefined : 'nothing of the services is there',
    };
  });
}
