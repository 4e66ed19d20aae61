// host-local's configuration (the "ipam" section), read the way the reference plugin reads it:
//   ranges: [[{subnet, rangeStart?, rangeEnd?, gateway?}, ...], ...]  one address per range set
//   or the legacy single range: subnet, rangeStart, rangeEnd, gateway
//   routes: [{dst, gw?}], dataDir (default /var/lib/cni/networks), resolvConf
// Requested addresses come from runtimeConfig.ips (capability "ips"), args.cni.ips, or
// CNI_ARGS IP=a,b.
import fs from 'node:fs';
import { CniError, ErrorCode } from '../lib/skel.js';
import {
  cmp,
  contains,
  eq,
  formatIP,
  isNetworkAddress,
  lastOf,
  networkOf,
  next,
  parseCidr,
  parseIP,
  prev,
  type Addr,
  type Cidr,
} from '../lib/ip.js';
import type { CniDNS, CniRoute } from '../../src/cni/spec.js';

export interface Range {
  subnet: Cidr;
  start: Addr;
  end: Addr;
  gateway: Addr;
}

export type RangeSet = Range[];

export interface IpamConf {
  name: string;
  type: string;
  dataDir: string;
  rangeSets: RangeSet[];
  routes: CniRoute[];
  dns?: CniDNS;
  requested: Addr[];
}

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';

export const rangeString = (r: Range): string => `${formatIP(r.start)}-${formatIP(r.end)}`;
export const rangeSetString = (rs: RangeSet): string => rs.map(rangeString).join(',');

function bad(msg: string): never {
  throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, msg);
}

export function canonicalizeRange(raw: any, where: string): Range {
  if (!raw || typeof raw !== 'object') bad(`${where}: a range must be an object with a "subnet"`);
  const subnet = parseCidr(String(raw.subnet ?? ''));
  if (!subnet) bad(`${where}: invalid subnet ${JSON.stringify(raw.subnet)} (expected a CIDR like 10.22.0.0/16)`);
  const bitsOf = subnet.addr.family === 4 ? 32 : 128;
  if (subnet.prefix > bitsOf - 2) bad(`Network ${formatIP(subnet.addr)}/${subnet.prefix} too small to allocate from`);
  if (!isNetworkAddress(subnet))
    bad(`Network has host bits set. For a subnet mask of length ${subnet.prefix} the network address is ${formatIP(networkOf(subnet))}`);
  const ip = (k: string): Addr | null => {
    if (raw[k] === undefined || raw[k] === '') return null;
    const a = parseIP(String(raw[k]));
    if (!a) bad(`${where}: invalid ${k} ${JSON.stringify(raw[k])}`);
    if (a.family !== subnet.addr.family) bad(`${where}: ${k} ${raw[k]} is not of the subnet's address family`);
    return a;
  };
  const gateway = ip('gateway') ?? next(networkOf(subnet));
  const start = ip('rangeStart') ?? next(networkOf(subnet));
  if (!contains(subnet, start)) bad(`RangeStart ${formatIP(start)} not in network ${formatIP(subnet.addr)}/${subnet.prefix}`);
  let end = ip('rangeEnd');
  if (!end) {
    end = lastOf(subnet);
    if (subnet.addr.family === 4) end = prev(end); // not the broadcast address
  }
  if (!contains(subnet, end)) bad(`RangeEnd ${formatIP(end)} not in network ${formatIP(subnet.addr)}/${subnet.prefix}`);
  if (cmp(start, end) > 0) bad(`${where}: rangeStart ${formatIP(start)} is after rangeEnd ${formatIP(end)}`);
  return { subnet, start, end, gateway };
}

const overlaps = (a: Range, b: Range): boolean =>
  a.start.family === b.start.family && cmp(a.start, b.end) <= 0 && cmp(b.start, a.end) <= 0;

export function rangeFor(rs: RangeSet, a: Addr): Range | null {
  return rs.find((r) => contains(r.subnet, a) && cmp(a, r.start) >= 0 && cmp(a, r.end) <= 0) ?? null;
}

