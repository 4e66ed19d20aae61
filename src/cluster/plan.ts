// A cluster on one machine, as the course notes draw it (chapters "Cluster networking" and
// "Pod networking"): nodes on a LAN, each with a bridge and a pod subnet of its own, and either
// static routes between the nodes or a VXLAN overlay (flannel's vxlan backend). This module is
// pure: the layout (names, addresses) and the Steps that make it; index.ts runs them.
//
//   host:    LAN bridge mcl<store>   (no address: the host takes no part in the LAN)
//              |- mcl<store>n1 ==veth== eth0 192.168.X.11  in netns mcl-<store>-node1
//              |- mcl<store>n2 ==veth== eth0 192.168.X.12  in netns mcl-<store>-node2
//   node1:   cni0 10.244.1.1/24 (made by the node's own minid, bridge driver, on first run)
//            routes:  10.244.2.0/24 via 192.168.X.12                       (--mode routes)
//            vxlan:   10.244.2.0/24 via 10.244.2.0 dev vxlan1 onlink,
//                     neigh 10.244.2.0 -> node2's VTEP MAC, fdb MAC -> 192.168.X.12 (--mode vxlan)
import { cmd, type Step } from '../network/step.js';
import { intToIp, overlaps, parseSubnet, type Cidr } from '../network/cidr.js';

export type ClusterMode = 'routes' | 'vxlan';

export interface ClusterNode {
  name: string;
  /** 1..9: the node's number in its LAN address (.10+n) and pod subnet (10.244.n.0/24). */
  index: number;
  netns: string;
  /** Host end of the node's uplink (its LAN cable); the node end is eth0. */
  uplink: string;
  ip: string;
  podSubnet: string;
  /** The VTEP's MAC (--mode vxlan). */
  vtepMac: string;
  /** Where a sysfs mounted from inside the node shows the node's links (see index.ts). */
  sysfs: string;
}

export interface ClusterLayout {
  /** The main store's id: in every name, so clusters of two stores never clash. */
  store: string;
  mode: ClusterMode;
  lan: string;
  podCidr: string;
  /** The LAN bridge on the host. */
  bridge: string;
  nodes: ClusterNode[];
}

export const VXLAN_DEV = 'vxlan1';
/** flannel's vxlan backend: VNI 1, UDP port 8472 (the Linux kernel's old default). */
export const VXLAN_VNI = 1;
export const VXLAN_PORT = 8472;
/** The bridge each node's minid makes for its pods (the notes call it v-net-0). */
export const NODE_BRIDGE = 'cni0';
/** kubelet's --cluster-domain default: the root of the cluster's names (dns.ts). */
export const CLUSTER_DOMAIN = 'cluster.local';
export const NAT_COMMENT = 'cluster pods reach pods without NAT';

