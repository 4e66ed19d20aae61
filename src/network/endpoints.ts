// Endpoints: minid's own record of every container connected to a bridge network (the
// attachment, with its published ports). It is the "ports table" that refuses a host port
// another container already publishes, and what `network inspect` and the diagram show.
// Files: paths.networks()/endpoints/<containerId>.json (the network the container was run with)
// and <containerId>@<network>.json (one per network added by `minid network connect`).
import fs from 'node:fs';
import path from 'node:path';
import { readJson, writeJsonAtomic } from '../sys/jsonfile.js';
import { paths } from '../sys/paths.js';
import type { BridgeAttachment, Cmd, PortBinding } from './types.js';

/**
 * A bridge attachment (the bridge driver, `network connect`) or a none one (the none and cni
 * drivers' namespace), with whose it is; the bridge fields are absent while 'reserved' and
 * for none.
 */
export interface Endpoint extends Partial<Omit<BridgeAttachment, 'mode'>> {
  mode: 'bridge' | 'none';
  ports: PortBinding[];
  undo: Cmd[][];
  containerId: string;
  containerName: string;
  network: string;
  /** 'reserved' while attach is still setting it up. */
  state: 'reserved' | 'attached';
}

export const endpointsDir = (): string => path.join(paths.networks(), 'endpoints');
const file = (key: string): string => path.join(endpointsDir(), `${key}.json`);
/** The file key of an endpoint: the container id, plus @network for a connected one. */
export const endpointKey = (e: { containerId: string; network?: string; connected?: boolean }): string =>
  e.connected ? `${e.containerId}@${e.network}` : e.containerId;

export function listEndpoints(): Endpoint[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(endpointsDir());
  } catch {
    return [];
  }
  const out: Endpoint[] = [];
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    const e = readJson<Endpoint>(path.join(endpointsDir(), n));
    if (e !== null) out.push(e); // (null: a half-written file, ignored)
  }
  return out.sort((a, b) => (a.ip && b.ip ? a.ip.localeCompare(b.ip, undefined, { numeric: true }) : a.containerName.localeCompare(b.containerName)));
}

/** One container's primary endpoint (or the one `network connect` added to `network`). */
export function readEndpoint(containerId: string, connectedNetwork?: string): Endpoint | undefined {
  return readJson<Endpoint>(file(connectedNetwork ? `${containerId}@${connectedNetwork}` : containerId)) ?? undefined;
}

export function writeEndpoint(e: Endpoint): void {
  fs.mkdirSync(endpointsDir(), { recursive: true });
  writeJsonAtomic(file(endpointKey(e)), e);
}

/** Remove the container's primary endpoint, or (connectedNetwork) the one `network connect` added. */
export function removeEndpoint(containerId: string, connectedNetwork?: string): boolean {
  try {
    fs.unlinkSync(file(connectedNetwork ? `${containerId}@${connectedNetwork}` : containerId));
    return true;
  } catch {
    return false;
  }
}
