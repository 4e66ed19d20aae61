// Containers attached by CNI plugins (`minid run --cni NAME`) in `minid topo` and `minid why`.
// minid did not make their links: the plugins of the configuration list did, and their result
// (kept in the result cache, cni/cache.ts, and in the container's state) says what they made:
// interfaces (with a sandbox: inside the container; without: on the host, like the bridge
// plugin's bridge and veth end), addresses and routes. So that result is the record the kernel
// is compared with here. The plugins' iptables rules (portmap's DNAT, the bridge plugin's
// ipMasq) are theirs too: minid does not judge them; `minid network check` asks the plugins
// (CNI CHECK). Pure: stored data or a Snapshot in, records, checks and views out.
import { toCurrent } from '../cni/spec.js';
import { ORDER, hostLink, netnsView, runningCheck, type Check, type Path } from './checks.js';
import type { PortBinding } from '../network/types.js';
import type { CniRecord, EndpointRecord, Link, Snapshot } from './snapshot.js';

const ALL: Path[] = ['host', 'localhost', 'hairpin', 'neighbour', 'remote'];

/** What the cni driver stored (CniAttachment, as fromStored reads it), as far as topo needs it. */
export interface StoredCni {
  containerId?: string;
  containerName?: string;
  netnsName: string;
  network?: string;
  ports: PortBinding[];
  cni: { name: string; result: unknown };
}

/** The plugin types of a configuration list (or single configuration), IPAM plugins after their owner. */
export function pluginTypes(confText: string | null | undefined): string[] {
  if (!confText) return [];
  try {
    const j = JSON.parse(confText);
    const list: { type?: string; ipam?: { type?: string } }[] = Array.isArray(j?.plugins) ? j.plugins : j?.type ? [j] : [];
    return list.flatMap((p) => [p.type, p.ipam?.type]).filter((t): t is string => typeof t === 'string' && t !== '');
  } catch {
    return [];
  }
}

/**
 * One CNI container's record: the cached result when there is one (what DEL and CHECK use),
 * else the result the driver kept in the container's state. `confText`: the configuration list
 * the ADD used (the cache keeps it; else the file), for the plugin types.
 */
export function cniRecordOf(att: StoredCni, id: string, name: string, ifName: string, cachedResult: unknown, confText: string | null): CniRecord {
  const raw = cachedResult ?? att.cni.result;
  let r: ReturnType<typeof toCurrent> = { cniVersion: '' };
  try {
    r = toCurrent(raw);
  } catch {
    /* no usable result: nothing to compare but the namespace */
  }
  let version = r.cniVersion;
  try {
    version = JSON.parse(confText ?? '').cniVersion ?? version;
  } catch {
    /* keep the result's */
  }
  return {
    containerId: id,
    containerName: name,
    network: att.network ?? att.cni.name,
    plugins: pluginTypes(confText),
    cniVersion: version,
    netnsName: att.netnsName,
    ifName,
    interfaces: (r.interfaces ?? []).map((i) => ({ name: i.name, ...(i.mac ? { mac: i.mac } : {}), ...(i.sandbox ? { sandbox: i.sandbox } : {}) })),
    ips: (r.ips ?? []).filter((i) => !i.address.includes(':')).map((i) => ({ address: i.address, ...(i.gateway ? { gateway: i.gateway } : {}), ...(i.interface !== undefined ? { interface: i.interface } : {}) })),
    routes: (r.routes ?? []).filter((x) => !x.dst.includes(':')).map((x) => ({ dst: x.dst, ...(x.gw ? { gw: x.gw } : {}) })),
    ports: att.ports,
    resultFrom: cachedResult ? 'cache' : 'state',
  };
}

// --- reading a record against the kernel ------------------------------------------------------

/** "CNI network NAME (plugins: bridge, host-local, portmap)". */
export const cniLabel = (r: Pick<CniRecord, 'network' | 'plugins'>): string =>
  `CNI network ${r.network} (plugins: ${r.plugins.length ? r.plugins.join(', ') : 'unknown: no cached configuration'})`;

/** The interfaces inside the container the result names (none named: the one minid asked for). */
export const sandboxIfs = (r: CniRecord): string[] => {
  const named = r.interfaces.filter((i) => i.sandbox).map((i) => i.name);
  return named.length ? named : [r.ifName];
};

/** An address's interface: the one its index names, else the one minid asked for. */
const ifOfIp = (r: CniRecord, ip: CniRecord['ips'][number]): { name: string; inside: boolean } => {
  const i = ip.interface !== undefined ? r.interfaces[ip.interface] : undefined;
  return i ? { name: i.name, inside: !!i.sandbox } : { name: r.ifName, inside: true };
};

