// The network drivers, one per mode, behind one interface (types.ts: attach, detach, describe,
// check). network/index.ts picks the driver here and knows nothing about any of them.
//
//   mode         chosen by                          gives the container
//   none         --network none                     a namespace with loopback only
//   host         --network host                     the host's namespace (nothing to set up)
//   container    --network container:NAME           another container's namespace
//   bridge       --network bridge|NET (default)     a veth on the network's bridge, rules, services
//   cni          --cni NAME                         a namespace, then the CNI plugins of list NAME
//
// A new driver (an overlay, say): a module with a NetworkDriver, its Attachment shape in
// types.ts (added to the union), one row below and one case in driverFor().
import { fail } from '../../errors.js';
import type { AttachMode, Attachment, DriverName } from '../types.js';
import { bridge } from './bridge.js';
import { cni } from './cni.js';
import { container } from './container.js';
import { host } from './host.js';
import { none } from './none.js';
import type { NetworkDriver } from './types.js';

export const DRIVERS: { [K in DriverName]: NetworkDriver<Extract<Attachment, { mode: K }>> } = { none, host, container, bridge, cni };

/** The driver for what the runtime asked for. */
export function driverFor(mode: AttachMode): NetworkDriver {
  const name: string = typeof mode === 'object' ? ('cni' in mode ? 'cni' : 'container') : mode;
  if (!(name in DRIVERS)) fail(`unknown network mode "${String(mode)}"`);
  return DRIVERS[name as DriverName] as NetworkDriver;
}

/** The driver that made an attachment (its `mode`). */
export function driverOf(att: Attachment): NetworkDriver {
  const d = DRIVERS[att.mode] as NetworkDriver | undefined;
  if (!d) fail(`unknown network mode "${String(att.mode)}" in a stored attachment: remove the container with a newer minid`);
  return d;
}

/**
 * An attachment as stored by this or an earlier minid (container state, endpoint records).
 * Earlier shapes:
 *   cni, until the drivers: { ..., cni: { name, portMappings, result }, base: <the none
 *   attachment> }, with the folders of --cni-conf-dir/--cni-path only in the container's
 *   settings (`hints.cni`, given by the runtime); the namespace's undo was copied to the top.
 */
export function fromStored(raw: unknown, hints: { cni?: { confDir?: string; path?: string } } = {}): Attachment {
  const a = { ...(raw as Record<string, any>) };
  a.ports ??= [];
  a.undo ??= [];
  if (a.mode === 'cni') {
    delete a.base;
    const c = { ...a.cni };
    if (c.confDir === undefined && hints.cni?.confDir) c.confDir = hints.cni.confDir;
    if (c.path === undefined && hints.cni?.path) c.path = hints.cni.path;
    a.cni = c;
  }
  return a as Attachment;
}
