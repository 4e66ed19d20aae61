// minid-bridge: connect the container to a Linux bridge with a veth pair, like the reference
// bridge plugin. IPAM is delegated to the plugin named in ipam.type, found in CNI_PATH.
//   bridge (default cni0), mtu, isGateway (gateway address on the bridge + ip_forward),
//   isDefaultGateway (default route via the bridge; implies isGateway), ipMasq (SNAT for
//   traffic leaving the subnet), hairpinMode, promiscMode, runtimeConfig.mac / CNI_ARGS MAC.
// Result: interfaces [bridge, host veth, container iface (sandbox)], ips on interface 2.
//
// Work is batched and overlapped: one `ip -batch` on the host (started while the IPAM plugin
// runs), one inside the namespace, one `iptables-restore` for ipMasq (cmdAdd says in which order).
import fs from 'node:fs';
import { run } from '../../src/sys/exec.js';
import type { CniInterface, CniResult } from '../../src/cni/spec.js';
import { CniError, ErrorCode, cniArgsRecord, log, netnsExists, prevResultOf, type CmdArgs, type Plugin } from '../lib/skel.js';
import { checkIface, configureIfaceLines, delegate, inNetns, ipBatch, isBridge, linkExists, macOf, randomHex, randomMac, readSys, setSysctl } from '../lib/net.js';
import { formatIP, networkOf, networkString, next, parseCidr } from '../lib/ip.js';
import { chainName, commentOf, ownerComment, parseOwner, parseSave, q, removalLines, restore, save } from '../lib/iptables.js';

const NAME = 'minid-bridge';

interface BridgeConf {
  name: string;
  bridge: string;
  isGateway: boolean;
  isDefaultGateway: boolean;
  ipMasq: boolean;
  mtu?: number;
  hairpinMode: boolean;
  promiscMode: boolean;
  ipamType: string;
  mac?: string;
  dns?: CniResult['dns'];
}

function loadConf(a: CmdArgs): BridgeConf {
  const c = a.conf;
  const bool = (k: string): boolean => {
    const v = c[k];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `"${k}" must be true or false, not ${JSON.stringify(v)}`);
    return v;
  };
  const bridge = c.bridge === undefined ? 'cni0' : c.bridge;
  if (typeof bridge !== 'string' || !bridge || bridge.length > 15 || /[/:\s]/.test(bridge))
    throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `invalid bridge name ${JSON.stringify(c.bridge)} (1-15 characters, no / : or spaces)`);
  if (c.vlan) throw new CniError(ErrorCode.UNSUPPORTED_FIELD, `unsupported field "vlan": ${JSON.stringify(c.vlan)} (minid-bridge has no VLAN support)`);
  if (c.macspoofchk) throw new CniError(ErrorCode.UNSUPPORTED_FIELD, `unsupported field "macspoofchk": ${JSON.stringify(c.macspoofchk)}`);
  if (c.mtu !== undefined && (!Number.isInteger(c.mtu) || c.mtu < 68 || c.mtu > 65535)) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `invalid mtu ${JSON.stringify(c.mtu)}`);
  const conf: BridgeConf = {
    name: String(c.name),
    bridge,
    isGateway: bool('isGateway'),
    isDefaultGateway: bool('isDefaultGateway'),
    ipMasq: bool('ipMasq'),
    mtu: c.mtu || undefined,
    hairpinMode: bool('hairpinMode'),
    promiscMode: bool('promiscMode'),
    ipamType: typeof c.ipam?.type === 'string' ? c.ipam.type : '',
    dns: c.dns && Object.keys(c.dns).length ? c.dns : undefined,
  };
  if (conf.isDefaultGateway) conf.isGateway = true;
  if (conf.hairpinMode && conf.promiscMode) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, 'cannot set hairpin mode and promiscuous mode at the same time');
  const envMac = cniArgsRecord(a.args).MAC;
  conf.mac = c.runtimeConfig?.mac || c.args?.cni?.mac || envMac || undefined;
  if (conf.mac && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(conf.mac)) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `invalid MAC address ${JSON.stringify(conf.mac)}`);
  return conf;
}

async function ensureBridge(c: BridgeConf): Promise<void> {
  if (linkExists(c.bridge)) {
    if (!isBridge(c.bridge)) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `${c.bridge} already exists but is not a bridge`);
    return;
  }
  // Concurrent ADDs may race to create it: the loser's "File exists" is fine.
  const r = await run(['ip', 'link', 'add', c.bridge, ...(c.mtu ? ['mtu', String(c.mtu)] : []), 'type', 'bridge'], { allowFail: true });
  if (r.exitCode !== 0 && !isBridge(c.bridge)) throw new CniError(ErrorCode.INTERFACE_FAILURE, `failed to create bridge ${c.bridge}: ${r.stderr.trim()}`);
}

