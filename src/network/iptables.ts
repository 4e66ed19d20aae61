// Reading `iptables-save` output: which of minid's chains and rules exist, so plans add only
// what is missing and teardown deletes exactly the rules carrying minid's comments.
import type { Cmd, NetworkRecord } from './types.js';
import type { StoreRef } from '../sys/store.js';
import { contains, tryParseCidr } from './cidr.js';
import { parseComment, type RuleOwner } from './names.js';

export interface SavedRule {
  table: string;
  chain: string;
  /** Tokens after '-A CHAIN', quotes removed. */
  args: string[];
  comment?: string;
}

export interface SavedState {
  chains: Map<string, Set<string>>;
  rules: SavedRule[];
}

/** Split a rule line like a shell would for iptables-restore (double quotes only). */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]);
  return out;
}

export function parseSave(text: string): SavedState {
  const chains = new Map<string, Set<string>>();
  const rules: SavedRule[] = [];
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      table = line.slice(1);
      if (!chains.has(table)) chains.set(table, new Set());
    } else if (line.startsWith(':')) {
      chains.get(table)?.add(line.slice(1).split(/\s+/)[0]);
    } else if (line.startsWith('-A ')) {
      const t = tokenize(line);
      const args = t.slice(2);
      const ci = args.indexOf('--comment');
      rules.push({ table, chain: t[1], args, comment: ci >= 0 ? args[ci + 1] : undefined });
    }
  }
  return { chains, rules };
}

export function hasChain(s: SavedState, table: string, chain: string): boolean {
  return s.chains.get(table)?.has(chain) ?? false;
}

/**
 * An add command (iptables [-t T] -A|-I CHAIN [n] ARGS...) as the rule iptables-save prints:
 * its table, chain and args. null for any other command.
 */
export function ruleOfAdd(c: Cmd): { table: string; chain: string; args: string[] } | null {
  const a = c.argv.slice(1);
  let table = 'filter';
  const ti = a.indexOf('-t');
  if (ti >= 0) {
    table = a[ti + 1];
    a.splice(ti, 2);
  }
  const op = a[0];
  if (op !== '-A' && op !== '-I') return null;
  let args = a.slice(2);
  if (op === '-I' && /^\d+$/.test(args[0] ?? '')) args = args.slice(1);
  return { table, chain: a[1], args };
}

/** Is this rule (given as iptables argv: iptables -t T -A|-I CHAIN args...) already present? */
export function hasRule(s: SavedState, c: Cmd): boolean {
  const rule = ruleOfAdd(c);
  if (!rule) return false;
  const want = rule.args.join('\u0000');
  return s.rules.some((r) => r.table === rule.table && r.chain === rule.chain && r.args.join('\u0000') === want);
}

/** The command deleting a saved rule. */
export function deleteCmd(r: SavedRule): Cmd {
  return { argv: ['iptables', '-t', r.table, '-D', r.chain, ...r.args] };
}

/** Turn an add command (-A/-I [n]) into its delete command. */
export function toDelete(c: Cmd): Cmd {
  const a = [...c.argv];
  const i = a.findIndex((x) => x === '-A' || x === '-I');
  if (i < 0) return c;
  const rest = a.slice(i + 2);
  if (a[i] === '-I' && /^\d+$/.test(rest[0] ?? '')) rest.shift();
  return { argv: [...a.slice(0, i), '-D', a[i + 1], ...rest] };
}

export type OwnedRule = SavedRule & { owner: RuleOwner };

/** Rules whose comment says they belong to minid (any store, network or container). */
export function minidRules(s: SavedState): OwnedRule[] {
  const out: OwnedRule[] = [];
  for (const r of s.rules) {
    if (!r.comment) continue;
    const owner = parseComment(r.comment);
    if (owner) out.push({ ...r, owner });
  }
  return out;
}

/**
 * Is the rule this store's? Its comment names the store; or, for the default store only, it
 * is an older minid's store-less comment (see sys/store.ts). Says nothing about which network:
 * see ofNetwork().
 */
export function ofStore(store: StoreRef, r: OwnedRule): boolean {
  if (r.owner.store) return r.owner.store === store.id;
  return store.legacy && r.owner.network !== undefined;
}

/**
 * Is the rule one of this store's rules of network `net`? A store-less (older minid's) rule
 * must also name the network's bridge (-i/-o) or DNAT to an address of its subnet: two older
 * stores could both have had a network "bridge", on different bridges.
 */
export function ofNetwork(store: StoreRef, net: NetworkRecord, r: OwnedRule): boolean {
  if (r.owner.network !== net.name || !ofStore(store, r)) return false;
  if (r.owner.store) return true;
  const subnet = tryParseCidr(net.subnet);
  return r.args.some((a, i) => {
    const prev = r.args[i - 1];
    if ((prev === '-i' || prev === '-o') && a === net.bridge) return true;
    if (prev !== '--to-destination' || !subnet) return false;
    const ip = tryParseCidr(a.split(':')[0]);
    return !!ip && contains(subnet, ip.addr);
  });
}
