// The kernel's own packet tracing, as data. Nothing here touches the host: trace.ts runs the
// commands; unit tests feed recorded lines.
//
// How nftables tracing works: a rule `meta nftrace set 1` marks a packet; from then on every
// netfilter hook the packet passes (in every table of every family, iptables-nft's `ip nat` and
// `ip filter` included) reports each rule it matched and the verdict to `nft monitor trace`:
//
//   trace id 5c6a5d34 ip nat OUTPUT packet: oif "lo" ip saddr 127.0.0.1 ... tcp sport 61234 tcp dport 18080 ...
//   trace id 5c6a5d34 ip nat MINID-DNAT rule tcp dport 18080 counter ... dnat to 10.0.0.2:80 # handle 15334 (verdict accept)
//   trace id 5c6a5d34 ip nat POSTROUTING policy accept
//
// minid marks only its probe's packets, from a table of its own (traceTableScript).

/** One line of `nft -a monitor trace`. */
export interface TraceEvent {
  id: string;
  family: string;
  table: string;
  chain: string;
  kind: 'packet' | 'rule' | 'policy' | 'return' | 'other';
  /** packet: the fields it prints (iif, oif, ip saddr, tcp dport, tcp flags...). */
  fields?: Record<string, string>;
  /** rule: its text as nft prints it (without the handle). */
  rule?: string;
  handle?: number;
  /** rule: 'accept', 'drop', 'continue', 'jump MINID-DNAT'...; policy: 'accept' or 'drop'. */
  verdict?: string;
}

const LINE = /^trace id ([0-9a-f]+) (\S+) (\S+) (\S+) (packet|rule|policy|return|verdict|unknown)\b:?\s*(.*)$/;

/** Parse one trace line; null for anything else (nft's warnings, blank lines). */
export function parseTraceLine(line: string): TraceEvent | null {
  const m = LINE.exec(line.trim());
  if (!m) return null;
  const [, id, family, table, chain, kind, rest] = m;
  const ev: TraceEvent = { id, family, table, chain, kind: kind === 'packet' || kind === 'rule' || kind === 'policy' || kind === 'return' ? kind : 'other' };
  if (kind === 'packet') ev.fields = packetFields(rest);
  else if (kind === 'rule') {
    const v = /\(verdict ([^)]*)\)\s*$/.exec(rest);
    ev.verdict = v ? v[1] : undefined;
    let text = v ? rest.slice(0, v.index).trim() : rest.trim();
    const h = /\s*# handle (\d+)$/.exec(text);
    if (h) {
      ev.handle = Number(h[1]);
      text = text.slice(0, h.index).trim();
    }
    ev.rule = text.replace(/\s+/g, ' ');
  } else if (kind === 'policy') ev.verdict = rest.trim();
  else if (kind === 'return') ev.verdict = 'return';
  return ev;
}

/** The packet fields nft prints: `oif "lo" ip saddr 1.2.3.4 ... tcp flags == syn`. */
function packetFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const keys = ['iif', 'oif', 'ip saddr', 'ip daddr', 'ip protocol', 'tcp sport', 'tcp dport', 'udp sport', 'udp dport', 'tcp flags', 'ether saddr', 'ether daddr'];
  for (const k of keys) {
    const re = new RegExp(`(?:^|\\s)${k.replace(' ', '\\s')}\\s+(?:==\\s+)?("[^"]*"|\\S+)`);
    const m = re.exec(text);
    if (m) out[k] = m[1].replace(/^"|"$/g, '');
  }
  return out;
}

/** One packet's passage through the hooks, in the order the kernel reported it. */
export interface TracedPacket {
  id: string;
  /** 'original': from the probe's side (source port = the probe's); 'reply': back to it. */
  direction: 'original' | 'reply';
  events: TraceEvent[];
}

/**
 * Split the events into packets. The kernel reuses trace ids, so a packet starts where our own
 * table reports it (its `packet:` line in minid's trace table) and owns the later events of that
 * id. Events of packets another tool marked (another table's nftrace) are left out.
 */
