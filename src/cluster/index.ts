// `minid cluster up|down|status` and `minid --node NAME ...` (docs/cluster.md).
//
// A node is a network namespace on a simulated LAN (plan.ts) with a minid store of its own,
// <root>/cluster/nodes/<name> (its runtime root <run>/cluster/nodes/<name>). Running a command
// on a node runs minid itself inside the node's network namespace (`nsenter --net`: only the
// network namespace changes; mounts, pids and cgroups stay the host's) with the node's store:
// so every step the bridge driver takes — the bridge, veth pairs, iptables rules, sysctls — is
// taken inside the node, the network layer unchanged. The node's containers get their own
// namespaces as usual; their veth pairs are made inside the node.
//
// The record <root>/cluster/state.json is written before anything is made, naming every
// object up will make: `down` removes what of it is there, also after an `up` cut short.
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { output, run, spawnProcess } from '../sys/exec.js';
import { readJson, writeJsonAtomic } from '../sys/jsonfile.js';
import { packageRoot, root, runRoot } from '../sys/paths.js';
import { storeRef } from '../sys/store.js';
import { withLock } from '../sys/lock.js';
import { overlaps, parseSubnet, tryParseCidr, type Cidr } from '../network/cidr.js';
import { probe } from '../network/host.js';
import { applyPlan } from '../network/step.js';
import { CLUSTER_DOMAIN, downSteps, layout, NODE_BRIDGE, reservedClash, upSteps, type ClusterLayout, type ClusterMode, type ClusterNode } from './plan.js';

export interface ClusterState extends ClusterLayout {
  /** 'creating' until every step ran: a cluster still 'creating' was cut short (prune takes it). */
  status: 'creating' | 'up';
}

const clusterDir = (): string => path.join(root(), 'cluster');
const clusterRunDir = (): string => path.join(runRoot(), 'cluster');
const stateFile = (): string => path.join(clusterDir(), 'state.json');
const nodeRoot = (name: string): string => path.join(clusterDir(), 'nodes', name);
const nodeRun = (name: string): string => path.join(clusterRunDir(), 'nodes', name);
const sysfsDir = (name: string): string => path.join(clusterRunDir(), 'sysfs', name);
/** What a node's store shares with the main store, read from there (symlinks): its images. */
const SHARED_IMAGE_ENTRIES = ['images.json', 'blobs', 'layers'];

export function readState(): ClusterState | null {
  return readJson<ClusterState>(stateFile());
}

function writeState(s: ClusterState): void {
  fs.mkdirSync(clusterDir(), { recursive: true, mode: 0o700 });
  writeJsonAtomic(stateFile(), s, 0o600);
}

export interface UpOptions {
  nodes?: string;
  mode?: string;
  podCidr?: string;
  lan?: string;
  explain?: (line: string) => void;
}

/** Everything the user can get wrong, decided before anything is made. */
async function checkUp(o: UpOptions): Promise<{ n: number; mode: ClusterMode; pod: Cidr; lan: Cidr }> {
  const n = Number(o.nodes ?? '3');
  if (!Number.isInteger(n) || n < 1 || n > 9) fail(`--nodes must be a whole number from 1 to 9 (got "${o.nodes}")`, 1);
  const mode = (o.mode ?? 'routes') as ClusterMode;
  if (mode !== 'routes' && mode !== 'vxlan') fail(`--mode must be routes or vxlan (got "${o.mode}")`, 1);
  const pod = parseSubnet(o.podCidr ?? '10.244.0.0/16', '--pod-cidr');
  const reserved = reservedClash(pod, '--pod-cidr', '10.244.0.0/16');
  if (reserved) fail(reserved, 1);
  if (pod.prefix > 20) fail(`--pod-cidr ${pod.text} is too small: each node takes a /24 of it (use a /20 or larger, e.g. 10.244.0.0/16)`, 1);
  const routes = await probe().routes();
  const clash = (c: Cidr) => routes.find((r) => (r.dev ?? '') !== 'lo' && r.desc.split(' ')[0] !== 'local' && overlaps(c, tryParseCidr(r.dst)!));
  const podClash = clash(pod);
  if (podClash) fail(`--pod-cidr ${pod.text} overlaps the host's route ${podClash.desc}: pick another range (e.g. --pod-cidr 10.245.0.0/16)`, 1);
  let lan: Cidr;
  if (o.lan) {
    lan = parseSubnet(o.lan, '--lan');
    if (lan.prefix !== 24) fail(`--lan must be a /24 (got ${lan.text})`, 1);
    const r = reservedClash(lan, '--lan', '192.168.100.0/24');
    if (r) fail(r, 1);
    const c = clash(lan);
    if (c) fail(`--lan ${lan.text} overlaps the host's route ${c.desc}: pick another 192.168.X.0/24`, 1);
  } else {
    lan = await pickLan((c) => !!clash(c));
  }
  if (overlaps(lan, pod)) fail(`--pod-cidr ${pod.text} overlaps the LAN ${lan.text}: pick ranges apart`, 1);
  return { n, mode, pod, lan };
}

