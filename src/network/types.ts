// Plain data shared by the network modules. Everything here is JSON-serializable: an
// Attachment is stored in the container's state, a NetworkRecord under paths.networks().

/** One external command: argv plus optional stdin. Printed with formatCommand(). */
export interface Cmd {
  argv: string[];
  input?: string;
}

export type Proto = 'tcp' | 'udp';

/** A published port after resolution: one host port to one container port. */
export interface PortBinding {
  protocol: Proto;
  /** '0.0.0.0' = every IPv4 address of the host (and 127.0.0.1). */
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

export interface NetworkRecord {
  id: string;
  name: string;
  driver: 'bridge';
  /** The Linux bridge device (max 15 characters). */
  bridge: string;
  subnet: string;
  gateway: string;
  created: string;
  /** The default network 'bridge' (cannot be removed). */
  builtin?: boolean;
  /** --label at create. */
  labels?: Record<string, string>;
}

export type AttachMode = 'none' | 'host' | 'bridge' | { container: string /* netns path to join */ };

export interface AttachRequest {
  containerId: string;
  containerName: string;
  mode: AttachMode;
  /** Default 'bridge'. */
  network?: string;
  /** Raw -p specs. */
  ports: string[];
  publishAll?: boolean;
  /** Image ExposedPorts keys like '80/tcp'. */
  exposedPorts?: string[];
  hostname?: string;
  /** --network-alias: more names on a user network (network/dns/). */
  aliases?: string[];
  /** --dns: on a user network, the forwarders of the container's DNS server. */
  dns?: string[];
}

export interface Attachment {
  mode: string;
  containerId?: string;
  containerName?: string;
  netnsName?: string;
  netnsPath?: string;
  network?: string;
  bridge?: string;
  /** Host end of the veth pair. */
  veth?: string;
  /** The interface inside the container: eth0 (default), eth1, ... for `network connect`. */
  ifName?: string;
  /** Added by `minid network connect` (not the network the container was run with). */
  connected?: boolean;
  ip?: string;
  prefixLength?: number;
  gateway?: string;
  mac?: string;
  ports: PortBinding[];
  /** The undo commands of the applied steps, in apply order: teardown after a crash needs nothing else. */
  undo: Cmd[][];
  /** The names of those steps (same order), for `detach --explain`. */
  undoNames?: string[];
  /** --network-alias names (user networks). */
  aliases?: string[];
  /** Where its DNS queries go on a user network (network/dns/index.ts: DnsAttachment). */
  dns?: { resolver: string; server: { address: string; port: number }; instance: string };
}