/** Ranges no node, pod or service may use: the kernel gives their addresses another meaning. */
const RESERVED: [range: string, what: string][] = [
  ['0.0.0.0/8', '"this network"'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved, with the broadcast address'],
];

/** For bad input: "FLAG RANGE overlaps R (what): pick ..." when `c` touches a reserved range, else null. */
export function reservedClash(c: Cidr, flag: string, example: string): string | null {
  const hit = RESERVED.find(([r]) => overlaps(c, parseSubnet(r)));
  return hit ? `${flag} ${c.text} overlaps ${hit[0]} (${hit[1]}): those addresses are not routed like a host's; pick a private range (e.g. ${flag} ${example})` : null;
}

/** A services' range to suggest: the first of a few /16s that none of `used` (pod range, LAN) touches. */
export function rangeApart(used: string[]): string {
  const taken = used.map((u) => parseSubnet(u));
  const ok = ['10.96.0.0/16', '10.97.0.0/16', '172.20.0.0/16', '192.168.200.0/24'].find((c) => !taken.some((t) => overlaps(t, parseSubnet(c))));
  return ok ?? '10.96.0.0/16';
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

export function layout(o: { store: string; mode: ClusterMode; lan: Cidr; podCidr: Cidr; nodes: number; sysfsDir: (name: string) => string }): ClusterLayout {
  const nodes: ClusterNode[] = [];
  for (let i = 1; i <= o.nodes; i++) {
    const name = `node${i}`;
    nodes.push({
      name,
      index: i,
      netns: `mcl-${o.store}-${name}`,
      uplink: `mcl${o.store}n${i}`,
      ip: intToIp(o.lan.base + 10 + i),
      podSubnet: `${intToIp(o.podCidr.base + i * 256)}/24`,
      vtepMac: `02:4d:76:${hex2(parseInt(o.store.slice(0, 2), 16))}:${hex2(parseInt(o.store.slice(2, 4), 16))}:${hex2(i)}`,
      sysfs: o.sysfsDir(name),
    });
  }
  return { store: o.store, mode: o.mode, lan: o.lan.text, podCidr: o.podCidr.text, bridge: `mcl${o.store}`, nodes };
}

const lanPrefix = (l: ClusterLayout): string => l.lan.split('/')[1];
const netOf = (s: string): string => s.split('/')[0];
/** A command run inside a node's network namespace (only that: the host's mounts stay in view). */
const inNode = (n: ClusterNode, ...argv: string[]) => cmd('nsenter', `--net=/run/netns/${n.netns}`, ...argv);

/** Every step of `cluster up`, in order. Every object made has its undo. */
export function upSteps(l: ClusterLayout): Step[] {
  const steps: Step[] = [
    {
      name: 'create the LAN',
      why:
        `Cluster networking: the nodes' network ${l.lan} is a switch, the bridge ${l.bridge} on the host; it gets no address ` +
        `(the host is not on this LAN and routes nothing into it), and no IPv6 link-local address either`,
      apply: [
        cmd('ip', 'link', 'add', l.bridge, 'type', 'bridge'),
        cmd('ip', 'link', 'set', l.bridge, 'alias', `minid:${l.store}:cluster-lan`),
        cmd('sysctl', '-w', `net.ipv6.conf.${l.bridge}.disable_ipv6=1`),
        cmd('ip', 'link', 'set', l.bridge, 'up'),
      ],
      undo: [cmd('ip', 'link', 'del', l.bridge)],
      owner: 'host',
    },
  ];
  for (const n of l.nodes) {
    steps.push(
      {
        name: `create node ${n.name}`,
        why: `Cluster networking: a node is a machine of its own; here a network namespace, ${n.netns}, with its own links, routes, firewall and sysctls`,
        apply: [cmd('ip', 'netns', 'add', n.netns)],
        undo: [cmd('ip', 'netns', 'del', n.netns)],
        owner: 'host',
      },
      {
        name: `plug ${n.name} into the LAN`,
        why: `Cluster networking: a veth pair is the node's network cable: eth0 inside the node, ${n.uplink} on the LAN switch`,
        apply: [
          cmd('ip', 'link', 'add', n.uplink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.netns),
          cmd('ip', 'link', 'set', n.uplink, 'master', l.bridge),
          cmd('ip', 'link', 'set', n.uplink, 'up'),
        ],
        undo: [cmd('ip', 'link', 'del', n.uplink)],
        owner: 'host',
      },
      {
        name: `give ${n.name} its LAN address`,
        why: `Cluster networking: ${n.ip} on eth0 (\`ip addr add ${n.ip}/${lanPrefix(l)} dev eth0\`, as in the notes), links up`,
        apply: [
          cmd('ip', '-n', n.netns, 'addr', 'add', `${n.ip}/${lanPrefix(l)}`, 'dev', 'eth0'),
          cmd('ip', '-n', n.netns, 'link', 'set', 'lo', 'up'),
          cmd('ip', '-n', n.netns, 'link', 'set', 'eth0', 'up'),
        ],
        undo: [],
        owner: 'host',
      },
      {
        name: `let ${n.name} route`,
        why: `Pod networking: the node forwards between its pod bridge and the LAN (ip_forward is per network namespace: set here, the host's is untouched)`,
        apply: [inNode(n, 'sysctl', '-w', 'net.ipv4.ip_forward=1')],
        undo: [],
        owner: 'host',
      },
      {
        name: `no NAT between pods on ${n.name}`,
        why:
          `Pod networking: "every pod reaches every other pod with its own IP, without NAT": traffic from ${l.podCidr} to ${l.podCidr} ` +
          `leaves POSTROUTING before minid's MASQUERADE (flannel's RETURN rule); only traffic leaving the pod network is masqueraded`,
        apply: [inNode(n, 'iptables', '-t', 'nat', '-I', 'POSTROUTING', '1', '-s', l.podCidr, '-d', l.podCidr, '-m', 'comment', '--comment', NAT_COMMENT, '-j', 'RETURN')],
        undo: [],
        owner: 'host',
      },
      {
        name: `show ${n.name}'s links to its minid`,
        why: `/sys/class/net shows the links of the namespace that mounted /sys: a sysfs mounted from inside the node (what \`ip netns exec\` does) lets the node's minid see its own`,
        apply: [inNode(n, 'mount', '-t', 'sysfs', '-o', 'ro,nosuid,nodev,noexec', 'sysfs', n.sysfs)],
        undo: [cmd('umount', n.sysfs)],
        owner: 'host',
      },
    );
  }
  steps.push(...(l.mode === 'routes' ? routeSteps(l) : vxlanSteps(l)));
  return steps;
}

/** --mode routes: every node learns where the other nodes' pod subnets are. */
function routeSteps(l: ClusterLayout): Step[] {
  return l.nodes.map((n) => ({
    name: `routes to the other nodes' pods on ${n.name}`,
    why: `Pod networking: every other node's pod subnet is reached through that node's LAN address (the same routes on every node, each leaving out its own subnet)`,
    apply: l.nodes.filter((p) => p !== n).map((p) => cmd('ip', '-n', n.netns, 'route', 'add', p.podSubnet, 'via', p.ip, 'dev', 'eth0')),
    undo: [],
    owner: 'host' as const,
  }));
}

/**
 * --mode vxlan, flannel's vxlan backend: one VTEP per node (vxlan1, VNI 1, UDP 8472, no
 * learning); NET.0 of a node's pod subnet names its VTEP. For every other node: a
 * route to its pod subnet via its VTEP address (onlink), a permanent neighbour entry giving that
 * address the other VTEP's MAC, and an FDB entry sending frames for that MAC to the node's LAN IP.
 */
function vxlanSteps(l: ClusterLayout): Step[] {
  const steps: Step[] = [];
  for (const n of l.nodes) {
    const others = l.nodes.filter((p) => p !== n);
    steps.push(
      {
        name: `create the VXLAN device on ${n.name}`,
        why:
          `Pod networking (overlay, as flannel and weave do): ${VXLAN_DEV} wraps pod packets in UDP ${VXLAN_PORT} between node addresses; ` +
          `its MTU is 50 bytes less than eth0's for the outer headers. (flannel also gives it ${netOf(n.podSubnet)}/32, a source address for the ` +
          `node's own packets to pods; forwarded pod packets need none, and minid's node store would see it as a clash with its pod subnet)`,
        apply: [
          cmd('ip', '-n', n.netns, 'link', 'add', VXLAN_DEV, 'address', n.vtepMac, 'type', 'vxlan', 'id', String(VXLAN_VNI), 'local', n.ip, 'dev', 'eth0', 'dstport', String(VXLAN_PORT), 'nolearning'),
          cmd('ip', '-n', n.netns, 'link', 'set', VXLAN_DEV, 'up'),
        ],
        undo: [],
        owner: 'host',
      },
      {
        name: `routes, neighbours and FDB entries on ${n.name}`,
        why: `Pod networking (overlay): a pod subnet goes to its node's VTEP address; that address has the VTEP's MAC; the MAC is behind the node's LAN address`,
        apply: others.flatMap((p) => [
          cmd('ip', '-n', n.netns, 'route', 'add', p.podSubnet, 'via', netOf(p.podSubnet), 'dev', VXLAN_DEV, 'onlink'),
          cmd('ip', '-n', n.netns, 'neigh', 'add', netOf(p.podSubnet), 'lladdr', p.vtepMac, 'dev', VXLAN_DEV, 'nud', 'permanent'),
          cmd('bridge', '-n', n.netns, 'fdb', 'append', p.vtepMac, 'dev', VXLAN_DEV, 'dst', p.ip),
        ]),
        undo: [],
        owner: 'host',
      },
    );
  }
  return steps;
}

/**
 * `cluster down`: deleting a node's namespace takes everything inside it (eth0, vxlan1, cni0,
 * its routes and rules); its uplink goes with its peer. Each object is named by the layout, so
 * this works from the record alone, also after an `up` that stopped half-way: objects that
 * are not there are skipped (`present` says which are).
 */
export function downSteps(l: ClusterLayout, present: { netns: Set<string>; links: Set<string>; mounts: Set<string> }): Step[] {
  const steps: Step[] = [];
  for (const n of l.nodes) {
    const gone = (what: string) => `${what} is not there`;
    steps.push(
      {
        name: `unmount ${n.name}'s sysfs`,
        why: 'the view of its links for its minid',
        apply: [cmd('umount', n.sysfs)],
        undo: [],
        skip: present.mounts.has(n.sysfs) ? undefined : gone(n.sysfs),
      },
      {
        name: `unplug ${n.name} from the LAN`,
        why: `deleting one end of the veth pair ${n.uplink} deletes the other (eth0 in the node) at once, not when the kernel gets round to freeing the namespace`,
        apply: [cmd('ip', 'link', 'del', n.uplink)],
        undo: [],
        skip: present.links.has(n.uplink) ? undefined : gone(n.uplink),
      },
      {
        name: `delete node ${n.name}`,
        why: 'its namespace holds its links, routes, VXLAN device and rules: they go with it',
        apply: [cmd('ip', 'netns', 'del', n.netns)],
        undo: [],
        skip: present.netns.has(n.netns) ? undefined : gone(`netns ${n.netns}`),
      },
    );
  }
  steps.push({
    name: 'delete the LAN',
    why: `the switch ${l.bridge} the nodes were plugged into; no node is left on it`,
    apply: [cmd('ip', 'link', 'del', l.bridge)],
    undo: [],
    skip: present.links.has(l.bridge) ? undefined : `${l.bridge} is not there`,
  });
  return steps;
}
