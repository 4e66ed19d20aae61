// Names on user-defined networks, as the rest of the network layer sees them:
//   attachDns()     (run: after the container's endpoint is recorded, before its command starts)
//   syncDns()       (the network's records changed: connect, disconnect, detach)
//   refreshResolver() (connect/disconnect: which server answers the container's 127.0.0.11)
//   detachDns()     (the container left: its own server, if any, stops; its names go)
//   stopNetworkDns()(network rm, system reset: every server of the network stops, its files go)
//   pruneDns()      (system prune: servers of networks or containers that are gone)
//
// The recipe, for a container on network NET (gateway GW):
//   1. the records file lists every container of NET (records.ts), rewritten from the
//      endpoint records, so it is right whatever happened before;
//   2. NET's dnsmasq (server.ts) is started with the first container, or told to reread the
//      file (SIGHUP); one that died is started again, with every record;
//   3. inside the container's namespace, 127.0.0.11:53 (what its /etc/resolv.conf names, as
//      docker's) is DNAT'd to GW:53, and the source of those packets (127.0.0.1, which may
//      not leave by eth0 without route_localnet) SNAT'd to the container's address. The rules
//      live in the container's namespace and go with it. On the host: two MINID-INPUT rules
//      per network accept queries by its bridge (queriesStep), removed with the network.
//   4. a container on several networks (network connect), or with --dns, gets a server of
//      its own in its namespace, at 127.0.0.11:53 itself (no DNAT then), that reads the
//      records of all its networks and forwards to its --dns or its first network's server.
// Isolation: each network's server answers only queries that arrive by its bridge (records.ts:
// interface= + bind-dynamic); a container's own server is reachable from its namespace only.
// Why 127.0.0.11 rather than the gateway (aardvark's way): the DNAT chooses the server, the
// host's port 53 may be taken by a resolver of its own, and a container's /etc/resolv.conf
// reads as it does under docker.
// The default network 'bridge' has no names, as in docker (/etc/hosts only).
// Every change to the host (files written, servers started, reloaded, stopped) is a Step planned in
// steps.ts and run through applyPlan: --explain numbers and narrates it, a failure undoes it.
import { fail } from '../../errors.js';
import { withLock } from '../../sys/lock.js';
import { CHAIN, comment, netnsPath, short } from '../names.js';
import { hasRule, parseSave } from '../iptables.js';
import { probe } from '../host.js';
import { listEndpoints, writeEndpoint, type Endpoint } from '../endpoints.js';
import { applyPlan, cmd, formatPlan, type Step } from '../step.js';
import type { Attachment, NetworkRecord } from '../types.js';
import { RESOLVER, collision, hasDns, ownNames as ownNamesOf, hostForwarders, renderServerConf, resolverRules, type DnsEntry, type ServerSpec } from './records.js';
import * as srv from './server.js';
import { alive } from './server.js';
import { confStep, ownServerSteps, startStep, stopNetworkSteps, stopStep, syncSteps, type ReaderView } from './steps.js';
import fs from 'node:fs';

export { RESOLVER, hasDns, validateAlias } from './records.js';

type Explain = ((line: string) => void) | undefined;

/** What attach records of a container's names (Attachment.dns). */
export interface DnsAttachment {
  /** The address its /etc/resolv.conf names. */
  resolver: string;
  /** The server its queries are DNAT'd to. */
  server: { address: string; port: number };
  /** Which server: 'network', or 'c-<id12>' (its own, for --dns). */
  instance: string;
}


const entries = (network: string): DnsEntry[] =>
  listEndpoints()
    .filter((e) => e.network === network && e.state === 'attached' && e.ip)
    .map((e) => ({ containerId: e.containerId, containerName: e.containerName, ip: e.ip!, aliases: e.aliases }));

/**
 * Refuse names that another container of the network answers to (one line, nothing changed).
 * `run` calls it before anything is created; attach again, under the lock, for a race.
 */
export function checkNames(network: string, mine: { containerId: string; containerName: string; aliases?: string[] }): void {
  const why = collision({ ...mine, ip: '' }, entries(network), network);
  if (why) fail(why);
}

/** A free port on the gateway for a server: `preferred` if it is free (both UDP and TCP). */
async function freePort(address: string, preferred?: number): Promise<number> {
  const p = probe();
  const free = async (port: number) => (await p.portHolder('udp', address, port)) === null && (await p.portHolder('tcp', address, port)) === null;
  if (preferred && (await free(preferred))) return preferred;
  for (let i = 0; i < 100; i++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if (await free(port)) return port;
  }
  fail(`no free port on ${address} for a DNS server`);
}

