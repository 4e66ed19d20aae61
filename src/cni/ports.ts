// docker-style `-p` specs to CNI portMappings (the "portMappings" capability argument).
//   80:8080            hostPort 80 -> containerPort 8080, tcp, every host address
//   127.0.0.1:80:8080  only on 127.0.0.1
//   [::1]:80:8080/udp  IPv6 host address, udp
//   8000-8002:80-82    a range, expanded to one mapping per port
// CNI's portmap needs an explicit host port, so `-p 8080` and `-p 127.0.0.1::8080` are refused.
import { fail } from '../errors.js';
import type { PortMapping } from './spec.js';

function ports(s: string, spec: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) fail(`invalid port mapping "${spec}": ${what} "${s}" is not a port or a port range`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  for (const p of [a, b]) if (p < 1 || p > 65535) fail(`invalid port mapping "${spec}": ${what} ${p} is out of range (1-65535)`);
  if (b < a) fail(`invalid port mapping "${spec}": ${what} range ${s} is reversed`);
  return [a, b];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export function parsePortMapping(spec: string): PortMapping[] {
  const s = spec.trim();
  let rest = s;
  let protocol: PortMapping['protocol'] = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp' && p !== 'sctp') fail(`invalid port mapping "${spec}": unknown protocol "${p}" (tcp, udp or sctp)`);
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIP: string | undefined;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0 || rest[end + 1] !== ':') fail(`invalid port mapping "${spec}": expected [IPv6]:hostPort:containerPort`);
    hostIP = rest.slice(1, end);
    if (!/^[0-9a-fA-F:.]+$/.test(hostIP) || !hostIP.includes(':')) fail(`invalid port mapping "${spec}": "${hostIP}" is not an IPv6 address`);
    rest = rest.slice(end + 2);
  }
  const parts = rest.split(':');
  let hostPart: string;
  let contPart: string;
  if (hostIP !== undefined) {
    if (parts.length !== 2) fail(`invalid port mapping "${spec}": expected [IPv6]:hostPort:containerPort`);
    [hostPart, contPart] = parts;
  } else if (parts.length === 1) {
    fail(`invalid port mapping "${spec}": CNI port mappings need a host port (write -p HOSTPORT:${parts[0]})`);
  } else if (parts.length === 2) {
    [hostPart, contPart] = parts;
  } else if (parts.length === 3) {
    hostIP = parts[0];
    [, hostPart, contPart] = parts;
    if (!IPV4.test(hostIP)) fail(`invalid port mapping "${spec}": "${hostIP}" is not an IPv4 address`);
  } else {
    fail(`invalid port mapping "${spec}": expected [hostIP:]hostPort:containerPort[/protocol]`);
  }
  if (hostPart === '') fail(`invalid port mapping "${spec}": CNI port mappings need a host port (write -p ${hostIP ? hostIP + ':' : ''}HOSTPORT:${contPart})`);
  const [h0, h1] = ports(hostPart, spec, 'host port');
  const [c0, c1] = ports(contPart, spec, 'container port');
  if (h1 - h0 !== c1 - c0)
    fail(`invalid port mapping "${spec}": the host range ${hostPart} and the container range ${contPart} have different sizes`);
  const out: PortMapping[] = [];
  for (let i = 0; i <= h1 - h0; i++) {
    const m: PortMapping = { hostPort: h0 + i, containerPort: c0 + i, protocol };
    if (hostIP !== undefined && hostIP !== '' && hostIP !== '0.0.0.0' && hostIP !== '::') m.hostIP = hostIP;
    out.push(m);
  }
  return out;
}

/** Convert docker `-p` specs to CNI portMappings; duplicates (same host IP, port, protocol) are refused. */
export function parsePortMappings(specs: string[]): PortMapping[] {
  const out: PortMapping[] = [];
  const seen = new Map<string, string>();
  for (const spec of specs) {
    for (const m of parsePortMapping(spec)) {
      const key = `${m.hostIP ?? '*'}|${m.hostPort}|${m.protocol}`;
      const clash = seen.get(key) ?? seen.get(`*|${m.hostPort}|${m.protocol}`) ?? (m.hostIP ? undefined : [...seen.entries()].find(([k]) => k.endsWith(`|${m.hostPort}|${m.protocol}`))?.[1]);
      if (clash) fail(`port mappings "${clash}" and "${spec}" both publish host port ${m.hostPort}/${m.protocol}`);
      seen.set(key, spec);
      out.push(m);
    }
  }
  return out;
}
