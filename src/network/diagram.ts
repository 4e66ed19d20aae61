// `minid network inspect NAME --diagram`: the topology as a terminal drawing. Pure: the data
// comes in (network record, its endpoints, what is known about the host), text goes out.
import { CHAIN, netnsName, short, vethHost } from './names.js';
import type { Endpoint } from './endpoints.js';
import type { NetworkRecord } from './types.js';

export interface DiagramHost {
  uplink?: { dev: string; mtu: number; addresses?: string[] } | null;
  /** Are the network's kernel objects set up right now? */
  up?: boolean;
}

type Ep = Omit<Endpoint, 'containerId' | 'containerName' | 'network' | 'state'> & { containerId?: string; containerName?: string };

const pad = (s: string, n: number): string => s.padEnd(n);

export function renderDiagram(net: NetworkRecord, attachments: Ep[], host: DiagramHost = {}): string {
  const prefix = net.subnet.split('/')[1];
  const L: string[] = [];
  L.push(`network "${net.name}"  id ${short(net.id)}  driver ${net.driver}  subnet ${net.subnet}  gateway ${net.gateway}`);
  if (host.up === false) L.push('(its bridge and rules are not set up yet: the first container connected creates them)');
  L.push('');
  const up = host.uplink;
  const upAddr = up?.addresses?.length ? '  ' + up.addresses.join(' ') : '';
  L.push(`host`);
  L.push(up ? `├─ uplink ${up.dev}${upAddr}  mtu ${up.mtu}  (default route)` : '├─ uplink: none (the host has no default route)');
  L.push(`│     ▲  containers leave through here; MASQUERADE makes their source the uplink's address`);
  L.push(`│     │`);
  L.push(`└─ bridge ${net.bridge}  ${net.gateway}/${prefix}  (the containers' gateway; route_localnet=1)`);
  if (attachments.length === 0) L.push('      (no containers)');
  attachments.forEach((a, i) => {
    const last = i === attachments.length - 1;
    const branch = last ? '└─' : '├─';
    const cont = last ? '   ' : '│  ';
    const id = a.containerId ?? '';
    const veth = a.veth ?? (id ? vethHost(id) : 'veth');
    const ns = a.netnsName ?? (id ? netnsName(id) : '?');
    L.push(`      ${branch} ${veth} ════ veth ════ ${a.ifName ?? 'eth0'} ${a.ip ?? '?'}/${a.prefixLength ?? prefix}   [netns ${ns}]`);
    L.push(`      ${cont}     container ${a.containerName ?? '?'}${id ? ` (${short(id)})` : ''}${a.mac ? `  mac ${a.mac}` : ''}`);
    if (a.ports.length === 0) L.push(`      ${cont}     no published ports`);
    for (const b of a.ports) {
      const where = b.hostIp === '0.0.0.0' ? '*' : b.hostIp;
      L.push(`      ${cont}     published ${where}:${b.hostPort} -> ${b.containerPort}/${b.protocol}`);
    }
    if (!last) L.push(`      │`);
  });
  L.push('');
  L.push('NAT rules that apply (iptables -t nat):');
  const rows: [string, string, string][] = [
    [CHAIN.postrouting, `-s ${net.subnet} ! -o ${net.bridge}`, 'MASQUERADE   containers -> outside'],
    [CHAIN.postrouting, `-s ${net.subnet} -o ${net.bridge} ctstate DNAT`, 'MASQUERADE   hairpin: container -> host:port -> container'],
    [CHAIN.postrouting, `-s 127.0.0.0/8 -o ${net.bridge}`, 'MASQUERADE   127.0.0.1:port on the host'],
  ];
  for (const a of attachments) {
    for (const b of a.ports) {
      const d = b.hostIp === '0.0.0.0' ? '' : `-d ${b.hostIp} `;
      rows.push([CHAIN.dnat, `${d}-p ${b.protocol} --dport ${b.hostPort}`, `DNAT ${a.ip}:${b.containerPort}   (${a.containerName ?? short(a.containerId ?? '')})`]);
    }
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  for (const r of rows) L.push(`  ${pad(r[0], w0)}  ${pad(r[1], w1)}  -> ${r[2]}`);
  L.push(`  (${CHAIN.dnat} is reached from PREROUTING and OUTPUT for local destinations: every host address, 127.0.0.1 included)`);
  return L.join('\n') + '\n';
}