/**
 * A 192.168.X.0/24 that no host route touches, X = 100..254 from a random start. Another
 * cluster's LAN (another store's) may have the same range: it is a switch of its own with no
 * address on the host, so the two never meet.
 */
async function pickLan(clashes: (c: Cidr) => boolean): Promise<Cidr> {
  const start = Math.floor(Math.random() * 155);
  for (let k = 0; k < 155; k++) {
    const c = parseSubnet(`192.168.${100 + ((start + k) % 155)}.0/24`);
    if (!clashes(c)) return c;
  }
  fail('no free 192.168.X.0/24 for the LAN: name one with --lan', 1);
}

/** `cluster up`: refuse bad input, record the layout, then make it (undone on failure). */
export async function clusterUp(o: UpOptions): Promise<ClusterState> {
  return withLock('cluster', async () => {
    const old = readState();
    if (old) fail(`a cluster is already ${old.status === 'up' ? 'up' : 'recorded (an earlier `cluster up` was cut short)'}: \`minid cluster down\` first`, 1);
    const { n, mode, pod, lan } = await checkUp(o);
    const store = (await storeRef()).id;
    const state: ClusterState = { ...layout({ store, mode, lan, podCidr: pod, nodes: n, sysfsDir }), status: 'creating' };
    const p = probe();
    if (await p.linkExists(state.bridge)) fail(`a link ${state.bridge} (this store's cluster LAN) exists already: \`minid cluster down\` or \`minid system prune\` removes a leftover`, 1);
    writeState(state); // before anything is made: down and prune find it all from here
    try {
      for (const node of state.nodes) makeNodeStore(node);
      // The nodes, the LAN and the routes (plan.ts), then each node's DNS server (dns.ts): its
      // pods' nameserver, answering the services' names. One plan: a failure undoes it all
      // (a server already started is stopped by its recorded PID).
      const { dnsUpSteps } = await import('./dns.js');
      await applyPlan([...upSteps(state), ...dnsUpSteps(state)], { explain: o.explain, title: `cluster up: ${n} node${n > 1 ? 's' : ''} on LAN ${state.lan}, pods in ${state.podCidr}, ${mode}`, what: 'cluster up' });
    } catch (e) {
      // applyPlan undid its steps; the folders go too.
      removeFolders();
      throw e;
    }
    state.status = 'up';
    writeState(state);
    return state;
  });
}

/** A node's own store, its image side shared (read from the main store through symlinks). */
function makeNodeStore(node: ClusterNode): void {
  const r = nodeRoot(node.name);
  fs.mkdirSync(r, { recursive: true, mode: 0o710 });
  fs.mkdirSync(nodeRun(node.name), { recursive: true, mode: 0o700 });
  fs.mkdirSync(node.sysfs, { recursive: true, mode: 0o700 });
  for (const e of SHARED_IMAGE_ENTRIES) {
    const target = path.join(root(), e);
    if (e !== 'images.json') fs.mkdirSync(target, { recursive: true }); // the index may come later: a dangling link reads as empty
    fs.symlinkSync(target, path.join(r, e));
  }
}

function removeFolders(): void {
  fs.rmSync(clusterDir(), { recursive: true, force: true });
  fs.rmSync(clusterRunDir(), { recursive: true, force: true });
}

/** The environment a node's minid runs with. */
export function nodeEnv(s: ClusterState, node: ClusterNode): Record<string, string> {
  return {
    MINID_ROOT: nodeRoot(node.name),
    MINID_RUN: nodeRun(node.name),
    // The host store: where the node's container supervisors find the cluster's services (follow.ts).
    MINID_CLUSTER_ROOT: root(),
    MINID_CLUSTER_RUN: runRoot(),
    MINID_BRIDGE_NAME: NODE_BRIDGE,
    MINID_BRIDGE_SUBNET: node.podSubnet,
    MINID_SYSFS: node.sysfs,
    MINID_NODE: node.name,
    MINID_NODE_NETNS: node.netns,
    // kubelet's --cluster-dns and --cluster-domain: the node's DNS server (dns.ts) is its
    // pods' nameserver, with Kubernetes' search list (src/network/files.ts).
    MINID_CLUSTER_DNS: node.ip,
    MINID_CLUSTER_DOMAIN: CLUSTER_DOMAIN,
  };
}

/** The command that runs minid ARGS on a node: its own minid, inside the node's namespace. */
const onNodeArgv = (node: ClusterNode, args: string[]): string[] => ['nsenter', `--net=/run/netns/${node.netns}`, '--', path.join(packageRoot(), 'bin', 'minid'), ...args];