const masqComment = (c: BridgeConf, a: CmdArgs) => ownerComment(NAME, c.name, a.containerId, a.ifName);

function masqLines(c: BridgeConf, a: CmdArgs, chain: string, addrs: string[]): string[] {
  const cm = q(masqComment(c, a));
  const lines = [`:${chain} - [0:0]`];
  for (const addr of addrs) {
    const cidr = parseCidr(addr)!;
    const six = cidr.addr.family === 6;
    lines.push(`-A ${chain} -d ${networkString(cidr)} -m comment --comment ${cm} -j ACCEPT`);
    lines.push(`-A ${chain} ! -d ${six ? 'ff00::/8' : '224.0.0.0/4'} -m comment --comment ${cm} -j MASQUERADE`);
    lines.push(`-A POSTROUTING -s ${formatIP(cidr.addr)}/${six ? 128 : 32} -m comment --comment ${cm} -j ${chain}`);
  }
  return lines;
}

async function teardownMasq(c: BridgeConf, a: CmdArgs, six: boolean): Promise<void> {
  const chain = chainName('MASQ', c.name, a.containerId, a.ifName);
  const t = parseSave(await save('nat', six));
  await restore('nat', removalLines(t, [chain], masqComment(c, a)), six);
}

/** The container's addresses and routes from the IPAM result, and the gateways the bridge gets. */
function addressing(c: BridgeConf, ipam: CniResult) {
  if (!ipam.ips?.length) throw new CniError(ErrorCode.IPAM_RESULT_INVALID, `IPAM plugin ${c.ipamType} returned no IP configuration`);
  const ips = ipam.ips.map((ip) => ({ ...ip, interface: 2 }));
  const routes = [...(ipam.routes ?? [])];
  const gws: { cidr: string; six: boolean }[] = [];
  for (const ip of ips) {
    const cidr = parseCidr(ip.address);
    if (!cidr) throw new CniError(ErrorCode.IPAM_RESULT_INVALID, `IPAM plugin ${c.ipamType} returned an invalid address ${ip.address}`);
    const six = cidr.addr.family === 6;
    if (!ip.gateway && c.isGateway) ip.gateway = formatIP(next(networkOf(cidr)));
    if (c.isDefaultGateway && ip.gateway) {
      const def = six ? '::/0' : '0.0.0.0/0';
      if (!routes.some((r) => r.dst === def)) routes.push({ dst: def, gw: ip.gateway });
    }
    if (c.isGateway && ip.gateway && !gws.some((g) => g.cidr === `${ip.gateway}/${cidr.prefix}`)) gws.push({ cidr: `${ip.gateway}/${cidr.prefix}`, six });
  }
  const gwLines = gws.map((g) => `addr replace ${g.cidr} dev ${c.bridge}${g.six ? ' nodad' : ''}`);
  return { ips, routes, gws, gwLines };
}

/** ipMasq: one chain per attachment, for its IPv4 and its IPv6 addresses (one restore per family). */
async function addMasq(c: BridgeConf, a: CmdArgs, ips: { address: string }[]): Promise<void> {
  const chain = chainName('MASQ', c.name, a.containerId, a.ifName);
  const v4 = ips.filter((i) => !i.address.includes(':')).map((i) => i.address);
  const v6 = ips.filter((i) => i.address.includes(':')).map((i) => i.address);
  const outcomes = await Promise.allSettled([v4.length ? restore('nat', masqLines(c, a, chain, v4)) : null, v6.length ? restore('nat', masqLines(c, a, chain, v6), true) : null]);
  const failed = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
}

