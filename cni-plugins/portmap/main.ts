// minid-portmap: publish container ports on the host (capability "portMappings"), chained
// after an interface plugin. Per attachment it owns two nat chains, nothing shared:
//   MINID-CNI-DN-<hash>  DNAT hostPort -> containerIP:containerPort
//                        jumped to from PREROUTING and OUTPUT for local destination addresses
//   MINID-CNI-SN-<hash>  MASQUERADE for the two cases that need it (snat, default true):
//                        localhost (127.0.0.0/8 -> container; route_localnet on the host
//                        interface toward the container) and hairpin (container -> itself)
// Every rule, jumps included, has the comment "minid-portmap net=N id=C if=I", so DEL removes
// exactly these rules and both chains (no empty chains are left), and GC finds stale ones.
import fs from 'node:fs';
import { run } from '../../src/sys/exec.js';
import type { CniResult, PortMapping } from '../../src/cni/spec.js';
import { CniError, ErrorCode, prevResultOf, type CmdArgs, type Plugin } from '../lib/skel.js';
import { setSysctl } from '../lib/net.js';
import { parseCidr, parseIP, formatIP } from '../lib/ip.js';
import { chainName, commentOf, ownerComment, parseOwner, parseSave, q, removalLines, restore, save } from '../lib/iptables.js';

const NAME = 'minid-portmap';

interface PortmapConf {
  name: string;
  snat: boolean;
  mappings: PortMapping[];
  conditionsV4: string[];
  conditionsV6: string[];
}

/**
 * A key of a JSON object as Go's encoding/json finds it: the exact name first, else any case.
 * Runtimes written in Go rely on it: containerd's CRI (through go-cni) sends its port mappings as
 * {"HostPort":8080,"ContainerPort":80,"Protocol":"tcp","HostIP":""}, Go's field names, which the
 * reference portmap reads as hostPort, containerPort... without noticing.
 */
function goKey(m: any, key: string): any {
  if (m === null || typeof m !== 'object') return undefined;
  if (key in m) return m[key];
  const k = Object.keys(m).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : m[k];
}

function loadConf(a: CmdArgs): PortmapConf {
  const c = a.conf;
  const raw = c.runtimeConfig?.portMappings ?? [];
  if (!Array.isArray(raw)) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, 'runtimeConfig.portMappings must be a list');
  const mappings: PortMapping[] = raw.map((m: any, i: number) => {
    const [hp, cp, proto, hip] = ['hostPort', 'containerPort', 'protocol', 'hostIP'].map((k) => goKey(m, k));
    const hostPort = Number(hp);
    const containerPort = Number(cp);
    const protocol = String(proto ?? 'tcp').toLowerCase();
    if (!Number.isInteger(hostPort) || hostPort < 1 || hostPort > 65535) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `portMappings[${i}]: invalid hostPort ${JSON.stringify(hp)}`);
    if (!Number.isInteger(containerPort) || containerPort < 1 || containerPort > 65535)
      throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `portMappings[${i}]: invalid containerPort ${JSON.stringify(cp)}`);
    if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `portMappings[${i}]: unknown protocol ${JSON.stringify(proto)}`);
    const out: PortMapping = { hostPort, containerPort, protocol: protocol as PortMapping['protocol'] };
    if (hip) {
      if (!parseIP(String(hip))) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `portMappings[${i}]: invalid hostIP ${JSON.stringify(hip)}`);
      out.hostIP = String(hip);
    }
    return out;
  });
  const cond = (k: string): string[] => {
    const v = c[k];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || /["\n]/.test(x))) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `${k} must be a list of iptables match arguments`);
    return v;
  };
  return { name: String(c.name), snat: c.snat === undefined ? true : !!c.snat, mappings, conditionsV4: cond('conditionsV4'), conditionsV6: cond('conditionsV6') };
}

/** The container's first IPv4 and IPv6 address, from prevResult. */
function containerIPs(prev: CniResult): { v4?: string; v6?: string } {
  const ifs = prev.interfaces ?? [];
  const out: { v4?: string; v6?: string } = {};
  for (const ip of prev.ips ?? []) {
    if (ip.interface !== undefined && ifs[ip.interface] && !ifs[ip.interface].sandbox) continue;
    const c = parseCidr(ip.address);
    if (!c) continue;
    if (c.addr.family === 4) out.v4 ??= formatIP(c.addr);
    else out.v6 ??= formatIP(c.addr);
  }
  return out;
}

const chains = (c: PortmapConf, a: CmdArgs) => ({
  dn: chainName('DN', c.name, a.containerId, a.ifName),
  sn: chainName('SN', c.name, a.containerId, a.ifName),
});

