// minid's network layer, as the runtime sees it:
//   attach(req)  -> Attachment  (minid run: before the container process starts)
//   detach(att)                 (minid rm / after the container exited)
//   pruneLeftovers(knownIds)    (minid system prune: whatever a crash left behind)
//   connect(req) / disconnect(att)  (minid network connect/disconnect: ethN in that namespace; connect.ts)
// plus the network objects (create/ls/inspect/rm/prune) and the /etc file renderers.
//
// attach() first decides everything that can fail for reasons the user can fix (port syntax,
// ports already taken, a free address), and only then changes the host: a refused request
// leaves no trace.
import fs from 'node:fs';
import { fail } from '../errors.js';
import { paths } from '../sys/paths.js';
import { withLock } from '../sys/lock.js';
import { debugMark } from '../sys/exec.js';
import { probe } from './host.js';
import { allocate, release, reservations } from './ipam.js';
import { listEndpoints, readEndpoint, removeEndpoint, writeEndpoint, type Endpoint } from './endpoints.js';
import { checkContainerId, macFor, netnsName, netnsPath, parseComment, short, vethHost } from './names.js';
import { checkNetworkFree, DEFAULT_NETWORK, getNetwork, isUp, markUp, records } from './networks.js';
import { hasDns } from './dns/records.js';
import { storeRef } from '../sys/store.js';
import { parsePortSpec, resolvePorts, takenBy } from './ports.js';
import { planAttach, planDetach, type HostState } from './plan.js';
import { applyPlan, type Step } from './step.js';
import { deleteCmd, minidRules, ofStore, parseSave } from './iptables.js';
import type { AttachRequest, Attachment, Cmd, NetworkRecord } from './types.js';

export type { AttachRequest, Attachment, Cmd, NetworkRecord, PortBinding, Proto, AttachMode } from './types.js';
export type { Step, PlanOptions, PlanResult } from './step.js';
export { applyPlan, formatPlan, formatStep, undoSteps } from './step.js';
export { planAttach, planDetach, planNetworkTeardown, planGlobalTeardown, type HostState, type AttachPlanInput } from './plan.js';
export { parsePortSpec, parseExposedPort, resolvePorts, type PortSpec } from './ports.js';
export { renderHosts, renderResolvConf, renderHostname, containerNetFiles, writeContainerNetFiles, FALLBACK_NAMESERVERS } from './files.js';
export { renderDiagram } from './diagram.js';
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
export { setHostProbe, realProbe, type HostProbe } from './host.js';
export { connect, disconnect, planConnect, extraVethHost, extraVethPeer, type ConnectRequest, type ConnectPlanInput } from './connect.js';

export interface AttachOptions {
  explain?: (line: string) => void;
  dryRun?: boolean;
}

const ownSteps = (steps: Step[]): Step[] => steps.filter((s) => (s.owner ?? 'container') === 'container' && !s.skip && s.undo.length > 0);

