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

/** User networks: `mbr-<name>` when the name fits, else `minid-<netid8>`. */
export function userBridgeName(networkName: string, networkId: string): string {
  return /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,10}$/.test(networkName) ? `mbr-${networkName}` : `minid-${networkId.slice(0, 8)}`;
}

export function checkLinkName(name: string, what: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,14}$/.test(name)) fail(`invalid ${what} "${name}": a link name has 1-15 letters, digits, '-' or '_'`);
}

/** iptables comments: `minid` (host-wide), `minid:<net>`, `minid:<net>:<name>:<id12>`. */
export function comment(network?: string, containerName?: string, containerId?: string): string {
  if (!network) return 'minid';
  if (!containerId) return `minid:${network}`;
  return `minid:${network}:${containerName ?? ''}:${short(containerId)}`;
}

/** Parse a comment back: which network and container a rule belongs to. */
export function parseComment(c: string): { network?: string; containerName?: string; containerId12?: string } | null {
  const parts = c.replace(/^"|"$/g, '').split(':');
  if (parts[0] !== 'minid') return null;
  if (parts.length === 1) return {};
  if (parts.length === 2) return { network: parts[1] };
  return { network: parts[1], containerName: parts.slice(2, -1).join(':'), containerId12: parts[parts.length - 1] };
}

/** A stable locally-administered MAC derived from the IPv4 address (02:4d = 'M'). */
export function macFor(ip: string): string {
  const n = ipToInt(ip);
  const bytes = [0x02, 0x4d, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
