// Every kernel object minid creates is named after its owner, so `ip link`, `ip netns` and
// `iptables-save` can be read without minid, and leftovers can be traced (bocker-style).
import { fail } from '../errors.js';
import { ipToInt } from './cidr.js';

/** minid's own iptables chains. Nothing else is ever flushed or deleted. */
export const CHAIN = {
  /** nat: DNAT of published ports; jumped to from PREROUTING and OUTPUT for local destinations. */
  dnat: 'MINID-DNAT',
  /** nat: MASQUERADE rules; jumped to from POSTROUTING. */
  postrouting: 'MINID-POSTROUTING',
  /** filter: jumped to from FORWARD. */
  forward: 'MINID-FORWARD',
  /** filter: stage 1 of isolation: "leaving a minid bridge for somewhere else". */
  isolation1: 'MINID-ISOLATION-1',
  /** filter: stage 2 of isolation: "... and entering another minid bridge": drop. */
  isolation2: 'MINID-ISOLATION-2',
  /** filter: jumped to from INPUT: the CVE-2020-8558 guard. */
  input: 'MINID-INPUT',
} as const;

export const NAT_CHAINS = [CHAIN.dnat, CHAIN.postrouting];
export const FILTER_CHAINS = [CHAIN.forward, CHAIN.isolation1, CHAIN.isolation2, CHAIN.input];

/** Container ids are hex (64 chars in minid); at least 12 characters are needed for the names. */
export function checkContainerId(id: string): void {
  if (!/^[a-zA-Z0-9]{12,}$/.test(id)) fail(`invalid container id "${id}": expected at least 12 letters or digits`);
}

export const short = (id: string): string => id.slice(0, 12);
export const netnsName = (id: string): string => `minid-${id.slice(0, 12)}`;
export const netnsPath = (id: string): string => `/run/netns/${netnsName(id)}`;
/** Host end of the veth pair: 'mv' + 8 chars = 10 (link names max 15). */
export const vethHost = (id: string): string => `mv${id.slice(0, 8)}`;
/** Container end before it is renamed eth0 inside the namespace (the host already has an eth0). */
export const vethPeer = (id: string): string => `mc${id.slice(0, 8)}`;
export const CONTAINER_IF = 'eth0';

/** The default network's bridge (docker0-style). MINID_BRIDGE_NAME lets tests use their own. */
export function defaultBridgeName(): string {
  const name = process.env.MINID_BRIDGE_NAME || 'minid0';
  checkLinkName(name, 'MINID_BRIDGE_NAME');
  return name;
}

/**
 * User networks: `mbr-` + the network id's first 11 characters (15 in all), like docker's
 * `br-<id12>`: `minid network ls` shows the same id. Not the network's name: every store may
 * have a network called "front", and link names are host-wide. The bridge's alias
 * (`ip link show` prints it) carries the store and the name: minid:<store>:<network>.
 */
export function userBridgeName(networkId: string): string {
  return `mbr-${networkId.slice(0, 11)}`;
}

export function checkLinkName(name: string, what: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,14}$/.test(name)) fail(`invalid ${what} "${name}": a link name has 1-15 letters, digits, '-' or '_'`);
}

/** The comment of minid's shared chains and hooks: host-wide, used by every store. */
export const HOST_COMMENT = 'minid';

/**
 * iptables comments (max 256 characters: 6 + 8 + 64 + 128 + 12 + 3 separators fit):
 * `minid:<store>:<net>` on a network's rules, `minid:<store>:<net>:<name>:<id12>` on a
 * container's. The bridge of a network carries the same `minid:<store>:<net>` as its alias.
 */
export function comment(store: string, network: string, containerName?: string, containerId?: string): string {
  if (!containerId) return `minid:${store}:${network}`;
  return `minid:${store}:${network}:${containerName ?? ''}:${short(containerId)}`;
}

export interface RuleOwner {
  /** Absent on the comments older minids wrote (see sys/store.ts) and on HOST_COMMENT. */
  store?: string;
  network?: string;
  containerName?: string;
  containerId12?: string;
}

/**
 * Parse a comment (or a bridge alias) back: which store, network and container it belongs to.
 * Names never contain ':', so the number of fields tells the forms apart: 1 host-wide, 3 or 5
 * with a store, 2 or 4 without (an older minid's).
 */
export function parseComment(c: string): RuleOwner | null {
  const parts = c.replace(/^"|"$/g, '').split(':');
  if (parts[0] !== 'minid') return null;
  switch (parts.length) {
    case 1:
      return {};
    case 2:
      return { network: parts[1] };
    case 3:
      return { store: parts[1], network: parts[2] };
    case 4:
      return { network: parts[1], containerName: parts[2], containerId12: parts[3] };
    case 5:
      return { store: parts[1], network: parts[2], containerName: parts[3], containerId12: parts[4] };
    default:
      return null;
  }
}

/** A stable locally-administered MAC derived from the IPv4 address (02:4d = 'M'). */
export function macFor(ip: string): string {
  const n = ipToInt(ip);
  const bytes = [0x02, 0x4d, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
