// Published ports: `-p [HOSTIP:][HOSTPORT:]CTRPORT[/tcp|/udp]`, ranges, `-P`.
// parsePortSpec() is pure; resolvePorts() picks random host ports and refuses ports that are
// already taken (by another container or by a host process) before anything is set up.
import { fail } from '../errors.js';
import { isIPv4 } from './cidr.js';
import { probe } from './host.js';
import type { PortBinding, Proto } from './types.js';

export interface PortSpec {
  raw: string;
  protocol: Proto;
  /** '0.0.0.0' when no address was given. */
  hostIp: string;
  /** null: a random free port. A range with a single container port: any free port of the range. */
  hostPorts: [number, number] | null;
  containerPorts: [number, number];
}

const USAGE = 'expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp], a range like 8000-8010:8000-8010, or CONTAINERPORT';

function parseRange(spec: string, s: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) fail(`invalid port spec "${spec}": ${what} "${s}" is not a port number or range`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  for (const p of [a, b]) if (p < 1 || p > 65535) fail(`invalid port spec "${spec}": port ${p} is out of range 1-65535`);
  if (a > b) fail(`invalid port spec "${spec}": range ${s} starts after it ends`);
  return [a, b];
}

/** Parse one -p value. Throws a one-line MinidError naming what is wrong. */
export function parsePortSpec(spec: string): PortSpec {
  const s = spec.trim();
  if (!s) fail(`invalid port spec "": ${USAGE}`);
  let body = s;
  let protocol: Proto = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    const p = s.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp') fail(`invalid port spec "${spec}": protocol "${p}" is not supported (use tcp or udp)`);
    protocol = p;
    body = s.slice(0, slash);
  }
  if (body.startsWith('[')) fail(`invalid port spec "${spec}": IPv6 host addresses are not supported`);
  const parts = body.split(':');
  let hostIp = '0.0.0.0';
  let hostPart: string | null;
  let ctrPart: string;
  if (parts.length === 1) [hostPart, ctrPart] = [null, parts[0]];
  else if (parts.length === 2) [hostPart, ctrPart] = [parts[0], parts[1]];
  else if (parts.length === 3) {
    if (!isIPv4(parts[0])) fail(`invalid port spec "${spec}": "${parts[0]}" is not an IPv4 address`);
    hostIp = parts[0];
    [hostPart, ctrPart] = [parts[1] === '' ? null : parts[1], parts[2]];
  } else fail(`invalid port spec "${spec}": ${USAGE}`);
  if (ctrPart === '') fail(`invalid port spec "${spec}": the container port is missing`);
  if (hostPart === '') fail(`invalid port spec "${spec}": the host port is empty (use ${hostIp === '0.0.0.0' ? '' : hostIp + '::'}CONTAINERPORT for a random one)`);
  const containerPorts = parseRange(spec, ctrPart, 'container port');
  const hostPorts = hostPart === null ? null : parseRange(spec, hostPart, 'host port');
  const ctrLen = containerPorts[1] - containerPorts[0] + 1;
  if (hostPorts) {
    const hostLen = hostPorts[1] - hostPorts[0] + 1;
    if (ctrLen > 1 && hostLen !== ctrLen) fail(`invalid port spec "${spec}": the host range has ${hostLen} ports but the container range has ${ctrLen}`);
  }
  // "8000-8010" alone: each container port gets its own random host port.
  return { raw: spec, protocol, hostIp, hostPorts, containerPorts };
}

/** An image's ExposedPorts key: '80/tcp', '53/udp', '8080'. */
export function parseExposedPort(key: string): { protocol: Proto; port: number } {
  const [p, protocol = 'tcp'] = key.split('/');
  if (protocol !== 'tcp' && protocol !== 'udp') fail(`unsupported exposed port "${key}": protocol must be tcp or udp`);
  const r = parseRange(key, p, 'exposed port');
  return { protocol, port: r[0] };
}

export const bindingText = (b: PortBinding): string => `${b.hostIp}:${b.hostPort}->${b.containerPort}/${b.protocol}`;

/** Who already holds a host port (another container's binding), or null. */
export type TakenLookup = (proto: Proto, hostIp: string, port: number) => string | null;

