// Network services: long-lived processes that belong to a network, not to one container.
// The first is dns/ (a dnsmasq per user network that answers the containers' names); a DHCP
// server or an overlay's peer agent would be the next.
//
// Where a service is...
//   started     by the network layer only, at the moments of NetworkService below (a container
//               joins or leaves, a network is removed, system prune); the runtime never starts
//               one, and the network layer never imports the runtime.
//   supervised  lazily, without a daemon: every event re-reads the service's record and starts
//               a process that died again (dns: syncDns with start, on the next container);
//               prune stops those whose network or container is gone.
//   recorded    by the service itself under MINID_RUN (dns: MINID_RUN/dns/NETWORK/, see
//               dns/server.ts): the PID and its start time, checked before any signal, so a
//               new minid process (or one after a crash) finds and stops what an old one
//               started. An attachment records only what it needs to undo (BridgeAttachment.dns).
//
// A service plugs in with one row of SERVICES; the bridge driver and connect.ts call the hooks
// through the functions at the bottom. Only bridge networks have services today.
import { hasDns } from './dns/records.js';
import type { AttachRequest, BridgeAttachment, NetworkRecord } from './types.js';
import type { Explain } from './drivers/types.js';

export interface NetworkService {
  /**
   * A container's endpoint on `net` is recorded as attached (run): serve it, starting the
   * service with the network's first container. Returns what goes into its attachment.
   */
  joined(net: NetworkRecord, att: BridgeAttachment & { containerId: string; containerName: string }, req: AttachRequest, o: { explain?: Explain }): Promise<Partial<BridgeAttachment>>;
  /** --dry-run: say what joined() would do. */
  dryRun(net: NetworkRecord, att: { containerId: string; containerName: string; ip: string }, req: AttachRequest, explain: (l: string) => void): Promise<void>;
  /** `network connect` added a running container to `net` (its endpoint is recorded). */
  connected(net: NetworkRecord, att: BridgeAttachment & { containerId: string; containerName: string }, o: { explain?: Explain }): Promise<void>;
  /** The container left `net`: detach (disconnected false) or `network disconnect` (true). */
  left(net: NetworkRecord, att: BridgeAttachment, o: { explain?: Explain; disconnected?: boolean }): Promise<void>;
  /** A container of `net` was renamed (its endpoint record has the new name already). */
  renamed(net: NetworkRecord, o: { explain?: Explain }): Promise<void>;
  /** `network rm`, `system reset`: stop the service of that network; one line per process stopped. */
  stop(network: string, o: { explain?: Explain }): Promise<string[]>;
  /** `system prune`: what runs for networks or containers that are gone; one line per removal. */
  prune(o: { record: (name: string) => NetworkRecord | null; stray: (id12: string) => boolean; explain?: Explain }): Promise<string[]>;
}

interface ServiceSlot {
  /** Does this network run the service? Cheap: decided without loading the service. */
  runsOn(net: NetworkRecord): boolean;
  /** The service's module, loaded only when a network runs it (a command loads what it uses). */
  load(): Promise<NetworkService>;
}

export const SERVICES: Record<string, ServiceSlot> = {
  dns: {
    runsOn: hasDns, // user networks (docker's default bridge has no names)
    load: async () => (await import('./dns/service.js')).dnsService,
  },
};

/** The services `net` runs, loaded. */
export async function servicesOf(net: NetworkRecord): Promise<NetworkService[]> {
  return Promise.all(Object.values(SERVICES).filter((s) => s.runsOn(net)).map((s) => s.load()));
}

/** Every service, loaded (network rm and prune: the network's record may be gone). */
export async function allServices(): Promise<NetworkService[]> {
  return Promise.all(Object.values(SERVICES).map((s) => s.load()));
}
