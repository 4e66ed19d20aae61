// The one reader: snapshot the kernel (and minid's records of this store) into a Snapshot.
// Read-only: it runs `ip -j` (with -d, the bridge ports' hairpin and state that `bridge -j link`
// shows), `ss`, `iptables-save -c`, and reads /proc/sys and /run/netns; it changes nothing.
// Every command goes through the exec seam (sys/exec.ts), every file read through the host
// probe (network/host.ts): unit tests fake both.
import fs from 'node:fs';
import { run } from '../sys/exec.js';
import { probe } from '../network/host.js';
import { parseComment } from '../network/names.js';
import { parseIpAddr, parseNsids, parseRoutes, parseSaveCounters, parseSs } from './parse.js';
import type { CniRecord, ContainerRecord, EndpointRecord, IptRule, KernelSnapshot, MinidRecords, NetnsView, Snapshot } from './snapshot.js';

/** The sysctls that decide whether a published port answers (per bridge where they are per interface). */
export function sysctlKeys(bridges: string[]): string[] {
  const keys = ['net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter', 'net.bridge.bridge-nf-call-iptables'];
  for (const b of bridges) keys.push(`net.ipv4.conf.${b}.route_localnet`, `net.ipv4.conf.${b}.rp_filter`);
  return keys;
}

/**
 * The containers of `minid run --cni NAME`: what the cni driver stored (the attachment in the
 * container's state) and the CNI result cache (files only: no plugin runs, nothing changes).
 */
async function readCniRecords(states: { config: { id: string; name: string; attachment?: unknown; net: { cni?: { confDir?: string; path?: string } } } }[]): Promise<CniRecord[]> {
  const mine = states.filter((s) => (s.config.attachment as { mode?: string } | undefined)?.mode === 'cni');
  if (!mine.length) return [];
  const { fromStored } = await import('../network/drivers/index.js');
  const { CONTAINER_IF } = await import('../network/names.js');
  const { readCache, decodeConfig } = await import('../cni/cache.js');
  const { cniRecordOf } = await import('./cni.js');
  const out: CniRecord[] = [];
  for (const s of mine) {
    const att = fromStored(s.config.attachment, { cni: s.config.net.cni });
    if (att.mode !== 'cni') continue;
    const cached = readCache(att.cni.name, s.config.id, CONTAINER_IF);
    let conf = cached?.config ? decodeConfig(cached.config) : null;
    if (!conf) {
      // No cached configuration (an older cache file): the list as its folder holds it now.
      const { loadNetworkList } = await import('../cni/conf.js');
      try {
        conf = loadNetworkList(att.cni.name, att.cni.confDir).bytes;
      } catch {
        conf = null;
      }
    }
    out.push(cniRecordOf(att, s.config.id, s.config.name, CONTAINER_IF, cached?.result ?? null, conf));
  }
  return out;
}

/** What minid's store records: networks, their endpoints, containers (this store only). */
export async function readRecords(): Promise<MinidRecords> {
  const { storeRef } = await import('../sys/store.js');
  const { records, upMarker } = await import('../network/networks.js');
  const { listEndpoints } = await import('../network/endpoints.js');
  const { listStates } = await import('../runtime/state.js');
  const store = (await storeRef()).id;
  const networks = records();
  const all = listEndpoints();
  const endpoints: EndpointRecord[] = all
    .filter((e) => e.state === 'attached' && e.ip && e.veth && e.netnsName)
    .map((e) => ({
      containerId: e.containerId,
      containerName: e.containerName,
      network: e.network,
      netnsName: e.netnsName!,
      veth: e.veth!,
      ifName: e.ifName ?? 'eth0',
      ip: e.ip!,
      prefixLength: e.prefixLength ?? Number(networks.find((n) => n.name === e.network)?.subnet.split('/')[1] ?? 24),
      gateway: e.gateway ?? networks.find((n) => n.name === e.network)?.gateway ?? '',
      ports: e.ports ?? [],
    }));
  const states = listStates();
  const containers: ContainerRecord[] = states.map((s) => {
    const c: ContainerRecord = { id: s.config.id, name: s.config.name, status: s.status };
    if (s.pid) c.pid = s.pid;
    return c;
  });
  const networksUp = networks.filter((n) => fs.existsSync(upMarker(n.name))).map((n) => n.name);
  const cni = await readCniRecords(states);
  // Every namespace an attached container holds (--network none and --cni ones too): not leftovers.
  const namespaces = [...new Set(all.filter((e) => e.state === 'attached' && e.netnsName).map((e) => e.netnsName!))].sort();
  return { store, networks, networksUp, endpoints, cni, namespaces, containers };
}

async function out(argv: string[]): Promise<string> {
  const r = await run(argv, { allowFail: true });
  if (r.exitCode !== 0) throw new Error((r.stderr || r.stdout).trim().split('\n').pop() || `exit ${r.exitCode}`);
  return r.stdout;
}