export async function attach(req: AttachRequest, o: AttachOptions = {}): Promise<Attachment> {
  checkContainerId(req.containerId);
  const base = { containerId: req.containerId, containerName: req.containerName };
  const publishes = req.ports.length > 0 || !!req.publishAll;
  const mode = req.mode;

  if (typeof mode === 'object') {
    if (publishes) fail('conflicting options: ports cannot be published with --network container:NAME (the container uses the other container\'s network)');
    o.explain?.(`# --network container: join the network namespace ${mode.container}; nothing to set up`);
    return { mode: 'container', ...base, netnsPath: mode.container, ports: [], undo: [] };
  }
  if (mode === 'host') {
    if (publishes) process.stderr.write('WARNING: Published ports are discarded when using host network mode\n');
    o.explain?.("# --network host: the container uses the host's network namespace; nothing to set up");
    return { mode: 'host', ...base, ports: [], undo: [] };
  }
  if (mode === 'none') {
    if (publishes) fail('conflicting options: ports cannot be published with --network none');
    const steps = planAttach({ mode: 'none', ...base });
    const att: Attachment = { mode: 'none', ...base, netnsName: netnsName(req.containerId), netnsPath: netnsPath(req.containerId), ports: [], undo: [] };
    // Recorded before the host changes, so that pruneLeftovers finds what a crash leaves.
    if (!o.dryRun) writeEndpoint({ ...att, ...base, network: 'none', state: 'reserved' });
    try {
      const res = await applyPlan(steps, { explain: o.explain, dryRun: o.dryRun, title: `network none for container ${req.containerName} (${short(req.containerId)})` });
      const own = ownSteps(o.dryRun ? steps : res.applied);
      Object.assign(att, { undo: own.map((s) => s.undo), undoNames: own.map((s) => s.name) });
    } catch (e) {
      if (!o.dryRun) removeEndpoint(req.containerId);
      throw e;
    }
    if (!o.dryRun) writeEndpoint({ ...att, ...base, network: 'none', state: 'attached' });
    return att;
  }
  if (mode !== 'bridge') fail(`unknown network mode "${String(mode)}"`);
  return attachBridge(req, o);
}

async function attachBridge(req: AttachRequest, o: AttachOptions): Promise<Attachment> {
  const id = req.containerId;
  const dry = !!o.dryRun;
  // Everything the user can get wrong is decided before the host changes.
  const specs = req.ports.map(parsePortSpec);
  debugMark('attach: start');
  const net = await getNetwork(req.network ?? 'bridge', { dryRun: dry });
  const store = await storeRef();
  // Is the network set up already? Its one external command (iptables-save) runs while the
  // ports and the address are reserved below.
  const upEarly = isUp(net, store);
  upEarly.catch(() => {}); // awaited below, unless a reservation fails first
  const others = (): { name: string; id: string; ports: Endpoint['ports'] }[] =>
    listEndpoints()
      .filter((e) => e.containerId !== id)
      .map((e) => ({ name: e.containerName, id: e.containerId, ports: e.ports }));
  const reserve = async (): Promise<Attachment['ports']> => {
    const mine = readEndpoint(id);
    if (mine && mine.state === 'attached') fail(`container ${req.containerName} is already connected to network ${mine.network}`);
    // Other containers' ports only matter when this one publishes some (reading every
    // endpoint would make each start cost more as containers accumulate).
    const publishes = specs.length > 0 || (!!req.publishAll && (req.exposedPorts?.length ?? 0) > 0);
    const taken = publishes ? takenBy(others()) : () => null;
    const ports = await resolvePorts(specs, { publishAll: req.publishAll, exposedPorts: req.exposedPorts, taken });
    if (!dry) writeEndpoint({ mode: 'bridge', ...reqBase(req), network: net.name, ports, undo: [], state: 'reserved' });
    return ports;
  };
  const ports = dry ? await reserve() : await withLock('network-ports', reserve);
  debugMark('attach: ports reserved');

  try {
    const { ip, prefixLength } = await allocate(net.name, net.subnet, net.gateway, id, { dryRun: dry });
    debugMark(`attach: address ${ip} reserved`);
    const p = probe();
    const mtu = (await p.uplink())?.mtu ?? 1500;
    const ipForward = (await p.readSysctl('net.ipv4.ip_forward')) === '1';
    const title = `attach container ${req.containerName} (${short(id)}) to network "${net.name}": ${ip}/${prefixLength} on bridge ${net.bridge}`;
    const go = async (state: HostState): Promise<Step[]> => {
      const steps = planAttach({ mode: 'bridge', containerId: id, containerName: req.containerName, network: net, store, ip, prefixLength, mtu, ports, state });
      const res = await applyPlan(steps, { explain: o.explain, dryRun: dry, title, concurrent: true });
      return dry ? steps.filter((s) => !s.skip) : res.applied;
    };
    const stateWhenDown = async (): Promise<HostState> => ({
      networkUp: false,
      bridgeExists: await p.linkExists(net.bridge),
      iptablesSave: await p.iptablesSave(),
      ipForward,
    });

    let applied: Step[];
    if (await upEarly) applied = await go({ networkUp: true, ipForward });
    else if (dry) {
      await checkNetworkFree(net, store);
      applied = await go(await stateWhenDown());
    } else {
      // The first container sets the network up; hold the lock so a second one waits for it.
      applied = await withLock('network-setup', async () => {
        if (await isUp(net, store)) return go({ networkUp: true, ipForward });
        await checkNetworkFree(net, store);
        const steps = await go(await stateWhenDown());
        markUp(net.name);
        return steps;
      });
    }

    const own = ownSteps(applied);
    const att: Attachment = {
      mode: 'bridge',
      ...reqBase(req),
      netnsName: netnsName(id),
      netnsPath: netnsPath(id),
      network: net.name,
      bridge: net.bridge,
      veth: vethHost(id),
      ip,
      prefixLength,
      gateway: net.gateway,
      mac: macFor(ip),
      ports,
      undo: own.map((s) => s.undo),
      undoNames: own.map((s) => s.name),
      ...(req.aliases?.length ? { aliases: req.aliases } : {}),
    };
    if (!dry) writeEndpoint({ ...att, containerId: id, containerName: req.containerName, network: net.name, state: 'attached' });
    // Names on user networks (network/dns/): recorded and answered before the command starts.
    if (dry && hasDns(net) && o.explain) await (await import('./dns/index.js')).dryRunDns(net, { containerId: id, containerName: req.containerName, ip }, req, o.explain);
    if (!dry && hasDns(net)) {
      try {
        const { attachDns } = await import('./dns/index.js');
        att.dns = await attachDns(net, { ...att, containerId: id, containerName: req.containerName, ip }, req, o);
      } catch (e) {
        await detach(att).catch(() => {});
        throw e;
      }
      writeEndpoint({ ...att, containerId: id, containerName: req.containerName, network: net.name, state: 'attached' });
    }
    return att;
  } catch (e) {
    if (!dry) {
      await release(net.name, id).catch(() => {});
      removeEndpoint(id);
    }
    throw e;
  }
}

