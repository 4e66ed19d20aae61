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
//   - the pods' names (10-244-1-5.default.pod.cluster.local is 10.244.1.5: Kubernetes' pod
//     records, as CoreDNS's `pods insecure` answers them, from the name alone) made up by
//     dnsmasq's synth-domain for the whole pod range: nothing to rewrite as pods come and go;
//   - the node's minid learns the address from its environment (MINID_CLUSTER_DNS, kubelet's
//     --cluster-dns; MINID_CLUSTER_DOMAIN, its --cluster-domain) and writes each pod's
//     resolv.conf with it (src/network/files.ts).
//
// The servers answer the cluster's names only: no upstream server, every other name is
// NXDOMAIN (`local=/#/`), so nothing leaves the cluster. (CoreDNS forwards the rest to the
// node's resolvers; the nodes here have no way out.)
//
// Every change to the host is a Step (src/network/step.ts), planned by the pure functions
// below (dnsUpSteps, dnsSyncSteps, dnsDownSteps) and run through applyPlan: numbered in
// --explain with the chapter, a why and a check (narration.ts), undone on failure (a `cluster
// up` that fails after a server started stops it). minid carries them out itself (Step.act: a
// file written whole, a daemon whose PID and start time are recorded, a signal to a PID checked
// first); they print as the commands a person would type for the same effect.
//
// Files, under MINID_RUN/cluster/dns/ (removed with the cluster's runtime folder):
//   records          the names (VIP  NAME.default.svc.cluster.local NAME.svc)
//   NODE.conf        that node's server's configuration (`cat` it)
//   NODE.pid         written by dnsmasq once it runs
//   NODE.json        minid's record: pid and start time, checked before any signal
//   NODE.log         every query and its answer (log-queries)
import fs from 'node:fs';
import path from 'node:path';
import { readJson, writeAtomic } from '../sys/jsonfile.js';
import { runRoot } from '../sys/paths.js';
import { alive, launch, reload, stopRecorded, trimLogFile, type ServerFiles, type ServerRecord } from '../network/dns/server.js';
import { applyPlan, catTo, cmd, type Step } from '../network/step.js';
import { CLUSTER_DOMAIN, type ClusterLayout, type ClusterNode } from './plan.js';

/** The one namespace minid's services live in. */
export const NAMESPACE = 'default';
export const DNS_PORT = 53;

type Explain = ((line: string) => void) | undefined;

export const dnsDir = (): string => path.join(runRoot(), 'cluster', 'dns');
export const namesFile = (dir = dnsDir()): string => path.join(dir, 'records');
const file = (node: string, ext: string, dir = dnsDir()): string => path.join(dir, `${node}.${ext}`);

/** A service as the names need it. */
export interface NamedService {
  name: string;
  clusterIP: string;
}

/** A service's names: its FQDN first (it answers the reverse lookup), then the short `NAME.svc`. */
export const serviceNames = (name: string): string[] => [`${name}.${NAMESPACE}.svc.${CLUSTER_DOMAIN}`, `${name}.svc`];

/** The domain of the pods' names: Kubernetes' `<namespace>.pod.<cluster domain>`. */
export const podDomain = (): string => `${NAMESPACE}.pod.${CLUSTER_DOMAIN}`;

/** A pod's name, as Kubernetes gives it: its address with dashes (10-244-1-5.default.pod.cluster.local). */
export const podName = (ip: string): string => `${ip.replace(/\./g, '-')}.${podDomain()}`;

/** The pod range's fifth address (10.244.0.0/16 → 10.244.0.5): an example for the comments. */
const exampleAddress = (cidr: string): string => {
  const o = cidr.split('/')[0].split('.');
  return [o[0], o[1], o[2], '5'].join('.');
};

/** The records file (hosts format) every node's server reads. Pure. */
export function renderNames(services: NamedService[]): string {
  const lines = [`# minid: the cluster's service names (rewritten by every \`minid service create|rm|sync\`; dnsmasq rereads it on SIGHUP)`];
  for (const s of [...services].sort((a, b) => a.name.localeCompare(b.name))) lines.push(`${s.clusterIP}\t${serviceNames(s.name).join(' ')}`);
  return lines.join('\n') + '\n';
}