async function readNetns(name: string, present: boolean): Promise<NetnsView> {
  if (!present) return { name, error: `/run/netns/${name} does not exist`, links: [], routes: [], listening: [] };
  try {
    const [addr, routes, ss] = await Promise.all([
      out(['ip', '-n', name, '-j', '-d', 'addr', 'show']),
      out(['ip', '-n', name, '-j', '-4', 'route', 'show']),
      out(['ss', '-N', name, '-H', '-ltunp']),
    ]);
    return { name, links: parseIpAddr(addr), routes: parseRoutes(routes), listening: parseSs(ss) };
  } catch (e) {
    return { name, error: (e as Error).message, links: [], routes: [], listening: [] };
  }
}

/**
 * Where to read: by default the host as minid's store sees it. A lab (src/labs/) reads one of
 * its own namespaces *as the host* instead (`netns`): the same snapshot, the same predicates,
 * but every command runs inside that namespace (sysctls and iptables are per namespace too).
 */
export interface ReadWhere {
  /** Read this namespace (/run/netns/NAME) as the host. */
  netns?: string;
  /** More namespaces to read as NetnsView (a lab's "containers"). */
  views?: string[];
  /** Keep every iptables rule, not only minid's (a lab's namespace holds nobody else's). */
  allRules?: boolean;
  /** More sysctls to read (interface names of a lab's bridge, say). */
  sysctls?: string[];
}

/** Read the sysctls `keys` inside namespace NS: /proc/sys shows the namespace of the reader. */
async function sysctlsIn(ns: string, keys: string[]): Promise<Record<string, string | null>> {
  const script = 'for k; do v=$(cat "/proc/sys/$k" 2>/dev/null) && echo "$v" || echo "-"; done';
  const text = await out(['nsenter', `--net=/run/netns/${ns}`, 'sh', '-c', script, 'sh', ...keys.map((k) => k.replace(/\./g, '/'))]);
  const vals = text.split('\n');
  return Object.fromEntries(keys.map((k, i) => [k, vals[i] === undefined || vals[i] === '-' ? null : vals[i].trim()]));
}

/** Snapshot the kernel as far as this store's networks are concerned (or a lab's namespaces: `where`). */
export async function readKernel(rec: MinidRecords, where: ReadWhere = {}): Promise<KernelSnapshot> {
  // Through the host probe (network/host.ts): /proc/sys and /run/netns, faked by unit tests.
  const p = probe();
  const netnsNames = (await p.netnsList()).sort();
  // The containers' namespaces, CNI ones too, read in the same pass (one `ip`/`ss` set per namespace).
  const wanted = [...new Set([...rec.endpoints.map((e) => e.netnsName), ...(rec.cni ?? []).map((c) => c.netnsName), ...(where.views ?? [])])];
  const ns = where.netns;
  // `ip -n NS` and `ss -N NS` switch namespace themselves; iptables-save needs nsenter.
  const ipIn = ns ? ['ip', '-n', ns] : ['ip'];
  const [addr, routes, ss, save, nsids, views] = await Promise.all([
    out([...ipIn, '-j', '-d', 'addr', 'show']),
    out([...ipIn, '-j', '-4', 'route', 'show']),
    out(ns ? ['ss', '-N', ns, '-H', '-ltunp'] : ['ss', '-H', '-ltunp']),
    out(ns ? ['nsenter', `--net=/run/netns/${ns}`, 'iptables-save', '-c'] : ['iptables-save', '-c']),
    out([...ipIn, 'netns', 'list-id']).catch(() => ''),
    Promise.all(wanted.map((n) => readNetns(n, netnsNames.includes(n)))),
  ]);
  // minid's rules only: the host-wide hooks and guard ("minid") and this store's.
  const ours = (r: IptRule): boolean => {
    if (where.allRules) return true;
    const o = r.comment ? parseComment(r.comment) : null;
    return !!o && (r.comment === 'minid' || o.store === rec.store);
  };
  const ipt = parseSaveCounters(save, ours);
  // Others' DNAT of a port: the only thing of theirs kept (a port clash), not their rules.
  const otherDnat = parseSaveCounters(save, (r) => r.table === 'nat' && !ours(r) && r.args.includes('DNAT') && r.args.includes('--dport')).rules.map((r) => {
    const at = (flag: string): string => r.args[r.args.indexOf(flag) + 1] ?? '';
    const d: NonNullable<KernelSnapshot['iptables']['otherDnat']>[number] = { chain: r.chain, proto: at('-p'), dport: Number(at('--dport')), to: at('--to-destination') };
    if (r.comment) d.comment = r.comment;
    return d;
  });
  const keys = [...sysctlKeys(rec.networks.map((n) => n.bridge)), ...(where.sysctls ?? [])];
  let sysctls: Record<string, string | null> = {};
  if (ns) sysctls = await sysctlsIn(ns, keys);
  else for (const k of keys) sysctls[k] = await p.readSysctl(k);
  return {
    host: { links: parseIpAddr(addr), routes: parseRoutes(routes), listening: parseSs(ss) },
    sysctls,
    // br_netfilter loaded (or built in) <=> its sysctls exist.
    brNetfilter: sysctls['net.bridge.bridge-nf-call-iptables'] !== null,
    iptables: { ...ipt, otherDnat },
    netnsNames,
    netns: Object.fromEntries(views.map((v) => [v.name, v])),
    nsids: parseNsids(nsids),
  };
}

export async function readSnapshot(): Promise<Snapshot> {
  const records = await readRecords();
  return { kernel: await readKernel(records), records };
}
