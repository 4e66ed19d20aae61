// `minid why TARGET --from WHERE`: the checks (checks.ts) on one packet's path, bottom-up,
// each ✓ or ✗ with the fix. Pure: a Snapshot and a parsed target in, a report out. It never
// repairs anything: it prints the commands, the reader types them.
import { MinidError } from '../errors.js';
import { appCheck, endpointChecks, hostChecks, leftoverChecks, networkChecks, portChecks, ORDER, type Check, type Path } from './checks.js';
import type { PortBinding } from '../network/types.js';
import type { CniRecord, EndpointRecord, Snapshot } from './snapshot.js';
import { asEndpoint, cniChecks, cniLabel, hostSide, primaryIp, rulesNote } from './cni.js';

export interface WhyTarget {
  container: string;
  port?: number;
  proto: 'tcp' | 'udp';
}

export type From = { kind: 'host' } | { kind: 'localhost' } | { kind: 'container'; name: string };

/** "web", "web:80", "web:53/udp". */
export function parseTarget(text: string): WhyTarget {
  const m = /^([^:/\s]+)(?::(\d+)(?:\/(tcp|udp))?)?$/.exec(text);
  if (!m) throw new MinidError(`invalid target "${text}": give CONTAINER or CONTAINER:PORT (e.g. web:80 or dns:53/udp)`, 1);
  const t: WhyTarget = { container: m[1], proto: (m[3] as 'tcp' | 'udp') ?? 'tcp' };
  if (m[2]) t.port = Number(m[2]);
  return t;
}

export function parseFrom(text: string | undefined): From {
  if (!text || text === 'host') return { kind: 'host' };
  if (text === '127.0.0.1' || text === 'localhost') return { kind: 'localhost' };
  const m = /^container:(.+)$/.exec(text);
  if (m) return { kind: 'container', name: m[1] };
  throw new MinidError(`invalid --from "${text}": give host, 127.0.0.1 or container:NAME`, 1);
}

export interface WhyReport {
  target: string;
  from: string;
  /** The path the packet takes, in words. */
  path: string;
  pathKind: Path;
  checks: Check[];
  /** The first ✗ that stops packets: the cause. */
  cause: Check | null;
  /** What other paths need and this one does not (check ids, shortened). */
  notOnPath: string[];
  /** What minid does not check on this path, and who does (a CNI container: its plugins' rules). */
  notes?: string[];
}

const findEp = (s: Snapshot, ref: string): EndpointRecord | undefined => {
  const c = s.records.containers.find((x) => x.name === ref || x.id === ref) ?? s.records.containers.find((x) => ref.length >= 3 && x.id.startsWith(ref));
  if (!c) return undefined;
  return s.records.endpoints.find((e) => e.containerId === c.id && e.ifName === 'eth0') ?? s.records.endpoints.find((e) => e.containerId === c.id);
};

