// minid's network layer, as the runtime sees it (the runtime calls nothing else in src/network):
//   attach(req)  -> Attachment  (minid run: before the container process starts)
//   detach(att)                 (minid rm / after the container exited)
//   describe(att), check(att)   (inspect; network check)
//   fromStored(json)            (an attachment as this or an earlier minid stored it)
//   pruneLeftovers(knownIds)    (minid system prune: whatever a crash left behind)
//   connect(req) / disconnect(att)  (minid network connect/disconnect: ethN in that namespace; connect.ts)
// plus the network objects (create/ls/inspect/rm/prune) and the /etc file renderers.
//
// Each mode is a driver (drivers/: none, host, container, bridge, cni) behind one interface;
// long-lived per-network processes (dns/) are network services (services.ts). Drivers first
// decide everything that can fail for reasons the user can fix (port syntax, ports already
// taken, a free address), and only then change the host: a refused request leaves no trace.
import fs from 'node:fs';
import { paths } from '../sys/paths.js';
import { probe } from './host.js';
import { release, reservations } from './ipam.js';
import { listEndpoints, removeEndpoint, writeEndpoint } from './endpoints.js';
import { checkContainerId, parseComment, short } from './names.js';
import { getNetwork, records } from './networks.js';
import { storeRef } from '../sys/store.js';
import { applyPlan, type Step } from './step.js';
import { deleteCmd, minidRules, ofStore, parseSave } from './iptables.js';
import { driverFor, driverOf } from './drivers/index.js';
import { allServices, servicesOf } from './services.js';
import { hasDns } from './dns/records.js';
import type { AttachOptions, AttachmentView, DetachOptions } from './drivers/types.js';
import type { AttachRequest, Attachment, Cmd, NetworkRecord } from './types.js';

export type { AttachRequest, Attachment, Cmd, NetworkRecord, PortBinding, Proto, AttachMode, DriverName } from './types.js';
export type { BridgeAttachment, CniAttachment, ContainerAttachment, HostAttachment, NoneAttachment } from './types.js';
export type { AttachOptions, AttachmentView, DetachOptions, NetworkDriver } from './drivers/types.js';
export { DRIVERS, fromStored } from './drivers/index.js';
export type { Step, PlanOptions, PlanResult } from './step.js';
export { applyPlan, formatPlan, formatStep, undoSteps } from './step.js';
export { planNoneAttach, planBridgeAttach, planDetach, planNetworkTeardown, planGlobalTeardown, type HostState, type BridgePlanInput } from './plan.js';
export { parsePortSpec, parseExposedPort, resolvePorts, type PortSpec } from './ports.js';
export { renderHosts, renderResolvConf, renderHostname, containerNetFiles, writeContainerNetFiles, validateDnsOption, validateNetFileInput, FALLBACK_NAMESERVERS } from './files.js';
export { netnsPath } from './names.js';
export {
  createNetwork,
  listNetworks,
  inspectNetwork,
  removeNetwork,
  pruneNetworks,
  getNetwork,
  ensureDefaultNetwork,
  teardownNetwork,
  attachedTo,
  DEFAULT_NETWORK,
} from './networks.js';
export { listEndpoints, type Endpoint } from './endpoints.js';
export { reservations, release } from './ipam.js';
export { setHostProbe, realProbe, type HostProbe } from './host.js';
export { connect, disconnect, planConnect, extraVethHost, extraVethPeer, type ConnectRequest, type ConnectPlanInput } from './connect.js';

/**
 * Give a container its network: the driver of req.mode (drivers/index.ts) plans and applies
 * it. Returns the Attachment to store with the container; detach() needs nothing else.
 */
export async function attach(req: AttachRequest, o: AttachOptions = {}): Promise<Attachment> {
  checkContainerId(req.containerId);
  return driverFor(req.mode).attach(req, o);
}

/**
 * Undo an attachment, whichever driver made it (its `mode`). Idempotent: whatever is already
 * gone (a namespace removed by hand, a second detach) is skipped silently.
 */
export async function detach(att: Attachment, o: DetachOptions = {}): Promise<void> {
  await driverOf(att).detach(att, o);
}

/** The attachment as `inspect` shows it, whichever driver made it. */
export function describe(att: Attachment): AttachmentView {
  return driverOf(att).describe(att);
}

/** Is the attachment still in place? One line per problem ([] when it is). */
export async function check(att: Attachment, o: DetachOptions = {}): Promise<string[]> {
  return driverOf(att).check(att, o);
}

// --- container names (dns/), for the runtime's checks before `run` and `rename` -----------

/** Does the network answer names (user networks)? */
export const hasNames = (net: NetworkRecord): boolean => hasDns(net);

/** --network-alias: each must be a DNS name (one line, exit 125, when not). */
export async function validateAliases(aliases: string[]): Promise<void> {
  if (aliases.length) aliases.forEach((await import('./dns/index.js')).validateAlias);
}

/** Refuse names (a container's name, its aliases) another container of `network` answers to. */
export async function checkNames(network: string, who: { containerId: string; containerName: string; aliases?: string[] }): Promise<void> {
  (await import('./dns/index.js')).checkNames(network, who);
}

