// `minid network connect|disconnect`: one more interface (eth1, eth2, ...) for a running
// container, in the network namespace its first network created (/run/netns/minid-<id12>).
// The recipe is attach's, minus the namespace and the default route:
//
//   [the network's bridge, forwarding, minid's chains, the network's rules: only if it is the
//    first user, the very same steps as attach] -> veth pair -> one end into the container's
//   namespace -> the other onto the bridge -> name it ethN -> address -> up
//
// The primary network keeps the default route: the new subnet is reachable through ethN by the
// connected route the kernel adds with the address, nothing else changes. The veth pair is named
// after the container and the network (mv<id8>-<net4> / mc<id8>-<net4>, 15 characters), so it
// never clashes with the primary's mv<id8> and `ip link` still says whose it is.
//
// disconnect() undoes exactly what connect() recorded (deleting the host end of the pair takes
// ethN, its address and its route with it), then frees the address and the endpoint record.
import fs from 'node:fs';
import { fail } from '../errors.js';
import { withLock, withHostLock } from '../sys/lock.js';
import { probe } from './host.js';
import { allocate, release, reserveAddress } from './ipam.js';
import { listEndpoints, removeEndpoint, writeEndpoint } from './endpoints.js';
import { checkContainerId, macFor, short } from './names.js';
import { checkNetworkFree, getNetwork, isUp, markUp, records } from './networks.js';
import { storeRef, type StoreRef } from '../sys/store.js';
import { bridgeSteps, forwardingStep, globalSteps, localnetStep, networkRuleSteps, planDetach, type HostState } from './plan.js';
import { applyPlan, cmd, type Step } from './step.js';
import { servicesOf } from './services.js';
import { ownUndo } from './drivers/common.js';
import type { BridgeAttachment, NetworkRecord } from './types.js';

/** Host end of a connected network's veth pair: 'mv' + container id8 + '-' + network id4 = 15. */
export const extraVethHost = (containerId: string, networkId: string): string => `mv${containerId.slice(0, 8)}-${networkId.slice(0, 4)}`;
/** Container end, before it is renamed ethN inside the namespace. */
export const extraVethPeer = (containerId: string, networkId: string): string => `mc${containerId.slice(0, 8)}-${networkId.slice(0, 4)}`;

export interface ConnectPlanInput {
  containerId: string;
  containerName: string;
  network: NetworkRecord;
  /** The store the network belongs to (rule comments, the bridge's alias). */
  store: StoreRef;
  /** The container's namespace (the primary attachment's netnsName). */
  netns: string;
  /** eth1, eth2, ... */
  ifName: string;
  ip: string;
  prefixLength: number;
  mtu: number;
  state: HostState;
  /** The network the container was run with (it keeps the default route); for the explanation. */
  primaryNetwork?: string;
}