/**
 * The host side the result names: a bridge and the host end of the container's cable. The
 * kernel tells a bridge by its kind; one that is gone is told by the bridge plugin's order
 * (bridge, host veth, container interface): the first of two host-side interfaces.
 */
export function hostSide(s: Snapshot, r: CniRecord): { bridge?: string; end?: string } {
  const names = r.interfaces.filter((i) => !i.sandbox).map((i) => i.name);
  const kindOf = (n: string): string | undefined => hostLink(s, n)?.kind;
  let bridge = names.find((n) => kindOf(n) === 'bridge');
  if (!bridge && names.length >= 2 && !hostLink(s, names[0])) bridge = names[0];
  const end = names.find((n) => n !== bridge);
  return { ...(bridge ? { bridge } : {}), ...(end ? { end } : {}) };
}

const linkState = (l: Link): string => `${l.up ? 'up' : 'down'} (operstate ${l.operstate})`;

/** The first IPv4 address of the container's interface, and its gateway. */
export function primaryIp(r: CniRecord): { ip: string; prefixLength: number; gateway: string } | null {
  const first = r.ips.find((i) => ifOfIp(r, i).inside);
  if (!first) return null;
  const [ip, len] = first.address.split('/');
  return { ip, prefixLength: Number(len ?? 32), gateway: first.gateway ?? '' };
}

/** The record as an endpoint, for the checks both kinds share (the app's socket). */
export function asEndpoint(s: Snapshot, r: CniRecord): EndpointRecord {
  const p = primaryIp(r);
  return {
    containerId: r.containerId, containerName: r.containerName, network: r.network, netnsName: r.netnsName,
    veth: hostSide(s, r).end ?? '', ifName: sandboxIfs(r)[0], ip: p?.ip ?? '', prefixLength: p?.prefixLength ?? 32, gateway: p?.gateway ?? '', ports: r.ports,
  };
}

const restart = (r: CniRecord): string => `minid restart ${r.containerName}  (the plugins' DEL, then ADD: they make it again)`;

