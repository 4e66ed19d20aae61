// `minid service create|ls|rm|sync` (docs/cluster.md, "Services"): the record of the cluster's
// services, their endpoints read from every node's store, and kube-proxy's rules (proxy.ts)
// written inside every node. The record is <root>/cluster/services.json; it goes with the
// cluster (`cluster down` removes the nodes, and their rules with their namespaces).
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { output } from '../sys/exec.js';
import { readJson, writeJsonAtomic } from '../sys/jsonfile.js';
import { root, runRoot } from '../sys/paths.js';
import { withLock } from '../sys/lock.js';
import { intToIp, ipToInt, isIPv4, overlaps, parseSubnet, size, tryParseCidr } from '../network/cidr.js';
import { applyPlan } from '../network/step.js';
import { nodeEnv, readState, type ClusterState } from './index.js';
import { rangeApart, reservedClash } from './plan.js';
import { servicesRecord, syncedMarker, syncLog } from './follow.js';
import {
  DEFAULT_SERVICE_CIDR,
  NODE_PORT_MAX,
  NODE_PORT_MIN,
  parseView,
  ruleSet,
  syncSteps,
  type Endpoint,
  type NodeView,
  type Service,
  type ServiceType,
} from './proxy.js';

export interface ServicesRecord {
  serviceCidr: string;
  services: Service[];
}

const recordFile = (): string => servicesRecord(root());

export function readServices(): ServicesRecord | null {
  return readJson<ServicesRecord>(recordFile());
}

function writeServices(r: ServicesRecord): void {
  writeJsonAtomic(recordFile(), r, 0o600);
}

function upCluster(): ClusterState {
  const s = readState();
  if (!s) fail('there is no cluster: `minid cluster up` makes one', 1);
  if (s.status !== 'up') fail('the cluster is not up (an earlier `cluster up` was cut short): `minid cluster down`, then `minid cluster up`', 1);
  // After a reboot the record says "up" but the nodes' namespaces are gone.
  const gone = s.nodes.find((n) => !fs.existsSync(`/run/netns/${n.netns}`));
  if (gone) fail(`node ${gone.name}'s namespace ${gone.netns} is gone (a reboot?): \`minid cluster down\`, then \`minid cluster up\``, 1);
  return s;
}

export interface CreateOptions {
  port?: string;
  targetPort?: string;
  selector?: string;
  type?: string;
  nodePort?: string;
  serviceCidr?: string;
  explain?: (line: string) => void;
}

function portOf(v: string | undefined, flag: string, lo = 1, hi = 65535): number {
  if (v === undefined) fail(`${flag} is required (a port number)`, 1);
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < lo || n > hi) fail(`${flag} must be a port from ${lo} to ${hi} (got "${v}")`, 1);
  return n;
}

/** `app=web` or `app=web,tier=front` (kubectl's form): every label must match. */
export function parseSelector(v: string | undefined): Record<string, string> {
  if (!v) fail('--selector KEY=VALUE is required: the labels of the containers the service sends to (minid --node X run -l KEY=VALUE ...)', 1);
  const sel: Record<string, string> = {};
  for (const part of v.split(',')) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9_./]*)=([-A-Za-z0-9_.]*)$/.exec(part.trim());
    if (!m) fail(`--selector "${v}" is not KEY=VALUE[,KEY=VALUE...] (e.g. --selector app=web)`, 1);
    sel[m[1]] = m[2];
  }
  return sel;
}

