// A network as docker's `network inspect` shows it (docker 20.10's keys, in its order: see
// test/fixtures/docker/inspect-net.json). What is minid's own (its bridge's state, the DNS
// server of a user network) is under "Minid".
import crypto from 'node:crypto';
import { goMap } from '../template.js';
import type { NetworkInspect } from '../../network/networks.js';

export function dockerNetwork(j: NetworkInspect): Record<string, unknown> {
  const containers = goMap({} as Record<string, unknown>);
  for (const [id, c] of Object.entries(j.Containers)) {
    containers[id] = {
      Name: c.Name,
      EndpointID: crypto.createHash('sha256').update(['endpoint', id, j.Name].join('\0')).digest('hex'),
      MacAddress: c.MacAddress,
      IPv4Address: c.IPv4Address,
      IPv6Address: '',
    };
  }
  return {
    Name: j.Name,
    Id: j.Id,
    Created: j.Created,
    Scope: j.Scope,
    Driver: j.Driver,
    EnableIPv6: false,
    IPAM: { Driver: j.IPAM.Driver, Options: null, Config: j.IPAM.Config },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: goMap({ ...j.Options }),
    Labels: goMap({ ...(j.Labels ?? {}) }),
    Minid: { Up: j.Up, ...(j.DNS ? { DNS: j.DNS } : {}) },
  };
}

/**
 * docker's built-in networks `none` (driver null) and `host`: no subnet, no options; their
 * Containers are the running containers in that mode, with no address of their own.
 */
export function builtinNetwork(net: { name: string; id: string; driver: string; created: string }, containers: { id: string; name: string }[]): Record<string, unknown> {
  const members = goMap({} as Record<string, unknown>);
  for (const c of containers)
    members[c.id] = {
      Name: c.name,
      EndpointID: crypto.createHash('sha256').update(['endpoint', c.id, net.name].join('\0')).digest('hex'),
      MacAddress: '',
      IPv4Address: '',
      IPv6Address: '',
    };
  return {
    Name: net.name,
    Id: net.id,
    Created: net.created,
    Scope: 'local',
    Driver: net.driver,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: members,
    Options: goMap({}),
    Labels: goMap({}),
  };
}
