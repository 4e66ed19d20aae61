// The kernel snapshot: what `minid topo` and `minid why` look at, as plain JSON data. One reader
// (read.ts) fills it from the host; every predicate (checks.ts) and renderer only reads it, so a
// snapshot recorded on one machine (JSON.stringify) replays in a unit test on any other.
//
// Two halves: `kernel` is what the kernel holds now (ip, bridge, sysctls, iptables, sockets);
// `records` is what minid wrote down in its store (networks, endpoints, containers). Where the
// two disagree is exactly what the checks report.
import type { NetworkRecord, PortBinding } from '../network/types.js';

/** One network interface, from `ip -j -d addr show` (and the same inside a namespace). */
export interface Link {
  name: string;
  ifindex: number;
  /** linkinfo.info_kind: bridge, veth, ... (absent for lo and physical devices). */
  kind?: string;
  /** The UP flag: set by `ip link set NAME up`. */
  up: boolean;
  /** operstate: UP, DOWN, LOWERLAYERDOWN (the other end of the cable is down), UNKNOWN. */
  operstate: string;
  /** The bridge this link is plugged into (a bridge port). */
  master?: string;
  /** `ip link set NAME alias ...`: minid labels its bridges minid:<store>:<network>. */
  alias?: string;
  /** IPv4 addresses as CIDR (address/prefix). */
  addresses: string[];
  mtu: number;
  mac?: string;
  /** A veth: the ifindex of its other end (link_index), in the namespace peerNetnsId names. */
  peerIfindex?: number;
  peerNetnsId?: number;
  /** A bridge port: hairpin mode (a frame may leave by the port it came in). */
  hairpin?: boolean;
  /** A bridge port: STP state (forwarding, disabled, ...). */
  portState?: string;
}

export interface Route {
  /** 'default' or CIDR. */
  dst: string;
  gateway?: string;
  dev?: string;
}

/** A listening socket (`ss -ltun`). */
export interface Listener {
  proto: 'tcp' | 'udp';
  /** 0.0.0.0, ::, 127.0.0.1, ... (no brackets). */
  address: string;
  port: number;
  /** "nginx (pid 42)" when ss could tell. */
  process?: string;
}

/** One iptables rule with its live counters (`iptables-save -c`). */
export interface IptRule {
  table: string;
  chain: string;
  /** Tokens after `-A CHAIN`, quotes removed (as network/iptables.ts parses them). */
  args: string[];
  comment?: string;
  packets: number;
  bytes: number;
}

/** What one network namespace holds. */
export interface NetnsView {
  name: string;
  /** The namespace could not be read (it is gone, or `ip -n` failed): why. */
  error?: string;
  links: Link[];
  routes: Route[];
  listening: Listener[];
}

export interface KernelSnapshot {
  host: { links: Link[]; routes: Route[]; listening: Listener[] };
  /** sysctl name (dotted) -> value; null when the key does not exist. */
  sysctls: Record<string, string | null>;
  /** /proc/sys/net/bridge exists: br_netfilter is loaded (or built in), bridged frames can meet iptables. */
  brNetfilter: boolean;
  iptables: {
    /** "filter/FORWARD" -> "DROP": the built-in chains' policies. */
    policies: Record<string, string>;
    /** Every chain, "table/NAME" (names only: other software's chains tell who else is here, e.g. DOCKER). */
    chains: string[];
    /** minid's rules only: the host-wide hooks (comment "minid") and this store's. */
    rules: IptRule[];
    /** Everyone else's DNAT of a port (other minid stores, docker, CNI portmap): only what a port clash needs. */
    otherDnat?: { chain: string; proto: string; dport: number; to: string; comment?: string }[];
  };
  /** Names under /run/netns. */
  netnsNames: string[];
  /** The namespaces of this store's containers, by name. */
  netns: Record<string, NetnsView>;
  /** nsid (as the host's veth ends report link_netnsid) -> namespace name, from `ip netns list-id`. */
  nsids: Record<string, string>;
}

export interface EndpointRecord {
  containerId: string;
  containerName: string;
  network: string;
  netnsName: string;
  /** Host end of the veth pair. */
  veth: string;
  /** Container end (eth0, eth1 for `network connect`). */
  ifName: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  ports: PortBinding[];
}

export interface ContainerRecord {
  id: string;
  name: string;
  status: string;
  pid?: number;
}

/**
 * A container attached with `minid run --cni NAME`: what the cni driver recorded (the
 * attachment in the container's state) and what the CNI result cache holds (cache.ts). The
 * plugins made its interfaces and own their rules; minid only knows what their result says.
 */
export interface CniRecord {
  containerId: string;
  containerName: string;
  /** The network configuration list's name. */
  network: string;
  /** The plugins of the list, in call order (types: bridge, host-local, portmap, ...). */
  plugins: string[];
  cniVersion: string;
  netnsName: string;
  /** The interface minid asked the plugins for (CNI_IFNAME). */
  ifName: string;
  /** The result's interfaces: with sandbox = inside the container, without = on the host. */
  interfaces: { name: string; mac?: string; sandbox?: string }[];
  /** The result's addresses (CIDR), with the interface index they belong to. */
  ips: { address: string; gateway?: string; interface?: number }[];
  routes: { dst: string; gw?: string }[];
  ports: PortBinding[];
  /** Where the result was read: the cache file (what DEL and CHECK use), else the container's state. */
  resultFrom: 'cache' | 'state';
}

/** What minid's store says should exist. */
export interface MinidRecords {
  /** The store's id (8 hex digits, in every rule comment and bridge alias). */
  store: string;
  networks: NetworkRecord[];
  /** Networks minid set up (its marker: the bridge and rules should exist until teardown). */
  networksUp: string[];
  endpoints: EndpointRecord[];
  /** Containers attached by CNI plugins (absent in snapshots of older minids). */
  cni?: CniRecord[];
  /** Every namespace an attached endpoint record names, of any driver (absent in older snapshots). */
  namespaces?: string[];
  containers: ContainerRecord[];
}

export interface Snapshot {
  kernel: KernelSnapshot;
  records: MinidRecords;
}