function findNode(name: string, exitCode: number): { state: ClusterState; node: ClusterNode } {
  const state = readState();
  if (!state) fail(`there is no cluster (no node "${name}"): \`minid cluster up\` makes one`, exitCode);
  const node = state.nodes.find((n) => n.name === name);
  if (!node) fail(`no node "${name}" in the cluster: it has ${state.nodes.map((n) => n.name).join(', ')}`, exitCode);
  if (state.status !== 'up') fail(`the cluster is not up (an earlier \`cluster up\` was cut short): \`minid cluster down\`, then \`minid cluster up\``, exitCode);
  if (!fs.existsSync(`/run/netns/${node.netns}`)) fail(`node ${name}'s namespace ${node.netns} is gone: \`minid cluster down\`, then \`minid cluster up\``, exitCode);
  return { state, node };
}

/**
 * `minid --node NAME ARGS...`: run minid ARGS on the node, with the terminal (stdin, stdout,
 * stderr) handed over; returns its exit code. A node that does not exist: one line, exit 125
 * for `run`/`create` (docker's code for a container that could not start), 1 otherwise.
 */
export async function runOnNode(name: string, args: string[]): Promise<number> {
  const { state, node } = findNode(name, ['run', 'create'].includes(args[0]) ? 125 : 1);
  if (!args.length) fail(`--node ${name} needs a command to run there (e.g. \`minid --node ${name} ps\`)`, 1);
  const child = await spawnProcess(onNodeArgv(node, args), { env: nodeEnv(state, node), stdio: 'inherit' });
  // Ctrl-C reaches the node's minid too (same process group): let it decide; SIGTERM is passed on.
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  const code = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(127));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
  });
  // A container came or went: the services' endpoints are re-read and every node's rules
  // rewritten (kube-proxy watching the endpoints), when there are services (src/cluster/services.ts).
  if (fs.existsSync(path.join(clusterDir(), 'services.json'))) await (await import('./services.js')).syncAfterNodeCommand(args[0]);
  return code;
}

/** Run minid ARGS on a node and wait (for down and prune): '' or why it failed. Its --explain lines go to `explain`. */
async function onNode(s: ClusterState, node: ClusterNode, args: string[], explain?: (line: string) => void): Promise<string> {
  const r = await run(onNodeArgv(node, explain ? [...args, '--explain'] : args), { env: nodeEnv(s, node), allowFail: true });
  // The node's --explain goes to its stdout (its results there as comments); its warnings to stderr.
  if (explain) for (const l of r.stdout.split('\n')) if (l) explain(l);
  return r.exitCode === 0 ? '' : `${node.name}: minid ${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
}

/**
 * `cluster down`: each node's minid removes its containers (their processes, mounts, cgroups,
 * namespaces), then the nodes and the LAN go, then the records. Tolerant: what is not there
 * is skipped, so it also finishes what an interrupted up or down left. Returns warnings.
 */
export async function clusterDown(o: { explain?: (line: string) => void } = {}): Promise<{ state: ClusterState | null; warnings: string[] }> {
  // The services' lock too, for the whole of it: a sync under way (a container's supervisor
  // starts one when it exits: follow.ts) finishes first, and one that comes later finds no
  // cluster and does nothing.
  return withLock('cluster', async () => withLock('services', async () => {
    const state = readState();
    if (!state) {
      removeFolders();
      return { state: null, warnings: [] };
    }
    const warnings: string[] = [];
    if (fs.existsSync(path.join(clusterDir(), 'services.json'))) {
      o.explain?.(`# services: their rules live inside the nodes (kube-proxy's chains) and go with the nodes' namespaces; their record ${path.join(clusterDir(), 'services.json')} goes first (the containers stopped below start no sync)`);
      fs.rmSync(path.join(clusterDir(), 'services.json'), { force: true });
    }
    // The nodes' DNS servers first, by their recorded PIDs: a process keeps a deleted namespace alive.
    const dns = await (await import('./dns.js')).stopClusterDns(o.explain);
    if (dns.length) o.explain?.(`# stopped: ${dns.join('; ')}`);
    const nsNow = new Set(await probe().netnsList());
    for (const node of state.nodes) {
      // The node's store exists once up got that far; its containers need its namespace.
      if (!nsNow.has(node.netns) || !fs.existsSync(path.join(nodeRoot(node.name), 'containers'))) continue;
      o.explain?.(`# on node ${node.name}: minid system reset (its containers, their namespaces and mounts; the node's bridge and rules)`);
      const w = await onNode(state, node, ['system', 'reset'], o.explain);
      if (w) warnings.push(w);
    }
    const res = await applyPlan(downSteps(state, await present()), { explain: o.explain, tolerant: true, title: `cluster down: ${state.nodes.length} nodes, LAN ${state.lan}` });
    warnings.push(...res.errors);
    removeFolders();
    return { state, warnings };
  }));
}

