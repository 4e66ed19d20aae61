// `minid network connect NETWORK CONTAINER` / `network disconnect NETWORK CONTAINER` for running
// containers: the checks (one clear line each, nothing changed when refused), the container's
// record (config.extraAttachments, next to config.attachment, the network it was run with) and
// its /etc/hosts. The kernel work is the network layer's connect()/disconnect().
//
// Rules (docker's, kept simple):
//   - only running containers whose primary network is a bridge network (the default 'bridge' or
//     a user-defined one) can be connected; --network host/none/container:X and --cni are refused;
//   - the network must be a bridge network the container is not on yet; --ip must be a free host
//     address of its subnet;
//   - disconnect removes a network added by connect. The network the container was run with
//     cannot be disconnected (its eth0 and default route live as long as the container; stop or
//     remove the container instead), not even with -f;
//   - disconnect -f also succeeds when there is nothing to do (not connected, not running), and
//     removes the endpoints a container that no longer exists left on the network.
// Container end (releaseContainer) releases every extra attachment before the primary one.
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { paths } from '../sys/paths.js';
import { withLock } from '../sys/lock.js';
import type { BridgeAttachment } from '../network/index.js';
import { findContainer, listStates, loadState, saveConfig, type ContainerConfig, type ContainerState } from './state.js';

type Explain = ((line: string) => void) | undefined;

const PSEUDO = new Set(['host', 'none', 'null']);

/** Why this container cannot get another network, or null. */
export function connectRefusal(s: ContainerState): string | null {
  const c = s.config;
  const mode = c.net.mode;
  if (mode === 'host') return `container ${c.name} uses --network host: it shares the host's network namespace and has none of its own to connect`;
  if (mode === 'none') return `container ${c.name} uses --network none: a container without networking cannot be connected to a network (docker refuses this too)`;
  if (mode.startsWith('container:'))
    return `container ${c.name} uses --network ${mode}: it shares that container's network namespace; connect ${mode.slice('container:'.length)} instead`;
  if (mode.startsWith('cni:') || c.attachment?.mode === 'cni')
    return `container ${c.name} is attached with --cni ${mode.slice('cni:'.length)}: network connect handles minid's bridge networks only`;
  if (s.status !== 'running') return `container ${c.name} is not running: only running containers can be connected (run a new one with --network NETWORK)`;
  const att = c.attachment;
  if (!att || att.mode !== 'bridge' || !att.netnsName || !att.netnsPath) return `container ${c.name} has no bridge network attachment to add an interface next to`;
  return null;
}

/** eth1, eth2, ...: the lowest one no extra attachment uses. */
export function nextIfName(extras: BridgeAttachment[]): string {
  const used = new Set(extras.map((a) => a.ifName));
  for (let i = 1; ; i++) if (!used.has(`eth${i}`)) return `eth${i}`;
}

// --- /etc/hosts -------------------------------------------------------------------------

const hostsFile = (c: ContainerConfig): string => path.join(paths.container(c.id), 'hosts');
const hostsLine = (c: ContainerConfig, ip: string): string => `${ip}\t${[c.hostname, c.name].filter((n, i, a) => n && a.indexOf(n) === i).join(' ')}`;

/**
 * Add or remove the container's own line for a connected address, like docker. The file is
 * bind-mounted into the container: it is rewritten in place (same inode), never replaced.
 */
function editHosts(c: ContainerConfig, ip: string, add: boolean): void {
  const f = hostsFile(c);
  let text: string;
  try {
    text = fs.readFileSync(f, 'utf8');
  } catch {
    return; // no file of ours (e.g. --network container:X uses the other container's)
  }
  const line = hostsLine(c, ip);
  const lines = text.split('\n').filter((l, i, a) => !(i === a.length - 1 && l === ''));
  const next = add ? (lines.includes(line) ? lines : [...lines, line]) : lines.filter((l) => l !== line);
  if (next.length === lines.length && next.every((l, i) => l === lines[i])) return;
  fs.writeFileSync(f, next.join('\n') + '\n');
}

// --- connect / disconnect -----------------------------------------------------------------

