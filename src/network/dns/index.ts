// Names on user-defined networks, as the rest of the network layer sees them:
//   attachDns()     (run: after the container's endpoint is recorded, before its command starts)
//   syncDns()       (the network's records changed: connect, disconnect, detach)
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
//      live in the container's namespace and go with it: nothing on the host to clean up.
// Why 127.0.0.11 rather than the gateway (aardvark's way): the DNAT chooses the server, so a
// container with --dns gets a server of its own (its forwarders) at another port, and the
// host's port 53 may be taken by a resolver of its own; a container's /etc/resolv.conf reads
// as it does under docker.
// The default network 'bridge' has no names, as in docker (/etc/hosts only).
import { fail } from '../../errors.js';
import { withLock } from '../../sys/lock.js';
import { netnsPath, short } from '../names.js';
import { probe } from '../host.js';
import { listEndpoints, type Endpoint } from '../endpoints.js';
import { applyPlan, cmd, type Step } from '../step.js';
import type { Attachment, NetworkRecord } from '../types.js';
import { RESOLVER, collision, hasDns, ownNames as ownNamesOf, hostForwarders, renderRecords, resolverRules, type DnsEntry } from './records.js';
import * as srv from './server.js';
import { alive } from './server.js';
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
  return hostForwarders(await probe().resolvConf());
}

function header(explain: Explain, n: number, total: number, name: string, why: string): void {
  explain?.(`# [${n}/${total}] ${name}: ${why}`);
}

/**
 * Under the network's DNS lock: rewrite the records, then reload every live server of the
 * network; with `start`, start (again) the network's server and any container server whose
 * container is still on the network.
 */