export function groupPackets(events: TraceEvent[], ourTable: string, probePort: number): TracedPacket[] {
  const open = new Map<string, TracedPacket>();
  const out: TracedPacket[] = [];
  for (const ev of events) {
    if (ev.table === ourTable && ev.kind === 'packet') {
      const f = ev.fields ?? {};
      const direction = Number(f['tcp sport']) === probePort ? 'original' : 'reply';
      // The same id again in our table: the same packet at its next hook (bridge, then inet;
      // out by lo, then in by lo), or a new one. Looping back through lo, the packet may also
      // come back under a new id: then the last packet of its direction continues.
      const cur = open.get(ev.id) ?? [...out].reverse().find((p) => p.direction === direction);
      if (cur && samePacket(cur, ev)) {
        open.set(ev.id, cur);
        cur.events.push(ev);
        continue;
      }
      const p: TracedPacket = { id: ev.id, direction, events: [ev] };
      open.set(ev.id, p);
      out.push(p);
      continue;
    }
    const known = open.get(ev.id);
    if (known) {
      known.events.push(ev);
      continue;
    }
    // The kernel may give a packet a new trace id on its way (the reply, once conntrack has
    // undone the NAT, reaches INPUT under another id): a packet line of the probe's port with
    // the same TCP flags continues the last packet of that direction.
    const f = ev.fields;
    if (ev.kind !== 'packet' || !f) continue;
    const direction = Number(f['tcp sport']) === probePort ? 'original' : Number(f['tcp dport']) === probePort ? 'reply' : null;
    const last = [...out].reverse().find((p) => p.direction === direction);
    const lastFlags = last?.events.find((e) => e.kind === 'packet')?.fields?.['tcp flags'];
    if (last && lastFlags === f['tcp flags']) {
      open.set(ev.id, last);
      last.events.push(ev);
    }
  }
  return out;
}

/** Does this packet line continue the packet (a later hook of the same one)? */
function samePacket(p: TracedPacket, ev: TraceEvent): boolean {
  const first = p.events.find((e) => e.kind === 'packet');
  const a = first?.fields ?? {};
  const b = ev.fields ?? {};
  const dir = Number(b['tcp sport']) === Number(a['tcp sport']) || Number(b['tcp dport']) === Number(a['tcp dport']);
  // A new packet of the same connection would repeat our `out`/`pre` hook with the same family.
  const seenHere = p.events.some((e) => e.kind === 'packet' && e.family === ev.family && e.chain === ev.chain && e.table === ev.table);
  return dir && !seenHere && a['tcp flags'] === b['tcp flags'];
}

// --- minid's trace table --------------------------------------------------------------------

/**
 * The nft script that creates minid's own trace table (and its bridge twin, which sees the
 * bridge ports a frame enters and leaves by). It marks only TCP packets of the probe's source port that
 * open or refuse a connection (SYN, SYN-ACK, RST): the path, not the whole conversation.
 * Priority -350 runs before raw (-300) and conntrack (-200): every later hook is traced.
 */
export function traceTableScript(name: string, probePort: number): string {
  const match = (dir: 'sport' | 'dport') => `tcp ${dir} ${probePort} tcp flags & (syn|rst) != 0 meta nftrace set 1`;
  const chain = (cname: string, hook: string) => `  chain ${cname} { type filter hook ${hook} priority -350; ${match('sport')}; ${match('dport')}; }`;
  return [
    `table inet ${name} {`,
    chain('pre', 'prerouting'),
    chain('out', 'output'),
    // Marker packets (UDP from the host to 127.0.0.1:PORT) tell when `nft monitor trace` listens.
    `  chain marker { type filter hook output priority -350; ip daddr 127.0.0.1 udp dport ${probePort} meta nftrace set 1; }`,
    '}',
    `table bridge ${name} {`,
    chain('pre', 'prerouting'),
    chain('fw', 'forward'), // bridged from port to port (also hairpin, routed by br_netfilter)
    chain('out', 'output'),
    '}',
    '',
  ].join('\n');
}

// --- from nft's rules back to iptables' --------------------------------------------------------

/** Where a rule sits: table ip nat, chain MINID-DNAT, 1st rule. */
export interface RulePlace {
  table: string;
  chain: string;
  index: number;
}

/**
 * Read `nft -a list table ip nat` (or filter): each rule's handle and its place in its chain.
 * iptables-nft keeps one nft rule per iptables rule, in the same order as `iptables -S CHAIN`,
 * so the place finds the iptables rule (and its comment, which nft 1.0 does not print).
 */
export function parseNftHandles(listing: string): Map<number, RulePlace> {
  const out = new Map<number, RulePlace>();
  let table = '';
  let chain = '';
  let index = 0;
  for (const raw of listing.split('\n')) {
    const line = raw.trim();
    let m = /^table \S+ (\S+) \{/.exec(line);
    if (m) {
      table = m[1];
      continue;
    }
    m = /^chain (\S+) \{/.exec(line);
    if (m) {
      chain = m[1];
      index = 0;
      continue;
    }
    m = /# handle (\d+)$/.exec(line);
    if (m && chain && !line.startsWith('type ') && line !== '}') {
      out.set(Number(m[1]), { table, chain, index: index++ });
    }
  }
  return out;
}

/**
 * Ctrl-C or SIGTERM during a trace: let the command in flight finish (it may be making a table
 * or a namespace), then remove what the trace made, then exit 130/143 as a shell would. Returns
 * the function that unhooks the handlers once the trace is over.
 */
export function cleanUpOnSignal(inflight: () => Promise<unknown>, cleanup: () => Promise<void>): () => void {
  const onSignal = (sig: NodeJS.Signals) => {
    void inflight()
      .catch(() => {})
      .then(cleanup)
      .finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}
