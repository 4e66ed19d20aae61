// IP address management, host-local style: one file per reserved address under
// paths.ipam()/<network>/<ip>, containing the container id and the interface name, plus
// last_reserved_ip.0 so that addresses are handed out round-robin (a freed address is not
// reused at once). Every change happens under withLock('ipam-<network>'), and files are
// created with O_EXCL, so concurrent `minid run`s never share an address.
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { paths } from '../sys/paths.js';
import { withLock } from '../sys/lock.js';
import { broadcast, contains, intToIp, ipToInt, isIPv4, parseSubnet } from './cidr.js';

const LAST = 'last_reserved_ip.0';

export const ipamDir = (network: string): string => path.join(paths.ipam(), network);

export interface Allocation {
  ip: string;
  prefixLength: number;
}

function readOwner(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').split('\n')[0].trim() || null;
  } catch {
    return null;
  }
}

/** Every reservation of a network: address -> container id. */
export function reservations(network: string): { ip: string; containerId: string }[] {
  const dir = ipamDir(network);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n))
    .map((n) => ({ ip: n, containerId: readOwner(path.join(dir, n)) ?? '' }))
    .sort((a, b) => ipToInt(a.ip) - ipToInt(b.ip));
}

/** Container ids holding an address on the network. */
export function attachedIds(network: string): string[] {
  return [...new Set(reservations(network).map((r) => r.containerId))];
}

/**
 * Reserve an address for a container (the same one again if it already has one). The network
 * address, the gateway and the broadcast address are never handed out.
 */
export async function allocate(network: string, subnet: string, gateway: string, containerId: string, o: { dryRun?: boolean; ifName?: string } = {}): Promise<Allocation> {
  const c = parseSubnet(subnet);
  const gw = ipToInt(gateway);
  const first = c.base + 1;
  const last = broadcast(c) - 1;
  const dir = ipamDir(network);

  const pick = (): Allocation => {
    const mine = reservations(network).find((r) => r.containerId === containerId);
    if (mine) return { ip: mine.ip, prefixLength: c.prefix };
    let start = first;
    try {
      const prev = ipToInt(fs.readFileSync(path.join(dir, LAST), 'utf8').trim());
      if (prev >= first && prev < last) start = prev + 1;
    } catch {
      /* first allocation */
    }
    const count = last - first + 1;
    for (let i = 0; i < count; i++) {
      const n = first + ((start - first + i) % count);
      if (n === gw) continue;
      const ip = intToIp(n);
      const file = path.join(dir, ip);
      if (o.dryRun) {
        if (!fs.existsSync(file)) return { ip, prefixLength: c.prefix };
        continue;
      }
      try {
        fs.writeFileSync(file, `${containerId}\n${o.ifName ?? 'eth0'}\n`, { flag: 'wx' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw e;
      }
      fs.writeFileSync(path.join(dir, LAST), ip);
      return { ip, prefixLength: c.prefix };
    }
    fail(`no free address left in network "${network}" (${c.text}): remove containers or create a larger network`);
  };

  if (o.dryRun) return pick();
  fs.mkdirSync(dir, { recursive: true });
  return withLock(`ipam-${network}`, async () => pick());
}

/**
 * Reserve one given address (`network connect --ip`): it must be a host address of the subnet,
 * not the gateway, and free. `owner` names the holder of a taken address in the error.
 */
export async function reserveAddress(
  network: string, subnet: string, gateway: string, ip: string, containerId: string,
  o: { ifName?: string; owner?: (containerId: string) => string } = {},
): Promise<Allocation> {
  const c = parseSubnet(subnet);
  if (!isIPv4(ip)) fail(`invalid address "${ip}": not an IPv4 address`);
  const n = ipToInt(ip);
  if (!contains(c, n)) fail(`address ${ip} is outside the subnet ${c.text} of network "${network}"`);
  if (n === c.base || n === broadcast(c)) fail(`address ${ip} is the ${n === c.base ? 'network' : 'broadcast'} address of ${c.text}: pick a host address`);
  if (n === ipToInt(gateway)) fail(`address ${ip} is the gateway of network "${network}" (the bridge's own address)`);
  const canon = intToIp(n);
  const dir = ipamDir(network);
  fs.mkdirSync(dir, { recursive: true });
  return withLock(`ipam-${network}`, async () => {
    try {
      fs.writeFileSync(path.join(dir, canon), `${containerId}\n${o.ifName ?? 'eth0'}\n`, { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readOwner(path.join(dir, canon)) ?? '';
      fail(`address ${canon} is already in use on network "${network}"${holder ? ` by container ${o.owner ? o.owner(holder) : holder.slice(0, 12)}` : ''}`);
    }
    return { ip: canon, prefixLength: c.prefix };
  });
}

/** Release every address the container holds on the network. Returns the addresses freed. */
export async function release(network: string, containerId: string): Promise<string[]> {
  const dir = ipamDir(network);
  if (!fs.existsSync(dir)) return [];
  return withLock(`ipam-${network}`, async () => {
    const freed: string[] = [];
    for (const r of reservations(network)) {
      if (r.containerId !== containerId) continue;
      fs.rmSync(path.join(dir, r.ip), { force: true });
      freed.push(r.ip);
    }
    return freed;
  });
}

/** Forget a network's reservations entirely (network rm). */
export function removeIpamDir(network: string): void {
  fs.rmSync(ipamDir(network), { recursive: true, force: true });
}
