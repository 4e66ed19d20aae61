// From traced packets to what a learner reads: the path hook by hook, the rule that matched at
// each hook (as the iptables command minid typed, found by its place in the chain), the conntrack
// entry, and on failure the hook where the packet died and what killed it. Pure: unit-tested
// with recorded `nft monitor trace` lines.
import { tokenize } from '../network/iptables.js';
import type { RulePlace, TraceEvent, TracedPacket } from './nftrace.js';

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

/** A rule the packet matched (or the policy it fell to), with the iptables line behind it. */
export interface Hit {
  table: string;
  chain: string;
  /** nft's text of the rule. */
  nft: string;
  verdict: string;
  /** `iptables -t nat -A MINID-DNAT ...`: what minid (or someone) typed; absent for nft-only tables. */
  iptables?: string;
  /** The rule's comment, when it has one (minid's: `minid:<store8>:<network>[:<name>:<id12>]`). */
  comment?: string;
}

/** One hook the packet passed. */
export interface Hop {
  /** PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING, or 'bridge in' / 'bridge forward' / 'bridge out'. */
  hook: string;
  /** The interface: iif (coming in) or oif (going out). */
  dev?: string;
  src: string;
  dst: string;
  hits: Hit[];
  /** A base chain's policy verdict, when the packet fell through to it. */
  policy?: string;
  /** The tables whose chains at this hook saw it (raw, mangle, nat, filter, minid's trace). */
  tables: string[];
}

export interface PacketPath {
  direction: 'original' | 'reply';
  flags: string;
  hops: Hop[];
  /** Where it ended: 'dropped' by a rule/policy, else the last hook it reached. */
  dropped?: { hop: Hop; by: string };
}

/** The iptables rules of the tables traced: `iptables-save` text, per chain in order. */
export function iptablesByPlace(save: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let table = '';
  for (const raw of save.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith('-A ')) {
      const chain = line.split(/\s+/)[1];
      const key = `${table} ${chain}`;
      if (!out.has(key)) out.set(key, []);
      out.get(key)!.push(`iptables -t ${table} ${line}`);
    }
  }
  return out;
}

/** What the report needs to name rules: nft handles (per table) and iptables' lines. */
export interface RuleBook {
  /** `${table} ${handle}` → place, for the iptables-nft tables (ip nat, ip filter...). */
  places: Map<string, RulePlace>;
  iptables: Map<string, string[]>;
}

export function lookupRule(book: RuleBook, ev: TraceEvent): { iptables?: string; comment?: string } {
  if (ev.family !== 'ip' || ev.handle === undefined) return {};
  const place = book.places.get(`${ev.table} ${ev.handle}`);
  if (!place) return {};
  const line = book.iptables.get(`${place.table} ${place.chain}`)?.[place.index];
  if (!line) return {};
  const toks = tokenize(line);
  const ci = toks.indexOf('--comment');
  return { iptables: line, comment: ci >= 0 ? toks[ci + 1] : undefined };
}

const addr = (f: Record<string, string>, side: 's' | 'd'): string => `${f[`ip ${side}addr`] ?? '?'}:${f[`tcp ${side}port`] ?? '?'}`;

/** The hook an event belongs to. Our trace table's chains are named pre/out. */
function hookOf(ev: TraceEvent, ourTable: string): string | null {
  if (ev.table === ourTable) {
    if (ev.family === 'bridge') return ev.chain === 'pre' ? 'bridge in' : ev.chain === 'fw' ? 'bridge forward' : 'bridge out';
    return ev.chain === 'pre' ? 'PREROUTING' : 'OUTPUT';
  }
  return BUILTIN.has(ev.chain) ? ev.chain : null;
}

