// Network objects: records under paths.networks()/<name>.json. A record is only data; the
// kernel objects (bridge, iptables rules) are created by the first attach and removed by
// `network rm`. The default network 'bridge' (bridge minid0, docker0-style) is recorded on
// first use and cannot be removed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { readJson, writeJsonAtomic } from '../sys/jsonfile.js';
import { paths, runRoot } from '../sys/paths.js';
import { withLock, withHostLock } from '../sys/lock.js';
import { broadcast, contains, firstHost, intToIp, ipToInt, isIPv4, overlaps, parseSubnet, tryParseCidr, type Cidr } from './cidr.js';
import { probe, type HostRoute } from './host.js';
import { attachedIds, removeIpamDir, reservations } from './ipam.js';
import { listEndpoints, type Endpoint } from './endpoints.js';
import { CHAIN, comment, defaultBridgeName, parseComment, userBridgeName } from './names.js';
import { hasChain, parseSave } from './iptables.js';
import { storeRef, type StoreRef } from '../sys/store.js';
import { planGlobalTeardown, planNetworkTeardown } from './plan.js';
import { applyPlan } from './step.js';
import type { NetworkRecord } from './types.js';

export const DEFAULT_NETWORK = 'bridge';
/** Networks that are not records: the host's own stack, and loopback only. */
export const PSEUDO_NETWORKS = { host: 'host', none: 'null' } as const;
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

const recordFile = (name: string): string => path.join(paths.networks(), `${name}.json`);
/** Present while the network's kernel objects are set up (under /run: a reboot removes both). */
export const upMarker = (name: string): string => path.join(runRoot(), 'networks', `${name}.up`);

function readRecord(name: string): NetworkRecord | null {
  return readJson<NetworkRecord>(recordFile(name));
}

function writeRecord(r: NetworkRecord): void {
  fs.mkdirSync(paths.networks(), { recursive: true });
  writeJsonAtomic(recordFile(r.name), r);
}

/** Every stored record (the default one only once it was used). */
export function records(): NetworkRecord[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(paths.networks());
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => readRecord(n.slice(0, -5)))
    .filter((r): r is NetworkRecord => r !== null)
    .sort((a, b) => (a.builtin === b.builtin ? a.name.localeCompare(b.name) : a.builtin ? -1 : 1));
}

// --- subnets ----------------------------------------------------------------------------

/** Candidates for automatic subnets, like docker's default pools. */
function* candidateSubnets(): Iterable<string> {
  yield '172.30.0.0/16';
  yield '172.31.0.0/16';
  for (let i = 18; i <= 29; i++) yield `172.${i}.0.0/16`;
  for (let i = 200; i <= 255; i++) yield `192.168.${i}.0/24`;
  for (let i = 200; i <= 254; i++) yield `10.${i}.0.0/16`;
}

/** Why `c` cannot be used: it overlaps another minid network or something the host routes. */
function overlapReason(c: Cidr, others: NetworkRecord[], routes: HostRoute[]): string | null {
  for (const o of others) {
    if (overlaps(c, parseSubnet(o.subnet))) return `overlaps network "${o.name}" (${o.subnet})`;
  }
  const ownBridges = new Set(others.map((o) => o.bridge));
  for (const r of routes) {
    if (r.dev && ownBridges.has(r.dev)) continue;
    const rc = tryParseCidr(r.dst);
    if (rc && overlaps(c, rc)) return `overlaps the host's route ${r.desc}`;
  }
  return null;
}

function pickSubnet(others: NetworkRecord[], routes: HostRoute[]): Cidr {
  for (const s of candidateSubnets()) {
    const c = parseSubnet(s);
    if (!overlapReason(c, others, routes)) return c;
  }
  fail('no free subnet left among the automatic ones: pass --subnet');
}

function checkGateway(c: Cidr, gateway: string): string {
  if (!isIPv4(gateway)) fail(`invalid gateway "${gateway}": not an IPv4 address`);
  const g = ipToInt(gateway);
  if (!contains(c, g)) fail(`invalid gateway ${gateway}: it is outside the subnet ${c.text}`);
  if (g === c.base || g === broadcast(c)) fail(`invalid gateway ${gateway}: it is the ${g === c.base ? 'network' : 'broadcast'} address of ${c.text}`);
  return intToIp(g);
}

// --- records ----------------------------------------------------------------------------

