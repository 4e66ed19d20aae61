// minid-host-local: the IPAM plugin that hands out addresses from ranges, one file per reserved
// address under <dataDir>/<network>/ (compatible with the reference host-local's store).
//   ADD    one address per range set (or the requested ones), routes, dns  -> IPAM result
//   DEL    release everything held by (CNI_CONTAINERID, CNI_IFNAME); fine if nothing is held
//   CHECK  the container still holds its addresses
//   GC     release every reservation not in cni.dev/valid-attachments
//   STATUS fail (code 50) when a range set has no free address
import { CniError, ErrorCode, cniArgsRecord, prevResultOf, type CmdArgs, type Plugin } from '../lib/skel.js';
import { withFileLock } from '../lib/flock.js';
import { formatIP, parseIP, type Addr } from '../lib/ip.js';
import type { CniResult } from '../../src/cni/spec.js';
import { loadIpamConf, rangeSetString, type IpamConf } from './config.js';
import { allocate, hasFree, inSet } from './allocator.js';
import { DiskStore } from './store.js';

function conf(a: CmdArgs): IpamConf {
  return loadIpamConf(a.conf, cniArgsRecord(a.args));
}

async function cmdAdd(a: CmdArgs): Promise<CniResult> {
  const c = conf(a);
  const store = DiskStore.forNetwork(c.dataDir, c.name);
  const ips = await withFileLock(store.lockPath, async () => {
    const out: { address: string; gateway: string }[] = [];
    const requested = [...c.requested];
    try {
      c.rangeSets.forEach((rs, i) => {
        const reqIdx = requested.findIndex((r) => inSet(rs, r));
        const req = reqIdx >= 0 ? requested.splice(reqIdx, 1)[0] : undefined;
        out.push(allocate(store, rs, String(i), a.containerId, a.ifName, req));
      });
      if (requested.length)
        throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `requested IP address(es) ${requested.map(formatIP).join(', ')} not in any range set (${c.rangeSets.map(rangeSetString).join('; ')})`);
    } catch (e) {
      store.releaseById(a.containerId, a.ifName);
      throw e;
    }
    return out;
  });
  const r: CniResult = { cniVersion: a.cniVersion, ips, routes: c.routes };
  if (c.dns && Object.keys(c.dns).length) r.dns = c.dns;
  return r;
}

async function cmdDel(a: CmdArgs): Promise<void> {
  const c = conf(a);
  const store = DiskStore.forNetwork(c.dataDir, c.name);
  await withFileLock(store.lockPath, async () => {
    store.releaseById(a.containerId, a.ifName);
  });
}

async function cmdCheck(a: CmdArgs): Promise<void> {
  const c = conf(a);
  const store = DiskStore.forNetwork(c.dataDir, c.name);
  const held = store.getById(a.containerId, a.ifName);
  if (!held.length) throw new CniError(ErrorCode.UNKNOWN_CONTAINER, `host-local: Failed to find address added by container ${a.containerId}`);
  const prev = prevResultOf(a);
  for (const ip of prev?.ips ?? []) {
    const addr = parseIP(ip.address.split('/')[0]);
    if (!addr || !c.rangeSets.some((rs) => inSet(rs, addr))) continue;
    if (!held.some((h) => h.value === addr.value && h.family === addr.family))
      throw new CniError(ErrorCode.CHECK_MISMATCH, `host-local: address ${ip.address} of container ${a.containerId} is not reserved for it`);
  }
}

async function cmdGC(a: CmdArgs): Promise<void> {
  const c = conf(a);
  const valid: { containerID: string; ifname: string }[] = a.conf['cni.dev/valid-attachments'] ?? a.conf['cni.dev/attachments'] ?? [];
  if (!Array.isArray(valid)) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, '"cni.dev/valid-attachments" must be a list');
  const store = DiskStore.forNetwork(c.dataDir, c.name);
  const released: Addr[] = [];
  await withFileLock(store.lockPath, async () => {
    for (const r of store.all()) {
      if (valid.some((v) => v.containerID === r.id && (v.ifname === r.ifName || r.ifName === ''))) continue;
      store.release(r.ip);
      released.push(r.ip);
    }
  });
  if (released.length) process.stderr.write(`minid-host-local: GC released ${released.map(formatIP).join(', ')}\n`);
}

async function cmdStatus(a: CmdArgs): Promise<void> {
  const c = conf(a);
  let store: DiskStore;
  try {
    store = DiskStore.forNetwork(c.dataDir, c.name);
  } catch (e) {
    throw new CniError(ErrorCode.PLUGIN_NOT_AVAILABLE, `data directory ${c.dataDir} is not usable: ${(e as Error).message}`);
  }
  c.rangeSets.forEach((rs) => {
    if (!hasFree(store, rs)) throw new CniError(ErrorCode.PLUGIN_NOT_AVAILABLE, `no free addresses in range set ${rangeSetString(rs)}`);
  });
}

/** The plugin, run by cni-plugins/main.ts. */
export const plugin: Plugin = {
  funcs: { add: cmdAdd, del: cmdDel, check: cmdCheck, gc: cmdGC, status: cmdStatus },
  info: { name: 'minid-host-local', about: 'minid-host-local: host-local IPAM (minid, CNI)' },
};
