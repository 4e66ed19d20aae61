// The address allocator of host-local, with the reference's strategy: continue round-robin
// after the last reserved address of the range set (so a released address is not handed out
// again at once), skip the gateway, wrap around the ranges, give up after one full turn.
// The caller holds the store's lock.
import { CniError, ErrorCode } from '../lib/skel.js';
import { cmp, eq, formatIP, next, type Addr } from '../lib/ip.js';
import { rangeFor, rangeSetString, type Range, type RangeSet } from './config.js';
import type { Store } from './store.js';

export interface Allocation {
  address: string; // CIDR, the subnet's prefix
  gateway: string;
}

function* iterate(rs: RangeSet, last: Addr | null): Generator<{ ip: Addr; r: Range }> {
  let idx = 0;
  let cur: Addr | null = null;
  let startIP: Addr | null = null;
  if (last) {
    const r = rangeFor(rs, last);
    if (r) {
      idx = rs.indexOf(r);
      cur = last;
    }
  }
  // Same walk as the reference RangeIter.Next.
  for (;;) {
    let r = rs[idx];
    if (cur === null) {
      cur = r.start;
      startIP = cur;
    } else {
      if (eq(cur, r.end)) {
        idx = (idx + 1) % rs.length;
        r = rs[idx];
        cur = r.start;
      } else {
        cur = next(cur);
      }
      if (startIP === null) startIP = cur;
      else if (eq(cur, startIP)) return;
    }
    if (eq(cur, r.gateway)) continue;
    yield { ip: cur, r };
  }
}

export function allocate(store: Store, rs: RangeSet, rangeId: string, id: string, ifName: string, requested?: Addr): Allocation {
  const fmt = (ip: Addr, r: Range): Allocation => ({ address: `${formatIP(ip)}/${r.subnet.prefix}`, gateway: formatIP(r.gateway) });
  if (requested) {
    const r = rangeFor(rs, requested);
    if (!r) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `requested IP address ${formatIP(requested)} is not in range set ${rangeSetString(rs)}`);
    if (eq(requested, r.gateway)) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `requested ip ${formatIP(requested)} is subnet's gateway`);
    if (!store.reserve(id, ifName, requested, rangeId))
      throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `requested IP address ${formatIP(requested)} is not available in range set ${rangeSetString(rs)}`);
    return fmt(requested, r);
  }
  for (const held of store.getById(id, ifName)) {
    if (rangeFor(rs, held)) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `${formatIP(held)} has been allocated to ${id}, duplicate allocation is not allowed`);
  }
  for (const { ip, r } of iterate(rs, store.lastReserved(rangeId))) {
    if (store.reserve(id, ifName, ip, rangeId)) return fmt(ip, r);
  }
  throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `no IP addresses available in range set: ${rangeSetString(rs)}`);
}

/** Is there at least one free address in the set? (STATUS; huge IPv6 ranges are assumed free.) */
export function hasFree(store: Store, rs: RangeSet): boolean {
  for (const r of rs) {
    if (r.end.value - r.start.value > 65536n) return true;
    for (let v = r.start.value; v <= r.end.value; v++) {
      const ip = { family: r.start.family, value: v };
      if (eq(ip, r.gateway)) continue;
      if (!store.isReserved(ip)) return true;
    }
  }
  return false;
}

export const inSet = (rs: RangeSet, ip: Addr): boolean => rangeFor(rs, ip) !== null;
export { cmp };
