// Cluster DNS (docs/cluster.md, "Names"): the course notes' chapter "DNS in Kubernetes", small.
//
// In Kubernetes, CoreDNS "creates a DNS record for the service that maps the service name to
// the IP address" (web-service.default.svc.cluster.local), and kubelet writes every pod's
// /etc/resolv.conf with its `clusterDNS` address as the nameserver and a search list built
// from the pod's namespace and `clusterDomain`. NodeLocal DNSCache runs one such server on
// every node, so a pod's query never leaves its node. minid does the same with what it
// already uses for user networks' names:
//
//   - one dnsmasq per node, inside the node's network namespace, listening on the node's LAN
//     address (port 53): started by `cluster up`, stopped by PID at `cluster down` (deleting a
//     namespace does not kill the processes in it);
//   - one records file for the cluster, in hosts format, rewritten by every `service
//     create|rm|sync` (then SIGHUP: dnsmasq rereads it); a server found dead then is started
//     again (supervised lazily, like the networks' servers, src/network/dns/server.ts);
//   - the node's minid learns the address from its environment (MINID_CLUSTER_DNS, kubelet's
//     --cluster-dns; MINID_CLUSTER_DOMAIN, its --cluster-domain) and writes each pod's
//     resolv.conf with it (src/network/files.ts).
//
// The servers answer the cluster's names only: no upstream server, every other name is
// NXDOMAIN (`local=/#/`), so nothing leaves the cluster. (CoreDNS forwards the rest to the
// node's resolvers; the nodes here have no way out.)
//
// Files, under MINID_RUN/cluster/dns/ (removed with the cluster's runtime folder):
//   records          the names (VIP  NAME.default.svc.cluster.local NAME.svc)
//   NODE.conf        that node's server's configuration (`cat` it)
//   NODE.pid         written by dnsmasq once it runs
//   NODE.json        minid's record: pid and start time, checked before any signal
//   NODE.log         every query and its answer (log-queries)
import fs from 'node:fs';
import path from 'node:path';
import { MinidError } from '../errors.js';
import { formatCommand, run } from '../sys/exec.js';
import { readJson, writeAtomic } from '../sys/jsonfile.js';
import { runRoot } from '../sys/paths.js';
import { alive, LOG_MAX, procStat, type ServerRecord } from '../network/dns/server.js';
import { CLUSTER_DOMAIN, type ClusterLayout, type ClusterNode } from './plan.js';

/** The one namespace minid's services live in. */
export const NAMESPACE = 'default';
export const DNS_PORT = 53;
const CHAPTER = 'DNS in Kubernetes';

type Explain = ((line: string) => void) | undefined;

export const dnsDir = (): string => path.join(runRoot(), 'cluster', 'dns');
export const namesFile = (): string => path.join(dnsDir(), 'records');
const file = (node: string, ext: string): string => path.join(dnsDir(), `${node}.${ext}`);

/** A service as the names need it. */
export interface NamedService {
  name: string;
  clusterIP: string;
}

/** A service's names: its FQDN first (it answers the reverse lookup), then the short `NAME.svc`. */
export const serviceNames = (name: string): string[] => [`${name}.${NAMESPACE}.svc.${CLUSTER_DOMAIN}`, `${name}.svc`];

/** The records file (hosts format) every node's server reads. Pure. */
export function renderNames(services: NamedService[]): string {
  const lines = [`# minid: the cluster's service names (rewritten by every \`minid service create|rm|sync\`; dnsmasq rereads it on SIGHUP)`];
  for (const s of [...services].sort((a, b) => a.name.localeCompare(b.name))) lines.push(`${s.clusterIP}\t${serviceNames(s.name).join(' ')}`);
  return lines.join('\n') + '\n';
}

/** One node's server configuration, commented for a workshop's `cat`. Pure. */
export function renderNodeConf(o: { node: string; netns: string; address: string; records: string; pidFile: string; logFile: string }): string {
  return [
    `# minid: the cluster DNS server of node ${o.node} (dnsmasq), as NodeLocal DNSCache runs one per node.`,
    `# It runs in the node's network namespace (${o.netns}) and listens on the node's LAN address:`,
    `# the node's pods have it as their nameserver (kubelet's clusterDNS), reached through their gateway.`,
    `listen-address=${o.address}`,
    'bind-interfaces',
    `port=${DNS_PORT}`,
    "# The names: the cluster's services (NAME.default.svc.cluster.local, NAME.svc), from the file",
    "# minid rewrites; not the node's /etc/hosts. The first name of a line answers the reverse lookup.",
    'no-hosts',
    `addn-hosts=${o.records}`,
    '# Every domain is local: a name that is not in the records is NXDOMAIN, never forwarded.',
    '# There is no upstream server at all (CoreDNS would forward the rest): nothing leaves the cluster.',
    'local=/#/',
    'no-resolv',
    'no-poll',
    '# Every query is logged (who asked, what, the answer).',
    'log-queries=extra',
    "# As root: the records file is under minid's runtime root, which only root may enter.",
    'user=root',
    `pid-file=${o.pidFile}`,
    `log-facility=${o.logFile}`,
  ].join('\n') + '\n';
}

export function readNodeServer(node: string): ServerRecord | null {
  return readJson<ServerRecord>(file(node, 'json'));
}