function parseResolvConf(file: string): CniDNS {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CniError(ErrorCode.IO_FAILURE, `cannot read resolvConf ${file}: ${(e as Error).message}`);
  }
  const dns: CniDNS = {};
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!f[0] || f[0].startsWith('#') || f[0].startsWith(';')) continue;
    if (f[0] === 'nameserver' && f[1]) (dns.nameservers ??= []).push(f[1]);
    else if (f[0] === 'domain' && f[1]) dns.domain = f[1];
    else if (f[0] === 'search') dns.search = f.slice(1);
    else if (f[0] === 'options') (dns.options ??= []).push(...f.slice(1));
  }
  return dns;
}

function parseRequested(s: unknown, where: string): Addr {
  const str = String(s);
  const a = parseIP(str.includes('/') ? str.slice(0, str.indexOf('/')) : str);
  if (!a) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `invalid requested IP ${JSON.stringify(s)} in ${where}`);
  return a;
}

export function loadIpamConf(conf: any, cniArgs: Record<string, string>): IpamConf {
  const ipam = conf.ipam;
  if (!ipam || typeof ipam !== 'object') bad('IPAM config missing "ipam" key');
  const sets: RangeSet[] = [];
  if (ipam.subnet !== undefined) {
    sets.push([canonicalizeRange({ subnet: ipam.subnet, rangeStart: ipam.rangeStart, rangeEnd: ipam.rangeEnd, gateway: ipam.gateway }, 'ipam')]);
  }
  if (ipam.ranges !== undefined) {
    if (!Array.isArray(ipam.ranges)) bad('ipam.ranges must be a list of range sets (lists of ranges)');
    ipam.ranges.forEach((set: any, i: number) => {
      if (!Array.isArray(set) || !set.length) bad(`ipam.ranges[${i}] must be a non-empty list of ranges`);
      const rs = set.map((r: any, j: number) => canonicalizeRange(r, `ipam.ranges[${i}][${j}]`));
      for (let a = 0; a < rs.length; a++)
        for (let b = a + 1; b < rs.length; b++) if (overlaps(rs[a], rs[b])) bad(`range ${rangeString(rs[a])} overlaps with ${rangeString(rs[b])}`);
      sets.push(rs);
    });
  }
  if (!sets.length) bad('no IP ranges specified');
  for (let a = 0; a < sets.length; a++)
    for (let b = a + 1; b < sets.length; b++)
      if (sets[a].some((x) => sets[b].some((y) => overlaps(x, y)))) bad(`range set ${a} overlaps with range set ${b}`);
  const routes: CniRoute[] = [];
  for (const r of ipam.routes ?? []) {
    if (!parseCidr(String(r?.dst))) bad(`invalid route ${JSON.stringify(r)}: "dst" must be a CIDR`);
    if (r.gw !== undefined && !parseIP(String(r.gw))) bad(`invalid route gateway ${JSON.stringify(r.gw)}`);
    routes.push(r);
  }
  const requested: Addr[] = [];
  const rc = conf.runtimeConfig?.ips;
  if (Array.isArray(rc)) for (const s of rc) requested.push(parseRequested(s, 'runtimeConfig.ips'));
  const ai = conf.args?.cni?.ips;
  if (Array.isArray(ai)) for (const s of ai) requested.push(parseRequested(s, 'args.cni.ips'));
  if (cniArgs.IP) for (const s of cniArgs.IP.split(',').filter(Boolean)) requested.push(parseRequested(s, 'CNI_ARGS IP'));
  const uniq: Addr[] = [];
  for (const r of requested) if (!uniq.some((u) => eq(u, r))) uniq.push(r);
  return {
    name: String(conf.name),
    type: String(ipam.type ?? ''),
    dataDir: typeof ipam.dataDir === 'string' && ipam.dataDir ? ipam.dataDir : DEFAULT_DATA_DIR,
    rangeSets: sets,
    routes,
    dns: ipam.resolvConf ? parseResolvConf(String(ipam.resolvConf)) : undefined,
    requested: uniq,
  };
}