/** Everything the user can get wrong, decided before anything is made or recorded. */
function checkCreate(name: string, o: CreateOptions, s: ClusterState, rec: ServicesRecord | null): { svc: Service; serviceCidr: string } {
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) fail(`invalid service name "${name}": lower-case letters, digits and '-', starting with a letter (a DNS label, as Kubernetes wants)`, 1);
  if (rec?.services.some((x) => x.name === name)) fail(`a service "${name}" exists already: \`minid service rm ${name}\` first`, 1);
  const port = portOf(o.port, '--port');
  const targetPort = o.targetPort === undefined ? port : portOf(o.targetPort, '--target-port');
  const selector = parseSelector(o.selector);
  const type = (o.type ?? (o.nodePort ? 'NodePort' : 'ClusterIP')) as ServiceType;
  if (type !== 'ClusterIP' && type !== 'NodePort') fail(`--type must be ClusterIP or NodePort (got "${o.type}")`, 1);
  if (type === 'ClusterIP' && o.nodePort) fail('--node-port needs --type NodePort', 1);
  // The range is chosen with the first service and kept (kube-apiserver's --service-cluster-ip-range).
  if (rec && o.serviceCidr && o.serviceCidr !== rec.serviceCidr) fail(`the services' range is ${rec.serviceCidr} (set by the first service): leave out --service-cidr`, 1);
  const serviceCidr = rec?.serviceCidr ?? o.serviceCidr ?? DEFAULT_SERVICE_CIDR;
  const range = parseSubnet(serviceCidr, '--service-cidr');
  const reserved = reservedClash(range, '--service-cidr', DEFAULT_SERVICE_CIDR);
  if (reserved) fail(reserved, 1);
  if (range.prefix > 28) fail(`--service-cidr ${range.text} is too small: give a /28 or larger (e.g. ${DEFAULT_SERVICE_CIDR})`, 1);
  for (const [what, other] of [['the pod range', s.podCidr], ['the LAN', s.lan]]) {
    if (overlaps(range, tryParseCidr(other)!)) {
      const given = o.serviceCidr ? `--service-cidr ${range.text}` : `the default services' range ${range.text}`;
      fail(`${given} overlaps ${what} ${other}: "the IP ranges of pods and services shouldn't overlap"; pick another (e.g. --service-cidr ${rangeApart([s.podCidr, s.lan])})`, 1);
    }
  }
  const used = rec?.services ?? [];
  let nodePort: number | undefined;
  if (type === 'NodePort') {
    if (o.nodePort !== undefined) {
      nodePort = portOf(o.nodePort, '--node-port', NODE_PORT_MIN, NODE_PORT_MAX);
      const holder = used.find((x) => x.nodePort === nodePort);
      if (holder) fail(`node port ${nodePort} is taken by service "${holder.name}": pick another from ${NODE_PORT_MIN}-${NODE_PORT_MAX}`, 1);
    } else {
      nodePort = NODE_PORT_MIN;
      while (used.some((x) => x.nodePort === nodePort)) nodePort++;
    }
  }
  // The first free address of the range after the network address (as the API server does, .1 first).
  const taken = new Set(used.map((x) => x.clusterIP));
  let clusterIP = '';
  for (let i = 1; i < size(range) - 1; i++) {
    const ip = intToIp(range.base + i);
    if (!taken.has(ip)) {
      clusterIP = ip;
      break;
    }
  }
  if (!clusterIP) fail(`the services' range ${range.text} is full: \`minid service rm\` one`, 1);
  return { svc: { name, type, clusterIP, port, targetPort, selector, nodePort, created: new Date().toISOString() }, serviceCidr: range.text };
}

/** A running container of some node, with a pod address. */
export interface Pod {
  node: string;
  name: string;
  ip: string;
  /** Its network namespace (/run/netns/NAME) and the node end of its veth pair (for `trace`). */
  netns: string;
  veth: string;
  labels: Record<string, string>;
}

/**
 * Every node's ready containers with a pod address, read from the nodes' own stores. Ready, as
 * Kubernetes' readiness probe decides it: running, and healthy if it has a health check (one
 * starting or unhealthy is no endpoint; its monitor re-syncs when that changes).
 */
export async function readPods(s: ClusterState): Promise<Pod[]> {
  const { listStates } = await import('../runtime/state.js');
  const { activeCheck, readHealth } = await import('../runtime/health.js');
  const pods: Pod[] = [];
  const saved = { root: process.env.MINID_ROOT, run: process.env.MINID_RUN };
  // Every node's paths first: they are made from the main store's root, switched below.
  const envs = s.nodes.map((n) => ({ n, env: nodeEnv(s, n) }));
  try {
    for (const { n, env } of envs) {
      if (!fs.existsSync(path.join(env.MINID_ROOT, 'containers'))) continue;
      // The node's store, read as its own minid would (paths follow MINID_ROOT/MINID_RUN).
      process.env.MINID_ROOT = env.MINID_ROOT;
      process.env.MINID_RUN = env.MINID_RUN;
      for (const c of listStates()) {
        const a = c.config.attachment;
        if (c.status !== 'running' || c.paused || !a || a.mode !== 'bridge' || !isIPv4(a.ip)) continue;
        if (activeCheck(c.config.healthcheck) && readHealth(c.config)?.Status !== 'healthy') continue;
        pods.push({ node: n.name, name: c.config.name, ip: a.ip, netns: a.netnsName, veth: a.veth, labels: c.config.labels ?? {} });
      }
    }
  } finally {
    process.env.MINID_ROOT = saved.root;
    process.env.MINID_RUN = saved.run;
    if (saved.root === undefined) delete process.env.MINID_ROOT;
    if (saved.run === undefined) delete process.env.MINID_RUN;
  }
  return pods.sort((a, b) => ipToInt(a.ip) - ipToInt(b.ip));
}