function connectVethSteps(o: ConnectPlanInput): Step[] {
  const { netns: ns, ifName, ip, prefixLength, network: net } = o;
  const host = extraVethHost(o.containerId, net.id);
  const peer = extraVethPeer(o.containerId, net.id);
  const m = String(o.mtu);
  const primary = o.primaryNetwork ? `network "${o.primaryNetwork}" (eth0)` : 'the primary network (eth0)';
  return [
    {
      name: 'create the veth pair',
      why: `a second virtual cable for network "${net.name}": ${host} on the host, ${peer} for the container (named after the container and the network, so it never clashes with its eth0 pair)`,
      apply: [cmd('ip', 'link', 'add', host, 'mtu', m, 'type', 'veth', 'peer', 'name', peer, 'mtu', m, 'address', macFor(ip))],
      undo: [cmd('ip', 'link', 'del', host)],
    },
    {
      name: "move one end into the container's namespace",
      why: `the running container's namespace ${ns}, the one its eth0 is in: no restart, the processes see a new interface appear`,
      apply: [cmd('ip', 'link', 'set', peer, 'netns', ns)],
      undo: [],
    },
    {
      name: 'attach the other end to the bridge',
      why: `plug the cable into ${net.bridge}, the switch of network "${net.name}" (hairpin mode as for eth0)`,
      apply: [cmd('ip', 'link', 'set', host, 'master', net.bridge), cmd('ip', 'link', 'set', host, 'type', 'bridge_slave', 'hairpin', 'on')],
      undo: [],
    },
    {
      name: 'bring the host end up',
      why: 'links are created down',
      apply: [cmd('ip', 'link', 'set', host, 'up')],
      undo: [],
    },
    {
      name: `name it ${ifName} inside the namespace`,
      why: `eth0 is taken by the first network; the next free ethN, as docker does`,
      apply: [cmd('ip', '-n', ns, 'link', 'set', peer, 'name', ifName)],
      undo: [],
    },
    {
      name: 'assign the address',
      why: `${ip} was reserved in network "${net.name}"; /${prefixLength} adds the route to ${net.subnet} through ${ifName}. No default route: ${primary} keeps it`,
      apply: [cmd('ip', '-n', ns, 'addr', 'add', `${ip}/${prefixLength}`, 'dev', ifName)],
      undo: [],
    },
    {
      name: `bring ${ifName} up`,
      why: 'links are created down (loopback is already up)',
      apply: [cmd('ip', '-n', ns, 'link', 'set', ifName, 'up')],
      undo: [],
    },
  ];
}

/** The steps that connect a running container to one more bridge network. Pure. */
export function planConnect(o: ConnectPlanInput): Step[] {
  return [
    ...bridgeSteps(o.network, o.mtu, o.state, o.store),
    ...connectVethSteps(o),
    forwardingStep(o.state),
    localnetStep(o.network, o.state),
    ...globalSteps(o.state),
    ...networkRuleSteps(o.network, o.state, o.store),
  ];
}

export interface ConnectRequest {
  containerId: string;
  containerName: string;
  /** Network name or id prefix. */
  network: string;
  /** The namespace to add the interface to (the primary attachment's netnsName / netnsPath). */
  netnsName: string;
  netnsPath: string;
  ifName: string;
  /** --ip: this address instead of the next free one. */
  ip?: string;
  primaryNetwork?: string;
  /** --alias: more names on the network (network/dns/). */
  aliases?: string[];
}

/**
 * Connect: decide everything that can fail for reasons the user can fix (the network, the
 * namespace, the link name, the address), then change the host. A failed step undoes the
 * steps already applied and frees the address: a refused or failed connect leaves no trace.
 */