const overlapIp = (a: string, b: string): boolean => a === b || a === '0.0.0.0' || b === '0.0.0.0';

export interface ResolveOptions {
  publishAll?: boolean;
  exposedPorts?: string[];
  /** Ports published by other containers (minid's endpoint records). */
  taken: TakenLookup;
  /** Where random host ports come from (docker's default: 49153-65535). */
  randomRange?: [number, number];
  random?: () => number;
}

/**
 * Turn -p specs (and -P) into concrete bindings: one host port per container port. Random and
 * range ports are chosen here; every host port is checked against other containers and then
 * against the host (bind test). Nothing is set up yet: a conflict is a one-line error.
 */
export async function resolvePorts(specs: PortSpec[], o: ResolveOptions): Promise<PortBinding[]> {
  const out: PortBinding[] = [];
  const rnd = o.random ?? Math.random;
  const [lo, hi] = o.randomRange ?? [49153, 65535];

  const mine = (proto: Proto, ip: string, port: number): PortBinding | undefined =>
    out.find((b) => b.protocol === proto && b.hostPort === port && overlapIp(b.hostIp, ip));
  const holder = async (proto: Proto, ip: string, port: number): Promise<string | null> =>
    o.taken(proto, ip, port) ?? (await probe().portHolder(proto, ip, port));

  const pickFree = async (proto: Proto, ip: string, candidates: () => Iterable<number>, what: string): Promise<number> => {
    for (const port of candidates()) {
      if (mine(proto, ip, port)) continue;
      if ((await holder(proto, ip, port)) === null) return port;
    }
    fail(`no free host port for ${what}`);
  };
  const randomCandidates = function* (): Iterable<number> {
    for (let i = 0; i < 64; i++) yield lo + Math.floor(rnd() * (hi - lo + 1));
    for (let p = lo; p <= hi; p++) yield p;
  };

  for (const s of specs) {
    const n = s.containerPorts[1] - s.containerPorts[0] + 1;
    for (let i = 0; i < n; i++) {
      const containerPort = s.containerPorts[0] + i;
      let hostPort: number;
      if (s.hostPorts === null) {
        hostPort = await pickFree(s.protocol, s.hostIp, randomCandidates, `${containerPort}/${s.protocol}`);
      } else if (n === 1 && s.hostPorts[1] > s.hostPorts[0]) {
        const [a, b] = s.hostPorts;
        hostPort = await pickFree(
          s.protocol,
          s.hostIp,
          function* () {
            for (let p = a; p <= b; p++) yield p;
          },
          `"${s.raw}" in ${a}-${b}`,
        );
      } else {
        hostPort = s.hostPorts[0] + i;
        const dup = mine(s.protocol, s.hostIp, hostPort);
        if (dup) fail(`port ${hostPort}/${s.protocol} is published twice (${s.raw} and ${bindingText(dup)})`);
        const who = await holder(s.protocol, s.hostIp, hostPort);
        if (who) fail(`cannot publish ${s.hostIp === '0.0.0.0' ? '' : s.hostIp + ':'}${hostPort}/${s.protocol}: the port is already in use by ${who}`);
      }
      out.push({ protocol: s.protocol, hostIp: s.hostIp, hostPort, containerPort });
    }
  }

  if (o.publishAll) {
    for (const key of o.exposedPorts ?? []) {
      const e = parseExposedPort(key);
      if (out.some((b) => b.protocol === e.protocol && b.containerPort === e.port)) continue; // -p wins
      const hostPort = await pickFree(e.protocol, '0.0.0.0', randomCandidates, key);
      out.push({ protocol: e.protocol, hostIp: '0.0.0.0', hostPort, containerPort: e.port });
    }
  }
  return out;
}

/** A TakenLookup over other containers' bindings. */
export function takenBy(others: { name: string; id: string; ports: PortBinding[] }[]): TakenLookup {
  return (proto, ip, port) => {
    for (const o of others) {
      if (o.ports.some((b) => b.protocol === proto && b.hostPort === port && overlapIp(b.hostIp, ip))) {
        return `container ${o.name} (${o.id.slice(0, 12)})`;
      }
    }
    return null;
  };
}