/** `rename`: the container's endpoints get its new name, and the services of their networks know. */
export async function renameEndpoints(containerId: string, name: string): Promise<void> {
  for (const e of listEndpoints().filter((x) => x.containerId === containerId)) {
    writeEndpoint({ ...e, containerName: name });
    const net = await getNetwork(e.network).catch(() => undefined);
    if (net) for (const s of await servicesOf(net)) await s.renamed(net, {});
  }
}

export interface PruneOptions {
  /**
   * Also remove namespaces and veths this MINID_ROOT has no record of (from a wiped state
   * directory). Off by default: hosts can be shared. Rules are taken only when their comment
   * names this store, even so.
   */
  hostWide?: boolean;
  /** Only consider objects whose container id (or its 8/12-character prefix) passes. */
  only?: (idPrefix: string) => boolean;
  explain?: (line: string) => void;
}

/**
 * Remove what no known container owns: minid-<id12> namespaces, mv/mc<id8> veths, this store's
 * iptables rules whose comment names an unknown container, endpoint records and IPAM reservations. Returns
 * one line per object removed ("netns minid-3f2a1b4c5d6e", ...).
 *
 * By default only containers this MINID_ROOT has records of (endpoints, IPAM) are candidates:
 * attach records them before it changes the host, so whatever a crash leaves is covered, and
 * another minid instance on the same host (a test suite, say) is left alone.
 */
export async function pruneLeftovers(knownContainerIds: Set<string>, o: PruneOptions = {}): Promise<string[]> {
  const known = [...knownContainerIds];
  const owned = (frag: string): boolean => known.some((k) => k.startsWith(frag) || frag.startsWith(k));
  const recorded = new Set<string>(listEndpoints().map((e) => e.containerId));
  for (const net of networksWithIpam()) for (const r of reservations(net)) if (r.containerId) recorded.add(r.containerId);
  const ours = (frag: string): boolean => o.hostWide || [...recorded].some((id) => id.startsWith(frag));
  const stray = (frag: string): boolean => !owned(frag) && ours(frag) && (o.only ? o.only(frag) : true);
  const store = await storeRef();
  const p = probe();
  const removed: string[] = [];
  const ruleCmds: Cmd[] = [];
  const linkCmds: Cmd[] = [];
  const nsCmds: Cmd[] = [];

  for (const r of minidRules(parseSave(await p.iptablesSave()))) {
    const id12 = r.owner.containerId12;
    // Rules carry their store: another store's, even of a container id this one has seen, stay.
    if (!id12 || !ofStore(store, r) || !stray(id12)) continue;
    ruleCmds.push(deleteCmd(r));
    removed.push(`iptables rule (${r.table} ${r.chain}) of container ${r.owner.containerName || id12} (${id12})`);
  }
  for (const l of await p.links()) {
    const m = /^m[vc]([a-zA-Z0-9]{8})(-[0-9a-f]{4})?$/.exec(l.name); // -NET4: added by `network connect`
    if (!m || l.kind !== 'veth' || !stray(m[1])) continue;
    linkCmds.push({ argv: ['ip', 'link', 'del', l.name] });
    removed.push(`veth ${l.name}`);
  }
  for (const ns of await p.netnsList()) {
    const m = /^minid-([a-zA-Z0-9]{12})$/.exec(ns);
    if (!m || !stray(m[1])) continue;
    nsCmds.push({ argv: ['ip', 'netns', 'del', ns] });
    removed.push(`netns ${ns}`);
  }
  const steps: Step[] = [];
  if (ruleCmds.length) steps.push({ name: 'delete iptables rules of unknown containers', why: 'found by their minid comment', apply: ruleCmds, undo: [] });
  if (linkCmds.length) steps.push({ name: 'delete veths of unknown containers', why: 'named mv/mc + container id', apply: linkCmds, undo: [] });
  if (nsCmds.length) steps.push({ name: 'delete network namespaces of unknown containers', why: 'named minid- + container id', apply: nsCmds, undo: [] });
  if (steps.length) await applyPlan(steps, { explain: o.explain, tolerant: true, title: 'prune network leftovers' });

  for (const e of listEndpoints()) {
    if (!stray(e.containerId)) continue;
    removeEndpoint(e.containerId, e.connected ? e.network : undefined);
    removed.push(`endpoint of container ${e.containerName} (${short(e.containerId)}) on network ${e.network}`);
  }
  for (const net of networksWithIpam()) {
    const ids = new Set(reservations(net).map((r) => r.containerId).filter((id) => id && stray(id)));
    for (const id of ids) {
      for (const ip of await release(net, id)) removed.push(`address ${ip} on network ${net} (container ${short(id)})`);
    }
  }
  // The network services (services.ts; dns: servers of removed networks or gone containers,
  // names of gone containers).
  const recs = records();
  for (const s of await allServices()) removed.push(...(await s.prune({ record: (n) => recs.find((r) => r.name === n) ?? null, stray: (id12) => !owned(id12), explain: o.explain })));
  return removed;
}

function networksWithIpam(): string[] {
  // Every network that has (or had) reservations: records, plus directories of removed records.
  const names = new Set(records().map((r: NetworkRecord) => r.name));
  try {
    for (const d of fs.readdirSync(paths.ipam())) names.add(d);
  } catch {
    /* no ipam dir yet */
  }
  return [...names];
}

/** Which container a rule comment names (exported for the CLI and tests). */
export { parseComment };
