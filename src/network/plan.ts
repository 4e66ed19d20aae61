// Pure plan builders: given what is already on the host, the list of steps that connects a
// container (or tears things down). Nothing here touches the host: the steps are data, unit
// tests snapshot them, and step.ts runs them.
//
// The bridge recipe is the one from the course notes, in the same order:
//   namespace -> bridge -> veth pair (one end made inside the namespace) -> other end onto the bridge
//   -> addresses -> links up -> default route -> forwarding -> MASQUERADE -> DNAT (ports)
//
// Packet paths the iptables rules are for (nat table, then filter):
//   container -> outside       MINID-POSTROUTING: -s SUBNET ! -o BRIDGE -j MASQUERADE
//   outside -> published port  PREROUTING (dst-type LOCAL) -> MINID-DNAT: DNAT to IP:PORT;
//                              MINID-FORWARD lets it through even if FORWARD's policy is DROP
//   host -> 127.0.0.1:PORT     OUTPUT (dst-type LOCAL) -> MINID-DNAT; needs route_localnet on the
//                              bridge, and MASQUERADE of the 127.0.0.0/8 source going out of it
//   container -> host:PORT     (hairpin) DNAT back into the same bridge, MASQUERADE so the reply
//                              comes back through the host; hairpin mode on the bridge port
//   network A -> network B     MINID-ISOLATION-1/2: dropped (unless it was DNATed: a published port)
import { cmd, type Step } from './step.js';
import { CHAIN, CONTAINER_IF, FILTER_CHAINS, HOST_COMMENT, NAT_CHAINS, comment, macFor, netnsName, vethHost } from './names.js';
import { deleteCmd, hasChain, hasRule, minidRules, ofNetwork, parseSave, toDelete } from './iptables.js';
import type { StoreRef } from '../sys/store.js';
import type { Cmd, NetworkRecord, PortBinding } from './types.js';

const ipt = (table: 'nat' | 'filter', ...args: string[]): Cmd => cmd('iptables', '-t', table, ...args);
const prefixOf = (cidr: string): string => cidr.split('/')[1];

/** What is already in place on the host (gathered by index.ts, faked by unit tests). */
export interface HostState {
  /** The network's bridge and rules are known to be set up (minid's marker + the bridge exists). */
  networkUp: boolean;
  /** When !networkUp: the bridge device exists anyway (a repair: do not create it again). */
  bridgeExists?: boolean;
  /** When !networkUp: `iptables-save` output, so only missing chains/hooks are added. */
  iptablesSave?: string;
  /** net.ipv4.ip_forward is already 1. */
  ipForward: boolean;
}

export interface BridgePlanInput {
  containerId: string;
  containerName: string;
  network: NetworkRecord;
  /** The store the network belongs to: its id goes into every rule comment and the bridge's alias. */
  store: StoreRef;
  ip: string;
  prefixLength: number;
  /** MTU of the host's uplink (the default-route interface); 1500 when there is none. */
  mtu: number;
  ports: PortBinding[];
  state: HostState;
}

// --- steps ------------------------------------------------------------------------------
// (the network-level builders are exported for connect.ts: `network connect` reuses them)

function netnsStep(id: string): Step {
  const ns = netnsName(id);
  return {
    name: 'create the network namespace',
    why: `the container gets its own interfaces, routes and firewall; 'ip netns add' keeps it at /run/netns/${ns}`,
    apply: [cmd('ip', 'netns', 'add', ns)],
    undo: [cmd('ip', 'netns', 'del', ns)],
  };
}