export async function connectContainer(networkRef: string, containerRef: string, o: { ip?: string; aliases?: string[]; explain?: Explain } = {}): Promise<BridgeAttachment> {
  const found = findContainer(containerRef);
  if (PSEUDO.has(networkRef))
    fail(`cannot connect container ${found.config.name} to network ${networkRef}: only bridge networks can be connected (${networkRef} is chosen with \`minid run --network ${networkRef === 'null' ? 'none' : networkRef}\`)`);
  const net = await import('../network/index.js');
  const record = await net.getNetwork(networkRef);
  const id = found.config.id;
  return withLock(`container-${id}`, async () => {
    // Again under the lock: the container may have ended (and been released) meanwhile.
    const s = loadState(id);
    if (!s) fail(`no such container: ${containerRef} (see \`minid ps -a\`)`);
    const why = connectRefusal(s);
    if (why) fail(why);
    const c = s.config;
    const primary = c.attachment as BridgeAttachment; // connectRefusal: a bridge attachment
    const extras: BridgeAttachment[] = c.extraAttachments ?? [];
    if (primary.network === record.name || extras.some((a) => a.network === record.name)) fail(`container ${c.name} is already connected to network ${record.name}`);
    const att = await net.connect(
      {
        containerId: id,
        containerName: c.name,
        network: record.name,
        netnsName: primary.netnsName,
        netnsPath: primary.netnsPath,
        ifName: nextIfName(extras),
        ip: o.ip,
        primaryNetwork: primary.network,
        aliases: o.aliases,
      },
      { explain: o.explain },
    );
    c.extraAttachments = [...extras, att];
    saveConfig(c);
    editHosts(c, att.ip!, true);
    (await import('./events.js')).recordEvent('network', 'connect', record.id, { container: id, name: record.name, type: record.driver });
    return att;
  });
}

export async function disconnectContainer(networkRef: string, containerRef: string, o: { force?: boolean; explain?: Explain } = {}): Promise<void> {
  const net = await import('../network/index.js');
  let found: ContainerState;
  try {
    found = findContainer(containerRef);
  } catch (e) {
    if (!o.force) throw e;
    // -f: the container is gone; remove whatever it left on the network.
    const record = await net.getNetwork(networkRef);
    if (!(await removeStaleEndpoints(record.name, containerRef, o.explain))) throw e;
    return;
  }
  if (PSEUDO.has(networkRef)) fail(`container ${found.config.name} cannot be disconnected from network ${networkRef}: only networks added by \`minid network connect\` can be`);
  const record = await net.getNetwork(networkRef);
  const id = found.config.id;
  await withLock(`container-${id}`, async () => {
    const s = loadState(id);
    if (!s) fail(`no such container: ${containerRef} (see \`minid ps -a\`)`);
    const c = s.config;
    const extras: BridgeAttachment[] = c.extraAttachments ?? [];
    const att = extras.find((a) => a.network === record.name);
    if (!att) {
      if (c.attachment?.mode === 'bridge' && c.attachment.network === record.name)
        fail(`container ${c.name} was run on network ${record.name}: its first network (eth0, the default route) stays until the container ends; stop or remove it instead`);
      if (o.force) return;
      fail(`container ${c.name} is not connected to network ${record.name}`);
    }
    await net.disconnect(att, { explain: o.explain });
    c.extraAttachments = extras.filter((a) => a !== att);
    if (!c.extraAttachments.length) delete c.extraAttachments;
    saveConfig(c);
    editHosts(c, att.ip!, false);
    (await import('./events.js')).recordEvent('network', 'disconnect', record.id, { container: id, name: record.name, type: record.driver });
  });
}

/** Release every network added by connect (container end: releaseContainer holds the container's lock). */
export async function releaseExtraAttachments(c: ContainerConfig, explain?: Explain): Promise<void> {
  const extras: BridgeAttachment[] = c.extraAttachments ?? [];
  if (!extras.length) return;
  const net = await import('../network/index.js');
  for (const att of [...extras].reverse()) {
    await net.disconnect(att, { explain });
    c.extraAttachments = (c.extraAttachments ?? []).filter((a) => a !== att);
    saveConfig(c);
  }
  delete c.extraAttachments;
}

/** disconnect -f of a container that no longer exists: its endpoints and addresses on the network. */
async function removeStaleEndpoints(network: string, ref: string, explain: Explain): Promise<boolean> {
  const net = await import('../network/index.js');
  const known = new Set(listStates().map((s) => s.config.id));
  const matches = (id: string, name: string): boolean => !known.has(id) && (name === ref || (/^[0-9a-f]{3,}$/.test(ref) && id.startsWith(ref)));
  const stale = net.listEndpoints().filter((e) => e.network === network && matches(e.containerId, e.containerName));
  for (const e of stale) {
    if (e.connected) await net.disconnect(e as BridgeAttachment, { explain });
    else await net.detach(net.fromStored(e), { explain });
  }
  const { reservations, release } = net;
  const ids = new Set(reservations(network).map((r) => r.containerId).filter((id) => id && matches(id, '')));
  for (const id of ids) await release(network, id);
  return stale.length + ids.size > 0;
}
