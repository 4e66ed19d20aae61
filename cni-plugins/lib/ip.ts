// IP address arithmetic for the plugins, IPv4 and IPv6, on BigInt. No dependencies: plugins are
// short-lived processes and every import is paid on every call.

export interface Addr {
  family: 4 | 6;
  value: bigint;
}

export interface Cidr {
  /** The address as written (may have host bits set: 10.0.0.5/24). */
  addr: Addr;
  prefix: number;
}

const bits = (f: 4 | 6): number => (f === 4 ? 32 : 128);

export function parseIP(s: string): Addr | null {
  if (typeof s !== 'string') return null;
  s = s.trim();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    const parts = s.split('.').map(Number);
    if (parts.some((p) => p > 255)) return null;
    return { family: 4, value: BigInt(((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3]) };
  }
  if (!s.includes(':') || !/^[0-9a-fA-F:.]+$/.test(s)) return null;
  // IPv6, possibly with an embedded IPv4 tail ("::ffff:1.2.3.4") and at most one "::".
  const lastColon = s.lastIndexOf(':');
  const tailPart = s.slice(lastColon + 1);
  if (tailPart.includes('.')) {
    const v4 = parseIP(tailPart);
    if (!v4 || v4.family !== 4) return null;
    const n = Number(v4.value);
    s = `${s.slice(0, lastColon + 1)}${((n >>> 16) & 0xffff).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !rest) return null;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array(fill).fill(0), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return { family: 6, value: v };
}

export function formatIP(a: Addr): string {
  if (a.family === 4) {
    const n = Number(a.value);
    return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function parseCidr(s: string): Cidr | null {
  if (typeof s !== 'string') return null;
  const i = s.indexOf('/');
  if (i < 0) return null;
  const addr = parseIP(s.slice(0, i));
  const p = s.slice(i + 1);
  if (!addr || !/^\d{1,3}$/.test(p)) return null;
  const prefix = Number(p);
  if (prefix > bits(addr.family)) return null;
  return { addr, prefix };
}

export const formatCidr = (c: Cidr): string => `${formatIP(c.addr)}/${c.prefix}`;

function mask(f: 4 | 6, prefix: number): bigint {
  const b = BigInt(bits(f));
  return ((1n << b) - 1n) ^ ((1n << (b - BigInt(prefix))) - 1n);
}

export function networkOf(c: Cidr): Addr {
  return { family: c.addr.family, value: c.addr.value & mask(c.addr.family, c.prefix) };
}

export function lastOf(c: Cidr): Addr {
  const host = (1n << BigInt(bits(c.addr.family) - c.prefix)) - 1n;
  return { family: c.addr.family, value: networkOf(c).value | host };
}

export function contains(c: Cidr, a: Addr): boolean {
  return a.family === c.addr.family && (a.value & mask(a.family, c.prefix)) === networkOf(c).value;
}

export const next = (a: Addr): Addr => ({ family: a.family, value: a.value + 1n });
export const prev = (a: Addr): Addr => ({ family: a.family, value: a.value - 1n });
export const eq = (a: Addr | null | undefined, b: Addr | null | undefined): boolean => !!a && !!b && a.family === b.family && a.value === b.value;
export const cmp = (a: Addr, b: Addr): number => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);

/** Host bits of a network CIDR are zero. */
export const isNetworkAddress = (c: Cidr): boolean => networkOf(c).value === c.addr.value;

/** "10.0.0.0/24" style string of the network containing c. */
export const networkString = (c: Cidr): string => `${formatIP(networkOf(c))}/${c.prefix}`;

export const isV6String = (s: string): boolean => s.includes(':');