function ruleLines(c: PortmapConf, a: CmdArgs, cip: string, six: boolean): string[] {
  const { dn, sn } = chains(c, a);
  const cm = `-m comment --comment ${q(ownerComment(NAME, c.name, a.containerId, a.ifName))}`;
  const maps = c.mappings.filter((m) => !m.hostIP || (m.hostIP.includes(':') === six));
  if (!maps.length) return [];
  const conds = (six ? c.conditionsV6 : c.conditionsV4).join(' ');
  const host = six ? 128 : 32;
  const dest = six ? `[${cip}]` : cip;
  const lines = [`:${dn} - [0:0]`];
  for (const m of maps) {
    const d = m.hostIP && m.hostIP !== '0.0.0.0' && m.hostIP !== '::' ? ` -d ${m.hostIP}/${host}` : '';
    lines.push(`-A ${dn}${d} -p ${m.protocol} -m ${m.protocol} --dport ${m.hostPort} ${cm} -j DNAT --to-destination ${dest}:${m.containerPort}`);
  }
  // The jumps go first in the built-in chains (like the reference portmap): an earlier ACCEPT in
  // nat (e.g. the bridge's ipMasq chain accepts traffic inside the subnet) would end the nat
  // walk before the hairpin MASQUERADE, and another DNAT must not shadow a published port.
  const jump = `-m addrtype --dst-type LOCAL${conds ? ` ${conds}` : ''} ${cm} -j ${dn}`;
  lines.push(`-I PREROUTING 1 ${jump}`, `-I OUTPUT 1 ${jump}`);
  if (c.snat) {
    lines.push(`:${sn} - [0:0]`);
    for (const m of maps) {
      const p = `-p ${m.protocol} -m ${m.protocol} --dport ${m.containerPort}`;
      if (!six) lines.push(`-A ${sn} -s 127.0.0.0/8 -d ${cip}/32 ${p} ${cm} -j MASQUERADE`);
      lines.push(`-A ${sn} -s ${cip}/${host} -d ${cip}/${host} ${p} ${cm} -j MASQUERADE`);
    }
    lines.push(`-I POSTROUTING 1 ${cm} -j ${sn}`);
  }
  return lines;
}

/** route_localnet on the host interface that leads to the container, so 127.0.0.1 can be DNATed there. */
function enableLocalnet(cip: string): void {
  const dev = routeDev(cip);
  if (!dev || dev === 'lo') return;
  setSysctl(`net.ipv4.conf.${dev}.route_localnet`, '1');
}

/**
 * The interface the main routing table sends an IPv4 address out of: the longest matching
 * prefix in /proc/net/route (then the lowest metric), as `ip route get` would say without
 * policy rules. Read, not asked of a process: a process start costs a plugin more (a fork of
 * Node) than the whole table does. Addresses and masks are in the host's byte order there.
 */
export function routeDev(ip: string, table = fs.readFileSync('/proc/net/route', 'utf8')): string | undefined {
  const a = parseIP(ip);
  if (!a || a.family !== 4) return undefined;
  const target = Number(a.value);
  let best: { dev: string; bits: number; metric: number } | undefined;
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !(parseInt(f[3], 16) & 1)) continue; // RTF_UP
    const dst = Buffer.from(f[1], 'hex').readUInt32LE(0);
    const mask = Buffer.from(f[7], 'hex').readUInt32LE(0);
    if ((target & mask) >>> 0 !== dst) continue;
    const bits = mask.toString(2).replace(/0/g, '').length;
    const metric = Number(f[6]);
    if (!best || bits > best.bits || (bits === best.bits && metric < best.metric)) best = { dev: f[0], bits, metric };
  }
  return best?.dev;
}

const hasV6 = () => fs.existsSync('/proc/net/if_inet6');

async function teardown(c: PortmapConf, a: CmdArgs, six: boolean): Promise<void> {
  const { dn, sn } = chains(c, a);
  const t = parseSave(await save('nat', six));
  await restore('nat', removalLines(t, [dn, sn], ownerComment(NAME, c.name, a.containerId, a.ifName)), six);
}

async function cmdAdd(a: CmdArgs): Promise<CniResult> {
  const c = loadConf(a);
  const prev = prevResultOf(a);
  if (!prev) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `${NAME} must be called as a chained plugin (no prevResult)`);
  if (!c.mappings.length) return prev;
  const ips = containerIPs(prev);
  if (!ips.v4 && !ips.v6) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, 'prevResult has no container IP address to forward ports to');
  try {
    if (ips.v4) {
      await restore('nat', ruleLines(c, a, ips.v4, false));
      if (c.snat) enableLocalnet(ips.v4);
    }
    if (ips.v6 && hasV6()) await restore('nat', ruleLines(c, a, ips.v6, true), true);
  } catch (e) {
    await teardown(c, a, false).catch(() => {});
    if (ips.v6 && hasV6()) await teardown(c, a, true).catch(() => {});
    throw new CniError(ErrorCode.RULES_FAILURE, `failed to set up port mappings: ${(e as Error).message}`);
  }
  return prev;
}