export async function connect(req: ConnectRequest, o: { explain?: (line: string) => void } = {}): Promise<BridgeAttachment> {
  checkContainerId(req.containerId);
  const id = req.containerId;
  const net = await getNetwork(req.network);
  const store = await storeRef();
  if (!/^eth[1-9][0-9]*$/.test(req.ifName)) fail(`invalid interface name "${req.ifName}": connect adds eth1, eth2, ...`);
  if (!fs.existsSync(req.netnsPath)) fail(`the network namespace ${req.netnsPath} of container ${req.containerName} is gone: it cannot be connected`);
  const mine = listEndpoints().find((e) => e.containerId === id && e.network === net.name);
  if (mine) fail(`container ${req.containerName} is already connected to network ${net.name}`);
  const p = probe();
  const host = extraVethHost(id, net.id);
  if (await p.linkExists(host)) fail(`a link named ${host} already exists on the host: remove it (\`ip link del ${host}\`) or run \`minid system prune\``);

  const dnsMod = await import('./dns/index.js');
  if (req.aliases?.length) {
    if (!dnsMod.hasDns(net)) fail(`--alias is only for user-defined networks: network ${net.name} has no names (docker's default bridge neither)`);
    req.aliases.forEach(dnsMod.validateAlias);
    dnsMod.checkNames(net.name, { containerId: id, containerName: req.containerName, aliases: req.aliases });
  }
  const base = {
    mode: 'bridge', containerId: id, containerName: req.containerName, network: net.name, connected: true, ifName: req.ifName,
    ...(req.aliases?.length ? { aliases: req.aliases } : {}),
  } as const;
  const owner = (cid: string): string => listEndpoints().find((e) => e.containerId === cid)?.containerName || cid.slice(0, 12);
  const { ip, prefixLength } = req.ip
    ? await reserveAddress(net.name, net.subnet, net.gateway, req.ip, id, { ifName: req.ifName, owner })
    : await allocate(net.name, net.subnet, net.gateway, id, { ifName: req.ifName });
  try {
    // Recorded before the host changes, so that pruneLeftovers finds what a crash leaves.
    writeEndpoint({ ...base, ip, prefixLength, ports: [], undo: [], state: 'reserved' });
    const mtu = (await p.uplink())?.mtu ?? 1500;
    const ipForward = (await p.readSysctl('net.ipv4.ip_forward')) === '1';
    const title = `connect container ${req.containerName} (${short(id)}) to network "${net.name}": ${req.ifName} ${ip}/${prefixLength} on bridge ${net.bridge}`;
    const go = async (state: HostState): Promise<Step[]> => {
      const steps = planConnect({
        containerId: id, containerName: req.containerName, network: net, store, netns: req.netnsName, ifName: req.ifName,
        ip, prefixLength, mtu, state, primaryNetwork: req.primaryNetwork,
      });
      return (await applyPlan(steps, { explain: o.explain, title, what: 'network connect' })).applied;
    };
    let applied: Step[];
    if (await isUp(net, store)) applied = await go({ networkUp: true, ipForward });
    else {
      // The first user sets the network up; hold the lock so a concurrent run/connect waits.
      applied = await withLock('network-setup', () => withHostLock('chains', async () => {
        if (await isUp(net, store)) return go({ networkUp: true, ipForward });
        await checkNetworkFree(net, store);
        const steps = await go({ networkUp: false, bridgeExists: await p.linkExists(net.bridge), iptablesSave: await p.iptablesSave(), ipForward });
        markUp(net.name);
        return steps;
      }));
    }
    const att: BridgeAttachment = {
      ...base,
      netnsName: req.netnsName,
      netnsPath: req.netnsPath,
      bridge: net.bridge,
      veth: host,
      ip,
      prefixLength,
      gateway: net.gateway,
      mac: macFor(ip),
      ports: [],
      ...ownUndo(applied),
    };
    writeEndpoint({ ...att, containerId: id, containerName: req.containerName, network: net.name, state: 'attached' });
    // The network's services (services.ts; dns: its names for the network's other containers,
    // the network's names for it).
    const services = await servicesOf(net);
    if (services.length) {
      try {
        for (const s of services) await s.connected(net, { ...att, containerId: id, containerName: req.containerName }, o);
      } catch (e) {
        await disconnect(att).catch(() => {});
        throw e;
      }
    }
    return att;
  } catch (e) {
    await release(net.name, id).catch(() => {});
    removeEndpoint(id, net.name);
    throw e;
  }
}

/**
 * Disconnect what connect() added: its undo commands (the veth pair: ethN, its address and its
 * route go with it), then its address and endpoint. Idempotent and tolerant, like detach().
 */
export async function disconnect(att: BridgeAttachment, o: { explain?: (line: string) => void } = {}): Promise<void> {
  if (!att.connected) fail(`internal: disconnect() is for attachments added by network connect (use detach())`);
  const steps = planDetach(att);
  if (steps.length) {
    const who = `container ${att.containerName ?? '?'}${att.containerId ? ` (${short(att.containerId)})` : ''}`;
    await applyPlan(steps, { explain: o.explain, tolerant: true, title: `disconnect ${who} from network "${att.network}": remove ${att.ifName ?? 'its interface'} (${att.ip})` });
  }
  if (att.containerId && att.network) {
    await release(att.network, att.containerId);
    removeEndpoint(att.containerId, att.network);
    const net = records().find((r) => r.name === att.network);
    if (net) for (const s of await servicesOf(net)) await s.left(net, att, { ...o, disconnected: true });
  }
}