/** Each service's endpoints: the pods whose labels match its selector, at its target port. */
function endpointsOf(services: Service[], pods: Pod[]): Map<string, Endpoint[]> {
  const m = new Map<string, Endpoint[]>();
  for (const svc of services) {
    const match = pods.filter((p) => Object.entries(svc.selector).every(([k, v]) => p.labels[k] === v));
    m.set(svc.name, match.map((p) => ({ ip: p.ip, port: svc.targetPort, node: p.node, container: p.name })));
  }
  return m;
}

/**
 * The services' names: every node's DNS server (dns.ts) answers NAME.default.svc.cluster.local
 * and NAME.svc (and NAME, through the pods' search list) with the service IP.
 */
async function writeServiceNames(s: ClusterState, services: Service[], explain?: (line: string) => void): Promise<void> {
  await (await import('./dns.js')).syncClusterDns(s, services, explain);
}

/** What each node holds now (one iptables-save and one ip route per node). */
async function nodeViews(s: ClusterState, serviceCidr: string): Promise<Map<string, NodeView>> {
  const views = new Map<string, NodeView>();
  for (const n of s.nodes) {
    const save = await output(['nsenter', `--net=/run/netns/${n.netns}`, 'iptables-save'], { allowFail: true });
    const route = (await output(['ip', '-n', n.netns, 'route', 'show', serviceCidr], { allowFail: true })).trim() !== '';
    views.set(n.name, parseView(save, route));
  }
  return views;
}

const WHY =
  'Service networking: "when a service is created, kube-proxy creates forwarding rules on EVERY node": ' +
  'traffic to the service IP:port is DNATed to one of its pods (iptables mode), none of it is bound to a node. ' +
  'The chains are written whole (iptables-restore --noflush), inside the node; the service range is routed out eth0 ' +
  '(where a real node\'s default route would send it), so a service without endpoints meets its REJECT in FORWARD';

/** A sync went through: every node's rules were just written from the endpoints, so a failed sync logged before is history (`service ls`). */
function markSynced(): void {
  try {
    fs.writeFileSync(syncedMarker(runRoot()), '');
  } catch {
    /* the cluster's run folder is gone: so is the cluster */
  }
}

/** `service create`: checked, the rules written on every node (undone on failure), then recorded. */
export async function createService(name: string, o: CreateOptions): Promise<{ svc: Service; endpoints: Endpoint[] }> {
  return withLock('services', async () => {
    const s = upCluster();
    const rec = readServices();
    const { svc, serviceCidr } = checkCreate(name, o, s, rec);
    const before = rec?.services ?? [];
    const after = [...before, svc];
    const pods = await readPods(s);
    const eps = endpointsOf(after, pods);
    const want = ruleSet(after, eps, s.podCidr);
    const old = before.length ? ruleSet(before, eps, s.podCidr) : null;
    const steps = syncSteps(s.nodes, serviceCidr, want, old, await nodeViews(s, serviceCidr), WHY);
    await applyPlan(steps, {
      explain: o.explain,
      title: `service create ${name}: ${svc.clusterIP}:${svc.port}${svc.nodePort ? ` and node port ${svc.nodePort}` : ''} -> ${Object.entries(svc.selector).map(([k, v]) => `${k}=${v}`).join(',')}:${svc.targetPort}`,
      what: 'service create',
    });
    writeServices({ serviceCidr, services: after });
    await writeServiceNames(s, after, o.explain);
    return { svc, endpoints: eps.get(name) ?? [] };
  });
}