async function networkForwarders(): Promise<string[]> {
  // On a cluster node: the node's DNS server (kubelet's clusterDNS; CoreDNS's place), so the
  // network's containers resolve the cluster's services and pods as the node's pods do.
  const cluster = process.env.MINID_CLUSTER_DNS;
  if (cluster) return [cluster];
  return hostForwarders(await probe().resolvConf());
}

/**
 * The server listens on the host, so a host whose INPUT policy is DROP (a common firewall
 * setup) would silently eat the containers' queries; docker needs nothing here because its
 * resolver lives in the container's namespace. So MINID-INPUT (jumped to first from INPUT)
 * accepts queries that arrive by the network's bridge for its gateway's DNS port. The rules
 * carry the network's comment: `network rm` deletes them with the network's other rules.
 * Added once, when the network's server first starts (present already after a restart).
 */
async function queriesStep(net: NetworkRecord, port: number): Promise<Step> {
  const { storeRef } = await import('../../sys/store.js');
  const owner = comment((await storeRef()).id, net.name);
  const rules = (['udp', 'tcp'] as const).map((p) =>
    cmd('iptables', '-t', 'filter', '-A', CHAIN.input, '-d', `${net.gateway}/32`, '-i', net.bridge, '-p', p, '-m', p, '--dport', String(port), '-m', 'comment', '--comment', owner, '-j', 'ACCEPT'),
  );
  const saved = parseSave(await probe().iptablesSave());
  const missing = rules.filter((r) => !hasRule(saved, r));
  return {
    name: `accept DNS queries from network "${net.name}"`,
    why: `the server runs on the host: even if the host's INPUT policy drops packets, queries arriving by ${net.bridge} for ${net.gateway}:${port} get in`,
    apply: missing,
    undo: [],
    owner: 'network',
    ...(missing.length ? {} : { skip: 'the rules are in place already' }),
  };
}

/**
 * The network's server as it starts: where it stopped (same port and forwarders: the
 * containers' DNAT rules lead there), or, the first time, port 53 on the gateway when free and
 * the host's resolvers as forwarders.
 */
async function networkServer(net: NetworkRecord, old: srv.ServerRecord | null, o: { dryRun?: boolean } = {}): Promise<ServerSpec> {
  const forwarders = old?.forwarders ?? (await networkForwarders());
  // A dry run cannot probe the gateway's port: the bridge may not have its address yet.
  const port = old?.port ?? (o.dryRun ? 53 : await freePort(net.gateway, 53));
  return srv.spec(net.name, 'network', net.gateway, port, forwarders, net.bridge);
}

const firstStart = (s: ServerSpec): string =>
  `the network's first container: dnsmasq on ${s.address}:${s.port}, forwarding other names to ${s.forwarders.join(', ') || 'nobody'}`;

const AGAIN = 'it is not running any more (it died or was killed): started again, with every name';

/**
 * Under the network's DNS lock: rewrite the records, then reload every live server that reads
 * them; with `start`, start (again) the network's server, and containers' servers that died
 * while their container is still on the network. One plan (steps.ts): a failure half-way
 * undoes what it did (a first server started is stopped again).
 */
async function syncLocked(net: NetworkRecord, o: { start: boolean; explain?: Explain; title?: string }): Promise<void> {
  const list = entries(net.name);
  const ids = new Set(list.map((e) => short(e.containerId)));
  const found = srv.readersOf(net.name);
  for (const r of found) srv.trimLog(r.network, r.instance);
  if (o.start && !found.some((r) => r.network === net.name && r.instance === 'network')) found.unshift({ network: net.name, instance: 'network' });
  const views: ReaderView[] = [];
  const extra: Step[] = [];
  for (const { network, instance } of found) {
    const rec = srv.readServer(network, instance);
    const view: ReaderView = { network, instance, rec, running: alive(rec) };
    views.push(view);
    if (view.running || !o.start) continue;
    if (instance !== 'network') {
      // A container's server that died: started again while its container is on the network.
      if (rec?.spec?.netns && ids.has(instance.slice(2)) && fs.existsSync(rec.spec.netns)) view.start = { spec: rec.spec, why: AGAIN, again: true };
      continue;
    }
    const s = await networkServer(net, rec);
    view.start = { spec: s, why: rec ? AGAIN : firstStart(s), again: !!rec };
    extra.push(await queriesStep(net, s.port));
  }
  const title = o.title ?? `names on network "${net.name}": minid's DNS server (dnsmasq) on the gateway ${net.gateway}`;
  await applyPlan(syncSteps(net.name, list, views, extra), { explain: o.explain, title, what: 'DNS setup' });
}

