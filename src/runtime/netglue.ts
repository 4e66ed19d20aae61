// Where the runtime meets the network layer (network/index.ts, and nothing else of it): which
// namespace the container gets, what the network layer sets up for it (its driver: none, host,
// container, bridge, cni), and the /etc files (hostname, hosts, resolv.conf) it sees.
import fs from 'node:fs';
import { fail } from '../errors.js';
import type { AttachMode, Attachment } from '../network/index.js';
import type { ContainerConfig } from './state.js';
import { findContainer } from './state.js';

export interface NetSetup {
  attachment?: Attachment;
  /** unshare --net: a fresh namespace with only loopback (not used by the built-in modes). */
  newNet: boolean;
  /** The namespace prepared by the network layer or another container: minid-init --netns joins it. */
  joinNetns?: string;
  etcFiles: Record<string, string>;
}

/** --network / --cni as the network layer asks for them (container:NAME is resolved by attachNetwork). */
const attachMode = (n: { mode: string; cni?: { confDir?: string; path?: string } }): AttachMode =>
  n.mode.startsWith('cni:') ? { cni: n.mode.slice('cni:'.length), confDir: n.cni?.confDir, path: n.cni?.path } : n.mode === 'none' || n.mode === 'host' ? n.mode : 'bridge';

export async function attachNetwork(c: ContainerConfig, explain?: (l: string) => void): Promise<NetSetup> {
  const n = c.net;
  const net = await import('../network/index.js');
  let mode = attachMode(n);
  let otherHosts: string | undefined;
  let otherResolv: string | undefined;
  if (n.mode.startsWith('container:')) {
    const other = findContainer(n.mode.slice('container:'.length));
    if (other.status !== 'running' || !other.pid) fail(`cannot join the network of container ${other.config.name}: it is not running (start it first)`);
    const theirs = other.config.attachment;
    mode = { container: (theirs && 'netnsPath' in theirs ? theirs.netnsPath : undefined) ?? `/proc/${other.pid}/ns/net` };
    try {
      otherHosts = fs.readFileSync(`/proc/${other.pid}/root/etc/hosts`, 'utf8');
    } catch {
      /* ours then */
    }
    // Its namespace's 127.0.0.11 leads to its network's DNS server (network/dns/): its
    // resolv.conf is right here too, as docker shares it.
    if (theirs?.mode === 'bridge' && theirs.dns) {
      try {
        otherResolv = fs.readFileSync(`/proc/${other.pid}/root/etc/resolv.conf`, 'utf8');
      } catch {
        /* ours then */
      }
    }
  }
  const attachment = await net.attach(
    {
      containerId: c.id,
      containerName: c.name,
      mode,
      network: mode === 'bridge' ? n.network ?? 'bridge' : undefined,
      ports: n.ports,
      publishAll: n.publishAll,
      exposedPorts: c.exposedPorts,
      hostname: c.hostname,
      aliases: n.aliases,
      dns: n.dns,
    },
    { explain },
  );
  let files: Awaited<ReturnType<typeof net.containerNetFiles>>;
  try {
    files = await net.containerNetFiles({
      hostname: c.hostname,
      attachment,
      addHosts: n.addHosts,
      aliases: [c.name],
      dns: n.dns.length ? n.dns : undefined,
      dnsSearch: n.dnsSearch.length ? n.dnsSearch : undefined,
      dnsOptions: n.dnsOptions?.length ? n.dnsOptions : undefined,
      explain,
    });
  } catch (e) {
    // The caller has not recorded the attachment yet, so its undo would find nothing: undo it
    // here, or the namespace, veth, address and rules stay until `system prune`.
    await detachNetwork({ ...c, attachment }, explain).catch(() => {});
    throw e;
  }
  if (otherHosts !== undefined) files.hosts = otherHosts;
  if (otherResolv !== undefined) files['resolv.conf'] = otherResolv;
  const netnsPath = 'netnsPath' in attachment ? attachment.netnsPath : undefined;
  return { attachment, newNet: false, joinNetns: netnsPath, etcFiles: files };
}

export async function detachNetwork(c: ContainerConfig, explain?: (l: string) => void): Promise<void> {
  if (!c.attachment) return;
  const net = await import('../network/index.js');
  // As stored, maybe by an earlier minid: the container's --cni folders complete an old cni attachment.
  await net.detach(net.fromStored(c.attachment, { cni: c.net.cni }), { explain, containerName: c.name });
}

/**
 * `network check`: is each of the container's attachments (its network, then those of `network
 * connect`) still in place? Its driver says: [] when it is, else one line per problem (CNI:
 * the plugins' CHECK, which throws when it fails). null: the container is not attached.
 */
export async function checkNetwork(c: ContainerConfig): Promise<{ what: string; problems: string[] }[] | null> {
  if (!c.attachment) return null;
  const net = await import('../network/index.js');
  const out: { what: string; problems: string[] }[] = [];
  for (const att of [net.fromStored(c.attachment, { cni: c.net.cni }), ...(c.extraAttachments ?? []).map((e) => net.fromStored(e))]) {
    const what = att.mode === 'cni' ? `CNI CHECK of "${att.cni.name}"` : `${att.mode} attachment${'network' in att && att.network ? ` to "${att.network}"` : ''}`;
    out.push({ what, problems: await net.check(att) });
  }
  return out;
}

/** --dry-run: print the network steps a run would take, change nothing. */
export async function dryRun(
  req: { net: { mode: string; network?: string; ports: string[]; publishAll: boolean; dns?: string[]; aliases?: string[] }; name?: string },
  explain: (l: string) => void,
): Promise<void> {
  const n = req.net;
  if (n.mode.startsWith('container:')) {
    explain(`# --network ${n.mode}: nothing to plan without running it`);
    return;
  }
  const net = await import('../network/index.js');
  await net.attach(
    {
      containerId: '0'.repeat(64),
      containerName: req.name ?? 'dry-run',
      mode: attachMode(n),
      network: n.mode === 'none' || n.mode === 'host' || n.mode.startsWith('cni:') ? undefined : n.network ?? n.mode,
      ports: n.ports,
      publishAll: n.publishAll,
      exposedPorts: [],
      aliases: n.aliases,
      dns: n.dns?.length ? n.dns : undefined,
    },
    { explain, dryRun: true },
  );
}
