// What minid needs to know about the host before it plans: which links exist, the uplink's
// MTU, current sysctls, routes (to pick a free subnet), iptables state and who holds a port.
// Reads are cheap (/sys, /proc) where possible; an exec only when there is no file to read.
// Unit tests replace the whole probe with setHostProbe(): nothing is read from the real host.
import fs from 'node:fs';
import { run } from '../sys/exec.js';
import { MinidError } from '../errors.js';
import type { Proto } from './types.js';

export interface HostRoute {
  /** CIDR (a bare address becomes /32). */
  dst: string;
  dev?: string;
  /** How a person would recognise it, e.g. "192.0.2.0/24 dev eth0". */
  desc: string;
}

export interface LinkInfo {
  name: string;
  kind?: string;
}

export interface HostProbe {
  linkExists(name: string): Promise<boolean>;
  /** A link's alias (`ip link set NAME alias ...`): '' when it has none, null when there is no such link. */
  linkAlias(name: string): Promise<string | null>;
  /** null when the key does not exist. */
  readSysctl(key: string): Promise<string | null>;
  /** The interface of the default route and its MTU. */
  uplink(): Promise<{ dev: string; mtu: number } | null>;
  /** IPv4 addresses (CIDR) of a link. */
  addresses(dev: string): Promise<string[]>;
  routes(): Promise<HostRoute[]>;
  iptablesSave(): Promise<string>;
  /** null when the port can be bound; else who holds it ("process nginx (pid 42)"). */
  portHolder(proto: Proto, hostIp: string, port: number): Promise<string | null>;
  netnsList(): Promise<string[]>;
  links(): Promise<LinkInfo[]>;
  resolvConf(): Promise<string>;
  hostsFile(): Promise<string>;
}

/**
 * The links of this network namespace, as files. /sys shows the namespace that mounted it (the
 * host's): a minid running on a cluster node (src/cluster: `nsenter --net`, the host's mounts
 * kept) is given a sysfs mounted from inside the node in MINID_SYSFS.
 */
const classNet = (): string => `${process.env.MINID_SYSFS || '/sys'}/class/net`;

const sysctlPath = (key: string): string => '/proc/sys/' + (key.includes('/') ? key : key.replace(/\./g, '/'));