/** Which of a cluster's objects exist now (for downSteps). */
async function present(): Promise<{ netns: Set<string>; links: Set<string>; mounts: Set<string> }> {
  const mounts = new Set(
    fs
      .readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter(Boolean),
  );
  const links = new Set((await probe().links()).map((l) => l.name));
  return { netns: new Set(await probe().netnsList()), links, mounts };
}

export interface NodeStatus {
  name: string;
  ip: string;
  podSubnet: string;
  netns: string;
  /** ✗ lines: what the kernel lacks of what the record says. */
  problems: string[];
  /** The node's routes to other nodes' pods, as its kernel holds them. */
  podRoutes: string[];
  /** --mode vxlan: vxlan1's FDB entries (VTEP MAC -> node address), from its kernel. */
  overlay: string[];
  containers: number;
  /** Its DNS server (dns.ts): where it listens, its recorded PID, and whether that dnsmasq runs. */
  dns: { address: string; pid: number | null; running: boolean };
}

/** `cluster status`: the record, checked against the kernel (each node's routes read from it). */
export async function clusterStatus(): Promise<{ state: ClusterState; nodes: NodeStatus[] } | null> {
  const state = readState();
  if (!state) return null;
  const nsNow = new Set(await probe().netnsList());
  const lanUp = await probe().linkExists(state.bridge);
  const nodes: NodeStatus[] = [];
  const { readNodeServer, DNS_PORT } = await import('./dns.js');
  const { alive } = await import('../network/dns/server.js');
  for (const n of state.nodes) {
    const problems: string[] = [];
    const rec = readNodeServer(n.name);
    const dns = { address: `${n.ip}:${DNS_PORT}`, pid: rec?.pid ?? null, running: alive(rec) };
    if (state.status === 'up' && !dns.running) problems.push(`its DNS server (dnsmasq at ${dns.address}) is not running: \`minid service sync\` starts it again`);
    let podRoutes: string[] = [];
    let overlay: string[] = [];
    if (!lanUp) problems.push(`the LAN bridge ${state.bridge} is gone`);
    if (!nsNow.has(n.netns)) problems.push(`its namespace ${n.netns} is gone`);
    else {
      const r = await output(['ip', '-n', n.netns, '-4', 'route', 'show'], { allowFail: true });
      podRoutes = r
        .split('\n')
        .filter((l) => {
          const c = tryParseCidr(l.split(' ')[0]);
          return c && overlaps(c, parseSubnet(state.podCidr)) && c.text !== n.podSubnet;
        })
        .map((l) => l.trim());
      const want = state.nodes.length - 1;
      if (podRoutes.length < want) problems.push(`${want - podRoutes.length} route(s) to other nodes' pods missing`);
      if (state.mode === 'vxlan') {
        // The overlay's forwarding table: which node (LAN address) holds each other VTEP's MAC.
        const fdb = await output(['bridge', '-n', n.netns, 'fdb', 'show', 'dev', 'vxlan1'], { allowFail: true });
        overlay = fdb.split('\n').filter((l) => / dst /.test(l)).map((l) => l.trim());
        if (overlay.length < want) problems.push(`${want - overlay.length} FDB entr${want - overlay.length > 1 ? 'ies' : 'y'} of vxlan1 missing`);
      }
    }
    let containers = 0;
    try {
      containers = fs.readdirSync(path.join(nodeRoot(n.name), 'containers')).length;
    } catch {
      /* none yet */
    }
    nodes.push({ name: n.name, ip: n.ip, podSubnet: n.podSubnet, netns: n.netns, problems, podRoutes, overlay, containers, dns });
  }
  return { state, nodes };
}

/**
 * For `system prune`: a leaked cluster, one whose `up` was cut short or whose LAN or a node is
 * gone (a reboot empties /run/netns; the record stays). `reset`: any cluster.
 */
export async function removeLeakedCluster(o: { all: boolean; explain?: (line: string) => void }): Promise<string[]> {
  const s = readState();
  if (!s && !fs.existsSync(clusterDir()) && !fs.existsSync(clusterRunDir())) return [];
  if (s && s.status === 'up' && !o.all) {
    const ns = new Set(await probe().netnsList());
    const whole = (await probe().linkExists(s.bridge)) && s.nodes.every((n) => ns.has(n.netns));
    if (whole) return [];
  }
  const { warnings } = await clusterDown({ explain: o.explain });
  return [`cluster${s ? ` (${s.nodes.length} nodes, LAN ${s.lan})` : ' folders'}`, ...warnings.map((w) => `warning: ${w}`)];
}