/** The default network's record, created on first use (MINID_BRIDGE_SUBNET picks its subnet). */
export async function ensureDefaultNetwork(o: { dryRun?: boolean } = {}): Promise<NetworkRecord> {
  const existing = readRecord(DEFAULT_NETWORK);
  if (existing) return existing;
  const make = async (): Promise<NetworkRecord> => {
    const again = readRecord(DEFAULT_NETWORK);
    if (again) return again;
    const bridge = defaultBridgeName();
    await checkBridgeOwner({ name: DEFAULT_NETWORK, bridge, builtin: true }, await storeRef());
    const others = records();
    const routes = (await probe().routes()).filter((r) => r.dev !== bridge);
    let c: Cidr;
    const env = process.env.MINID_BRIDGE_SUBNET;
    if (env) {
      c = parseSubnet(env, 'MINID_BRIDGE_SUBNET');
      const why = overlapReason(c, others, routes);
      if (why) fail(`MINID_BRIDGE_SUBNET ${c.text} ${why}`);
    } else c = pickSubnet(others, routes);
    const rec: NetworkRecord = {
      id: crypto.randomBytes(32).toString('hex'),
      name: DEFAULT_NETWORK,
      driver: 'bridge',
      bridge,
      subnet: c.text,
      gateway: firstHost(c),
      created: new Date().toISOString(),
      builtin: true,
    };
    if (!o.dryRun) writeRecord(rec);
    return rec;
  };
  return o.dryRun ? make() : withLock('networks', make);
}

/** A network by name or id prefix ('bridge' is created on first use). */
export async function getNetwork(ref: string, o: { dryRun?: boolean } = {}): Promise<NetworkRecord> {
  if (ref === DEFAULT_NETWORK) return ensureDefaultNetwork(o);
  const byName = readRecord(ref);
  if (byName) return byName;
  if (/^[0-9a-f]{3,64}$/.test(ref)) {
    const byId = records().filter((r) => r.id.startsWith(ref));
    if (byId.length === 1) return byId[0];
    if (byId.length > 1) fail(`network id prefix ${ref} is ambiguous: ${byId.map((r) => r.name).join(', ')}`);
  }
  if (ref in PSEUDO_NETWORKS) fail(`network ${ref} is not a bridge network (use --network ${ref})`);
  fail(`network ${ref} not found`);
}

export interface CreateNetworkOptions {
  name: string;
  subnet?: string;
  gateway?: string;
  driver?: string;
  /** --label / --label-file, parsed. */
  labels?: Record<string, string>;
}

/** Validate and record a user-defined bridge network. Nothing on the host changes yet. */
export async function createNetwork(o: CreateNetworkOptions): Promise<NetworkRecord> {
  if (!NAME_RE.test(o.name)) fail(`invalid network name "${o.name}": use letters, digits, '_', '.', '-' (up to 64), starting with a letter or digit`);
  if (o.driver && o.driver !== 'bridge') fail(`network driver "${o.driver}" is not supported (only bridge)`);
  if (o.name === DEFAULT_NETWORK || o.name in PSEUDO_NETWORKS) fail(`network with name ${o.name} already exists`);
  if (o.gateway && !o.subnet) fail('--gateway needs --subnet');
  const given = o.subnet ? parseSubnet(o.subnet) : null;
  const gateway = given && o.gateway ? checkGateway(given, o.gateway) : null;
  return withLock('networks', async () => {
    if (readRecord(o.name)) fail(`network with name ${o.name} already exists`);
    const others = records();
    const routes = await probe().routes();
    let c: Cidr;
    if (given) {
      const why = overlapReason(given, others, routes);
      if (why) fail(`subnet ${given.text} ${why}`);
      c = given;
    } else c = pickSubnet(others, routes);
    const id = crypto.randomBytes(32).toString('hex');
    const bridge = userBridgeName(id);
    const clash = others.find((r) => r.bridge === bridge);
    if (clash) fail(`bridge ${bridge} is already used by network "${clash.name}"`);
    if (await probe().linkExists(bridge)) fail(`a link named ${bridge} already exists on the host: choose another network name`);
    const rec: NetworkRecord = {
      id,
      name: o.name,
      driver: 'bridge',
      bridge,
      subnet: c.text,
      gateway: gateway ?? firstHost(c),
      created: new Date().toISOString(),
      ...(o.labels && Object.keys(o.labels).length ? { labels: o.labels } : {}),
    };
    writeRecord(rec);
    return rec;
  });
}

export interface NetworkSummary {
  id: string;
  name: string;
  driver: string;
  scope: 'local';
  subnet?: string;
  gateway?: string;
  bridge?: string;
}

const pseudoId = (name: string): string => crypto.createHash('sha256').update(`minid-network-${name}`).digest('hex');