export function why(s: Snapshot, target: WhyTarget, from: From): WhyReport {
  const c = s.records.containers.find((x) => x.name === target.container || x.id === target.container || (target.container.length >= 3 && x.id.startsWith(target.container)));
  if (!c) throw new MinidError(`no such container: ${target.container} (minid ps -a lists them)`, 1);
  const ep = findEp(s, target.container);
  const cni = (s.records.cni ?? []).find((r) => r.containerId === c.id);
  if (!ep && cni) return whyCni(s, cni, target, from);
  if (!ep) throw new MinidError(`container ${c.name} is not on a bridge network of minid nor a CNI network (--network none or host): there is no path to check`, 1);
  const net = s.records.networks.find((n) => n.name === ep.network);
  if (!net) throw new MinidError(`container ${c.name}'s network "${ep.network}" has no record: run \`minid system prune\``, 1);

  let kind: Path;
  let path: string;
  let source: EndpointRecord | undefined;
  if (from.kind === 'container') {
    source = findEp(s, from.name);
    if (!source) throw new MinidError(`no container ${from.name} on a minid bridge network (minid ps lists them; from a CNI container, its plugins' rules decide: this path is not checked)`, 1);
    if (source.containerId === ep.containerId) kind = 'hairpin';
    else if (source.network === ep.network) kind = 'neighbour';
    else kind = 'remote';
  } else kind = from.kind;
  // Which published port: the one this path can reach, when the container port is published twice.
  const reaches = (b: PortBinding): boolean => b.hostIp === '0.0.0.0' || (kind === 'localhost') === b.hostIp.startsWith('127.');
  const candidates = ep.ports.filter((b) => b.protocol === target.proto && (target.port === undefined || b.containerPort === target.port));
  const pool = candidates.length || target.port === undefined ? candidates : ep.ports.filter((b) => b.protocol === target.proto && b.hostPort === target.port);
  const binding: PortBinding | undefined = pool.find(reaches) ?? pool[0];
  const port = binding ? binding.containerPort : target.port;
  if (port === undefined) throw new MinidError(`container ${c.name} publishes no ${target.proto} port: name one (${c.name}:PORT)`, 1);
  const dflt = s.kernel.host.routes.find((r) => r.dst === 'default' && r.dev);
  const hostAddr = s.kernel.host.links.find((l) => l.name === dflt?.dev)?.addresses[0]?.split('/')[0] ?? 'a host address';
  const hostSide = binding ? `${binding.hostIp === '0.0.0.0' ? (kind === 'localhost' ? '127.0.0.1' : hostAddr) : binding.hostIp}:${binding.hostPort}` : '';
  switch (kind) {
    case 'host': path = `host -> ${hostSide} -> nat OUTPUT (DNAT) -> routing -> ${net.bridge} -> ${ep.veth} -> ${ep.ifName} ${ep.ip}:${port}`; break;
    case 'localhost': path = `host -> ${hostSide} -> nat OUTPUT (DNAT) -> routing (route_localnet) -> nat POSTROUTING (MASQUERADE) -> ${net.bridge} -> ${ep.ip}:${port}`; break;
    case 'hairpin': path = `${ep.containerName} -> ${ep.gateway} -> ${net.bridge} -> nat PREROUTING (DNAT) -> FORWARD -> POSTROUTING (MASQUERADE) -> back out ${ep.veth} (hairpin) -> ${ep.ip}:${port}`; break;
    case 'neighbour': path = `${source!.containerName} ${source!.ip} -> ${net.bridge} (switched, no NAT) -> ${ep.veth} -> ${ep.ip}:${port}`; break;
    default: path = `${source!.containerName} (network ${source!.network}) -> ${source!.gateway} -> nat PREROUTING (DNAT) -> FORWARD -> ${net.bridge} -> ${ep.ip}:${port}`;
  }

  // Checks of other paths are left out, but named: knowing what a path does not need teaches too.
  const offPath = new Set<string>();
  const relevant = (cs: Check[]): Check[] =>
    cs.filter((x) => {
      if (x.paths.includes(kind)) return true;
      if (x.paths.length) offPath.add(x.id.replace(/^(rule|host|bridge|veth\.host|container)\./, ''));
      return false;
    });
  const checks: Check[] = [];
  if (source && source.containerId !== ep.containerId) {
    const srcNet = s.records.networks.find((n) => n.name === source!.network);
    if (srcNet) checks.push(...relevant(endpointChecks(s, source, srcNet)).map((x) => ({ ...x, title: `[from] ${x.title}` })));
  }
  checks.push(...relevant(endpointChecks(s, ep, net)));
  checks.push(...relevant(networkChecks(s, net)));
  if (kind === 'remote' && source) {
    const srcNet = s.records.networks.find((n) => n.name === source!.network);
    if (srcNet) checks.push(...relevant(networkChecks(s, srcNet)).map((x) => ({ ...x, title: `[from] ${x.title}` })));
  }
  checks.push(...relevant(hostChecks(s, [net])));
  if (binding && kind !== 'neighbour') {
    checks.push(...relevant(portChecks(s, ep, net, binding)));
    // A port published on one address only does not answer the others.
    const reach = reaches(binding);
    checks.push({
      id: 'port.address', order: ORDER.dnat, subject: `port:${binding.hostIp}:${binding.hostPort}/${binding.protocol}`, paths: [kind],
      title: `the port is published on an address this path uses`, ok: reach,
      found: `published on ${binding.hostIp === '0.0.0.0' ? 'every host address' : binding.hostIp}`,
      ...(reach ? {} : { fix: `publish it where this client connects: minid rm -f ${ep.containerName}, then -p ${kind === 'localhost' ? '127.0.0.1:' : ''}${binding.hostPort}:${binding.containerPort}` }),
    });
  } else if (kind === 'neighbour') {
    checks.push(appCheck(s, ep, target.proto, port));
  } else {
    checks.push({
      id: 'port.published', order: ORDER.dnat, subject: `container:${ep.containerName}`, paths: [kind],
      title: `${port}/${target.proto} is published`, ok: false, found: `${ep.containerName} publishes ${ep.ports.map((b) => `${b.hostPort}->${b.containerPort}/${b.protocol}`).join(', ') || 'nothing'}`,
      fix: `run it again with -p HOSTPORT:${port}${target.proto === 'udp' ? '/udp' : ''} (or reach ${ep.ip}:${port} from a container of network ${net.name})`,
    });
    checks.push(appCheck(s, ep, target.proto, port));
  }
  checks.push(...leftoverChecks(s).filter((x) => x.paths.includes(kind)));
  return report(`${ep.containerName}:${port}/${target.proto}`, from, path, kind, checks, { notOnPath: [...offPath].sort() });
}

