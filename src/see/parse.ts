// Pure parsers from the tools' own output to the snapshot's types (see snapshot.ts). No I/O:
// unit tests feed them recorded output.
import { tokenize } from '../network/iptables.js';
import type { IptRule, Link, Listener, Route } from './snapshot.js';

interface IpJsonLink {
  ifindex: number;
  ifname: string;
  link_index?: number;
  link_netnsid?: number;
  flags?: string[];
  mtu?: number;
  operstate?: string;
  master?: string;
  address?: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { hairpin?: boolean; state?: string } };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** `ip -j -d addr show` -> links with their IPv4 addresses. */
export function parseIpAddr(json: string): Link[] {
  const list = JSON.parse(json || '[]') as IpJsonLink[];
  return list.map((l) => {
    const link: Link = {
      name: l.ifname,
      ifindex: l.ifindex,
      up: (l.flags ?? []).includes('UP'),
      operstate: l.operstate ?? 'UNKNOWN',
      addresses: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
      mtu: l.mtu ?? 0,
    };
    if (l.linkinfo?.info_kind) link.kind = l.linkinfo.info_kind;
    if (l.master) link.master = l.master;
    if (l.ifalias) link.alias = l.ifalias;
    if (l.address) link.mac = l.address;
    if (link.kind === 'veth' && l.link_index !== undefined) {
      link.peerIfindex = l.link_index;
      if (l.link_netnsid !== undefined) link.peerNetnsId = l.link_netnsid;
    }
    const port = l.linkinfo?.info_slave_kind === 'bridge' ? l.linkinfo.info_slave_data : undefined;
    if (port) {
      link.hairpin = !!port.hairpin;
      if (port.state) link.portState = port.state;
    }
    return link;
  });
}

/** `ip -j -4 route show` -> routes. */
export function parseRoutes(json: string): Route[] {
  const list = JSON.parse(json || '[]') as { dst: string; gateway?: string; dev?: string; type?: string }[];
  return list
    .filter((r) => !r.type || r.type === 'unicast')
    .map((r) => {
      const out: Route = { dst: r.dst };
      if (r.gateway) out.gateway = r.gateway;
      if (r.dev) out.dev = r.dev;
      return out;
    });
}

/** `ss -H -ltunp` -> listening sockets (Netid State Recv-Q Send-Q Local Peer [Process]). */
export function parseSs(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || (f[0] !== 'tcp' && f[0] !== 'udp')) continue;
    const local = f[4];
    const i = local.lastIndexOf(':');
    if (i < 0) continue;
    // 0.0.0.0:80, [::]:80, *:80, 127.0.0.1%lo:53
    let address = local.slice(0, i).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    if (address === '*') address = '0.0.0.0';
    const port = Number(local.slice(i + 1));
    if (!Number.isInteger(port)) continue;
    const l: Listener = { proto: f[0], address, port };
    const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(line);
    if (m) l.process = `${m[1]} (pid ${m[2]})`;
    out.push(l);
  }
  return out;
}

export interface ParsedSave {
  policies: Record<string, string>;
  chains: string[];
  rules: IptRule[];
}

/** `iptables-save -c`: policies, chain names, and the rules `keep` accepts, with their counters. */
export function parseSaveCounters(text: string, keep: (r: IptRule) => boolean): ParsedSave {
  const policies: Record<string, string> = {};
  const chains: string[] = [];
  const rules: IptRule[] = [];
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      table = line.slice(1);
    } else if (line.startsWith(':')) {
      // :FORWARD DROP [0:0]   (a user chain has '-' as its policy)
      const [name, policy] = line.slice(1).split(/\s+/);
      chains.push(`${table}/${name}`);
      if (policy && policy !== '-') policies[`${table}/${name}`] = policy;
    } else {
      const m = /^(?:\[(\d+):(\d+)\]\s+)?(-A\s.*)$/.exec(line);
      if (!m) continue;
      const t = tokenize(m[3]);
      const args = t.slice(2);
      const ci = args.indexOf('--comment');
      const rule: IptRule = { table, chain: t[1], args, packets: Number(m[1] ?? 0), bytes: Number(m[2] ?? 0) };
      if (ci >= 0) rule.comment = args[ci + 1];
      if (keep(rule)) rules.push(rule);
    }
  }
  return { policies, chains, rules };
}

/** `ip netns list-id`: "nsid 1 (iproute2 netns name: minid-066e102aaf12)". */
export function parseNsids(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/nsid (\d+) \(iproute2 netns name: ([^)]+)\)/g)) out[m[1]] = m[2];
  return out;
}

/** A rule as iptables would print it after `-A CHAIN` (quoting only what needs it). */
export function ruleText(r: Pick<IptRule, 'chain' | 'args'>): string {
  return `-A ${r.chain} ` + r.args.map((a) => (/[\s"]/.test(a) || a === '' ? JSON.stringify(a) : a)).join(' ');
}