/** Rewrite a network's records and reload its servers (start: also start them if they are down). */
export async function syncDns(net: NetworkRecord, o: { start?: boolean; explain?: Explain } = {}): Promise<void> {
  if (!hasDns(net)) return;
  if (!o.start && !fs.existsSync(srv.networkDir(net.name))) return;
  await withLock(`dns-${net.name}`, () => syncLocked(net, { start: !!o.start, explain: o.explain }));
}

/**
 * A container joined a user network (its endpoint is recorded as attached): its names go into
 * the records, the network's server is started or reloaded, and 127.0.0.11 in its namespace
 * leads there (with --dns: to a server of its own, in its namespace). Returns what goes into
 * Attachment.dns.
 */
export async function attachDns(
  net: NetworkRecord,
  att: Attachment & { containerId: string; containerName: string; ip: string },
  req: { aliases?: string[]; dns?: string[] },
  o: { explain?: Explain } = {},
): Promise<DnsAttachment> {
  const ex = o.explain;
  const id12 = short(att.containerId);
  await withLock(`dns-${net.name}`, async () => {
    checkNames(net.name, { containerId: att.containerId, containerName: att.containerName, aliases: req.aliases });
    await syncLocked(net, { start: true, explain: ex, title: namesTitle(net, att) });
  });
  if (req.dns?.length) {
    const s = ownServer(net, att.containerId, req.dns);
    await withLock(`dns-${net.name}`, () => applyPlan(ownServerSteps(s, ownServerWhy(req.dns!)), { explain: ex, title: `the DNS server of container ${id12}`, what: 'DNS setup' }));
    return { resolver: RESOLVER, server: { address: RESOLVER, port: 53 }, instance: s.instance };
  }
  const rec = srv.readServer(net.name, 'network');
  if (!rec) fail(`the DNS server of network ${net.name} is not recorded`);
  const server = { address: rec.address, port: rec.port };
  await applyPlan(resolverSteps(att, server), { explain: ex, title: resolverTitle(att), what: 'DNS setup' });
  return { resolver: RESOLVER, server, instance: 'network' };
}

/** With --dns, its own forwarders: a server of its own, in its own namespace, at 127.0.0.11 itself. */
const ownServer = (net: NetworkRecord, containerId: string, dns: string[]): ServerSpec =>
  srv.containerSpec({ networks: [net.name], id12: short(containerId), netns: netnsPath(containerId), address: RESOLVER, forwarders: dns, dns });

const ownServerWhy = (dns: string[]): string =>
  `--dns ${dns.join(' ')}: the same names, other names forwarded to those servers; in its namespace at ${RESOLVER}:53 (no DNAT: its resolv.conf's ${RESOLVER} is this server)`;

const namesTitle = (net: NetworkRecord, who: { containerId: string; containerName: string }): string =>
  `names on network "${net.name}" for container ${who.containerName} (${short(who.containerId)}): minid's DNS server (dnsmasq) on the gateway ${net.gateway}`;

/**
 * A container's own server stopped by its recorded PID, if it runs (a plan of one step); its
 * files go either way.
 */
async function stopOwn(network: string, inst: string, why: string, explain: Explain): Promise<boolean> {
  const rec = srv.readServer(network, inst);
  const running = alive(rec);
  if (running) await applyPlan([stopStep(network, inst, rec, why)], { explain, tolerant: true, title: `the DNS server of container ${inst.slice(2)}`, what: 'DNS teardown' });
  await srv.stopServer(network, inst); // its files (the server: stopped already)
  return running;
}

/**
 * The container's networks changed (`network connect/disconnect`): which server answers its
 * 127.0.0.11? On one network, that network's (DNAT in its namespace); on several, one of its
 * own in its namespace that reads the names of all of them (docker answers every network's
 * names through 127.0.0.11), forwarding the rest to its first network's server (or its --dns).
 */
