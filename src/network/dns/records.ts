// Names on a user-defined network, as data: which names a container answers to, the hosts
// file the network's DNS server reads, and the server's configuration. Pure: unit tests check
// every rule, nothing here touches the host (server.ts and index.ts do).
//
// The server is Debian's dnsmasq, one per network (see server.ts for why and how it lives).
// A container is reached from the other containers of its network as
//   NAME            its container name
//   NAME.NETWORK    the same, qualified by the network (docker answers it too)
//   ID12            its short id
//   ALIAS           each --network-alias; several containers may share one: all answer
// and its address answers a reverse (PTR) lookup with NAME. A container on another network
// asks another server, which knows none of these: NXDOMAIN.
import { fail } from '../../errors.js';

/**
 * Does this network answer names? User-defined bridge networks do; the default 'bridge' does
 * not (as docker's). MINID_DNS=off: none does (the unit tests' fake runner starts no server).
 */
export const hasDns = (net: { builtin?: boolean }): boolean => !net.builtin && process.env.MINID_DNS !== 'off';

/** Where a container sends its queries: docker's address, DNAT'd in its own namespace. */
export const RESOLVER = '127.0.0.11';

/** One container's entry on the network (from its endpoint record). */
export interface DnsEntry {
  containerId: string;
  containerName: string;
  ip: string;
  aliases?: string[];
}

// A name in the records: labels of letters, digits, '-' and '_' (container names and docker's
// service names use '_'; dnsmasq answers them), 1-63 characters each, no '-' at either end.
const LABEL = '[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?';
const NAME_RE = new RegExp(`^${LABEL}(\\.${LABEL})*$`);

export function isDnsName(n: string): boolean {
  return n.length <= 253 && NAME_RE.test(n);
}

/** --network-alias: a DNS name (checked before anything is created). */
export function validateAlias(a: string): string {
  if (!isDnsName(a))
    fail(`invalid --network-alias ${JSON.stringify(a)}: not a DNS name: use letters, digits, "-" and "_" in dot-separated labels of 63 characters at most`);
  return a;
}

/** The names a container answers to, its own (unique on the network) first. */
export function ownNames(e: { containerId: string; containerName: string }, network: string): string[] {
  const names = [e.containerName, `${e.containerName}.${network}`, e.containerId.slice(0, 12)];
  return names.filter((n) => isDnsName(n));
}

/**
 * Why a new container's names cannot be added to the network, or null. A container's name
 * and short id are its own: no other container may answer to them (as name or alias); an
 * alias may be shared with other containers' aliases (all of them answer).
 */
export function collision(mine: DnsEntry, others: DnsEntry[], network: string): string | null {
  const lc = (s: string): string => s.toLowerCase();
  const myOwn = new Set(ownNames(mine, network).map(lc));
  const myAliases = new Set((mine.aliases ?? []).map(lc));
  for (const o of others) {
    if (o.containerId === mine.containerId) continue;
    const theirOwn = ownNames(o, network).map(lc);
    const theirAliases = (o.aliases ?? []).map(lc);
    const who = `container ${o.containerName} (${o.containerId.slice(0, 12)})`;
    for (const n of theirOwn) {
      if (myOwn.has(n)) return `the name ${n} is already answered by ${who} on network ${network}: pick another name`;
      if (myAliases.has(n)) return `the alias ${n} is the name of ${who} on network ${network}: pick another alias`;
    }
    for (const n of theirAliases) {
      if (myOwn.has(n)) return `the name ${n} is an alias of ${who} on network ${network}: pick another name`;
    }
  }
  return null;
}

/**
 * The records file (hosts format) for a network's server. The first name on a line answers
 * the reverse lookup of its address: each container's own line comes first, its aliases on
 * lines of their own (a shared alias then answers with every address that has it).
 */