/** All networks, including the pseudo networks host and none (like `docker network ls`). */
export async function listNetworks(): Promise<NetworkSummary[]> {
  await ensureDefaultNetwork();
  const out: NetworkSummary[] = records().map((r) => ({ id: r.id, name: r.name, driver: r.driver, scope: 'local', subnet: r.subnet, gateway: r.gateway, bridge: r.bridge }));
  for (const [name, driver] of Object.entries(PSEUDO_NETWORKS)) out.push({ id: pseudoId(name), name, driver, scope: 'local' });
  return out;
}

/** Containers attached to a network: minid's endpoints plus IPAM reservations. */
export function attachedTo(name: string): { id: string; name: string; ip?: string }[] {
  const eps = listEndpoints().filter((e) => e.network === name);
  const out = eps.map((e) => ({ id: e.containerId, name: e.containerName, ip: e.ip }));
  for (const r of reservations(name)) if (!out.some((o) => o.id === r.containerId)) out.push({ id: r.containerId, name: r.containerId.slice(0, 12), ip: r.ip });
  return out;
}

export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  IPAM: { Driver: 'default'; Config: { Subnet: string; Gateway: string }[] };
  Options: Record<string, string>;
  Labels: Record<string, string>;
  Containers: Record<string, { Name: string; IPv4Address: string; MacAddress: string; Ports: string[] }>;
  /** Whether the bridge and rules are set up right now. */
  Up: boolean;
  /** User networks: the DNS server and the names it answers (network/dns/). */
  DNS?: ReturnType<typeof import('./dns/index.js').inspectDns>;
}

export async function inspectNetwork(ref: string): Promise<{ record: NetworkRecord; endpoints: Endpoint[]; json: NetworkInspect }> {
  const record = await getNetwork(ref);
  const endpoints = listEndpoints().filter((e) => e.network === record.name);
  const containers: NetworkInspect['Containers'] = {};
  for (const e of endpoints) {
    containers[e.containerId] = {
      Name: e.containerName,
      IPv4Address: e.ip ? `${e.ip}/${e.prefixLength}` : '',
      MacAddress: e.mac ?? '',
      Ports: e.ports.map((b) => `${b.hostIp}:${b.hostPort}->${b.containerPort}/${b.protocol}`),
    };
  }
  const json: NetworkInspect = {
    Name: record.name,
    Id: record.id,
    Created: record.created,
    Scope: 'local',
    Driver: record.driver,
    IPAM: { Driver: 'default', Config: [{ Subnet: record.subnet, Gateway: record.gateway }] },
    Options: { 'minid.bridge.name': record.bridge },
    Labels: record.labels ?? {},
    Containers: containers,
    Up: await isUp(record, await storeRef()),
    DNS: (await import('./dns/index.js')).inspectDns(record),
  };
  return { record, endpoints, json };
}

/**
 * Are the network's kernel objects set up? The marker written by attach, the bridge labelled
 * as this store's, and the network's MASQUERADE rule with this store's comment: a workshop
 * that flushed the nat table gets its rules back on the next run instead of a network that
 * silently stopped working (and a network an older minid set up gets its rules relabelled).
 */
export async function isUp(r: NetworkRecord, store: StoreRef): Promise<boolean> {
  if (!fs.existsSync(upMarker(r.name))) return false;
  const p = probe();
  if ((await p.linkAlias(r.bridge)) !== comment(store.id, r.name)) return false;
  const saved = parseSave(await p.iptablesSave());
  const c = comment(store.id, r.name);
  const masq = ['-s', r.subnet, '!', '-o', r.bridge].join(' ');
  return hasChain(saved, 'nat', CHAIN.dnat) && saved.rules.some((x) => x.chain === CHAIN.postrouting && x.comment === c && x.args.join(' ').startsWith(masq));
}

/**
 * Refuse a bridge that exists but is not this store's network's: its alias names another
 * store (or is not minid's). A bridge without an alias (an older minid's, or one made by
 * hand for minid) is taken over, as a repair. Two stores on one bridge would hand out the
 * same addresses and remove each other's bridge.
 */
export async function checkBridgeOwner(net: Pick<NetworkRecord, 'name' | 'bridge' | 'builtin'>, store: StoreRef): Promise<void> {
  const alias = await probe().linkAlias(net.bridge);
  if (!alias || alias === comment(store.id, net.name)) return;
  const o = parseComment(alias);
  const whose = o?.store ? `network "${o.network}" of another minid store (store id ${o.store})` : `something else (its alias is "${alias}")`;
  const fix = net.builtin
    ? 'give this store a bridge of its own: set MINID_BRIDGE_NAME (and MINID_BRIDGE_SUBNET) for it'
    : `remove network ${net.name} and create it again (it gets a new bridge name)`;
  fail(`bridge ${net.bridge} belongs to ${whose}, not to network "${net.name}" of this store (${store.root}, store id ${store.id}): ${fix}`);
}