export async function refreshResolver(containerId: string, o: { explain?: Explain } = {}): Promise<void> {
  const mine = listEndpoints().filter((e) => e.containerId === containerId && e.state === 'attached');
  const primary = mine.find((e) => !e.connected);
  // Not named on its first network (the default bridge, none): its resolv.conf names no 127.0.0.11.
  if (!primary?.dns || !primary.network || !primary.ip) return;
  const { dns: pdns, ip } = primary;
  const { records } = await import('../networks.js');
  const recs = records();
  const nets = [primary, ...mine.filter((e) => e.connected)]
    .map((e) => recs.find((r) => r.name === e.network))
    .filter((n): n is NetworkRecord => !!n && hasDns(n));
  if (!nets.length || nets[0].name !== primary.network) return;
  const first = nets[0];
  const ex = o.explain;
  const id12 = short(containerId);
  const inst = `c-${id12}`;
  const ns = netnsPath(containerId);
  const who = `container ${primary.containerName} (${id12})`;
  await withLock(`dns-${first.name}`, async () => {
    const cur = srv.readServer(first.name, inst);
    const dns = cur?.spec?.dns;
    const save = (d: DnsAttachment) => writeEndpoint({ ...primary, dns: d });
    if (nets.length > 1 || dns?.length) {
      const net = srv.readServer(first.name, 'network');
      const forwarders = dns?.length ? dns : net ? [`${net.address}#${net.port}`] : [];
      const want = srv.containerSpec({ networks: nets.map((n) => n.name), id12, netns: ns, address: RESOLVER, forwarders, dns });
      const steps: Step[] = [];
      if (!alive(cur) || !cur.spec || renderServerConf(cur.spec) !== renderServerConf(want)) {
        const why = `${who} is on networks ${nets.map((n) => `"${n.name}"`).join(', ')}: a server of its own in its namespace at ${RESOLVER}:53, reading the names of every one`;
        if (alive(cur)) steps.push(stopStep(first.name, inst, cur, 'its networks changed: it starts again with the names of every one'));
        else await srv.stopServer(first.name, inst); // a dead one's files
        steps.push(confStep(want), startStep(want, { why, undoable: true }));
      }
      if (pdns.instance === 'network') {
        steps.push({
          name: `answer ${RESOLVER} in the namespace itself`,
          why: `the container's own server listens there now: the DNAT to network "${first.name}"'s server goes`,
          apply: [{ argv: ['nsenter', `--net=${ns}`, 'iptables-restore', '--noflush'], input: resolverRules(ip, pdns.server, '-D') }],
          undo: [],
        });
      }
      if (steps.length) await applyPlan(steps, { explain: ex, title: `resolver of ${who}`, what: 'DNS setup' });
      if (pdns.instance === 'network') save({ resolver: RESOLVER, server: { address: RESOLVER, port: 53 }, instance: inst });
    } else if (cur) {
      // Back on one network: its server again, through the DNAT; the container's own server stops.
      const net = srv.readServer(first.name, 'network');
      if (!net) return;
      const server = { address: net.address, port: net.port };
      await applyPlan(resolverSteps({ containerId, ip }, server), { explain: ex, title: resolverTitle({ containerName: primary.containerName, containerId }), what: 'DNS setup' });
      await stopOwn(first.name, inst, `${who} is on one network again: its network's server answers it`, ex);
      save({ resolver: RESOLVER, server, instance: 'network' });
    }
  });
}

const resolverTitle = (att: { containerName: string; containerId: string }): string =>
  `resolver of container ${att.containerName} (${short(att.containerId)}): its /etc/resolv.conf says "nameserver ${RESOLVER}" and "options ndots:0", as docker's`;

/** The two steps in the container's namespace that lead 127.0.0.11:53 to its server. */
function resolverSteps(att: { containerId: string; ip: string }, server: { address: string; port: number }): Step[] {
  const ns = netnsPath(att.containerId);
  return [
    {
      name: 'let 127.0.0.11 leave by eth0',
      why: `a query to ${RESOLVER} starts with source 127.0.0.1, which the kernel keeps off other interfaces unless route_localnet is on (in the container's namespace only)`,
      apply: [cmd('nsenter', `--net=${ns}`, 'sysctl', '-qw', 'net.ipv4.conf.eth0.route_localnet=1')],
      undo: [],
    },
    {
      name: `send ${RESOLVER}:53 to the DNS server`,
      why: `DNAT to ${server.address}:${server.port} (UDP and TCP), source rewritten to ${att.ip}; the rules are the container's namespace's own and go with it`,
      apply: [{ argv: ['nsenter', `--net=${ns}`, 'iptables-restore', '--noflush'], input: resolverRules(att.ip, server) }],
      undo: [],
    },
  ];
}

/**
 * --dry-run: what attachDns would do for this container, nothing written or started: the
 * network's server (reloaded, or started with its configuration and the host's rules that let
 * queries in), then either the rules that lead the container's 127.0.0.11 to it or, with
 * --dns, the container's own server.
 */