const reqBase = (req: AttachRequest): { containerId: string; containerName: string } => ({ containerId: req.containerId, containerName: req.containerName });

/**
 * Undo an attachment: its own undo commands in reverse (rules, veth, namespace), then its
 * address and endpoint. Idempotent: whatever is already gone (a namespace removed by hand,
 * a second detach) is skipped silently.
 */
export async function detach(att: Attachment, o: { explain?: (line: string) => void } = {}): Promise<void> {
  const steps = planDetach(att);
  if (steps.length) {
    const who = att.containerName ? `container ${att.containerName}${att.containerId ? ` (${short(att.containerId)})` : ''}` : 'container';
    await applyPlan(steps, { explain: o.explain, tolerant: true, concurrent: true, title: `detach ${who}${att.network ? ` from network "${att.network}"` : ''}` });
  }
  if (att.containerId) {
    if (att.mode === 'bridge' && att.network) await release(att.network, att.containerId);
    removeEndpoint(att.containerId);
  }
  // Its names go from the network's DNS server (and its own server, for --dns, stops).
  if (att.mode === 'bridge' && att.network && att.network !== DEFAULT_NETWORK) {
    const net = records().find((r) => r.name === att.network);
    if (net) await (await import('./dns/index.js')).detachDns(net, att, o);
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
  // DNS servers of removed networks or gone containers; names of gone containers.
  const { pruneDns } = await import('./dns/index.js');
  const recs = records();
  removed.push(...(await pruneDns({ record: (n) => recs.find((r) => r.name === n) ?? null, stray: (id12) => !owned(id12), explain: o.explain })));
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
