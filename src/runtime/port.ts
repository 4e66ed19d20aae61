// `minid port CONTAINER [PRIVATE_PORT[/PROTO]]`, as docker prints it: without a port, every
// published port as "80/tcp -> 0.0.0.0:8080"; with one, only the host addresses it is
// published on ("0.0.0.0:8080"), or docker's error when it is not published.
import { fail } from '../errors.js';
import type { PortBinding } from '../network/index.js';

/** Parse "80", "80/tcp", "53/udp" (docker's PRIVATE_PORT[/PROTO]; tcp when left out). */
export function parsePrivatePort(spec: string): { port: number; proto: string } {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(spec);
  const port = m ? Number(m[1]) : NaN;
  if (!m || port < 1 || port > 65535) fail(`invalid port "${spec}": give PRIVATE_PORT[/PROTO], e.g. 80 or 53/udp`, 1);
  return { port, proto: m[2] ?? 'tcp' };
}

/** The lines `port` prints for a container's bindings (name: for the error). */
export function portLines(name: string, ports: PortBinding[], spec?: string): string[] {
  const addr = (p: PortBinding) => `${p.hostIp || '0.0.0.0'}:${p.hostPort}`;
  if (spec === undefined) return ports.map((p) => `${p.containerPort}/${p.protocol} -> ${addr(p)}`);
  const { port, proto } = parsePrivatePort(spec);
  const hits = ports.filter((p) => p.containerPort === port && p.protocol === proto);
  // docker: "Error: No public port '81/tcp' published for web", exit 1.
  if (!hits.length) fail(`no public port '${port}/${proto}' published for ${name} (see \`minid port ${name}\`)`, 1);
  return hits.map(addr);
}