/** One node's server configuration, commented for a workshop's `cat`. Pure. */
export function renderNodeConf(o: { node: string; netns: string; address: string; podCidr: string; records: string; pidFile: string; logFile: string }): string {
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
    `# The pods' names (Kubernetes' pod records; CoreDNS's \`pods insecure\`): ${podName(exampleAddress(o.podCidr))}`,
    `# is ${exampleAddress(o.podCidr)}, for every address of the pod range, made up from the name itself. dnsmasq`,
    "# answers the reverse lookup of a pod address with it too (CoreDNS does for a service's endpoints only).",
    `synth-domain=${podDomain()},${o.podCidr}`,
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

export function readNodeServer(node: string, dir = dnsDir()): ServerRecord | null {
  return readJson<ServerRecord>(file(node, 'json', dir));
}

/** A file written whole (a reader never sees half of it). */
function writeWhole(f: string, text: string): void {
  fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 });
  writeAtomic(f, text);
}

// --- the steps (pure: what they do is in their act, run by applyPlan) ----------------------

const namesNow = (services: NamedService[]): string =>
  services.length ? services.map((x) => `${serviceNames(x.name).join(', ')} -> ${x.clusterIP}`).join('; ') : 'none yet';

/** The records file, rewritten whole from the services' record (right whatever happened before). */
export function namesStep(services: NamedService[], dir: string): Step {
  const f = namesFile(dir);
  const text = renderNames(services);
  return {
    name: "write the cluster's names",
    why: `every node's DNS server reads this one file (hosts format); the names now: ${namesNow(services)}`,
    apply: [catTo(f, text)],
    undo: [],
    owner: 'host',
    act: { apply: async () => writeWhole(f, text) },
  };
}

export function confStep(node: ClusterNode, podCidr: string, dir: string): Step {
  const conf = file(node.name, 'conf', dir);
  const text = renderNodeConf({ node: node.name, netns: node.netns, address: node.ip, podCidr, records: namesFile(dir), pidFile: file(node.name, 'pid', dir), logFile: file(node.name, 'log', dir) });
  return {
    name: `write ${node.name}'s DNS configuration`,
    why: `dnsmasq on ${node.ip}:${DNS_PORT}, answering the cluster's names only (services, and pods as ${podName(exampleAddress(podCidr))}; nothing forwarded)`,
    apply: [catTo(conf, text)],
    undo: [],
    owner: 'host',
    act: { apply: async () => writeWhole(conf, text) },
  };
}

/**
 * Start node's server (its configuration written): dnsmasq forks into the background once its
 * sockets are bound and its pid file written; minid records that PID and the process's start
 * time. `undoable` (cluster up): its undo stops it by that PID; a sync has nothing to undo to.
 */
export function startStep(node: ClusterNode, dir: string, o: { again?: boolean; undoable: boolean }): Step {
  const conf = file(node.name, 'conf', dir);
  const step: Step = {
    name: `start ${node.name}'s DNS server`,
    why: o.again
      ? 'it is not running any more (it died or was killed): started again, with every name'
      : `the nameserver of ${node.name}'s pods (kubelet's clusterDNS), inside the node, at ${node.ip}:${DNS_PORT}`,
    apply: [cmd('nsenter', `--net=/run/netns/${node.netns}`, 'dnsmasq', `--conf-file=${conf}`)],
    undo: [],
    owner: 'host',
  };
  step.act = {
    apply: async () => {
      const rec = await startServer(node, dir, step.apply[0].argv);
      // The undo now knows the PID (a rollback prints `kill PID`, and checks the start time first).
      if (o.undoable) step.undo = [cmd('kill', String(rec.pid))];
    },
    ...(o.undoable ? { undo: async () => void (await stopServer(node.name, dir)) } : {}),
  };
  return step;
}

/** SIGHUP: dnsmasq clears its cache and rereads the records (the PID checked first: still that dnsmasq). */
export function reloadStep(node: ClusterNode, rec: ServerRecord, dir: string): Step {
  return {
    name: `reload ${node.name}'s DNS server`,
    why: 'SIGHUP: dnsmasq clears its cache and rereads the names',
    apply: [cmd('kill', '-HUP', String(rec.pid))],
    undo: [],
    owner: 'host',
    facts: { log: file(node.name, 'log', dir) },
    act: { apply: async () => reload(rec) },
  };
}