function writeNames(services: NamedService[], explain: Explain): void {
  const text = renderNames(services);
  fs.mkdirSync(dnsDir(), { recursive: true, mode: 0o700 });
  writeAtomic(namesFile(), text);
  explain?.(
    `# the cluster's names: ${services.length ? services.map((x) => `${serviceNames(x.name).join(', ')} -> ${x.clusterIP}`).join('; ') : 'none'} ` +
      `(${CHAPTER}: "when a service is created, CoreDNS creates a DNS record that maps the service name to its IP"; every node's server reads this file)`,
  );
  explain?.(formatCommand(['cat', '>', namesFile()], text).replace("'>'", '>'));
}

/** Start node's server (the records file exists); resolves once it answers, with its record. */
async function startNode(node: ClusterNode, explain: Explain, again = false): Promise<ServerRecord> {
  const conf = file(node.name, 'conf');
  const pidFile = file(node.name, 'pid');
  const text = renderNodeConf({ node: node.name, netns: node.netns, address: node.ip, records: namesFile(), pidFile, logFile: file(node.name, 'log') });
  const argv = ['nsenter', `--net=/run/netns/${node.netns}`, 'dnsmasq', `--conf-file=${conf}`];
  explain?.(
    again
      ? `# start node ${node.name}'s DNS server again: it is not running any more (it died or was killed)`
      : `# node ${node.name}'s DNS server: dnsmasq at ${node.ip}:${DNS_PORT} inside the node (${CHAPTER}: kubelet's clusterDNS, one server per node as NodeLocal DNSCache; cluster names only, no forwarding)`,
  );
  explain?.(formatCommand(['cat', '>', conf], text).replace("'>'", '>'));
  explain?.(formatCommand(argv));
  fs.mkdirSync(dnsDir(), { recursive: true, mode: 0o700 });
  fs.writeFileSync(conf, text);
  fs.rmSync(pidFile, { force: true });
  // dnsmasq forks into the background once its sockets are bound and its pid file written.
  const r = await run(argv, { allowFail: true });
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').pop() || `exit code ${r.exitCode}`;
    throw new MinidError(`cannot start node ${node.name}'s DNS server (dnsmasq on ${node.ip}:${DNS_PORT}): ${why.replace(/^dnsmasq: /, '')}`);
  }
  const pid = parseInt(fs.readFileSync(pidFile, 'utf8'), 10);
  const st = procStat(pid);
  if (!st) throw new MinidError(`node ${node.name}'s DNS server (dnsmasq, pid ${pid}) exited right after it started: see ${file(node.name, 'log')}`);
  const rec: ServerRecord = { pid, startTime: st.startTime, address: node.ip, port: DNS_PORT, forwarders: [], started: new Date().toISOString() };
  fs.writeFileSync(file(node.name, 'json'), JSON.stringify(rec, null, 2) + '\n');
  return rec;
}

/** `cluster up`: every node's server, with no names yet. A failure stops the ones started. */
export async function startClusterDns(l: ClusterLayout, explain: Explain): Promise<void> {
  writeNames([], explain);
  try {
    for (const n of l.nodes) await startNode(n, explain);
  } catch (e) {
    await stopClusterDns();
    throw e;
  }
}

/**
 * After every `service create|rm|sync`: the records rewritten, every node's server told to
 * reread them (SIGHUP), and one that is not running started again (with every name).
 */
export async function syncClusterDns(l: ClusterLayout, services: NamedService[], explain: Explain): Promise<void> {
  writeNames(services, explain);
  for (const n of l.nodes) {
    trimLog(n.name);
    const rec = readNodeServer(n.name);
    if (alive(rec)) {
      explain?.(`# reload node ${n.name}'s DNS server: SIGHUP, dnsmasq clears its cache and rereads the names`);
      explain?.(`kill -HUP ${rec.pid}`);
      process.kill(rec.pid, 'SIGHUP');
    } else if (fs.existsSync(`/run/netns/${n.netns}`)) {
      await startNode(n, explain, !!rec);
    }
  }
}

/** A server's log grows with every query: past LOG_MAX (as the networks' servers), minid empties it (dnsmasq appends). */
function trimLog(node: string): void {
  try {
    if (fs.statSync(file(node, 'log')).size > LOG_MAX) fs.truncateSync(file(node, 'log'), 0);
  } catch {
    /* no log yet */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `cluster down` and prune: every recorded server stopped by its PID (checked: still that
 * dnsmasq), then its files removed. Returns one line per server stopped.
 */
export async function stopClusterDns(explain?: Explain): Promise<string[]> {
  let names: string[] = [];
  try {
    names = fs.readdirSync(dnsDir()).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  } catch {
    return [];
  }
  const stopped: string[] = [];
  for (const node of names) {
    const rec = readNodeServer(node);
    if (alive(rec)) {
      explain?.(`# stop node ${node}'s DNS server (${CHAPTER}): by its recorded PID; deleting the node's namespace would not stop it`);
      explain?.(`kill ${rec.pid}`);
      process.kill(rec.pid, 'SIGTERM');
      for (let i = 0; i < 100 && alive(rec); i++) await sleep(10);
      if (alive(rec)) process.kill(rec.pid, 'SIGKILL');
      stopped.push(`DNS server of node ${node}, pid ${rec.pid}`);
    }
    for (const ext of ['json', 'conf', 'pid', 'log']) fs.rmSync(file(node, ext), { force: true });
  }
  return stopped;
}