export const realProbe: HostProbe = {
  async linkExists(name) {
    return fs.existsSync(`${classNet()}/${name}`);
  },
  async linkAlias(name) {
    try {
      return fs.readFileSync(`${classNet()}/${name}/ifalias`, 'utf8').trim();
    } catch {
      return fs.existsSync(`${classNet()}/${name}`) ? '' : null;
    }
  },
  async readSysctl(key) {
    try {
      return fs.readFileSync(sysctlPath(key), 'utf8').trim();
    } catch {
      return null;
    }
  },
  async uplink() {
    // /proc/net/route: Iface Destination Gateway Flags RefCnt Use Metric Mask ...
    let best: { dev: string; metric: number } | null = null;
    try {
      for (const line of fs.readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 8 || f[1] !== '00000000' || f[7] !== '00000000') continue;
        const metric = Number(f[6]);
        if (!best || metric < best.metric) best = { dev: f[0], metric };
      }
    } catch {
      return null;
    }
    if (!best) return null;
    let mtu = 1500;
    try {
      mtu = Number(fs.readFileSync(`${classNet()}/${best.dev}/mtu`, 'utf8').trim()) || 1500;
    } catch {
      /* fall back to 1500 */
    }
    return { dev: best.dev, mtu };
  },
  async addresses(dev) {
    const r = await run(['ip', '-j', '-4', 'addr', 'show', 'dev', dev], { allowFail: true });
    if (r.exitCode !== 0) return [];
    const j = JSON.parse(r.stdout || '[]') as { addr_info?: { local: string; prefixlen: number }[] }[];
    return j.flatMap((l) => (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`));
  },
  async routes() {
    const r = await run(['ip', '-j', '-4', 'route', 'show', 'table', 'all']);
    const j = JSON.parse(r.stdout || '[]') as { dst: string; dev?: string; type?: string; table?: string }[];
    return j
      .filter((x) => x.dst && x.dst !== 'default' && x.type !== 'broadcast' && x.type !== 'multicast')
      .map((x) => {
        const dst = x.dst.includes('/') ? x.dst : `${x.dst}/32`;
        const desc = [x.type && x.type !== 'unicast' ? x.type : '', x.dst, x.dev ? `dev ${x.dev}` : '', x.table && x.table !== 'main' ? `table ${x.table}` : '']
          .filter(Boolean)
          .join(' ');
        return { dst, dev: x.dev, desc };
      });
  },
  async iptablesSave() {
    return (await run(['iptables-save'])).stdout;
  },
  portHolder,
  async netnsList() {
    try {
      return fs.readdirSync('/run/netns');
    } catch {
      return [];
    }
  },
  async links() {
    const r = await run(['ip', '-j', '-d', 'link', 'show']);
    const j = JSON.parse(r.stdout || '[]') as { ifname: string; linkinfo?: { info_kind?: string } }[];
    return j.map((l) => ({ name: l.ifname, kind: l.linkinfo?.info_kind }));
  },
  async resolvConf() {
    // MINID_RESOLV_CONF: another file as the host's (tests point it at a resolver of their own).
    const text = readOr(process.env.MINID_RESOLV_CONF || '/etc/resolv.conf', '');
    // systemd-resolved's stub (127.0.0.53) is useless inside a container: use its upstream list.
    if (/^\s*nameserver\s+127\.0\.0\.53\b/m.test(text)) {
      const upstream = readOr('/run/systemd/resolve/resolv.conf', '');
      if (upstream) return upstream;
    }
    return text;
  },
  async hostsFile() {
    return readOr('/etc/hosts', '');
  },
};

function readOr(file: string, dflt: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return dflt;
  }
}

let current: HostProbe = realProbe;
export function setHostProbe(p: HostProbe | null): void {
  current = p ?? realProbe;
}
export function probe(): HostProbe {
  return current;
}

// --- who holds a port -------------------------------------------------------------------
// bind(2) answers whether HOSTIP:PORT can be published without a clash, as docker's proxy
// would find out; only when it is taken are the kernel's socket tables (/proc/net/tcp, tcp6,
// udp, udp6) read to name the holder: a TCP socket listening on the port, or a UDP socket
// bound to it, on an address that overlaps HOSTIP (0.0.0.0 and a dual-stack :: overlap every
// IPv4 address). Reading them costs ~3 ms per file here (the kernel walks its whole
// connection hash), binding ~0.1 ms.

/** The owner of a socket in the way of publishing HOSTIP:PORT, or null when there is none. */
async function portHolder(proto: Proto, hostIp: string, port: number): Promise<string | null> {
  // minid-spawner binds it (src/sys/spawner.c); without the helper, Node does.
  let err = await (await import('../sys/spawner.js')).bindProbe(proto, hostIp, port);
  if (err === undefined) err = await tryBind(proto, hostIp, port);
  if (err === null) return null;
  if (err === 'EADDRNOTAVAIL') throw new MinidError(`cannot publish on ${hostIp}: it is not an address of this host`);
  if (err !== 'EADDRINUSE') return `the host (bind failed: ${err})`;
  return socketOwner(socketsOn(proto, port, hostIp)) ?? 'a process on the host';
}

/** The kernel's hex address (/proc/net/*): IPv4 as a little-endian word; IPv6 as four. */
function procAddress(hex: string): string {
  const v4 = (w: string) => [6, 4, 2, 0].map((i) => parseInt(w.slice(i, i + 2), 16)).join('.');
  if (hex.length === 8) return v4(hex);
  if (/^0{32}$/.test(hex)) return '::';
  if (hex.startsWith('0000000000000000FFFF0000')) return v4(hex.slice(24)); // ::ffff:a.b.c.d
  return 'v6';
}

/** Inodes of the sockets in the way of binding HOSTIP:PORT (see above). */
export function socketsOn(proto: Proto, port: number, hostIp: string, read: (f: string) => string = (f) => readOr(f, '')): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const file of proto === 'tcp' ? ['/proc/net/tcp', '/proc/net/tcp6'] : ['/proc/net/udp', '/proc/net/udp6']) {
    for (const line of read(file).split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const [, local, , st] = f;
      const [addrHex, portHex] = local.split(':');
      if (portHex !== hexPort) continue;
      if (proto === 'tcp' && st !== '0A') continue; // LISTEN
      const addr = procAddress(addrHex);
      const overlaps = addr === '0.0.0.0' || addr === '::' || (addr !== 'v6' && (hostIp === '0.0.0.0' || addr === hostIp));
      if (overlaps) inodes.add(f[9]);
    }
  }
  return inodes;
}

async function tryBind(proto: Proto, host: string, port: number): Promise<string | null> {
  if (proto === 'tcp') {
    const net = await import('node:net');
    return new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
      srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(null)));
    });
  }
  const dgram = await import('node:dgram');
  return new Promise((resolve) => {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    s.once('error', (e: NodeJS.ErrnoException) => {
      s.close();
      resolve(e.code ?? String(e));
    });
    s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(null)));
  });
}

/** "process NAME (pid N)" holding one of these socket inodes. */
function socketOwner(inodes: Set<string>): string | null {
  if (inodes.size === 0) return null;
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1])) {
        const comm = readOr(`/proc/${pid}/comm`, '?').trim();
        return `process ${comm} (pid ${pid})`;
      }
    }
  }
  return null;
}