/** What can be checked of a CNI container from one snapshot: its namespace, the links and addresses the result names. */
export function cniChecks(s: Snapshot, r: CniRecord): Check[] {
  const out: Check[] = [];
  const rec = s.records.containers.find((c) => c.id === r.containerId);
  const running = rec?.status === 'running';
  out.push(runningCheck(s, r.containerId, r.containerName));
  const side = hostSide(s, r);
  const end = side.end ? hostLink(s, side.end) : undefined;
  const nsOk = s.kernel.netnsNames.includes(r.netnsName);
  const view = netnsView(s, r.netnsName);
  // As for minid's own cable: a host end still paired with a namespace tells that it lives on.
  const alive = !nsOk && end?.peerNetnsId !== undefined && running && rec?.pid;
  out.push({
    id: 'netns.exists', order: ORDER.netns, subject: `netns:${r.netnsName}`, paths: ALL,
    title: `the container's network namespace ${r.netnsName} exists (the plugins were given /run/netns/${r.netnsName})`,
    ok: nsOk && !view?.error,
    found: !nsOk
      ? `/run/netns/${r.netnsName} is missing${alive ? ` (the namespace itself lives on: ${side.end}'s peer is in netns id ${end!.peerNetnsId}, and the container runs as pid ${rec!.pid})` : ''}`
      : view?.error ? `cannot read it: ${view.error}` : `/run/netns/${r.netnsName}`,
    ...(nsOk && !view?.error
      ? {}
      : { fix: alive ? `ip netns attach ${r.netnsName} ${rec!.pid}  (gives the container's namespace its name back)` : `the container lost its network: ${restart(r)}` }),
  });
  const readable = nsOk && !!view && !view.error;
  for (const name of readable ? sandboxIfs(r) : []) {
    const inner = view!.links.find((l) => l.name === name);
    const sub = `netns:${r.netnsName}/${name}`;
    const paired = !inner || !end || inner.peerIfindex === undefined || inner.peerIfindex === end.ifindex;
    out.push({
      id: 'cni.interface.exists', order: ORDER.veth, subject: sub, paths: ALL,
      title: `the interface ${name} the plugins made exists in ${r.netnsName}${side.end ? ` and pairs with ${side.end}` : ''}`,
      ok: !!inner && paired,
      found: !inner
        ? `no ${name} in ${r.netnsName} (it has: ${view!.links.map((l) => l.name).join(', ') || 'nothing'})`
        : !paired ? `${name}'s other end is ifindex ${inner.peerIfindex}, not ${side.end} (${end!.ifindex})` : `${name} (ifindex ${inner.ifindex}${inner.kind ? `, ${inner.kind}` : ''})`,
      ...(inner && paired ? {} : { fix: restart(r) }),
    });
    if (!inner) continue;
    out.push({
      id: 'cni.interface.up', order: ORDER.veth, subject: sub, paths: ALL,
      title: `${name} is up`, ok: inner.up, found: linkState(inner),
      ...(inner.up ? {} : { fix: `ip -n ${r.netnsName} link set ${name} up` }),
    });
  }
  for (const ip of readable ? r.ips : []) {
    const at = ifOfIp(r, ip);
    if (!at.inside) continue;
    const inner = view!.links.find((l) => l.name === at.name);
    if (!inner) continue; // the interface check above already failed
    const has = inner.addresses.includes(ip.address);
    const sameIp = inner.addresses.find((a) => a.split('/')[0] === ip.address.split('/')[0]);
    out.push({
      id: 'cni.address', order: ORDER.address, subject: `netns:${r.netnsName}/${at.name}`, paths: ALL,
      title: `${at.name} has the address the plugins gave it, ${ip.address}`, ok: has,
      found: inner.addresses.length ? inner.addresses.join(' ') : 'no IPv4 address',
      ...(has ? {} : { fix: (sameIp ? `ip -n ${r.netnsName} addr del ${sameIp} dev ${at.name} && ` : '') + `ip -n ${r.netnsName} addr add ${ip.address} dev ${at.name}` }),
    });
  }
  const dfltWanted = r.routes.find((x) => x.dst === '0.0.0.0/0');
  const p = primaryIp(r);
  // Without the interface the route went with it: the interface check above names the fix.
  const ifUp = readable && sandboxIfs(r).every((n) => view!.links.some((l) => l.name === n));
  if (ifUp && dfltWanted) {
    const via = dfltWanted.gw ?? p?.gateway;
    const have = view!.routes.find((x) => x.dst === 'default');
    const ok = !!have && (!via || have.gateway === via);
    out.push({
      id: 'cni.default_route', order: ORDER.route, subject: `netns:${r.netnsName}`, paths: ['host', 'hairpin', 'remote'],
      title: `the container's default route goes ${via ? `via ${via}` : 'where the plugins set it'} (the result's route 0.0.0.0/0)`, ok,
      found: have ? `default via ${have.gateway ?? '(none)'} dev ${have.dev ?? '?'}` : 'no default route',
      ...(ok || !via ? {} : { fix: `ip -n ${r.netnsName} route replace default via ${via}` }),
    });
  }
  // The host side the result names: the bridge and the host end of the cable.
  for (const [name, what] of [[side.bridge, 'bridge'], [side.end, 'host end of the cable']] as const) {
    if (!name) continue;
    const l = hostLink(s, name);
    const sub = `link:${name}`;
    out.push({
      id: 'cni.host.exists', order: what === 'bridge' ? ORDER.bridge : ORDER.veth, subject: sub, paths: ALL,
      title: `the ${what} ${name} (named in the CNI result) exists on the host${what !== 'bridge' && side.bridge ? ` and is plugged into ${side.bridge}` : ''}`,
      ok: !!l && (what === 'bridge' || !side.bridge || l.master === side.bridge),
      found: !l ? `no link ${name}` : what === 'bridge' ? `${name}: ${l.kind ?? 'a device'}, ${linkState(l)}${l.addresses.length ? `, ${l.addresses.join(' ')}` : ''}` : l.master ? `${name} on ${l.master}` : `${name} is not on any bridge`,
      ...(l && (what === 'bridge' || !side.bridge || l.master === side.bridge) ? {} : { fix: l ? `ip link set ${name} master ${side.bridge}` : restart(r) }),
    });
    if (!l) continue;
    out.push({
      id: 'cni.host.up', order: what === 'bridge' ? ORDER.bridge : ORDER.veth, subject: sub, paths: ALL,
      title: `the ${what} ${name} is up`, ok: l.up, found: linkState(l),
      ...(l.up ? {} : { fix: `ip link set ${name} up` }),
    });
  }
  return out;
}

/** What topo and why say instead of judging the plugins' rules. */
export const rulesNote = (r: Pick<CniRecord, 'containerName' | 'plugins'>): string =>
  `the plugins own their rules (${r.plugins.filter((p) => /portmap|bridge|firewall|bandwidth|masq/.test(p)).join(', ') || 'if they add any'}): minid does not check them; \`minid network check ${r.containerName}\` asks the plugins (CNI CHECK)`;
