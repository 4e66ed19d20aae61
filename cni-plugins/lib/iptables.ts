// iptables for the plugins, batched: read with `iptables-save -t TABLE`, change with
// `iptables-restore --noflush` (one atomic transaction per call; nft backend here). Each plugin
// owns per-attachment chains named MINID-CNI-<kind>-<hash>, and every rule it adds (jumps from
// built-in chains included) carries a comment naming the plugin, network, container and ifname,
// so DEL and GC remove exactly those rules and chains and nothing else.
import { createHash } from 'node:crypto';
import { run } from '../../src/sys/exec.js';
import { CniError, ErrorCode } from './skel.js';

export const CHAIN_PREFIX = 'MINID-CNI-';

/** MINID-CNI-<kind>-<16 hex of sha256(network, container, ifname)>; at most 28 characters. */
export function chainName(kind: string, network: string, containerId: string, ifName: string): string {
  const h = createHash('sha256').update(`${network}\0${containerId}\0${ifName}`).digest('hex');
  const base = `${CHAIN_PREFIX}${kind}-`;
  return base + h.slice(0, 28 - base.length);
}

/** The comment on every rule of an attachment (also how GC finds the owners). */
export const ownerComment = (plugin: string, network: string, containerId: string, ifName: string): string =>
  `${plugin} net=${network} id=${containerId} if=${ifName}`;

export function parseOwner(comment: string): { plugin: string; network: string; containerId: string; ifName: string } | null {
  const m = /^(\S+) net=(\S+) id=(\S+) if=(\S+)$/.exec(comment);
  return m ? { plugin: m[1], network: m[2], containerId: m[3], ifName: m[4] } : null;
}

const bin = (six: boolean) => (six ? 'ip6tables' : 'iptables');

export async function save(table: string, six = false): Promise<string> {
  const r = await run([`${bin(six)}-save`, '-t', table], { allowFail: true });
  return r.exitCode === 0 ? r.stdout : '';
}

/** Apply restore-format lines to one table (no flush of anything else). Retries a busy commit; fails with RULES_FAILURE. */
export async function restore(table: string, lines: string[], six = false): Promise<void> {
  if (!lines.length) return;
  const input = `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  let last: unknown;
  for (let i = 0; i < 5; i++) {
    try {
      await run([`${bin(six)}-restore`, '-w', '10', '--noflush'], { input });
      return;
    } catch (e) {
      last = e;
      const msg = String((e as Error).message);
      // Another process changed the ruleset under us; try again a bit later.
      if (!/resource temporarily unavailable|try again|busy|could not fetch rule set generation|line \d+ failed/i.test(msg)) break;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    }
  }
  throw new CniError(ErrorCode.RULES_FAILURE, String((last as Error)?.message ?? last));
}

export const q = (s: string): string => `"${s.replace(/"/g, '')}"`;

export interface SavedTable {
  chains: Set<string>;
  rules: { chain: string; line: string }[];
}

export function parseSave(text: string): SavedTable {
  const chains = new Set<string>();
  const rules: { chain: string; line: string }[] = [];
  for (const l of text.split('\n')) {
    if (l.startsWith(':')) chains.add(l.slice(1).split(' ')[0]);
    else if (l.startsWith('-A ')) rules.push({ chain: l.split(' ')[1], line: l });
  }
  return { chains, rules };
}

/** The comment of a saved rule, unquoted. */
export function commentOf(line: string): string | null {
  const m = /--comment (?:"((?:[^"\\]|\\.)*)"|(\S+))/.exec(line);
  return m ? (m[1] ?? m[2]) : null;
}

/**
 * Restore lines that remove chains `owned` and every rule that jumps to them or carries
 * `comment`: `-D` for rules in other chains, then `-F`/`-X` for the chains.
 */
export function removalLines(t: SavedTable, owned: string[], comment?: string): string[] {
  const mine = new Set(owned.filter((c) => t.chains.has(c)));
  const out: string[] = [];
  for (const r of t.rules) {
    if (mine.has(r.chain)) continue;
    const target = /(?:^| )-[jg] (\S+)/.exec(r.line)?.[1];
    if ((target && mine.has(target)) || (comment && commentOf(r.line) === comment)) out.push(`-D${r.line.slice(2)}`);
  }
  for (const c of mine) out.push(`-F ${c}`);
  for (const c of mine) out.push(`-X ${c}`);
  return out;
}