async function cmdDel(a: CmdArgs): Promise<void> {
  const c = loadConf(a);
  await teardown(c, a, false);
  if (hasV6()) {
    const prev = prevResultOf(a);
    // Only look at ip6tables when there may be something there.
    if (!prev || containerIPs(prev).v6) await teardown(c, a, true).catch((e) => process.stderr.write(`${NAME}: ip6tables: ${e.message}\n`));
  }
  // Conntrack entries of UDP mappings would keep sending to the old address: drop them.
  const cip = (() => {
    const p = prevResultOf(a);
    return p ? containerIPs(p).v4 : undefined;
  })();
  for (const m of cip ? c.mappings.filter((x) => x.protocol === 'udp') : [])
    await run(['conntrack', '-D', '-p', 'udp', '--orig-port-dst', String(m.hostPort), '--reply-src', cip!], { allowFail: true }).catch(() => {});
}

async function cmdCheck(a: CmdArgs): Promise<void> {
  const c = loadConf(a);
  const prev = prevResultOf(a);
  if (!prev) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, 'Required prevResult missing');
  if (!c.mappings.length) return;
  const ips = containerIPs(prev);
  const { dn, sn } = chains(c, a);
  for (const [six, cip] of [
    [false, ips.v4],
    [true, ips.v6],
  ] as const) {
    if (!cip || (six && !hasV6())) continue;
    const t = parseSave(await save('nat', six));
    if (!t.chains.has(dn)) throw new CniError(ErrorCode.CHECK_MISMATCH, `port mapping chain ${dn} is missing`);
    if (c.snat && !six && !t.chains.has(sn)) throw new CniError(ErrorCode.CHECK_MISMATCH, `port mapping chain ${sn} is missing`);
    for (const ch of ['PREROUTING', 'OUTPUT'])
      if (!t.rules.some((r) => r.chain === ch && r.line.includes(`-j ${dn}`))) throw new CniError(ErrorCode.CHECK_MISMATCH, `${ch} does not jump to ${dn}`);
    for (const m of c.mappings.filter((x) => !x.hostIP || x.hostIP.includes(':') === six)) {
      const dest = six ? `[${cip}]` : cip;
      const ok = t.rules.some((r) => r.chain === dn && r.line.includes(`--dport ${m.hostPort} `) && r.line.includes(`--to-destination ${dest}:${m.containerPort}`));
      if (!ok) throw new CniError(ErrorCode.CHECK_MISMATCH, `no DNAT rule for ${m.hostPort}/${m.protocol} -> ${dest}:${m.containerPort}`);
    }
  }
}

async function cmdGC(a: CmdArgs): Promise<void> {
  const c = loadConf(a);
  const valid: { containerID: string; ifname: string }[] = a.conf['cni.dev/valid-attachments'] ?? a.conf['cni.dev/attachments'] ?? [];
  const errors: string[] = [];
  for (const six of [false, true]) {
    if (six && !hasV6()) continue;
    const t = parseSave(await save('nat', six));
    const stale = new Map<string, { chains: string[] }>();
    for (const r of t.rules) {
      const o = parseOwner(commentOf(r.line) ?? '');
      if (!o || o.plugin !== NAME || o.network !== c.name) continue;
      if (valid.some((v) => v.containerID === o.containerId && v.ifname === o.ifName)) continue;
      const comment = ownerComment(NAME, o.network, o.containerId, o.ifName);
      stale.set(comment, { chains: [chainName('DN', o.network, o.containerId, o.ifName), chainName('SN', o.network, o.containerId, o.ifName)] });
    }
    for (const [comment, s] of stale) await restore('nat', removalLines(t, s.chains, comment), six).catch((e) => errors.push(e.message));
  }
  if (errors.length) throw new CniError(ErrorCode.RULES_FAILURE, `GC: ${errors.join('; ')}`);
}

/** The plugin, run by cni-plugins/main.ts. */
export const plugin: Plugin = {
  funcs: { add: cmdAdd, del: cmdDel, check: cmdCheck, gc: cmdGC, status: async () => {} },
  info: { name: NAME, about: 'minid-portmap: publish ports with iptables DNAT (minid, CNI)' },
};
