// Bridge networks: the default network 'bridge' and every user network (`network create`).
// The container gets a namespace and a veth pair whose host end is on the network's bridge;
// the first container of a network also sets the network up (bridge, rules; plan.ts), and the
// network's services (services.ts: dns) learn about each container that joins or leaves.
// `network connect` (connect.ts) adds more bridge attachments to a running container.
import { fail } from '../../errors.js';
import { withLock, withHostLock } from '../../sys/lock.js';
import { debugMark } from '../../sys/exec.js';
import { storeRef } from '../../sys/store.js';
import { probe } from '../host.js';
import { allocate, release } from '../ipam.js';
import { listEndpoints, readEndpoint, removeEndpoint, writeEndpoint, type Endpoint } from '../endpoints.js';
import { CONTAINER_IF, macFor, netnsName, netnsPath, short, vethHost } from '../names.js';
import { checkNetworkFree, getNetwork, isUp, markUp, records } from '../networks.js';
import { parsePortSpec, resolvePorts, takenBy } from '../ports.js';
import { planBridgeAttach, planDetach, type HostState } from '../plan.js';
import { applyPlan, type Step } from '../step.js';
import { servicesOf } from '../services.js';
import type { AttachRequest, BridgeAttachment } from '../types.js';
import { netnsProblems, ownUndo, who } from './common.js';
import type { AttachOptions, NetworkDriver } from './types.js';

export const bridge: NetworkDriver<BridgeAttachment> = {
  name: 'bridge',
  attach: attachBridge,

  /**
   * Its own undo commands in reverse (rules, veth, namespace), then its address and endpoint,
   * then the network's services forget it.
   */
  async detach(att, o) {
    const steps = planDetach(att);
    if (steps.length) await applyPlan(steps, { explain: o.explain, tolerant: true, concurrent: true, title: `detach ${who(att)}${att.network ? ` from network "${att.network}"` : ''}` });
    if (att.containerId) {
      if (att.network) await release(att.network, att.containerId);
      removeEndpoint(att.containerId);
    }
    const net = att.network ? records().find((r) => r.name === att.network) : undefined;
    if (net) for (const s of await servicesOf(net)) await s.left(net, att, o);
  },

  describe: (att) => ({
    network: att.network,
    ifName: att.ifName ?? CONTAINER_IF,
    endpoint: { ip: att.ip, prefixLength: att.prefixLength, gateway: att.gateway, mac: att.mac, aliases: att.aliases },
    veth: att.veth ?? '',
    bridge: att.bridge ?? '',
    connected: !!att.connected,
    ports: att.ports,
  }),

  async check(att) {
    const problems = netnsProblems(att.netnsPath);
    if (att.veth && !(await probe().linkExists(att.veth))) problems.push(`its veth ${att.veth} is gone`);
    if (att.bridge && !(await probe().linkExists(att.bridge))) problems.push(`the bridge ${att.bridge} of network "${att.network}" is gone`);
    return problems;
  },
};

async function attachBridge(req: AttachRequest, o: AttachOptions): Promise<BridgeAttachment> {
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
  const reserve = async (): Promise<BridgeAttachment['ports']> => {
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
      const steps = planBridgeAttach({ containerId: id, containerName: req.containerName, network: net, store, ip, prefixLength, mtu, ports, state });
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
      applied = await withLock('network-setup', () => withHostLock('chains', async () => {
        if (await isUp(net, store)) return go({ networkUp: true, ipForward });
        await checkNetworkFree(net, store);
        const steps = await go(await stateWhenDown());
        markUp(net.name);
        return steps;
      }));
    }

    const att: BridgeAttachment = {
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
      ...ownUndo(applied),
      ...(req.aliases?.length ? { aliases: req.aliases } : {}),
    };
    const record = (): void => writeEndpoint({ ...att, containerId: id, containerName: req.containerName, network: net.name, state: 'attached' });
    if (!dry) record();
    // The network's services (dns: names on user networks) serve it before its command starts.
    const services = await servicesOf(net);
    const me = { ...att, containerId: id, containerName: req.containerName, ip };
    if (dry && o.explain) for (const s of services) await s.dryRun(net, me, req, o.explain);
    if (!dry && services.length) {
      try {
        for (const s of services) Object.assign(att, await s.joined(net, me, req, o));
      } catch (e) {
        await bridge.detach(att, {}).catch(() => {});
        throw e;
      }
      record();
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