async function cmdAdd(a: CmdArgs): Promise<CniResult> {
  const c = loadConf(a);
  await ensureBridge(c);
  const hostVeth = `veth${randomHex(4)}`;
  const mac = c.mac ?? randomMac();
  const mtu = c.mtu ? ` mtu ${c.mtu}` : '';
  const hostLines = [
    `link set ${c.bridge}${c.promiscMode ? ' promisc on' : ''} up`,
    `link add ${hostVeth}${mtu} type veth peer name ${a.ifName}${mtu} address ${mac} netns ${a.netns}`,
    `link set ${hostVeth} master ${c.bridge}`,
    `link set ${hostVeth} up`,
  ];
  // Four jobs, some waiting for another's answer. Each process a plugin starts is a fork of Node
  // (~3 ms of CPU here, plus the command's own start), so none starts later than it must, and
  // the `ip` batches start at once and get their last lines as answers come (ipBatch's `more`):
  //   IPAM (minid-host-local: in this process, skel.ts)  -> addresses, routes, gateways
  //   ip -batch on the host: the veth pair now; the bridge's gateway addresses once IPAM answered
  //   ip -batch in the namespace: started now; its lines once the veth pair is there and IPAM answered
  //   iptables-restore (ipMasq): once IPAM answered
  // Every outcome is awaited before anything is reported or undone.
  const ipamP = c.ipamType ? delegate(c.ipamType, 'ADD', a) : Promise.resolve(null);
  const planP = ipamP.then((r) => (r ? addressing(c, r) : null));
  const hostP = ipBatch(hostLines, undefined, { more: planP.then((p) => p?.gwLines ?? []) });
  const nsLines = hostP.then(() => planP).then((p) => (p ? configureIfaceLines(a.ifName, 2, { cniVersion: a.cniVersion, ips: p.ips, routes: p.routes }) : [`link set ${a.ifName} up`]));
  const nsP = ipBatch([], a.netns, { more: nsLines });
  const masqP = planP.then((p) => (p && c.ipMasq ? addMasq(c, a, p.ips) : undefined));
  const [ipamOutcome, planOutcome, hostOutcome, nsOutcome, masqOutcome] = await Promise.allSettled([ipamP, planP, hostP, nsP, masqP]);
  let success = false;
  const undo = async () => {
    if (success) return;
    if (c.ipMasq && planOutcome.status === 'fulfilled' && planOutcome.value) {
      await teardownMasq(c, a, false).catch(() => {});
      await teardownMasq(c, a, true).catch(() => {});
    }
    if (linkExists(hostVeth)) await run(['ip', 'link', 'del', hostVeth], { allowFail: true });
    if (c.ipamType && ipamOutcome.status === 'fulfilled') await delegate(c.ipamType, 'DEL', a).catch((e) => log(NAME, `IPAM DEL after failure: ${e.message}`));
  };
  try {
    if (hostOutcome.status === 'rejected') {
      const why = String(hostOutcome.reason?.result?.stderr || hostOutcome.reason?.message || hostOutcome.reason).trim().split('\n')[0];
      if (/File exists/.test(why)) throw new CniError(ErrorCode.INTERFACE_EXISTS, `container interface ${a.ifName} already exists in ${a.netns}`, why);
      throw new CniError(ErrorCode.INTERFACE_FAILURE, `failed to set up the veth pair for ${a.ifName}: ${why}`);
    }
    if (ipamOutcome.status === 'rejected') throw ipamOutcome.reason;
    if (planOutcome.status === 'rejected') throw planOutcome.reason;
    if (c.hairpinMode) fs.writeFileSync(`/sys/class/net/${hostVeth}/brport/hairpin_mode`, '1');
    // The jobs are `ip` batches (interfaces) and iptables-restore, whose errors have a code already.
    for (const o of [nsOutcome, masqOutcome])
      if (o.status === 'rejected') throw o.reason instanceof CniError ? o.reason : new CniError(ErrorCode.INTERFACE_FAILURE, String(o.reason?.message ?? o.reason));

    const result: CniResult = {
      cniVersion: a.cniVersion,
      interfaces: [
        { name: c.bridge, mac: '' },
        { name: hostVeth, mac: macOf(hostVeth) },
        { name: a.ifName, mac, sandbox: a.netns },
      ],
    };
    if (c.mtu) for (const i of result.interfaces!) i.mtu = c.mtu;
    const plan = planOutcome.value;
    if (plan) {
      result.ips = plan.ips;
      result.routes = plan.routes;
      // Forwarding for the gateways the bridge got.
      if (plan.gws.some((g) => !g.six)) setSysctl('net.ipv4.ip_forward', '1');
      if (plan.gws.some((g) => g.six)) setSysctl('net.ipv6.conf.all.forwarding', '1');
    }
    // The bridge's MAC may change as ports join or when it gets an address: read it last.
    result.interfaces![0].mac = macOf(c.bridge);
    if (c.dns) result.dns = c.dns;
    success = true;
    return result;
  } finally {
    await undo();
  }
}

async function cmdDel(a: CmdArgs): Promise<void> {
  const c = loadConf(a);
  const jobs: Promise<unknown>[] = [];
  if (c.ipamType) jobs.push(delegate(c.ipamType, 'DEL', a));
  if (netnsExists(a.netns)) {
    // Deleting the container end removes the host end too. Already gone is fine.
    jobs.push(
      run(inNetns(a.netns, ['ip', 'link', 'del', a.ifName]), { allowFail: true }).then((r) => {
        if (r.exitCode !== 0 && !/Cannot find device|does not exist/i.test(r.stderr)) throw new CniError(ErrorCode.INTERFACE_FAILURE, `failed to delete ${a.ifName} in ${a.netns}: ${r.stderr.trim()}`);
      }),
    );
  }
  if (c.ipMasq && c.ipamType) {
    jobs.push(teardownMasq(c, a, false));
    if (fs.existsSync('/proc/net/if_inet6') && (a.conf.prevResult?.ips ?? []).some((i: any) => String(i.address).includes(':'))) jobs.push(teardownMasq(c, a, true));
  }
  const outcomes = await Promise.allSettled(jobs);
  const failed = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
}