/**
 * A container of `minid run --cni`: the checks of what its plugins' result says (namespace,
 * interface, address, default route, the host-side links) and the app's socket. The packet's
 * way through iptables is the plugins' (portmap's DNAT, the bridge plugin's masquerading):
 * minid names it and leaves it to them (`minid network check` runs their CHECK).
 */
function whyCni(s: Snapshot, r: CniRecord, target: WhyTarget, from: From): WhyReport {
  const p = primaryIp(r);
  if (!p) throw new MinidError(`container ${r.containerName}'s CNI result (${cniLabel(r)}) gives it no IPv4 address: there is no path to check (minid network check ${r.containerName} asks the plugins)`, 1);
  const ep = asEndpoint(s, r);
  const side = hostSide(s, r);
  const binding = r.ports.find((b) => b.protocol === target.proto && (target.port === undefined || b.containerPort === target.port || b.hostPort === target.port));
  const port = binding ? binding.containerPort : target.port;
  if (port === undefined) throw new MinidError(`container ${r.containerName} publishes no ${target.proto} port: name one (${r.containerName}:PORT)`, 1);
  let source: EndpointRecord | undefined;
  let kind: Path = from.kind === 'container' ? 'remote' : from.kind;
  if (from.kind === 'container') {
    const sc = s.records.containers.find((x) => x.name === from.name || x.id === from.name || (from.name.length >= 3 && x.id.startsWith(from.name)));
    const scni = sc && (s.records.cni ?? []).find((x) => x.containerId === sc.id);
    source = sc && (findEp(s, from.name) ?? (scni ? asEndpoint(s, scni) : undefined));
    if (!source) throw new MinidError(`no container ${from.name} with a network of its own (minid ps lists them)`, 1);
    if (source.containerId === r.containerId) kind = 'hairpin';
    else if (scni && scni.network === r.network) kind = 'neighbour';
  }
  const via = [side.bridge, side.end].filter(Boolean).join(' -> ');
  const into = `${via ? `${via} -> ` : ''}${ep.ifName} ${p.ip}:${port}`;
  const rules = `the plugins' rules (${r.plugins.join(', ') || 'CNI'})`;
  let path: string;
  if (kind === 'localhost') path = binding ? `host -> 127.0.0.1:${binding.hostPort} -> ${rules}: DNAT -> ${into}` : `host -> 127.0.0.1 cannot reach ${r.containerName}: no published ${target.proto} port`;
  else if (kind === 'host') path = `host -> ${p.ip}:${port} (routed to the plugins' ${side.bridge ?? 'interface'}) -> ${into}`;
  else if (kind === 'neighbour') path = `${source!.containerName} ${source!.ip} -> ${side.bridge ?? 'the plugins\' link'} (same CNI network) -> ${into}`;
  else path = `${source!.containerName} -> ${source!.gateway || 'its gateway'} -> host routing -> ${rules} -> ${into}`;

  const checks: Check[] = [];
  if (source && source.containerId !== r.containerId) {
    const scni = (s.records.cni ?? []).find((x) => x.containerId === source!.containerId);
    const net = s.records.networks.find((n) => n.name === source!.network);
    const srcChecks = scni ? cniChecks(s, scni) : net ? endpointChecks(s, source, net) : [];
    checks.push(...srcChecks.filter((x) => x.paths.includes(kind)).map((x) => ({ ...x, title: `[from] ${x.title}` })));
  }
  checks.push(...cniChecks(s, r).filter((x) => x.paths.includes(kind)));
  if (kind === 'localhost' && !binding)
    checks.push({
      id: 'port.published', order: ORDER.dnat, subject: `container:${r.containerName}`, paths: [kind],
      title: `${port}/${target.proto} is published`, ok: false,
      found: `${r.containerName} publishes ${r.ports.map((b) => `${b.hostPort}->${b.containerPort}/${b.protocol}`).join(', ') || 'nothing'}`,
      fix: `run it again with -p HOSTPORT:${port}${target.proto === 'udp' ? '/udp' : ''} (the portmap plugin publishes it; or reach ${p.ip}:${port} from the host)`,
    });
  checks.push(appCheck(s, ep, target.proto, port));
  return report(`${r.containerName}:${port}/${target.proto}`, from, path, kind, checks, { notOnPath: [], notes: [`${r.containerName} is on ${cniLabel(r)}: ${rulesNote(r)}`] });
}