async function syncLocked(net: NetworkRecord, o: { start: boolean; explain?: Explain; own?: { id12: string; forwarders: string[] } }): Promise<void> {
  const list = entries(net.name);
  const text = renderRecords(net.name, list);
  const file = srv.recordsFile(net.name);
  const ex = o.explain;
  fs.mkdirSync(srv.networkDir(net.name), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
  const total = o.own ? 3 : 2;
  header(ex, 1, total, `write the names of network "${net.name}"`, `every container of the network, one line per address (${list.length} now); dnsmasq reads it`);
  ex?.(`cat > ${file} <<'EOF'\n${text}EOF`);

  const ids = new Set(list.map((e) => short(e.containerId)));
  const wanted = new Set(o.start ? ['network', ...srv.instances(net.name).filter((i) => i.startsWith('c-') && ids.has(i.slice(2)))] : []);
  let n = 2;
  for (const inst of new Set([...srv.instances(net.name), ...wanted])) {
    const what = inst === 'network' ? `the DNS server of network "${net.name}"` : `the DNS server of container ${inst.slice(2)} (its --dns)`;
    if (srv.reloadServer(net.name, inst)) {
      header(ex, n, total, `reload ${what}`, 'SIGHUP: dnsmasq clears its cache and rereads the names');
      ex?.(`kill -HUP ${srv.readServer(net.name, inst)!.pid}`);
      continue;
    }
    if (!wanted.has(inst)) continue;
    const old = srv.readServer(net.name, inst);
    const forwarders = old?.forwarders ?? (await networkForwarders());
    const port = old?.port ?? (await freePort(net.gateway, 53));
    header(ex, n, total, `start ${what}`, old ? 'it is not running any more (it died or was killed): started again, with every name' : `the network's first container: dnsmasq on ${net.gateway}:${port}, forwarding other names to ${forwarders.join(', ') || 'nobody'}`);
    await srv.startServer(srv.spec(net.name, inst, net.gateway, port, forwarders), ex);
  }
  if (o.own) {
    const inst = `c-${o.own.id12}`;
    const port = await freePort(net.gateway);
    header(ex, 3, total, `start the DNS server of container ${o.own.id12}`, `--dns ${o.own.forwarders.join(' ')}: the same names, other names forwarded to those servers; at ${net.gateway}:${port}`);
    await srv.startServer(srv.spec(net.name, inst, net.gateway, port, o.own.forwarders), ex);
  }
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
 * leads there. Returns what goes into Attachment.dns.
 */
export async function attachDns(
  net: NetworkRecord,
  att: Attachment & { containerId: string; containerName: string; ip: string },
  req: { aliases?: string[]; dns?: string[] },
  o: { explain?: Explain } = {},
): Promise<DnsAttachment> {
  const ex = o.explain;
  const id12 = short(att.containerId);
  const own = req.dns?.length ? { id12, forwarders: req.dns } : undefined;
  ex?.(`# names on network "${net.name}" for container ${att.containerName} (${id12}): minid's DNS server (dnsmasq) on the gateway ${net.gateway}`);
  await withLock(`dns-${net.name}`, async () => {
    checkNames(net.name, { containerId: att.containerId, containerName: att.containerName, aliases: req.aliases });
    await syncLocked(net, { start: true, explain: ex, own });
  });
  const inst = own ? `c-${id12}` : 'network';
  const rec = srv.readServer(net.name, inst);
  if (!rec) fail(`the DNS server of network ${net.name} is not recorded`);
  const server = { address: rec.address, port: rec.port };
  await applyPlan(resolverSteps(att, server), { explain: ex, title: resolverTitle(att), what: 'DNS setup' });
  return { resolver: RESOLVER, server, instance: inst };
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

/** --dry-run: what attachDns would do for this container (nothing is written or started). */
export async function dryRunDns(net: NetworkRecord, att: { containerId: string; containerName: string; ip: string }, explain: (l: string) => void): Promise<void> {
  const rec = srv.readServer(net.name, 'network');
  const server = alive(rec) ? { address: rec.address, port: rec.port } : { address: net.gateway, port: 53 };
  explain(`# names on network "${net.name}" (dry run): ${alive(rec) ? `its DNS server (pid ${rec.pid}) would get this container's names (kill -HUP ${rec.pid})` : `dnsmasq would start on ${server.address}:53 (--conf-file=${srv.networkDir(net.name)}/network.conf)`}`);
  await applyPlan(resolverSteps(att, server), { explain, dryRun: true, title: resolverTitle(att) });
}

/** A container joined by `network connect`: check its names, add them, start or reload the server. */
export async function withNames(net: NetworkRecord, who: { containerId: string; containerName: string; aliases?: string[] }, o: { explain?: Explain } = {}): Promise<void> {
  o.explain?.(`# names on network "${net.name}" for container ${who.containerName} (${short(who.containerId)}): minid's DNS server (dnsmasq) on the gateway ${net.gateway}`);
  await withLock(`dns-${net.name}`, async () => {
    checkNames(net.name, who);
    await syncLocked(net, { start: true, explain: o.explain });
  });
}

/** The container left the network: its own server stops, its names go from the records. */
export async function detachDns(net: NetworkRecord, att: Attachment, o: { explain?: Explain } = {}): Promise<void> {
  if (!hasDns(net)) return;
  const dns = (att as { dns?: DnsAttachment }).dns;
  if (dns && dns.instance !== 'network') await withLock(`dns-${net.name}`, () => srv.stopServer(net.name, dns.instance, o.explain));
  await syncDns(net, { explain: o.explain });
}

/** Stop every server of a network and remove its DNS folder (network rm, system reset). */
export async function stopNetworkDns(network: string, o: { explain?: Explain } = {}): Promise<string[]> {
  if (!fs.existsSync(srv.networkDir(network))) return [];
  return withLock(`dns-${network}`, async () => {
    const stopped: string[] = [];
    o.explain?.(`# stop the DNS servers of network "${network}" (by the PID minid recorded, once checked) and remove ${srv.networkDir(network)}`);
    for (const inst of srv.instances(network)) {
      const pid = srv.readServer(network, inst)?.pid;
      if (await srv.stopServer(network, inst, o.explain)) stopped.push(`DNS server of network ${network}${inst === 'network' ? '' : ` (container ${inst.slice(2)})`}, pid ${pid}`);
    }
    fs.rmSync(srv.networkDir(network), { recursive: true, force: true });
    o.explain?.(`rm -rf ${srv.networkDir(network)}`);
    return stopped;
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
      await withLock(`dns-${network}`, () => srv.stopServer(network, inst, o.explain));
      removed.push(`DNS server of container ${inst.slice(2)} on network ${network}${pid ? `, pid ${pid}` : ''}`);
    }
    // Endpoints of gone containers were just removed: their names go too.
    await syncDns(net, { explain: o.explain });
  }
  return removed;
}

/** `network inspect`: the network's DNS server and every name it answers (with the addresses). */
export function inspectDns(net: NetworkRecord): { Server: { Address: string; Pid: number; Running: boolean; Forwarders: string[] } | null; Records: Record<string, string[]> } | undefined {
  if (!hasDns(net)) return undefined;
  const rec = srv.readServer(net.name, 'network');
  const records: Record<string, string[]> = {};
  const list = entries(net.name);
  const add = (name: string, ip: string) => (records[name] ??= []).includes(ip) || records[name].push(ip);
  for (const e of list) for (const n of ownNamesOf(e, net.name)) add(n, e.ip);
  for (const e of list) for (const a of e.aliases ?? []) add(a, e.ip);
  return {
    Server: rec ? { Address: `${rec.address}:${rec.port}`, Pid: rec.pid, Running: srv.alive(rec), Forwarders: rec.forwarders } : null,
    Records: records,
  };
}