export async function dryRunDns(
  net: NetworkRecord,
  att: { containerId: string; containerName: string; ip: string },
  req: { dns?: string[] },
  explain: (l: string) => void,
): Promise<void> {
  const rec = srv.readServer(net.name, 'network');
  let server: { address: string; port: number };
  if (alive(rec)) {
    server = { address: rec.address, port: rec.port };
    explain(`# names on network "${net.name}" (dry run): its DNS server (pid ${rec.pid}) would get this container's names (kill -HUP ${rec.pid})`);
  } else {
    const s = await networkServer(net, rec, { dryRun: true });
    server = { address: s.address, port: s.port };
    const why = rec
      ? 'its DNS server is not running any more: it would start again, with every name'
      : `the network's first container: dnsmasq would start on ${s.address}:${s.port} (another port if that one is taken), forwarding other names to ${s.forwarders.join(', ') || 'nobody'}`;
    explain(`# names on network "${net.name}" (dry run): ${why}`);
    printSteps([confStep(s), startStep(s, { why, again: !!rec, undoable: !rec })], explain);
    await applyPlan([await queriesStep(net, s.port)], { explain, what: 'DNS setup', dryRun: true });
  }
  if (req.dns?.length) {
    const s = ownServer(net, att.containerId, req.dns);
    explain(`# the DNS server of container ${short(att.containerId)}: ${ownServerWhy(req.dns)} (dry run)`);
    printSteps(ownServerSteps(s, ownServerWhy(req.dns)), explain);
    return;
  }
  await applyPlan(resolverSteps(att, server), { explain, dryRun: true, title: resolverTitle(att) });
}

/** A dry run's steps, printed as --explain prints them (nothing run). */
function printSteps(steps: Step[], explain: (l: string) => void): void {
  for (const l of formatPlan(steps).trimEnd().split('\n')) explain(l);
}

/** A container joined by `network connect`: check its names, add them, start or reload the server. */
export async function withNames(net: NetworkRecord, who: { containerId: string; containerName: string; aliases?: string[] }, o: { explain?: Explain } = {}): Promise<void> {
  await withLock(`dns-${net.name}`, async () => {
    checkNames(net.name, who);
    await syncLocked(net, { start: true, explain: o.explain, title: namesTitle(net, who) });
  });
}

/** The container left the network: its own server (recorded with its first network) stops, its names go. */
export async function detachDns(net: NetworkRecord, att: Attachment, o: { explain?: Explain } = {}): Promise<void> {
  if (!hasDns(net)) return;
  const inst = att.containerId ? `c-${short(att.containerId)}` : (att as { dns?: DnsAttachment }).dns?.instance;
  if (inst && inst !== 'network' && srv.instances(net.name).includes(inst)) await withLock(`dns-${net.name}`, () => stopOwn(net.name, inst, 'its container left the network', o.explain));
  await syncDns(net, { explain: o.explain });
}

/** Stop every server of a network and remove its DNS folder (network rm, system reset). */
export async function stopNetworkDns(network: string, o: { explain?: Explain } = {}): Promise<string[]> {
  if (!fs.existsSync(srv.networkDir(network))) return [];
  return withLock(`dns-${network}`, async () => {
    const running = srv
      .instances(network)
      .map((instance) => ({ instance, rec: srv.readServer(network, instance) }))
      .filter((r): r is { instance: string; rec: srv.ServerRecord } => alive(r.rec));
    const title = `the DNS servers of network "${network}": stopped by the PID minid recorded (once checked), their files removed`;
    await applyPlan(stopNetworkSteps(network, running), { explain: o.explain, tolerant: true, title, what: 'DNS teardown' });
    fs.rmSync(srv.networkDir(network), { recursive: true, force: true }); // whatever the plan left (its errors were told)
    return running.map((r) => `DNS server of network ${network}${r.instance === 'network' ? '' : ` (container ${r.instance.slice(2)})`}, pid ${r.rec.pid}`);
  });
}

/**
 * system prune: the servers of networks that have no record any more, and those of containers
 * that are gone (`stray` says so of a container's id prefix). Returns one line per removal.
 */
