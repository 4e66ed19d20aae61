// IPv4 arithmetic on top of ipaddr.js: minid's networks are IPv4 only.
import ipaddr from 'ipaddr.js';
import { fail } from '../errors.js';

export interface Cidr {
  /** Network address as a 32-bit unsigned integer. */
  base: number;
  prefix: number;
  /** Canonical text, e.g. 172.30.0.0/16. */
  text: string;
}

export function ipToInt(ip: string): number {
  const b = ipaddr.IPv4.parse(ip).toByteArray();
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function isIPv4(s: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(s);
}

const mask = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** Parse "a.b.c.d/n" (or a bare address = /32). Returns null when it is not an IPv4 CIDR. */
export function tryParseCidr(s: string): (Cidr & { addr: number }) | null {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?$/.exec(s.trim());
  if (!m || !isIPv4(m[1])) return null;
  const prefix = m[2] === undefined ? 32 : Number(m[2]);
  if (prefix > 32) return null;
  const addr = ipToInt(m[1]);
  const base = (addr & mask(prefix)) >>> 0;
  return { addr, base, prefix, text: `${intToIp(base)}/${prefix}` };
}

/** Parse a subnet given by a user: must be IPv4, have no host bits set, leave room for hosts. */
export function parseSubnet(s: string, what = 'subnet'): Cidr {
  const c = tryParseCidr(s);
  if (!c || !s.includes('/')) fail(`invalid ${what} "${s}": expected an IPv4 CIDR like 172.30.0.0/16`);
  if (c.addr !== c.base) fail(`invalid ${what} "${s}": host bits are set (did you mean ${c.text}?)`);
  if (c.prefix > 30) fail(`invalid ${what} "${s}": /${c.prefix} leaves no room for a gateway and containers (use /30 or larger)`);
  return { base: c.base, prefix: c.prefix, text: c.text };
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}
export function broadcast(c: Cidr): number {
  return (c.base + size(c) - 1) >>> 0;
}
export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}
export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b.base) || contains(b, a.base);
}
/** The first usable address (docker's default gateway). */
export function firstHost(c: Cidr): string {
  return intToIp(c.base + 1);
}