/**
 * Before a network's first setup: is its bridge free for it (checkBridgeOwner), and is its
 * subnet routed nowhere else? Each store picks subnets from its own records, so two stores
 * can both choose 172.30.0.0/16 while neither is up; the second to come up would take the
 * first one's traffic. Refused instead.
 */
export async function checkNetworkFree(net: NetworkRecord, store: StoreRef): Promise<void> {
  await checkBridgeOwner(net, store);
  const c = parseSubnet(net.subnet);
  const clash = (await probe().routes()).find((r) => r.dev !== net.bridge && tryParseCidr(r.dst) && overlaps(c, tryParseCidr(r.dst)!));
  if (!clash) return;
  const fix = net.builtin
    ? `its subnet was chosen when ${recordFile(net.name)} was made: remove that file while no container uses the network, and set MINID_BRIDGE_SUBNET`
    : `remove network ${net.name} and create it again with another --subnet`;
  fail(`subnet ${net.subnet} of network "${net.name}" overlaps the host's route ${clash.desc} (another store's network, or the host's): ${fix}`);
}

/** Is the bridge this store's to delete? It exists, and its alias names this store's network (or it has none). */
async function bridgeIsOurs(net: NetworkRecord, store: StoreRef): Promise<boolean> {
  const alias = await probe().linkAlias(net.bridge);
  return alias === '' || alias === comment(store.id, net.name);
}

export function markUp(name: string): void {
  fs.mkdirSync(path.dirname(upMarker(name)), { recursive: true });
  fs.writeFileSync(upMarker(name), new Date().toISOString() + '\n');
}

/**
 * Remove a network's kernel objects (this store's rules, found by their comment; its bridge)
 * and, when no network of any store is left on the host, minid's chains. Tolerant: missing
 * pieces are fine. Another store's bridge of the same name is left alone.
 */
export async function teardownNetwork(r: NetworkRecord, o: { explain?: (l: string) => void } = {}): Promise<string[]> {
  const store = await storeRef();
  return withLock('network-setup', () => withHostLock('chains', async () => {
    // Its services first (services.ts; dns: its servers listen on the bridge's address).
    const { allServices } = await import('./services.js');
    for (const s of await allServices()) await s.stop(r.name, { explain: o.explain });
    const p = probe();
    const ours = await bridgeIsOurs(r, store);
    if (!ours && (await p.linkExists(r.bridge))) o.explain?.(`# bridge ${r.bridge} is labelled "${await p.linkAlias(r.bridge)}": not this store's (${store.id}), left alone`);
    const steps = planNetworkTeardown(r, await p.iptablesSave(), ours, store);
    const res = await applyPlan(steps, { explain: o.explain, tolerant: true, title: steps.length ? `remove the kernel objects of network "${r.name}"` : undefined });
    const global = planGlobalTeardown(await p.iptablesSave());
    const res2 = await applyPlan(global, { explain: o.explain, tolerant: true, title: global.length ? "no minid network is left: remove minid's chains" : undefined });
    fs.rmSync(upMarker(r.name), { force: true });
    return [...res.errors, ...res2.errors];
  }));
}

export type AttachedLookup = (network: string) => string[] | Promise<string[]>;

/** `network rm`: refused for the predefined networks and while containers are attached. */
export async function removeNetwork(ref: string, o: { attachedContainers?: AttachedLookup; explain?: (l: string) => void } = {}): Promise<NetworkRecord> {
  if (ref === DEFAULT_NETWORK || ref in PSEUDO_NETWORKS) fail(`${ref} is a pre-defined network and cannot be removed`);
  const r = await getNetwork(ref);
  if (r.builtin) fail(`${r.name} is a pre-defined network and cannot be removed`);
  const attached = o.attachedContainers ? await o.attachedContainers(r.name) : attachedTo(r.name).map((a) => a.name);
  if (attached.length) fail(`network ${r.name} has active endpoints (${attached.join(', ')}): remove or disconnect those containers first`);
  await teardownNetwork(r, { explain: o.explain });
  fs.rmSync(recordFile(r.name), { force: true });
  removeIpamDir(r.name);
  return r;
}

/** Remove every user-defined network no container is attached to. Returns their names. */
export async function pruneNetworks(o: { attachedContainers?: AttachedLookup } = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const r of records()) {
    if (r.builtin) continue;
    const attached = o.attachedContainers ? await o.attachedContainers(r.name) : attachedIds(r.name).concat(attachedTo(r.name).map((a) => a.id));
    if (attached.length) continue;
    await removeNetwork(r.name, o);
    removed.push(r.name);
  }
  return removed;
}