export async function pruneDns(o: { record: (name: string) => NetworkRecord | null; stray: (id12: string) => boolean; explain?: Explain }): Promise<string[]> {
  const removed: string[] = [];
  for (const network of srv.dnsNetworks()) {
    const net = o.record(network);
    if (!net) {
      const stopped = await stopNetworkDns(network, o);
      removed.push(...(stopped.length ? stopped : [`DNS files of removed network ${network}`]));
      continue;
    }
    const onNet = new Set(listEndpoints().filter((e: Endpoint) => e.network === network).map((e) => short(e.containerId)));
    for (const inst of srv.instances(network)) {
      if (!inst.startsWith('c-') || (onNet.has(inst.slice(2)) && !o.stray(inst.slice(2)))) continue;
      const pid = srv.readServer(network, inst)?.pid;
      await withLock(`dns-${network}`, () => stopOwn(network, inst, 'its container is gone (system prune)', o.explain));
      removed.push(`DNS server of container ${inst.slice(2)} on network ${network}${pid ? `, pid ${pid}` : ''}`);
    }
    // Endpoints of gone containers were just removed: their names go too.
    await syncDns(net, { explain: o.explain });
  }
  return removed;
}

/** One DNS server as `network inspect` shows it. */
export interface DnsServerInspect {
  /** 'network' (the network's own, on the host) or 'container NAME (ID12)' (its own, in its namespace). */
  Name: string;
  /** Where it listens: the gateway and port, or 127.0.0.11:53 inside the container's namespace. */
  Address: string;
  /** A container's server: the network namespace it listens in. */
  Namespace?: string;
  Pid: number;
  Running: boolean;
  /** Where names that are not the networks' go (a container's --dns, or its first network's server). */
  Forwarders: string[];
  /** The networks whose names it answers. */
  Networks: string[];
  /** The containers whose 127.0.0.11 it is (their queries reach it). */
  Answers: string[];
}

/** `network inspect`: every record of the network, and every server that answers them (and whom). */
export interface DnsInspect {
  /** The network's own server (null before its first container). */
  Server: DnsServerInspect | null;
  /** Containers' own servers (run --dns, or a container on several networks) that answer this network's names too. */
  ContainerServers: DnsServerInspect[];
  /** A records: every name the network's containers answer to, with its addresses. */
  Records: Record<string, string[]>;
  /** PTR records: the name each address of the network answers a reverse lookup with. */
  Reverse: Record<string, string>;
}

/** `network inspect`: the network's records and its DNS servers; undefined for a network without names. */
export function inspectDns(net: NetworkRecord): DnsInspect | undefined {
  if (!hasDns(net)) return undefined;
  const list = entries(net.name);
  const records: Record<string, string[]> = {};
  const reverse: Record<string, string> = {};
  const add = (name: string, ip: string) => (records[name] ??= []).includes(ip) || records[name].push(ip);
  // As renderRecords writes them: own names first (the first answers PTR), then aliases.
  for (const e of list) {
    const own = ownNamesOf(e, net.name);
    for (const n of own) add(n, e.ip);
    if (own.length) reverse[e.ip] = own[0];
  }
  for (const e of list) for (const a of e.aliases ?? []) add(a, e.ip);

  // Whom each server answers: a container's 127.0.0.11 leads to the server its first
  // network's endpoint records (DnsAttachment.instance).
  const all = listEndpoints();
  const nameOf = (id12: string) => {
    const e = all.find((x) => short(x.containerId) === id12);
    return e ? `${e.containerName} (${id12})` : id12;
  };
  const answeredByNetwork = all.filter((e) => !e.connected && e.state === 'attached' && e.network === net.name && e.dns?.instance === 'network').map((e) => e.containerName);
  const show = (network: string, inst: string, answers: string[]): DnsServerInspect | null => {
    const rec = srv.readServer(network, inst);
    if (!rec) return null;
    return {
      Name: inst === 'network' ? 'network' : `container ${nameOf(inst.slice(2))}`,
      Address: `${rec.address}:${rec.port}`,
      ...(rec.spec?.netns ? { Namespace: rec.spec.netns } : {}),
      Pid: rec.pid,
      Running: srv.alive(rec),
      Forwarders: rec.forwarders,
      Networks: rec.spec?.records.map((r) => r.network) ?? [network],
      Answers: answers,
    };
  };
  const containerServers = srv
    .readersOf(net.name)
    .filter((r) => r.instance !== 'network')
    .map((r) => show(r.network, r.instance, [all.find((e) => short(e.containerId) === r.instance.slice(2))?.containerName ?? r.instance.slice(2)]))
    .filter((x): x is DnsServerInspect => !!x);
  return { Server: show(net.name, 'network', answeredByNetwork), ContainerServers: containerServers, Records: records, Reverse: reverse };
}
