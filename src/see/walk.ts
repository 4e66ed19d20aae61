// One packet through one iptables chain, on paper: which rule takes it and what it does
// (ACCEPT, DROP, DNAT to where, MASQUERADE). Pure: it reads the rules of a Snapshot
// (`iptables-save -c`), follows jumps into user chains and back, and falls to the chain's
// policy at the end, as netfilter does. The labs' checks ask it questions about what the
// learner built ("would nat PREROUTING send tcp to 192.168.1.10:8080 on to 192.168.15.2:80?"),
// so any rule that does the job passes, however it is spelled.
//
// It knows the matches the course and minid use: -s -d -i -o (with !, and the + wildcard), -p,
// --dport/--sport (and ranges, multiport --dports), addrtype --dst-type/--src-type LOCAL, conntrack --ctstate /
// state --state, comment. A rule with any other match is taken as not matching, and said so.
import type { IptRule, Snapshot } from './snapshot.js';

export interface Packet {
  proto: 'tcp' | 'udp' | 'icmp';
  src: string;
  dst: string;
  dport?: number;
  sport?: number;
  /** The interface it came in by (PREROUTING, INPUT, FORWARD). */
  in?: string;
  /** The interface it leaves by (OUTPUT after routing, FORWARD, POSTROUTING). */
  out?: string;
  /** conntrack states: NEW, ESTABLISHED, RELATED, DNAT, SNAT (DNAT: its destination was rewritten). */
  ct?: string[];
}

export interface Verdict {
  /** ACCEPT, DROP, REJECT, DNAT, SNAT, MASQUERADE, RETURN... or the policy at the end. */
  target: string;
  /** The rule that decided; absent when the chain's policy did. */
  rule?: IptRule;
  /** DNAT/SNAT: --to-destination / --to-source. */
  to?: string;
  /** Rules skipped because they use a match this walk does not know. */
  unknown: IptRule[];
}

const ipNum = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);

/** Is address A inside CIDR (a bare address is /32)? */
export function inCidr(a: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const bits = len === undefined ? 32 : Number(len);
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(a) || !/^\d+\.\d+\.\d+\.\d+$/.test(net)) return false;
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
  return ((ipNum(a) & mask) >>> 0) === ((ipNum(net) & mask) >>> 0);
}

const ifMatch = (pat: string, dev: string | undefined): boolean =>
  dev !== undefined && (pat.endsWith('+') ? dev.startsWith(pat.slice(0, -1)) : dev === pat);

const portMatch = (spec: string, port: number | undefined): boolean => {
  if (port === undefined) return false;
  const [lo, hi] = spec.split(':').map(Number);
  return hi === undefined ? port === lo : port >= lo && port <= hi;
};

/** Does one rule's match part take this packet? null: a match this walk does not know. */
export function ruleMatches(args: string[], p: Packet, local: (a: string) => boolean): boolean | null {
  let neg = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === '!') {
      neg = true;
      continue;
    }
    let hit: boolean | undefined;
    switch (a) {
      case '-s': hit = inCidr(p.src, v); i++; break;
      case '-d': hit = inCidr(p.dst, v); i++; break;
      case '-i': hit = ifMatch(v, p.in); i++; break;
      case '-o': hit = ifMatch(v, p.out); i++; break;
      case '-p': hit = v === 'all' || v === p.proto; i++; break;
      case '--dport': hit = portMatch(v, p.dport); i++; break;
      case '--dports': hit = v.split(',').some((x) => portMatch(x, p.dport)); i++; break;
      case '--sport': hit = portMatch(v, p.sport); i++; break;
      case '--dst-type': hit = v.split(',').some((t) => (t === 'LOCAL' ? local(p.dst) : false)); i++; break;
      case '--src-type': hit = v.split(',').some((t) => (t === 'LOCAL' ? local(p.src) : false)); i++; break;
      case '--ctstate':
      case '--state': hit = v.split(',').some((st) => (p.ct ?? ['NEW']).includes(st)); i++; break;
      case '--comment': i++; continue;
      case '-m': {
        // The module name itself matches nothing; its options follow.
        if (!['tcp', 'udp', 'multiport', 'addrtype', 'conntrack', 'state', 'comment'].includes(v)) return null;
        i++;
        continue;
      }
      case '-j':
        return true; // the target and its options: the match part is over
      default:
        return null;
    }
    if (hit === neg) return false;
    neg = false;
  }
  return true;
}

const targetOf = (args: string[]): { target: string; to?: string } => {
  const j = args.indexOf('-j');
  const target = j >= 0 ? args[j + 1] : '';
  const k = args.findIndex((a) => a === '--to-destination' || a === '--to-source' || a === '--to');
  return k >= 0 ? { target, to: args[k + 1] } : { target };
};

/** The host's own addresses (addrtype LOCAL): its links' and all of 127.0.0.0/8. */
export function localOf(s: Snapshot): (a: string) => boolean {
  const mine = new Set(s.kernel.host.links.flatMap((l) => l.addresses.map((c) => c.split('/')[0])));
  return (a) => a.startsWith('127.') || mine.has(a);
}

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
/** Targets that do their thing and let the packet go on to the next rule. */
const NON_TERMINAL = new Set(['LOG', 'MARK', 'CONNMARK', 'NFLOG', 'TRACE']);

/** Walk `table`/`chain` with packet P: the first rule that decides, or the policy. */
export function walk(s: Snapshot, table: string, chain: string, p: Packet): Verdict {
  const local = localOf(s);
  const unknown: IptRule[] = [];
  const visit = (c: string, depth: number): Verdict | null => {
    if (depth > 8) return null;
    for (const r of s.kernel.iptables.rules.filter((x) => x.table === table && x.chain === c)) {
      const m = ruleMatches(r.args, p, local);
      if (m === null) {
        unknown.push(r);
        continue;
      }
      if (!m) continue;
      const { target, to } = targetOf(r.args);
      if (!target) continue; // a counting rule
      if (target === 'RETURN') return null;
      const isChain = s.kernel.iptables.chains.includes(`${table}/${target}`) && !BUILTIN.has(target);
      if (isChain) {
        const v = visit(target, depth + 1);
        if (v) return v;
        continue;
      }
      if (NON_TERMINAL.has(target)) continue;
      return { target, rule: r, unknown, ...(to ? { to } : {}) };
    }
    return null;
  };
  return visit(chain, 0) ?? { target: s.kernel.iptables.policies[`${table}/${chain}`] ?? 'ACCEPT', unknown };
}
