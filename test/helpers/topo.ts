// `minid topo --format json` made comparable across runs and stores: the store id, network and
// container ids, the bridge, the subnet, host ports, counters, pids and the host's uplink are
// volatile; they become placeholders, so a test can snapshot the rest.
import type { Topo } from '../../src/see/topo.js';

export function normaliseTopo(t: Topo, hostPorts: number[] = []): unknown {
  const subs: [string, string][] = [[t.store, 'STORE']];
  for (const n of t.networks) {
    subs.push([n.id, 'NETID'], [n.id.slice(0, 12), 'NETID12'], [n.bridge.name, 'BRIDGE'], [n.subnet.replace(/\d+\/\d+$/, ''), 'NET.']);
    for (const e of n.endpoints) subs.push([e.id, `CID(${e.container})`], [e.id.slice(0, 12), `CID12(${e.container})`], [e.id.slice(0, 8), `CID8(${e.container})`]);
  }
  hostPorts.forEach((p, i) => subs.push([String(p), `HOSTPORT${i + 1}`]));
  subs.sort((a, b) => b[0].length - a[0].length);
  const str = (s: string): string => {
    let out = s;
    for (const [from, to] of subs) out = out.split(from).join(to);
    return out.replace(/\(pid \d+\)/g, '(pid N)');
  };
  const walk = (v: unknown, key = ''): unknown => {
    if (typeof v === 'string') return str(v);
    if (typeof v === 'number') {
      if (key === 'packets' || key === 'bytes') return 'N';
      if (key === 'hostPort' || key === 'port') return hostPorts.includes(v) ? `HOSTPORT${hostPorts.indexOf(v) + 1}` : v;
      return v;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = k === 'uplink' ? (x ? 'UPLINK' : null) : walk(x, k);
      return o;
    }
    return v;
  };
  return walk(t);
}
