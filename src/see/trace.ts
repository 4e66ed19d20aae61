// `minid trace CONTAINER -p PORT --from ...`: one probe TCP connection to a published port,
// followed through netfilter by the kernel's own tracing.
//
//   1. a table of minid's own (`inet minid_trace_<store8>_<port>` and its bridge twin) marks the
//      probe's packets with `meta nftrace set 1`, matching only the probe's dedicated source port;
//   2. `nft monitor trace` reports every hook and rule those packets pass, in every table;
//   3. the probe connects (curl from the host, or from inside a container's namespace);
//   4. conntrack shows the connection's entry (original -> DNAT -> reply);
//   5. minid's tables are deleted again, on success, failure and Ctrl-C alike; no other table is
//      touched (iptables-nft's `ip nat` and `ip filter` are only read, to name their rules).
import dgram from 'node:dgram';
import fs from 'node:fs';
import { run, spawnProcess } from '../sys/exec.js';
import { MinidError } from '../errors.js';
import { storeRef } from '../sys/store.js';
import { findContainerOr1 } from '../runtime/lookup.js';
import { probe } from '../network/host.js';
import { cleanUpOnSignal, groupPackets, parseNftHandles, parseTraceLine, traceTableScript, type RulePlace, type TraceEvent } from './nftrace.js';
import { describeConntrack, iptablesByPlace, parseConntrack, pathOf, type PacketPath, type RuleBook } from './tracereport.js';
import { diagnose, renderTrace, type TraceContext } from './tracetext.js';
import type { Attachment, BridgeAttachment, PortBinding } from '../network/types.js';

export interface TraceOptions {
  port: string;
  from: string;
}

interface Source {
  /** What the learner asked for: host, 127.0.0.1, container:NAME, lan. */
  label: string;
  /** The namespace the probe runs in (null: the host's). */
  netns: string | null;
  /** The address it dials. */
  dst: string;
  /** lan: the commands that make the peer, and the one that removes it. */
  setup?: string[][];
  teardown?: string[][];
}

/**
 * `--from lan`: a LAN peer simulated by a namespace of the trace's own, linked to the host by a
 * veth pair on a /30 of link-local addresses (169.254.200-249.x, never routed beyond the link).
 * The probe dials the host's end, as a machine on the LAN dials the host: PREROUTING, FORWARD.
 */