/** The hops of one packet: its events folded per hook, our own marking rules left out. */
export function pathOf(p: TracedPacket, ourTable: string, book: RuleBook): PacketPath {
  const hops: Hop[] = [];
  let cur: Hop | null = null;
  let flags = '';
  for (const ev of p.events) {
    if (ev.kind === 'packet') {
      const hook = hookOf(ev, ourTable);
      const f = ev.fields ?? {};
      flags ||= f['tcp flags'] ?? '';
      if (hook && (!cur || cur.hook !== hook)) {
        const dev: string | undefined = hook === 'bridge forward' || hook === 'FORWARD' ? `${f.iif} → ${f.oif}` : hook === 'bridge out' || hook === 'POSTROUTING' || hook === 'OUTPUT' ? f.oif : f.iif ?? f.oif;
        cur = { hook, dev, src: addr(f, 's'), dst: addr(f, 'd'), hits: [], tables: [] };
        hops.push(cur);
      }
      if (cur && !cur.tables.includes(ev.table)) cur.tables.push(ev.table);
      continue;
    }
    if (!cur || ev.table === ourTable) continue;
    if (ev.kind === 'rule') {
      cur.hits.push({ table: ev.table, chain: ev.chain, nft: ev.rule ?? '', verdict: ev.verdict ?? '', ...lookupRule(book, ev) });
    } else if (ev.kind === 'policy') {
      cur.policy = `${ev.table} ${ev.chain} policy ${ev.verdict}`;
      if (ev.verdict === 'drop') cur.hits.push({ table: ev.table, chain: ev.chain, nft: `policy ${ev.verdict}`, verdict: 'drop' });
    }
  }
  const path: PacketPath = { direction: p.direction, flags: flagName(flags), hops };
  for (const h of hops) {
    const killer = h.hits.find((x) => /^(drop|reject)/.test(x.verdict) || /\breject\b/.test(x.nft));
    if (killer) {
      path.dropped = { hop: h, by: killer.iptables ?? `${killer.table} ${killer.chain}: ${killer.nft}` };
      break;
    }
  }
  return path;
}

function flagName(f: string): string {
  const names: Record<string, string> = { syn: 'SYN', '0x12': 'SYN-ACK', 'syn | ack': 'SYN-ACK', '0x14': 'RST-ACK', '0x04': 'RST', rst: 'RST', 'rst | ack': 'RST-ACK' };
  return names[f] ?? f.toUpperCase();
}

// --- conntrack ---------------------------------------------------------------------------------

export interface ConntrackEntry {
  state: string;
  original: { src: string; dst: string; sport: string; dport: string };
  reply: { src: string; dst: string; sport: string; dport: string };
}

/** A line of `conntrack -L`: `tcp 6 117 TIME_WAIT src=A dst=B sport=S dport=D src=... [ASSURED] ...`. */
export function parseConntrack(text: string): ConntrackEntry | null {
  for (const line of text.split('\n')) {
    if (!/^tcp\s/.test(line.trim())) continue;
    const kv = [...line.matchAll(/(src|dst|sport|dport)=(\S+)/g)].map((m) => [m[1], m[2]] as const);
    if (kv.length < 8) continue;
    const side = (o: number) => ({ src: kv[o][1], dst: kv[o + 1][1], sport: kv[o + 2][1], dport: kv[o + 3][1] });
    const state = line.trim().split(/\s+/)[3] ?? '';
    return { state: /=/.test(state) ? '' : state, original: side(0), reply: side(4) };
  }
  return null;
}

/** The entry as a learner reads it: what was sent, what DNAT made of it, what the reply looks like. */
export function describeConntrack(e: ConntrackEntry): string[] {
  const o = e.original;
  const r = e.reply;
  const lines = [`original  ${o.src}:${o.sport} → ${o.dst}:${o.dport}`];
  const dnat = r.src !== o.dst || r.sport !== o.dport;
  lines.push(dnat ? `DNAT      destination ${o.dst}:${o.dport} → ${r.src}:${r.sport} (the reply comes from there)` : 'DNAT      none (the reply comes from the address the probe dialled)');
  const snat = r.dst !== o.src || r.dport !== o.sport;
  lines.push(
    `reply     ${r.src}:${r.sport} → ${r.dst}:${r.dport}` +
      (snat ? `  (source NAT: the container answers ${r.dst}, conntrack turns it back into ${o.src})` : '  (no source NAT: the container answers the probe directly)'),
  );
  if (e.state) lines.push(`state     ${e.state}`);
  return lines;
}

/** Did the packet leave the bridge by this port (toward the container behind it)? */
export function reachedPort(p: PacketPath | undefined, veth: string): boolean {
  return !!p?.hops.some((h) => (h.hook === 'bridge out' || h.hook === 'bridge forward') && (h.dev ?? '').split(' → ').pop() === veth);
}