/** The network's kernel objects: the bridge, labelled with its owner, with the gateway address. */
export function bridgeSteps(net: NetworkRecord, mtu: number, st: HostState, store: StoreRef): Step[] {
  const upReason = `network "${net.name}" is already set up (bridge ${net.bridge} exists)`;
  const skip = st.networkUp ? upReason : undefined;
  const addr = `${net.gateway}/${prefixOf(net.subnet)}`;
  const alias = comment(store.id, net.name);
  return [
    {
      name: 'create the bridge',
      why: `a virtual switch on the host: every container of network "${net.name}" plugs into ${net.bridge}`,
      apply: [cmd('ip', 'link', 'add', net.bridge, 'address', macFor(net.gateway), 'mtu', String(mtu), 'type', 'bridge')],
      undo: [cmd('ip', 'link', 'del', net.bridge)],
      owner: 'network',
      skip: skip ?? (st.bridgeExists ? `bridge ${net.bridge} already exists` : undefined),
    },
    {
      name: 'label the bridge with its owner',
      why:
        `link names are host-wide and several minid stores can share a host: the alias ${alias} (store ${store.id}, ` +
        `network "${net.name}"; \`ip link show ${net.bridge}\` prints it) tells every store whose bridge this is`,
      apply: [cmd('ip', 'link', 'set', net.bridge, 'alias', alias)],
      undo: [],
      owner: 'network',
      skip,
    },
    {
      name: 'give the bridge the gateway address',
      why: `the bridge is also the host's interface on ${net.subnet}: containers reach the host, and beyond it, through ${net.gateway}`,
      apply: [cmd('ip', 'addr', st.bridgeExists ? 'replace' : 'add', addr, 'dev', net.bridge)],
      undo: [],
      owner: 'network',
      skip,
    },
    {
      name: 'bring the bridge up',
      why: 'links are created down',
      apply: [cmd('ip', 'link', 'set', net.bridge, 'up')],
      undo: [],
      owner: 'network',
      skip,
    },
  ];
}

function vethSteps(id: string, net: NetworkRecord, ip: string, prefixLength: number, mtu: number): Step[] {
  const ns = netnsName(id);
  const host = vethHost(id);
  const m = String(mtu);
  return [
    {
      name: 'create the veth pair',
      why:
        `a virtual cable: what enters ${host} leaves ${CONTAINER_IF} and back (MTU ${m} from the host's uplink); ` +
        `${CONTAINER_IF} is made inside ${ns} (no clash with a host ${CONTAINER_IF}), which spares the ~20 ms that ` +
        `moving it in later (\`ip link set PEER netns ${ns}\`) costs`,
      apply: [cmd('ip', 'link', 'add', host, 'mtu', m, 'type', 'veth', 'peer', 'name', CONTAINER_IF, 'mtu', m, 'address', macFor(ip), 'netns', ns)],
      undo: [cmd('ip', 'link', 'del', host)],
    },
    {
      name: 'attach the other end to the bridge',
      why: `plug the cable into the switch; hairpin mode lets a packet leave by the port it came in (a container reaching its own published port)`,
      apply: [cmd('ip', 'link', 'set', host, 'master', net.bridge), cmd('ip', 'link', 'set', host, 'type', 'bridge_slave', 'hairpin', 'on')],
      undo: [],
    },
    {
      name: 'bring the host end up',
      why: 'links are created down',
      apply: [cmd('ip', 'link', 'set', host, 'up')],
      undo: [],
    },
    {
      name: 'assign the container address',
      why: `${ip} was reserved by minid's IPAM for this container; /${prefixLength} makes the rest of ${net.subnet} directly reachable`,
      apply: [cmd('ip', '-n', ns, 'addr', 'add', `${ip}/${prefixLength}`, 'dev', CONTAINER_IF)],
      undo: [],
    },
    {
      name: 'bring the links up inside',
      why: 'loopback (127.0.0.1 inside the container) and eth0',
      apply: [cmd('ip', '-n', ns, 'link', 'set', 'lo', 'up'), cmd('ip', '-n', ns, 'link', 'set', CONTAINER_IF, 'up')],
      undo: [],
    },
    {
      name: 'add the default route',
      why: `everything outside ${net.subnet} goes to the gateway, the bridge's address on the host`,
      apply: [cmd('ip', '-n', ns, 'route', 'add', 'default', 'via', net.gateway)],
      undo: [],
    },
  ];
}

export function forwardingStep(st: HostState): Step {
  return {
    name: 'enable IPv4 forwarding',
    why: 'the host must route packets between the bridge and its other interfaces (it is left on, as docker does)',
    apply: [cmd('sysctl', '-w', 'net.ipv4.ip_forward=1')],
    undo: [],
    owner: 'host',
    skip: st.ipForward ? 'net.ipv4.ip_forward is already 1' : undefined,
    check: [{ sysctl: 'net.ipv4.ip_forward', value: '1' }],
  };
}

export function localnetStep(net: NetworkRecord, st: HostState): Step {
  const key = `net.ipv4.conf.${net.bridge}.route_localnet`;
  return {
    name: 'let the bridge carry 127.0.0.1 traffic',
    why:
      'route_localnet lets the kernel DNAT `curl 127.0.0.1:PORT` into the bridge, so published ports need no proxy process; ' +
      'it is set on this bridge only, and MINID-INPUT blocks its abuse (CVE-2020-8558)',
    apply: [cmd('sysctl', '-w', `${key}=1`)],
    undo: [],
    owner: 'network',
    skip: st.networkUp ? `network "${net.name}" is already set up` : undefined,
    check: [{ sysctl: key, value: '1' }],
  };
}