function lanPeer(storeId: string, sport: number): Source {
  const ns = `mtr-${storeId}-${sport}`;
  const host = `mtr${sport}h`;
  const n = Math.floor(Math.random() * 50 * 64);
  const net = `169.254.${200 + Math.floor(n / 64)}.${(n % 64) * 4}`;
  const [a, b, c, d] = net.split('.').map(Number);
  const hostIp = `${a}.${b}.${c}.${d + 1}`;
  const peerIp = `${a}.${b}.${c}.${d + 2}`;
  return {
    label: `a LAN peer (${peerIp} in namespace ${ns}, made for the trace)`,
    netns: ns,
    dst: hostIp,
    setup: [
      ['ip', 'netns', 'add', ns],
      ['ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns],
      ['ip', 'addr', 'add', `${hostIp}/30`, 'dev', host],
      ['ip', 'link', 'set', host, 'up'],
      ['ip', '-n', ns, 'addr', 'add', `${peerIp}/30`, 'dev', 'eth0'],
      ['ip', '-n', ns, 'link', 'set', 'eth0', 'up'],
      ['ip', '-n', ns, 'link', 'set', 'lo', 'up'],
      ['ip', '-n', ns, 'route', 'add', 'default', 'via', hostIp],
    ],
    teardown: [['ip', 'netns', 'del', ns]], // the veth pair goes with it
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The container, its attachment and the binding of the port asked for. */
function target(ref: string, portArg: string): { name: string; id: string; att: BridgeAttachment; binding: PortBinding } {
  const s = findContainerOr1(ref);
  const att: Attachment | undefined = s.config.attachment;
  if (s.status !== 'running') throw new MinidError(`container ${s.config.name} is ${s.status}: start it first (\`minid start ${s.config.name}\`), a trace needs something to answer`, 1);
  if (!att || att.mode !== 'bridge' || !att.ip) throw new MinidError(`container ${s.config.name} is not on a bridge network (--network ${att?.mode ?? 'none'}): it has no published port to trace`, 1);
  const port = Number(portArg.replace(/\/tcp$/, ''));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new MinidError(`invalid port "${portArg}": give the published host port, e.g. -p 8080 (TCP only)`, 1);
  const binding = att.ports.find((b) => b.hostPort === port && b.protocol === 'tcp');
  if (!binding) {
    const list = att.ports.map((b) => `${b.hostPort}->${b.containerPort}/${b.protocol}`).join(', ') || 'none';
    throw new MinidError(`container ${s.config.name} does not publish TCP port ${port} (published: ${list}): pass one of its host ports with -p`, 1);
  }
  return { name: s.config.name, id: s.config.id, att, binding };
}

/** The host's own address: the one of its default-route interface. */
async function hostAddress(): Promise<string | null> {
  const up = await probe().uplink();
  if (!up) return null;
  const a = (await probe().addresses(up.dev))[0];
  return a ? a.split('/')[0] : null;
}

async function source(from: string, att: BridgeAttachment, storeId: string, sport: number): Promise<Source> {
  if (from === 'lan') return lanPeer(storeId, sport);
  if (from === '127.0.0.1' || from === 'localhost') return { label: '127.0.0.1', netns: null, dst: '127.0.0.1' };
  if (from === 'host') {
    const a = await hostAddress();
    if (!a) throw new MinidError('--from host: this host has no default-route interface with an IPv4 address: use --from 127.0.0.1', 1);
    return { label: `host (${a})`, netns: null, dst: a };
  }
  if (from.startsWith('container:')) {
    const c = findContainerOr1(from.slice('container:'.length));
    const ca: Attachment | undefined = c.config.attachment;
    if (c.status !== 'running' || !ca || (ca.mode !== 'bridge' && ca.mode !== 'cni')) throw new MinidError(`--from ${from}: container ${c.config.name} is not running with a network namespace of its own`, 1);
    // It dials the host's address, as a container reaching a published port does (hairpin).
    const a = (await hostAddress()) ?? ca.gateway ?? att.gateway;
    if (!a) throw new MinidError(`--from ${from}: no host address to dial`, 1);
    return { label: `container ${c.config.name} (${ca.ip})`, netns: ca.netnsName, dst: a };
  }
  throw new MinidError(`invalid --from "${from}": use host, 127.0.0.1, lan or container:NAME`, 1);
}

/** A source port no other connection uses: above the kernel's ephemeral range when it can be. */
function probePort(): number {
  let hi = 60999;
  try {
    hi = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[1]) || hi;
  } catch {
    /* the default range */
  }
  const base = hi < 64000 ? hi + 1 : 20000;
  return base + Math.floor(Math.random() * Math.min(1000, 65535 - base));
}

export interface TraceResult {
  text: string;
  ok: boolean;
}

export async function traceContainer(ref: string, o: TraceOptions): Promise<TraceResult> {
  const t = target(ref, o.port);
  const store = await storeRef();
  const sport = probePort();
  const src = await source(o.from, t.att, store.id, sport);
  const table = `minid_trace_${store.id}_${sport}`;

  let monitor: Awaited<ReturnType<typeof spawnProcess>> | null = null;
  let cleaned = false;
  let inflight: Promise<unknown> = Promise.resolve();
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    if (monitor && monitor.exitCode === null) monitor.kill('SIGTERM');
    // Only minid's own tables, by their exact names.
    for (const fam of ['inet', 'bridge']) await run(['nft', 'delete', 'table', fam, table], { allowFail: true });
    for (const c of src.teardown ?? []) await run(c, { allowFail: true });
    // The probe's conntrack entries (its connection, the marker packets): the kernel would let
    // them expire; a trace leaves nothing behind.
    await run(['conntrack', '-D', '-p', 'tcp', '--orig-port-src', String(sport)], { allowFail: true });
    await run(['conntrack', '-D', '-p', 'udp', '--orig-port-dst', String(sport)], { allowFail: true });
  };
  // A command that creates something may be running: let it finish, then remove what it made.
  const unhook = cleanUpOnSignal(() => inflight, cleanup);

  try {
    // Tables of this store's earlier traces that were killed (SIGKILL: no cleanup ran). Said,
    // not deleted: another trace of this store may be running now.
    const before = (await run(['nft', 'list', 'tables'], { allowFail: true })).stdout;
    const stale = [...before.matchAll(new RegExp(`^table (\\w+) (minid_trace_${store.id}_\\d+)$`, 'gm'))].map((m) => `nft delete table ${m[1]} ${m[2]}`);
    const made = await (inflight = run(['nft', '-f', '-'], { input: traceTableScript(table, sport), allowFail: true }));
    if (made.exitCode !== 0) throw new MinidError(`cannot create the trace table ${table}: ${made.stderr.trim().split('\n').pop()} (is the nftables package installed? scripts/install-deps.sh)`, 1);

    for (const c of src.setup ?? []) {
      const r = await (inflight = run(c, { allowFail: true }));
      if (r.exitCode !== 0) throw new MinidError(`cannot make the LAN peer: ${c.join(' ')}: ${r.stderr.trim().split('\n').pop()}`, 1);
    }

    monitor = await spawnProcess(['nft', '-a', 'monitor', 'trace'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    monitor.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitForMonitor(() => out, sport);

    const probeCmd = [
      ...(src.netns ? ['nsenter', `--net=/run/netns/${src.netns}`] : []),
      'curl', '-sS', '-o', '/dev/null', '--local-port', String(sport), '--connect-timeout', '3', '-m', '4', `http://${src.dst}:${t.binding.hostPort}/`,
    ];
    const pr = await run(probeCmd, { allowFail: true });
    const outcome = pr.exitCode === 7 ? 'refused' : pr.exitCode === 28 ? 'timeout' : 'connected';
    await sleep(300); // the last events
    monitor.kill('SIGTERM');

    const ct = await run(['conntrack', '-L', '-p', 'tcp', '--orig-port-src', String(sport)], { allowFail: true });
    const book = await ruleBook();
    // iptables-nft keeps its rules in nftables, where the trace sees them; the legacy backend does not.
    const version = (await run(['iptables', '-V'], { allowFail: true })).stdout.trim();
    const sockets = await run(['ss', '-N', t.att.netnsName!, '-Htln', `sport = :${t.binding.containerPort}`], { allowFail: true });

    const events = out.split('\n').map(parseTraceLine).filter((e): e is TraceEvent => e !== null && !isMarker(e, sport));
    const paths: PacketPath[] = groupPackets(events, table, sport).map((p) => pathOf(p, table, book));
    const entry = parseConntrack(ct.stdout);
    const ctx: TraceContext = {
      container: { name: t.name, id: t.id, ip: t.att.ip!, bridge: t.att.bridge ?? '', veth: t.att.veth ?? '', netns: t.att.netnsName ?? '' },
      binding: t.binding,
      source: src.label,
      dst: src.dst,
      sport,
      table,
      probe: probeCmd.join(' '),
      outcome,
      listening: sockets.stdout.trim(),
      conntrack: entry ? describeConntrack(entry) : [],
      dnatRule: expectedDnat(book, store.id, t),
      notes: [
        ...(version.includes('nf_tables')
          ? []
          : [`${version || 'iptables'} is not the nf_tables backend: its rules live outside nftables, so the trace shows the hooks but not which iptables rule matched`]),
        ...(stale.length ? [`trace tables of this store left by a trace that was killed (unless one runs now): ${stale.join('; ')}`] : []),
      ],
    };
    const verdict = diagnose(paths, ctx);
    return { text: renderTrace(paths, ctx, verdict), ok: verdict.ok };
  } finally {
    await cleanup();
    unhook();
  }
}

function isMarker(e: TraceEvent, sport: number): boolean {
  return e.chain === 'marker' || (e.fields !== undefined && e.fields['udp dport'] === String(sport));
}

/** Send marker packets until the monitor reports one (it is then listening), at most 3 s. */
async function waitForMonitor(out: () => string, sport: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  try {
    for (let i = 0; i < 30; i++) {
      await new Promise<void>((r) => sock.send('minid-trace', sport, '127.0.0.1', () => r()));
      await sleep(100);
      if (out().includes(`udp dport ${sport}`)) return;
    }
  } finally {
    sock.close();
  }
  throw new MinidError('nft monitor trace reported nothing within 3 s: cannot trace on this host', 1);
}

/** nft's handles of the iptables-nft tables and iptables' own lines: to name each rule hit. */
async function ruleBook(): Promise<RuleBook> {
  const places = new Map<string, RulePlace>();
  const tables = (await run(['nft', 'list', 'tables', 'ip'], { allowFail: true })).stdout;
  for (const m of tables.matchAll(/^table ip (\S+)/gm)) {
    const listing = await run(['nft', '-a', 'list', 'table', 'ip', m[1]], { allowFail: true });
    for (const [h, p] of parseNftHandles(listing.stdout)) places.set(`${m[1]} ${h}`, p);
  }
  const save = await run(['iptables-save'], { allowFail: true });
  return { places, iptables: iptablesByPlace(save.stdout) };
}

/** minid's DNAT rule for this port, as iptables-save shows it (null: it is not there). */
function expectedDnat(book: RuleBook, storeId: string, t: ReturnType<typeof target>): { present: string | null; comment: string } {
  const cmt = `minid:${storeId}:${t.att.network}:${t.name}:${t.id.slice(0, 12)}`;
  const lines = book.iptables.get('nat MINID-DNAT') ?? [];
  const present = lines.find((l) => l.includes(cmt) && l.includes(`--dport ${t.binding.hostPort} `)) ?? null;
  return { present, comment: cmt };
}