/** The report: the checks bottom-up, in the course's order (namespace, cable, address, route, bridge, forwarding, ...), and the first failure that matters. */
function report(target: string, from: From, path: WhyReport['path'], kind: WhyReport['pathKind'], checks: Check[], rest: Pick<WhyReport, 'notOnPath' | 'notes'>): WhyReport {
  const ordered = checks.map((x, i) => ({ x, i })).sort((a, b) => a.x.order - b.x.order || a.i - b.i).map((e) => e.x);
  return {
    target,
    from: from.kind === 'container' ? `container:${from.name}` : from.kind === 'localhost' ? '127.0.0.1' : 'host',
    path,
    pathKind: kind,
    checks: ordered,
    cause: ordered.find((x) => !x.ok && !x.harmless) ?? null,
    ...rest,
  };
}

export function renderWhy(r: WhyReport): string {
  const L: string[] = [];
  L.push(`why ${r.target} from ${r.from}?`);
  L.push(`path: ${r.path}`);
  L.push('');
  for (const c of r.checks) {
    const mark = c.ok ? '✓' : c.harmless ? '!' : '✗';
    L.push(`${mark} ${c.title}`);
    L.push(`    ${c.found}`);
    if (!c.ok && c.harmless) L.push(`    harmless here: ${c.harmless}`);
    if (!c.ok && c.fix) L.push(`    fix: ${c.fix}`);
  }
  if (r.notOnPath.length) L.push(`– not on this path: ${r.notOnPath.join(', ')}`);
  for (const n of r.notes ?? []) L.push(`– ${n}`);
  L.push('');
  const bad = r.checks.filter((c) => !c.ok && !c.harmless);
  if (!r.cause) L.push(`✓ every check on this path passes: ${r.target} should answer from ${r.from}${r.notes?.length ? " (the plugins' rules aside)" : ''}`);
  else L.push(`✗ ${bad.length} check${bad.length === 1 ? '' : 's'} failed; the lowest one first: ${r.cause.title}${r.cause.fix ? `\n  fix: ${r.cause.fix}` : ''}`);
  return L.join('\n') + '\n';
}