export function renderRecords(network: string, entries: DnsEntry[]): string {
  const lines = [`# minid: the names of network "${network}" (rewritten by minid on every change; dnsmasq rereads it on SIGHUP)`];
  const sorted = [...entries].sort((a, b) => a.ip.localeCompare(b.ip, undefined, { numeric: true }));
  for (const e of sorted) lines.push(`${e.ip}\t${ownNames(e, network).join(' ')}`);
  for (const e of sorted) {
    const own = new Set(ownNames(e, network).map((n) => n.toLowerCase()));
    const aliases = (e.aliases ?? []).filter((a) => isDnsName(a) && !own.has(a.toLowerCase()));
    if (aliases.length) lines.push(`${e.ip}\t${aliases.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * One dnsmasq: a network's own (on the host, at the network's gateway), or a container's (in
 * the container's own network namespace, at 127.0.0.11:53, docker's way) when its questions
 * need other answers than its network's: it is on several networks (`network connect`: the
 * names of all of them), or it has its own forwarders (`run --dns`).
 */
export interface ServerSpec {
  /** The network whose folder records it (a container's server: its first network). */
  network: string;
  /** 'network', or 'c-<id12>' for a container's. */
  instance: string;
  /** Listen address and port: the network's gateway, or 127.0.0.11:53 in the container's namespace. */
  address: string;
  port: number;
  /** A network's server: its bridge, the only interface whose queries are answered. */
  bridge?: string;
  /** A container's server: the network namespace it runs in (/run/netns/minid-<id12>). */
  netns?: string;
  /** Every network whose names it answers, with its records file (a network's server: its own). */
  records: { network: string; file: string }[];
  /** Upstream servers for every other name (ADDRESS or ADDRESS#PORT). */
  forwarders: string[];
  /** A container's server: the container's --dns, if it gave any. */
  dns?: string[];
  pidFile: string;
  logFile: string;
}

/** The server's configuration file, commented line by line for a workshop's `cat`. */
export function renderServerConf(s: ServerSpec): string {
  const nets = s.records.map((r) => `"${r.network}"`).join(', ');
  const listen = s.bridge
    ? [
        `# minid: DNS server of network "${s.network}" (dnsmasq). Started and stopped by minid (src/network/dns/).`,
        `# Listen on the network's bridge only (its address ${s.address}); containers send to`,
        `# ${RESOLVER}:53, which a DNAT rule in their own network namespace turns into ${s.address}:${s.port}.`,
        `# bind-dynamic (not bind-interfaces) makes dnsmasq check the interface each query arrived`,
        `# on: a container of another network sending to ${s.address} arrives by its own bridge and`,
        `# is ignored, so each network's names are answered to that network only.`,
        `interface=${s.bridge}`,
        'except-interface=lo',
        'bind-dynamic',
        `port=${s.port}`,
      ]
    : [
        `# minid: DNS server of container ${s.instance.slice(2)} (dnsmasq): the names of network${s.records.length > 1 ? 's' : ''} ${nets}${s.dns?.length ? ', its --dns forwarders' : ''}.`,
        `# It runs in the container's own network namespace (${s.netns}), as docker's resolver`,
        `# does, at the address its /etc/resolv.conf names: only this container can ask it.`,
        `listen-address=${s.address}`,
        'bind-interfaces',
        `port=${s.port}`,
      ];
  const L = [
    ...listen,
    `# The names: ${s.bridge ? "the network's containers" : 'the containers of every network it is on'}, from the records file${s.records.length > 1 ? 's' : ''} minid rewrites; not the host's /etc/hosts.`,
    'no-hosts',
    ...s.records.map((r) => `addn-hosts=${r.file}`),
    `# NAME.NETWORK is the network's: answered from the records or NXDOMAIN, never forwarded.`,
    ...s.records.map((r) => `local=/${r.network}/`),
    '# A bare name that is not a container here is NXDOMAIN, never sent outside.',
    'domain-needed',
    '# Reverse lookups of private addresses that are not in the records: NXDOMAIN, not forwarded.',
    'bogus-priv',
    s.bridge || s.dns?.length
      ? "# Everything else goes to these servers (minid chose them; /etc/resolv.conf is not read)."
      : "# Everything else goes to the server of the container's first network (it forwards to the host's resolvers).",
    'no-resolv',
    'no-poll',
    ...(s.forwarders.length ? s.forwarders.map((f) => `server=${f}`) : ['# (none: the host has no nameserver, outside names are refused)']),
    '# Every query is logged (who asked, what, the answer, forwarded or not): `minid dns log`.',
    'log-queries=extra',
    '# As root: the records file is under minid\'s runtime root, which only root may enter.',
    'user=root',
    `pid-file=${s.pidFile}`,
    `log-facility=${s.logFile}`,
  ];
  return L.join('\n') + '\n';
}

/**
 * The host's resolvers, as forwarders for a network's server. The server runs on the host, so
 * it reaches what the host reaches; systemd-resolved's stub 127.0.0.53 is replaced by the
 * upstream servers behind it (host.ts reads them from /run/systemd/resolve/resolv.conf), as
 * docker does.
 */
export function hostForwarders(hostResolv: string): string[] {
  const out: string[] = [];
  for (const raw of hostResolv.split('\n')) {
    const [key, value] = raw.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (key === 'nameserver' && value && !out.includes(value)) out.push(value);
  }
  return out;
}

/** The lines that make 127.0.0.11 inside a container's namespace reach its network's server. */
export function resolverRules(containerIp: string, server: { address: string; port: number }, op: '-A' | '-D' = '-A'): string {
  const to = `${server.address}:${server.port}`;
  const lines = ['*nat'];
  for (const p of ['udp', 'tcp']) lines.push(`${op} OUTPUT -d ${RESOLVER}/32 -p ${p} -m ${p} --dport 53 -j DNAT --to-destination ${to}`);
  for (const p of ['udp', 'tcp'])
    lines.push(`${op} POSTROUTING -s 127.0.0.0/8 -d ${server.address}/32 -p ${p} -m ${p} --dport ${server.port} -j SNAT --to-source ${containerIp}`);
  lines.push('COMMIT');
  return lines.join('\n') + '\n';
}
