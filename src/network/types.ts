// Plain data shared by the network modules. Everything here is JSON-serializable: an
// Attachment is stored in the container's state, a NetworkRecord under paths.networks().

/** One external command: argv plus optional stdin. Printed with formatCommand(). */
export interface Cmd {
  argv: string[];
  input?: string;
  /** Its output goes into this file (`> FILE`). */
  to?: string;
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

/**
 * What the runtime asks for (`--network`, `--cni`), as the driver table (drivers/index.ts)
 * reads it: 'none', 'host', 'bridge' (the default network or a user network: `network`),
 * another container's namespace, or a CNI configuration list.
 */
export type AttachMode =
  | 'none'
  | 'host'
  | 'bridge'
  | { container: string /* netns path to join */ }
  | { cni: string /* configuration list name */; confDir?: string; path?: string };

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

// --- attachments: what a driver set up, one shape per driver ------------------------------
// Stored in the container's state (config.attachment, config.extraAttachments) and in the
// endpoint records, so old files must stay readable: `mode` is the discriminant (the driver's
// name), and drivers/index.ts fromStored() reads the shapes earlier minids wrote.

/** What every attachment carries: whose it is and how to undo it without asking anyone. */
interface AttachmentCommon {
  containerId?: string;
  containerName?: string;
  /** Published ports (bridge, cni); [] for the other drivers. */
  ports: PortBinding[];
  /** The undo commands of the applied steps, in apply order: teardown after a crash needs nothing else. */
  undo: Cmd[][];
  /** The names of those steps (same order), for `detach --explain`. */
  undoNames?: string[];
}

/** --network none: a namespace of its own with loopback only. */
export interface NoneAttachment extends AttachmentCommon {
  mode: 'none';
  netnsName: string;
  netnsPath: string;
}

/** --network host: the host's namespace; nothing was set up. */
export interface HostAttachment extends AttachmentCommon {
  mode: 'host';
}

/** --network container:NAME: that container's namespace; nothing was set up. */
export interface ContainerAttachment extends AttachmentCommon {
  mode: 'container';
  netnsPath: string;
}

/** The default network 'bridge' or a user network (`network create`): a veth on its bridge. */
export interface BridgeAttachment extends AttachmentCommon {
  mode: 'bridge';
  netnsName: string;
  netnsPath: string;
  network: string;
  bridge: string;
  /** Host end of the veth pair. */
  veth: string;
  /** The interface inside the container: eth0 (default), eth1, ... for `network connect`. */
  ifName?: string;
  /** Added by `minid network connect` (not the network the container was run with). */
  connected?: boolean;
  ip: string;
  prefixLength: number;
  gateway: string;
  mac: string;
  /** --network-alias names (user networks). */
  aliases?: string[];
  /** Where its DNS queries go on a user network (network/dns/index.ts: DnsAttachment). */
  dns?: { resolver: string; server: { address: string; port: number }; instance: string };
}

/** --cni NAME: a namespace like none's, then the plugins of configuration list NAME (ADD). */
export interface CniAttachment extends AttachmentCommon {
  mode: 'cni';
  netnsName: string;
  netnsPath: string;
  /** The configuration list's name. */
  network: string;
  ip?: string;
  gateway?: string;
  /** What DEL and CHECK need: the same list, capability args and folders as ADD had. */
  cni: { name: string; portMappings: import('../cni/spec.js').PortMapping[]; result: any; confDir?: string; path?: string };
}

export type Attachment = NoneAttachment | HostAttachment | ContainerAttachment | BridgeAttachment | CniAttachment;
/** A driver's name: the discriminant of Attachment. */
export type DriverName = Attachment['mode'];
