// Where the runtime meets the network layer: which namespace the container gets, what the
// network layer sets up for it, and the /etc files (hostname, hosts, resolv.conf) it sees.
import fs from 'node:fs';
import { fail } from '../errors.js';
import type { ContainerConfig } from './state.js';
import { findContainer } from './state.js';

export interface NetSetup {
  attachment?: any;
  /** unshare --net: a fresh namespace with only loopback. */
  newNet: boolean;
  /** nsenter --net=PATH: join a namespace the network layer (or another container) prepared. */
  joinNetns?: string;
  etcFiles: Record<string, string>;
}

function hostResolvConf(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

export async function attachNetwork(c: ContainerConfig, explain?: (l: string) => void): Promise<NetSetup> {
  const n = c.net;
  const net = await import('../network/index.js');
  const files = (ip?: string): Record<string, string> => ({
    hostname: `${c.hostname}\n`,
    hosts: net.renderHosts({ hostname: c.hostname, ip, addHosts: n.addHosts }),
    'resolv.conf': net.renderResolvConf(hostResolvConf(), { dns: n.dns, dnsSearch: n.dnsSearch }),
  });
  if (n.mode === 'host') {
    let hosts = '';
    try {
      hosts = fs.readFileSync('/etc/hosts', 'utf8');
    } catch {
      /* none */
    }
    return { newNet: false, etcFiles: { hostname: `${c.hostname}\n`, hosts, 'resolv.conf': hostResolvConf() } };
  }
  if (n.mode.startsWith('container:')) {
    const other = findContainer(n.mode.slice('container:'.length));
    if (other.status !== 'running' || !other.pid)
      fail(`cannot join the network of container ${other.config.name}: it is not running`);
    const f = files();
    try {
      f.hosts = fs.readFileSync(`/proc/${other.pid}/root/etc/hosts`, 'utf8');
    } catch {
      /* keep ours */
    }
    return { newNet: false, joinNetns: `/proc/${other.pid}/ns/net`, etcFiles: f };
  }
  const attachment = await net.attach(
    {
      containerId: c.id,
      containerName: c.name,
      mode: n.mode === 'none' ? 'none' : 'bridge',
      network: n.mode === 'none' ? undefined : n.network ?? n.mode,
      ports: n.ports,
      publishAll: n.publishAll,
      exposedPorts: c.exposedPorts,
      hostname: c.hostname,
    },
    { explain },
  );
  return { attachment, newNet: false, joinNetns: attachment.netnsPath, etcFiles: files(attachment.ip) };
}

export async function detachNetwork(c: ContainerConfig, explain?: (l: string) => void): Promise<void> {
  if (!c.attachment) return;
  const net = await import('../network/index.js');
  await net.detach(c.attachment, { explain });
}

/** --dry-run: print the network steps a run would take, change nothing. */
export async function dryRun(req: { net: { mode: string; network?: string; ports: string[]; publishAll: boolean }; name?: string }, explain: (l: string) => void): Promise<void> {
  const n = req.net;
  if (n.mode === 'host' || n.mode.startsWith('container:')) {
    explain(`# --network ${n.mode}: no network steps (the container ${n.mode === 'host' ? "uses the host's namespace" : 'joins another namespace'})`);
    return;
  }
  const net = await import('../network/index.js');
  await net.attach(
    {
      containerId: '0'.repeat(64),
      containerName: req.name ?? 'dry-run',
      mode: n.mode === 'none' ? 'none' : 'bridge',
      network: n.mode === 'none' ? undefined : n.network ?? n.mode,
      ports: n.ports,
      publishAll: n.publishAll,
      exposedPorts: [],
    },
    { explain, dryRun: true },
  );
}