/** `cluster down`: a running server stopped by its recorded PID; its files go. */
export function stopStep(node: string, rec: ServerRecord, dir: string): Step {
  return {
    name: `stop ${node}'s DNS server`,
    why: "by its recorded PID (start time checked first); deleting the node's namespace would not stop it",
    apply: [cmd('kill', String(rec.pid))],
    undo: [],
    owner: 'host',
    act: { apply: async () => void (await stopServer(node, dir)) },
  };
}

/** `cluster up`: the (empty) names, then each node's configuration and server. */
export function dnsUpSteps(l: ClusterLayout, dir = dnsDir()): Step[] {
  return [namesStep([], dir), ...l.nodes.flatMap((n) => [confStep(n, l.podCidr, dir), startStep(n, dir, { undoable: true })])];
}

/** What a sync finds of a node's server: its record, whether that dnsmasq runs, whether the node does. */
export interface ServerView {
  rec: ServerRecord | null;
  running: boolean;
  nodeThere: boolean;
}

/**
 * After every `service create|rm|sync`: the records rewritten, every running server reloaded,
 * one that is not running (its node still there) started again with every name.
 */
export function dnsSyncSteps(l: ClusterLayout, services: NamedService[], views: Map<string, ServerView>, dir = dnsDir()): Step[] {
  const steps = [namesStep(services, dir)];
  for (const n of l.nodes) {
    const v = views.get(n.name);
    if (v?.running && v.rec) steps.push(reloadStep(n, v.rec, dir));
    else if (v?.nodeThere) steps.push(confStep(n, l.podCidr, dir), startStep(n, dir, { again: !!v.rec, undoable: false }));
  }
  return steps;
}

/** `cluster down`: every running recorded server stopped. */
export function dnsDownSteps(running: { node: string; rec: ServerRecord }[], dir = dnsDir()): Step[] {
  return running.map((r) => stopStep(r.node, r.rec, dir));
}

// --- what the steps do ----------------------------------------------------------------------

/** A node's server's files (its record, configuration, pid file, log) in `dir`. */
const nodeFiles = (node: string, dir: string): ServerFiles => ({ json: file(node, 'json', dir), conf: file(node, 'conf', dir), pid: file(node, 'pid', dir), log: file(node, 'log', dir) });

/** Start node's server and record it (PID, start time): the networks' servers' one start. */
const startServer = (node: ClusterNode, dir: string, argv: string[]): Promise<ServerRecord> =>
  launch(argv, nodeFiles(node.name, dir), `node ${node.name}'s DNS server`, { address: node.ip, port: DNS_PORT, forwarders: [] });

/** Stop a node's server if its record still names a running dnsmasq; its files go. */
const stopServer = async (node: string, dir: string): Promise<void> => void (await stopRecorded(nodeFiles(node, dir)));

/**
 * After every `service create|rm|sync`: the records rewritten, every node's server told to
 * reread them (SIGHUP), and one that is not running started again (with every name).
 */
export async function syncClusterDns(l: ClusterLayout, services: NamedService[], explain: Explain): Promise<void> {
  const views = new Map<string, ServerView>();
  for (const n of l.nodes) {
    trimLogFile(file(n.name, 'log')); // (past 8 MB, emptied: as the networks' servers)
    const rec = readNodeServer(n.name);
    views.set(n.name, { rec, running: alive(rec), nodeThere: fs.existsSync(`/run/netns/${n.netns}`) });
  }
  await applyPlan(dnsSyncSteps(l, services, views), { explain, title: "cluster DNS: the services' names on every node", what: 'cluster DNS' });
}


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
  const running = names.map((node) => ({ node, rec: readNodeServer(node) })).filter((r): r is { node: string; rec: ServerRecord } => alive(r.rec));
  if (running.length) await applyPlan(dnsDownSteps(running), { explain, tolerant: true, title: "cluster down: the nodes' DNS servers", what: 'cluster DNS' });
  for (const node of names) for (const ext of ['json', 'conf', 'pid', 'log']) fs.rmSync(file(node, ext), { force: true });
  return running.map((r) => `DNS server of node ${r.node}, pid ${r.rec.pid}`);
}