async function cmdCheck(a: CmdArgs): Promise<void> {
  const c = loadConf(a);
  const prev = prevResultOf(a);
  if (!prev) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, 'Required prevResult missing');
  const jobs: Promise<unknown>[] = [];
  if (c.ipamType) jobs.push(delegate(c.ipamType, 'CHECK', a));
  const ifs: CniInterface[] = prev.interfaces ?? [];
  const idx = ifs.findIndex((i) => i.name === a.ifName && i.sandbox);
  if (idx < 0) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `prevResult has no interface ${a.ifName} in a sandbox`);
  if (ifs[idx].sandbox !== a.netns) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `interface ${a.ifName} is in sandbox ${ifs[idx].sandbox}, not ${a.netns}`);
  if (!isBridge(c.bridge)) throw new CniError(ErrorCode.CHECK_MISMATCH, `bridge ${c.bridge} is missing`);
  if (readSys(`/sys/class/net/${c.bridge}/flags`) && !(Number(readSys(`/sys/class/net/${c.bridge}/flags`)) & 1)) throw new CniError(ErrorCode.CHECK_MISMATCH, `bridge ${c.bridge} is down`);
  for (const i of ifs) {
    if (i.sandbox || i.name === c.bridge) continue;
    if (!linkExists(i.name)) throw new CniError(ErrorCode.CHECK_MISMATCH, `host interface ${i.name} is missing`);
    const master = fs.existsSync(`/sys/class/net/${i.name}/master`) ? fs.realpathSync(`/sys/class/net/${i.name}/master`).split('/').pop() : '';
    if (master !== c.bridge) throw new CniError(ErrorCode.CHECK_MISMATCH, `host interface ${i.name} is not attached to ${c.bridge}`);
    if (c.hairpinMode && readSys(`/sys/class/net/${i.name}/brport/hairpin_mode`) !== '1') throw new CniError(ErrorCode.CHECK_MISMATCH, `hairpin mode is off on ${i.name}`);
  }
  jobs.push(checkIface(a.ifName, idx, prev, a.netns, ifs[idx].mac));
  if (c.ipMasq && c.ipamType) {
    jobs.push(
      save('nat').then((text) => {
        const chain = chainName('MASQ', c.name, a.containerId, a.ifName);
        const t = parseSave(text);
        if (!t.chains.has(chain)) throw new CniError(ErrorCode.CHECK_MISMATCH, `ipMasq chain ${chain} is missing`);
        if (!t.rules.some((r) => r.chain === 'POSTROUTING' && r.line.includes(`-j ${chain}`))) throw new CniError(ErrorCode.CHECK_MISMATCH, `POSTROUTING does not jump to ${chain}`);
      }),
    );
  }
  const outcomes = await Promise.allSettled(jobs);
  const failed = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
}

async function cmdGC(a: CmdArgs): Promise<void> {
  const c = loadConf(a);
  const valid: { containerID: string; ifname: string }[] = a.conf['cni.dev/valid-attachments'] ?? a.conf['cni.dev/attachments'] ?? [];
  const errors: string[] = [];
  if (c.ipamType) await delegate(c.ipamType, 'GC', a).catch((e) => errors.push(e.message));
  // ipMasq chains of this network whose attachment is gone.
  for (const six of [false, true]) {
    if (six && !fs.existsSync('/proc/net/if_inet6')) continue;
    const t = parseSave(await save('nat', six));
    const stale = new Map<string, string>();
    for (const r of t.rules) {
      const o = parseOwner(commentOf(r.line) ?? '');
      if (!o || o.plugin !== NAME || o.network !== c.name) continue;
      if (valid.some((v) => v.containerID === o.containerId && v.ifname === o.ifName)) continue;
      stale.set(chainName('MASQ', o.network, o.containerId, o.ifName), ownerComment(NAME, o.network, o.containerId, o.ifName));
    }
    for (const [chain, comment] of stale) {
      await restore('nat', removalLines(t, [chain], comment), six).catch((e) => errors.push(e.message));
    }
  }
  if (errors.length) throw new CniError(ErrorCode.RULES_FAILURE, `GC: ${errors.join('; ')}`);
}

async function cmdStatus(a: CmdArgs): Promise<void> {
  const c = loadConf(a);
  if (c.ipamType) await delegate(c.ipamType, 'STATUS', a);
}

/** The plugin, run by cni-plugins/main.ts. */
export const plugin: Plugin = {
  funcs: { add: cmdAdd, del: cmdDel, check: cmdCheck, gc: cmdGC, status: cmdStatus },
  info: { name: NAME, about: 'minid-bridge: Linux bridge + veth (minid, CNI)' },
};