/** `service rm`: the service's chains go from every node (the last service takes the hooks and the route too). */
export async function removeService(name: string, o: { explain?: (line: string) => void } = {}): Promise<Service> {
  return withLock('services', async () => {
    const rec = readServices();
    const svc = rec?.services.find((x) => x.name === name);
    if (!rec || !svc) fail(`no such service: ${name} (\`minid service ls\` lists them)`, 1);
    const s = upCluster();
    const after = rec.services.filter((x) => x !== svc);
    const pods = await readPods(s);
    const eps = endpointsOf(rec.services, pods);
    const steps = syncSteps(s.nodes, rec.serviceCidr, after.length ? ruleSet(after, eps, s.podCidr) : null, ruleSet(rec.services, eps, s.podCidr), await nodeViews(s, rec.serviceCidr), WHY);
    await applyPlan(steps, { explain: o.explain, title: `service rm ${name}: its rules go from every node`, what: 'service rm' });
    if (after.length) writeServices({ ...rec, services: after });
    else fs.rmSync(recordFile(), { force: true });
    await writeServiceNames(s, after, o.explain);
    return svc;
  });
}

/**
 * Re-read the endpoints and rewrite every node's rules (kube-proxy's sync loop, run when a
 * container starts, stops or goes on a node: `minid --node X run|stop|rm|...`; when one exits
 * or restarts by itself: its supervisor, follow.ts; or by hand).
 */
export async function syncServices(o: { explain?: (line: string) => void } = {}): Promise<Map<string, Endpoint[]>> {
  return withLock('services', async () => {
    const rec = readServices();
    const s = readState();
    if (!s || s.status !== 'up') return new Map();
    if (!rec) {
      await writeServiceNames(s, [], o.explain); // no services: the nodes' DNS servers still run (a dead one is started again)
      return new Map();
    }
    const pods = await readPods(s);
    const eps = endpointsOf(rec.services, pods);
    const want = ruleSet(rec.services, eps, s.podCidr);
    const steps = syncSteps(s.nodes, rec.serviceCidr, want, null, await nodeViews(s, rec.serviceCidr), WHY);
    // A sync has nothing to undo to: what was there is stale.
    for (const st of steps) st.undo = [];
    await applyPlan(steps, { explain: o.explain, title: `service sync: ${rec.services.length} service(s), endpoints re-read from every node`, what: 'service sync' });
    await writeServiceNames(s, rec.services, o.explain);
    markSynced();
    return eps;
  });
}

/**
 * `service ls`: the record with each service's endpoints as the nodes hold them now, and the
 * last failure of a supervisor's sync (follow.ts) when no sync went through since.
 */
export async function listServices(): Promise<{ rec: ServicesRecord | null; endpoints: Map<string, Endpoint[]>; syncFailure?: { line: string; log: string } }> {
  const rec = readServices();
  const s = readState();
  if (!rec || !s) return { rec, endpoints: new Map() };
  return { rec, endpoints: endpointsOf(rec.services, await readPods(s)), syncFailure: lastSyncFailure() };
}

function lastSyncFailure(): { line: string; log: string } | undefined {
  const log = syncLog(root());
  const failed = fs.statSync(log, { throwIfNoEntry: false });
  const synced = fs.statSync(syncedMarker(runRoot()), { throwIfNoEntry: false });
  if (!failed || (synced && synced.mtimeMs >= failed.mtimeMs)) return undefined;
  const line = fs.readFileSync(log, 'utf8').trim().split('\n').pop();
  return line ? { line, log } : undefined;
}

/** After `minid --node X CMD`: CMDs that start or end containers re-sync the services (kube-proxy watching endpoints). */
export const SYNC_AFTER = new Set(['run', 'start', 'restart', 'stop', 'kill', 'rm', 'pause', 'unpause', 'system', 'container']);

export async function syncAfterNodeCommand(cmd: string | undefined): Promise<void> {
  if (!cmd || !SYNC_AFTER.has(cmd) || !fs.existsSync(recordFile())) return;
  try {
    await syncServices();
  } catch (e) {
    process.stderr.write(`minid: warning: the services' rules were not re-synced (${(e as Error).message.split('\n')[0]}): \`minid service sync\`\n`);
  }
}
