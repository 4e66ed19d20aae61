// The DNS server as a network service (services.ts): the hooks, mapped onto dns/index.ts.
import type { NetworkService } from '../services.js';
import { attachDns, detachDns, dryRunDns, pruneDns, refreshResolver, stopNetworkDns, syncDns, withNames } from './index.js';

export const dnsService: NetworkService = {
  joined: async (net, att, req, o) => ({ dns: await attachDns(net, att, req, o) }),
  dryRun: (net, att, req, explain) => dryRunDns(net, att, req, explain),
  async connected(net, att, o) {
    // Its names on the network, for the network's other containers; and the network's names for
    // it (its 127.0.0.11 now answers those of every network).
    await withNames(net, { containerId: att.containerId, containerName: att.containerName, aliases: att.aliases }, o);
    await refreshResolver(att.containerId, o);
  },
  async left(net, att, o) {
    if (!o.disconnected) return detachDns(net, att, o);
    await syncDns(net, o);
    if (att.containerId) await refreshResolver(att.containerId, o);
  },
  renamed: (net, o) => syncDns(net, o),
  stop: (network, o) => stopNetworkDns(network, o),
  prune: (o) => pruneDns(o),
};