/** minid's own chains and the jumps into them: created once per host, kept while any network uses them. */
export function globalSteps(st: HostState): Step[] {
  const inPlace = "minid's chains are already in place";
  if (st.networkUp) {
    // Not inspected: a network that is up implies its chains are.
    return globalStepDefs().map((s) => ({ ...s, skip: inPlace }));
  }
  const saved = parseSave(st.iptablesSave ?? '');
  return globalStepDefs().map((s) => {
    const missing = s.apply.filter((c) => {
      const a = c.argv;
      if (a.includes('-N')) return !hasChain(saved, a[2], a[a.indexOf('-N') + 1]);
      return !hasRule(saved, c);
    });
    if (missing.length === 0) return { ...s, skip: inPlace };
    return { ...s, apply: missing, undo: undoGlobal(missing) };
  });
}

/** Undo of global commands, in reverse: -N becomes -X, -A/-I become -D. */
function undoGlobal(apply: Cmd[]): Cmd[] {
  return [...apply].reverse().map((c) => (c.argv.includes('-N') ? { argv: c.argv.map((x) => (x === '-N' ? '-X' : x)) } : toDelete(c)));
}

function globalStepDefs(): Step[] {
  const g = HOST_COMMENT;
  const chains: Cmd[] = [
    ...NAT_CHAINS.map((c) => ipt('nat', '-N', c)),
    ...FILTER_CHAINS.map((c) => ipt('filter', '-N', c)),
    ipt('filter', '-I', CHAIN.forward, '-m', 'comment', '--comment', g, '-j', CHAIN.isolation1),
  ];
  const hooks: Cmd[] = [
    ipt('nat', '-A', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-m', 'comment', '--comment', g, '-j', CHAIN.dnat),
    ipt('nat', '-A', 'OUTPUT', '-m', 'addrtype', '--dst-type', 'LOCAL', '-m', 'comment', '--comment', g, '-j', CHAIN.dnat),
    ipt('nat', '-A', 'POSTROUTING', '-m', 'comment', '--comment', g, '-j', CHAIN.postrouting),
    ipt('filter', '-I', 'FORWARD', '-m', 'comment', '--comment', g, '-j', CHAIN.forward),
    ipt('filter', '-I', 'INPUT', '-m', 'comment', '--comment', g, '-j', CHAIN.input),
  ];
  const guard = ipt(
    'filter', '-A', CHAIN.input, '-d', '127.0.0.0/8', '!', '-i', 'lo',
    '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-m', 'comment', '--comment', g, '-j', 'DROP',
  );
  return [
    {
      name: "create minid's own iptables chains",
      why: 'minid only ever adds to, and deletes from, chains it created: the host\'s own rules are left alone',
      apply: chains,
      undo: undoGlobal(chains), // the jump into MINID-ISOLATION-1 goes before the chains
      owner: 'host',
    },
    {
      name: "hook minid's chains into the built-in ones",
      why: 'DNAT for packets to any local address (from outside: PREROUTING; from the host itself: OUTPUT), MASQUERADE on the way out, filtering of forwarded packets',
      apply: hooks,
      undo: undoGlobal(hooks),
      owner: 'host',
    },
    {
      name: 'block outside access to 127.0.0.0/8 (CVE-2020-8558)',
      why: 'with route_localnet on, a neighbour could reach services bound to 127.0.0.1; drop such packets unless they belong to a published port (DNAT)',
      apply: [guard],
      undo: [toDelete(guard)],
      owner: 'host',
    },
  ];
}

/** The network's iptables rules: MASQUERADE, forwarding, isolation. */
export function networkRuleSteps(net: NetworkRecord, st: HostState, store: StoreRef): Step[] {
  const c = comment(store.id, net.name);
  const br = net.bridge;
  const skip = st.networkUp ? `network "${net.name}" is already set up` : undefined;
  const steps: Step[] = [];
  if (!st.networkUp && st.iptablesSave) {
    // A crash or a reboot-less re-create can leave the network's rules behind: delete them first
    // instead of adding duplicates.
    // Network-level rules of this store only: a container's own rules belong to it (detach /
    // pruneLeftovers), another store's network of the same name is not this one.
    const stale = minidRules(parseSave(st.iptablesSave)).filter((r) => ofNetwork(store, net, r) && !r.owner.containerId12);
    if (stale.length) {
      steps.push({
        name: `remove stale rules of network "${net.name}"`,
        why: stale.some((r) => !r.owner.store)
          ? 'left behind by an earlier run that did not finish, or by an older minid (no store id in their comment); they are re-added below'
          : 'left behind by an earlier run that did not finish; they are re-added below',
        apply: stale.map(deleteCmd),
        undo: [],
        owner: 'network',
      });
    }
  }
  const masq = [ipt('nat', '-A', CHAIN.postrouting, '-s', net.subnet, '!', '-o', br, '-m', 'comment', '--comment', c, '-j', 'MASQUERADE')];
  const hairpin = [
    ipt('nat', '-A', CHAIN.postrouting, '-s', net.subnet, '-o', br, '-m', 'conntrack', '--ctstate', 'DNAT', '-m', 'comment', '--comment', c, '-j', 'MASQUERADE'),
    ipt('nat', '-A', CHAIN.postrouting, '-s', '127.0.0.0/8', '-o', br, '-m', 'comment', '--comment', c, '-j', 'MASQUERADE'),
  ];
  const fwd = [
    ipt('filter', '-A', CHAIN.forward, '-o', br, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-m', 'comment', '--comment', c, '-j', 'ACCEPT'),
    ipt('filter', '-A', CHAIN.forward, '-i', br, '-m', 'comment', '--comment', c, '-j', 'ACCEPT'),
    ipt('filter', '-A', CHAIN.isolation1, '-i', br, '!', '-o', br, '-m', 'comment', '--comment', c, '-j', CHAIN.isolation2),
    ipt('filter', '-A', CHAIN.isolation2, '-o', br, '-m', 'conntrack', '!', '--ctstate', 'DNAT', '-m', 'comment', '--comment', c, '-j', 'DROP'),
  ];
  steps.push(
    {
      name: 'masquerade traffic leaving the network',
      why: `packets from ${net.subnet} that leave by another interface get the host's address as source, so replies find their way back`,
      apply: masq,
      undo: masq.map(toDelete),
      owner: 'network',
      skip,
    },
    {
      name: 'masquerade hairpin and localhost traffic into the bridge',
      why: `a container reaching a published port through a host address, and 127.0.0.1 clients, must see replies come back through the host (source becomes ${net.gateway})`,
      apply: hairpin,
      undo: hairpin.map(toDelete),
      owner: 'network',
      skip,
    },
    {
      name: 'allow forwarding for the network, isolate it from other networks',
      why: `${br} may talk to itself and to the outside, replies may come back in; packets from another minid network are dropped unless they target a published port`,
      apply: fwd,
      undo: fwd.map(toDelete),
      owner: 'network',
      skip,
    },
  );
  return steps;
}

export function portRules(b: PortBinding, ip: string, net: NetworkRecord, cmt: string): Cmd[] {
  const dst = b.hostIp === '0.0.0.0' ? [] : ['-d', `${b.hostIp}/32`];
  return [
    ipt('nat', '-A', CHAIN.dnat, ...dst, '-p', b.protocol, '-m', b.protocol, '--dport', String(b.hostPort), '-m', 'comment', '--comment', cmt, '-j', 'DNAT', '--to-destination', `${ip}:${b.containerPort}`),
    ipt('filter', '-A', CHAIN.forward, '-d', `${ip}/32`, '!', '-i', net.bridge, '-o', net.bridge, '-p', b.protocol, '-m', b.protocol, '--dport', String(b.containerPort), '-m', 'comment', '--comment', cmt, '-j', 'ACCEPT'),
  ];
}

function portStep(b: PortBinding, ip: string, net: NetworkRecord, cmt: string): Step {
  const where = b.hostIp === '0.0.0.0' ? `every host address (127.0.0.1 too)` : b.hostIp;
  const rules = portRules(b, ip, net, cmt);
  return {
    name: `publish ${b.hostIp === '0.0.0.0' ? '' : b.hostIp + ':'}${b.hostPort} -> ${b.containerPort}/${b.protocol}`,
    why: `DNAT rewrites ${b.protocol} packets for port ${b.hostPort} on ${where} to ${ip}:${b.containerPort}, in the kernel; FORWARD lets them in`,
    apply: rules,
    undo: rules.map(toDelete),
  };
}

// --- public planners -------------------------------------------------------------------

/** --network none (and the namespace the cni driver hands to the plugins): a namespace, loopback up. */
export function planNoneAttach(o: { containerId: string; containerName: string }): Step[] {
  const ns = netnsName(o.containerId);
  return [
    netnsStep(o.containerId),
    {
      name: 'bring loopback up',
      why: '--network none: the container gets 127.0.0.1 and nothing else',
      apply: [cmd('ip', '-n', ns, 'link', 'set', 'lo', 'up')],
      undo: [],
    },
  ];
}

/** A bridge network (the default 'bridge' or a user network): the course notes' recipe. */
export function planBridgeAttach(o: BridgePlanInput): Step[] {
  const net = o.network;
  const cmt = comment(o.store.id, net.name, o.containerName, o.containerId);
  return [
    netnsStep(o.containerId),
    ...bridgeSteps(net, o.mtu, o.state, o.store),
    ...vethSteps(o.containerId, net, o.ip, o.prefixLength, o.mtu),
    forwardingStep(o.state),
    localnetStep(net, o.state),
    ...globalSteps(o.state),
    ...networkRuleSteps(net, o.state, o.store),
    ...o.ports.map((b) => portStep(b, o.ip, net, cmt)),
  ];
}

/** Undo what attach did, from the attachment alone (it carries its undo commands): every driver's. */
export function planDetach(att: { undo: Cmd[][]; undoNames?: string[] }): Step[] {
  const steps: Step[] = [];
  for (let i = att.undo.length - 1; i >= 0; i--) {
    if (att.undo[i].length === 0) continue;
    const name = att.undoNames?.[i] ?? `step ${i + 1}`;
    steps.push({ name: `undo "${name}"`, why: 'teardown', apply: att.undo[i], undo: [] });
  }
  return steps;
}

/**
 * Remove a network's kernel objects: its rules (found by comment: this store's only) and its
 * bridge (`bridgeOurs`: it exists and its alias names this store, or it has none).
 */
export function planNetworkTeardown(net: NetworkRecord, iptablesSave: string, bridgeOurs: boolean, store: StoreRef): Step[] {
  const rules = minidRules(parseSave(iptablesSave)).filter((r) => ofNetwork(store, net, r));
  const steps: Step[] = [];
  if (rules.length) {
    const legacy = rules.some((r) => !r.owner.store) ? `, and an older minid's minid:${net.name} on ${net.bridge} or its subnet` : '';
    steps.push({
      name: `remove the iptables rules of network "${net.name}"`,
      why: `every rule whose comment starts with ${comment(store.id, net.name)}${legacy}`,
      apply: rules.map(deleteCmd),
      undo: [],
      owner: 'network',
    });
  }
  if (bridgeOurs) {
    steps.push({
      name: 'delete the bridge',
      why: 'its address, its route and its route_localnet setting go with it',
      apply: [cmd('ip', 'link', 'del', net.bridge)],
      undo: [],
      owner: 'network',
    });
  }
  return steps;
}

/** Remove minid's chains and hooks, but only when no network or container rule of any store is left. */
export function planGlobalTeardown(iptablesSave: string): Step[] {
  const saved = parseSave(iptablesSave);
  if (minidRules(saved).some((r) => r.owner.network)) return [];
  const ours = new Set<string>([...NAT_CHAINS, ...FILTER_CHAINS]);
  const hooks = saved.rules.filter((r) => !ours.has(r.chain) && ours.has(r.args[r.args.indexOf('-j') + 1]));
  const inner = saved.rules.filter((r) => ours.has(r.chain));
  const chains: Cmd[] = [];
  for (const [table, names] of [['nat', NAT_CHAINS], ['filter', FILTER_CHAINS]] as const) {
    for (const c of names) if (hasChain(saved, table, c)) chains.push(ipt(table, '-X', c));
  }
  const steps: Step[] = [];
  if (hooks.length) steps.push({ name: "unhook minid's chains", why: 'no minid network is left', apply: hooks.map(deleteCmd), undo: [], owner: 'host' });
  if (inner.length + chains.length) {
    steps.push({ name: "delete minid's chains", why: 'empty them rule by rule, then delete them', apply: [...inner.map(deleteCmd), ...chains], undo: [], owner: 'host' });
  }
  return steps;
}
