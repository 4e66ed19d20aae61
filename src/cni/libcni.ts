// minid as a CNI runtime, modelled on libcni (containernetworking/cni/libcni):
//   addNetworkList    ADD each plugin in order, each result fed to the next as prevResult;
//                     a failure rolls back with DEL; the final result is cached.
//   delNetworkList    DEL in reverse order with the cached result; missing namespace is fine;
//                     safe to repeat; works from the cache if the config file is gone.
//   checkNetworkList  CHECK each plugin with the cached result.
//   gcNetworkList     DEL stale cached attachments, then GC to plugins that speak 1.1.0.
//   statusNetworkList STATUS to plugins that speak 1.1.0.
// Version negotiation: every plugin (and its delegated IPAM plugin) is asked VERSION; the list
// runs with the highest of its cniVersion/cniVersions that all of them support.
import fs from 'node:fs';
import path from 'node:path';
import { MinidError } from '../errors.js';
import { withLock } from '../sys/lock.js';
import { paths } from '../sys/paths.js';
import { deleteCache, decodeConfig, encodeConfig, listCache, readCache, writeCache, type CachedAttachment } from './cache.js';
import { confListFromBytes, loadNetworkList, NetworkNotFoundError, type NetworkConfigList, type PluginConf, DEFAULT_CONF_DIR } from './conf.js';
import { cniPath, execPlugin, findPlugin, getVersionInfo, PluginError, type Explain, type InvokeArgs } from './invoke.js';
import {
  compareVersions,
  convertResult,
  formatCniArgs,
  resultProblem,
  validateContainerId,
  validateIfName,
  versionAtLeast,
  type CniResult,
  type PortMapping,
} from './spec.js';

export interface CapabilityArgs {
  portMappings?: PortMapping[];
  ips?: string[];
  mac?: string;
  [k: string]: unknown;
}

export interface CommonOptions {
  /** Where the network configurations are (default /etc/cni/net.d). */
  confDir?: string;
  /** Plugin search path (default $CNI_PATH, else /opt/cni/bin:/usr/lib/cni). */
  cniPath?: string | string[];
  /** Result cache (default paths.cniCache()). */
  cacheDir?: string;
  /** Narrate every plugin call: environment, stdin config, result. */
  explain?: Explain;
  /** Use this list instead of loading one by name. */
  list?: NetworkConfigList;
}

export interface AttachmentOptions extends CommonOptions {
  containerId: string;
  netns: string;
  ifName?: string;
  /** CNI_ARGS, as pairs, a record, or the raw "K=V;K=V" string. */
  args?: [string, string][] | Record<string, string> | string;
  capabilityArgs?: CapabilityArgs;
}

// ---------------------------------------------------------------------------------------------

interface Plan {
  list: NetworkConfigList;
  dirs: string[];
  plugins: { conf: PluginConf; path: string }[];
}

function plan(list: NetworkConfigList, o: CommonOptions): Plan {
  const dirs = cniPath(o.cniPath);
  const plugins = list.plugins.map((conf) => {
    try {
      return { conf, path: findPlugin(conf.type, dirs) };
    } catch (e) {
      throw new MinidError(`CNI network "${list.name}"${list.source ? ` (${list.source})` : ''}: ${(e as Error).message}`);
    }
  });
  return { list, dirs, plugins };
}

const versionCacheFile = (o: CommonOptions) => path.join(path.dirname(o.cacheDir ?? paths.cniCache()), 'plugin-versions.json');

/**
 * Choose the version the list runs with: the highest the list offers that every plugin, and
 * every delegated IPAM plugin, says it supports. Refuse clearly when there is none.
 */
export async function negotiateVersion(p: Plan, o: CommonOptions): Promise<string> {
  const callers: { label: string; path: string }[] = [];
  for (const pl of p.plugins) {
    callers.push({ label: pl.conf.type, path: pl.path });
    const ipamType = pl.conf.ipam?.type;
    if (typeof ipamType === 'string' && ipamType) {
      try {
        callers.push({ label: `${ipamType} (IPAM of ${pl.conf.type})`, path: findPlugin(ipamType, p.dirs) });
      } catch {
        /* the plugin itself will report a missing IPAM plugin, with its own error code */
      }
    }
  }
  const infos = await Promise.all(
    callers.map(async (c) => ({ ...c, vi: await getVersionInfo(c.path, p.dirs, { explain: o.explain, cacheFile: versionCacheFile(o) }) })),
  );
  for (const v of p.list.cniVersions) if (infos.every((i) => i.vi.supportedVersions.includes(v))) return v;
  const where = p.list.source ? ` in ${p.list.source}` : '';
  const wanted = p.list.cniVersions.join(', ');
  if (compareVersions(p.list.cniVersion, '1.1.0') > 0)
    throw new MinidError(`CNI network "${p.list.name}" asks for cniVersion ${p.list.cniVersion}, newer than minid speaks (up to 1.1.0): change "cniVersion"${where}`);
  const refusing = infos.filter((i) => !p.list.cniVersions.some((v) => i.vi.supportedVersions.includes(v)));
  const who = (refusing.length ? refusing : infos)
    .map((i) => `${i.label} (${i.path}) supports ${i.vi.supportedVersions.join(', ')}`)
    .join('; ');
  const common = infos
    .map((i) => i.vi.supportedVersions)
    .reduce((a, b) => a.filter((v) => b.includes(v)))
    .filter((v) => compareVersions(v, '1.1.0') <= 0)
    .sort(compareVersions);
  const hint = common.length ? `: set "cniVersion": "${common[common.length - 1]}"${where}` : '';
  throw new MinidError(`CNI network "${p.list.name}" needs cniVersion ${wanted}, which its plugins do not all speak: ${who}${hint}`);
}

/** The request configuration for one plugin (spec section 3, "Deriving request configuration"). */
export function buildPluginConfig(
  list: NetworkConfigList,
  conf: PluginConf,
  cniVersion: string,
  prevResult: CniResult | null,
  capabilityArgs: CapabilityArgs | undefined,
): Record<string, unknown> {
  const { capabilities, ...rest } = conf;
  const out: Record<string, unknown> = { cniVersion, name: list.name, ...rest };
  out.cniVersion = cniVersion;
  out.name = list.name;
  const rc: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(capabilities ?? {})) if (on && capabilityArgs && capabilityArgs[cap] !== undefined) rc[cap] = capabilityArgs[cap];
  if (Object.keys(rc).length) out.runtimeConfig = rc;
  else delete out.runtimeConfig;
  if (prevResult) out.prevResult = prevResult;
  else delete out.prevResult;
  return out;
}

function argsString(a: AttachmentOptions['args']): string {
  if (!a) return '';
  return typeof a === 'string' ? a : formatCniArgs(a);
}

function argsPairs(a: AttachmentOptions['args']): [string, string][] | undefined {
  if (!a) return undefined;
  if (typeof a === 'string') return a.split(';').filter(Boolean).map((kv) => [kv.split('=')[0], kv.slice(kv.indexOf('=') + 1)] as [string, string]);
  return Array.isArray(a) ? a : Object.entries(a);
}

function checkAttachment(o: AttachmentOptions): { containerId: string; ifName: string } {
  const ifName = o.ifName ?? 'eth0';
  const bad = validateContainerId(o.containerId) ?? validateIfName(ifName);
  if (bad) throw new MinidError(`CNI: ${bad}`);
  return { containerId: o.containerId, ifName };
}

const lockName = (net: string, id: string, ifName: string) => `cni-${net}-${id}-${ifName}`.slice(0, 200);

function describe(list: NetworkConfigList, version: string): string {
  return `network "${list.name}"${list.source ? ` (${list.source})` : ''}, cniVersion ${version}, plugins ${list.plugins.map((p) => p.type).join(' -> ')}`;
}

function toResult(raw: any, version: string, who: string): CniResult {
  const problem = resultProblem(raw);
  if (problem) throw new MinidError(`${who} returned an unusable result: ${problem}`);
  try {
    return convertResult(raw, version);
  } catch (e) {
    throw new MinidError(`${who} returned a result minid cannot convert to cniVersion ${version}: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------

export async function addNetworkList(name: string, o: AttachmentOptions): Promise<CniResult> {
  const { containerId, ifName } = checkAttachment(o);
  if (!o.netns) throw new MinidError('CNI ADD needs the container network namespace path (CNI_NETNS)');
  if (!fs.existsSync(o.netns)) throw new MinidError(`CNI ADD: the network namespace ${o.netns} does not exist`);
  const list = o.list ?? loadNetworkList(name, o.confDir ?? DEFAULT_CONF_DIR);
  const p = plan(list, o);
  const version = await negotiateVersion(p, o);
  const args = argsString(o.args);
  const inv: InvokeArgs = { command: 'ADD', containerId, netns: o.netns, ifName, args, path: p.dirs };
  const context = `of container ${containerId} to network "${list.name}"`;
  return withLock(lockName(list.name, containerId, ifName), async () => {
    o.explain?.(`# CNI ADD ${containerId} ${ifName}: ${describe(list, version)}`);
    let prev: CniResult | null = null;
    for (let i = 0; i < p.plugins.length; i++) {
      const pl = p.plugins[i];
      const conf = buildPluginConfig(list, pl.conf, version, prev, o.capabilityArgs);
      try {
        const raw = await execPlugin(pl.path, inv, JSON.stringify(conf, null, 2), { explain: o.explain, context });
        if (raw === null) {
          if (!prev) throw new MinidError(`CNI plugin ${pl.conf.type} (${pl.path}) ADD ${context} printed no result`);
          o.explain?.(`# ${pl.conf.type} printed no result: keeping the previous one`);
        } else {
          prev = toResult(raw, version, `CNI plugin ${pl.conf.type} (${pl.path}) ADD ${context}`);
        }
      } catch (e) {
        // Roll back what ran, newest first, with the best result we have.
        const problems: string[] = [];
        o.explain?.(`# ADD failed at ${pl.conf.type}: rolling back with DEL`);
        for (let j = i; j >= 0; j--) {
          const q = p.plugins[j];
          const dconf = buildPluginConfig(list, q.conf, version, versionAtLeast(version, '0.4.0') ? prev : null, o.capabilityArgs);
          try {
            await execPlugin(q.path, { ...inv, command: 'DEL' }, JSON.stringify(dconf, null, 2), { explain: o.explain, context: `(rollback) ${context}` });
          } catch (de) {
            problems.push((de as Error).message);
          }
        }
        const msg = (e as Error).message + (problems.length ? `; the rollback also failed: ${problems.join('; ')}` : '; rolled back');
        if (e instanceof PluginError) throw new PluginError(msg, e.plugin, e.command, e.cniError, e.stderr);
        throw new MinidError(msg);
      }
    }
    const result = prev!;
    const entry: CachedAttachment = {
      kind: 'cniCacheV1',
      containerId,
      config: encodeConfig(list.bytes),
      ifName,
      networkName: list.name,
      netns: o.netns,
      cniArgs: argsPairs(o.args),
      capabilityArgs: o.capabilityArgs as Record<string, unknown> | undefined,
      result: result as Record<string, unknown>,
      cniVersion: version,
    };
    const f = writeCache(entry, o.cacheDir);
    o.explain?.(`# cached the result in ${f}`);
    return result;
  });
}

function listFromCache(name: string, c: CachedAttachment | null, o: CommonOptions): NetworkConfigList {
  if (o.list) return o.list;
  try {
    return loadNetworkList(name, o.confDir ?? DEFAULT_CONF_DIR);
  } catch (e) {
    if (!(e instanceof NetworkNotFoundError) || !c?.config) throw e;
    o.explain?.(`# network "${name}" is no longer in the configuration directory: using the configuration cached at ADD`);
    return confListFromBytes(decodeConfig(c.config), `cache of ${name}`);
  }
}

export async function delNetworkList(name: string, o: AttachmentOptions): Promise<void> {
  const { containerId, ifName } = checkAttachment(o);
  await withLock(lockName(name, containerId, ifName), () => delLocked(name, containerId, ifName, o));
  // The attachment is gone: so is its lock file (the spec forbids parallel calls for one
  // attachment, so nobody is waiting on it).
  fs.rmSync(path.join(paths.locks(), lockName(name, containerId, ifName)), { force: true });
}

async function delLocked(name: string, containerId: string, ifName: string, o: AttachmentOptions): Promise<void> {
  const cached = readCache(name, containerId, ifName, o.cacheDir);
  const list = listFromCache(name, cached, o);
  const p = plan(list, o);
  const version = cached?.cniVersion ?? (list.cniVersions.length > 1 ? await negotiateVersion(p, o) : list.cniVersion);
  let prev: CniResult | null = null;
  if (cached?.result && versionAtLeast(version, '0.4.0')) {
    try {
      prev = convertResult(cached.result, version);
    } catch {
      prev = null; // like libcni: an unusable cache entry is dropped
    }
  }
  let netns = o.netns || cached?.netns || '';
  if (netns && !fs.existsSync(netns)) {
    o.explain?.(`# ${netns} no longer exists: DEL runs without CNI_NETNS (plugins release what is outside the namespace)`);
    netns = '';
  }
  const args = o.args !== undefined ? argsString(o.args) : formatCniArgs(cached?.cniArgs);
  const caps = o.capabilityArgs ?? (cached?.capabilityArgs as CapabilityArgs | undefined);
  const inv: InvokeArgs = { command: 'DEL', containerId, netns, ifName, args, path: p.dirs };
  o.explain?.(`# CNI DEL ${containerId} ${ifName}: ${describe(list, version)}${prev ? '' : ' (no cached result)'}`);
  for (let i = p.plugins.length - 1; i >= 0; i--) {
    const pl = p.plugins[i];
    const conf = buildPluginConfig(list, pl.conf, version, prev, caps);
    await execPlugin(pl.path, inv, JSON.stringify(conf, null, 2), { explain: o.explain, context: `of container ${containerId} from network "${list.name}"` });
  }
  deleteCache(name, containerId, ifName, o.cacheDir);
}

export async function checkNetworkList(name: string, o: AttachmentOptions): Promise<void> {
  const { containerId, ifName } = checkAttachment(o);
  const list = o.list ?? loadNetworkList(name, o.confDir ?? DEFAULT_CONF_DIR);
  const cached = readCache(name, containerId, ifName, o.cacheDir);
  const version = cached?.cniVersion ?? list.cniVersion;
  if (!versionAtLeast(version, '0.4.0'))
    throw new MinidError(`CNI network "${name}" uses cniVersion ${version}: CHECK needs 0.4.0 or later`);
  if (list.disableCheck) {
    o.explain?.(`# network "${name}" sets disableCheck: nothing to check`);
    return;
  }
  if (!cached?.result) throw new MinidError(`CNI CHECK: container ${containerId} (${ifName}) is not attached to network "${name}" (no cached ADD result)`);
  const p = plan(list, o);
  const prev = convertResult(cached.result, version);
  const inv: InvokeArgs = {
    command: 'CHECK',
    containerId,
    netns: o.netns || cached.netns || '',
    ifName,
    args: o.args !== undefined ? argsString(o.args) : formatCniArgs(cached.cniArgs),
    path: p.dirs,
  };
  const caps = o.capabilityArgs ?? (cached.capabilityArgs as CapabilityArgs | undefined);
  o.explain?.(`# CNI CHECK ${containerId} ${ifName}: ${describe(list, version)}`);
  for (const pl of p.plugins) {
    const conf = buildPluginConfig(list, pl.conf, version, prev, caps);
    await execPlugin(pl.path, inv, JSON.stringify(conf, null, 2), { explain: o.explain, context: `of container ${containerId} on network "${name}"` });
  }
}

/** The cached result of an attachment (libcni's GetNetworkListCachedResult). */
export function getCachedResult(name: string, containerId: string, ifName = 'eth0', cacheDir?: string): CniResult | null {
  const c = readCache(name, containerId, ifName, cacheDir);
  if (!c?.result) return null;
  return convertResult(c.result, c.cniVersion ?? String(c.result.cniVersion ?? '1.0.0'));
}

export { listCache as cachedAttachments };

// ---------------------------------------------------------------------------------------------
// GC and STATUS (spec 1.1.0). Plugins that do not speak 1.1.0 are skipped, said so.

export interface GCAttachment {
  containerID: string;
  ifname: string;
}

export interface GCOptions extends CommonOptions {
  /**
   * The attachments still in use. Default: every cached attachment of the network whose
   * network namespace still exists.
   */
  validAttachments?: GCAttachment[];
}

export interface GCReport {
  network: string;
  deleted: GCAttachment[];
  gcPlugins: string[];
  skipped: string[];
  errors: string[];
}

async function pluginsSpeaking11(p: Plan, o: CommonOptions): Promise<{ speak: Plan['plugins']; skip: Plan['plugins'] }> {
  const speak: Plan['plugins'] = [];
  const skip: Plan['plugins'] = [];
  for (const pl of p.plugins) {
    const vi = await getVersionInfo(pl.path, p.dirs, { explain: o.explain, cacheFile: versionCacheFile(o) });
    (vi.supportedVersions.includes('1.1.0') ? speak : skip).push(pl);
  }
  return { speak, skip };
}

export async function gcNetworkList(name: string, o: GCOptions = {}): Promise<GCReport> {
  const list = o.list ?? loadNetworkList(name, o.confDir ?? DEFAULT_CONF_DIR);
  const report: GCReport = { network: list.name, deleted: [], gcPlugins: [], skipped: [], errors: [] };
  if (list.disableGC) {
    o.explain?.(`# network "${list.name}" sets disableGC: no garbage collection`);
    return report;
  }
  const cached = listCache(list.name, o.cacheDir);
  const valid: GCAttachment[] =
    o.validAttachments ?? cached.filter((c) => c.netns && fs.existsSync(c.netns)).map((c) => ({ containerID: c.containerId, ifname: c.ifName }));
  const isValid = (id: string, ifn: string) => valid.some((v) => v.containerID === id && v.ifname === ifn);
  for (const c of cached) {
    if (isValid(c.containerId, c.ifName)) continue;
    o.explain?.(`# stale attachment ${c.containerId} ${c.ifName}: DEL`);
    try {
      await delNetworkList(list.name, { ...o, list, containerId: c.containerId, ifName: c.ifName, netns: c.netns ?? '' });
      report.deleted.push({ containerID: c.containerId, ifname: c.ifName });
    } catch (e) {
      report.errors.push(`failed to delete stale attachment ${c.containerId} ${c.ifName}: ${(e as Error).message}`);
    }
  }
  const p = plan(list, o);
  const { speak, skip } = await pluginsSpeaking11(p, o);
  for (const pl of skip) {
    report.skipped.push(pl.conf.type);
    o.explain?.(`# ${pl.conf.type} (${pl.path}) does not speak CNI 1.1.0: no GC sent`);
  }
  for (const pl of speak) {
    const { capabilities: _c, ...rest } = pl.conf;
    const conf = { cniVersion: '1.1.0', name: list.name, ...rest, 'cni.dev/valid-attachments': valid, 'cni.dev/attachments': valid };
    conf.cniVersion = '1.1.0';
    try {
      await execPlugin(pl.path, { command: 'GC', path: p.dirs }, JSON.stringify(conf, null, 2), { explain: o.explain, context: `on network "${list.name}"` });
      report.gcPlugins.push(pl.conf.type);
    } catch (e) {
      report.errors.push((e as Error).message);
    }
  }
  if (report.errors.length) throw Object.assign(new MinidError(`CNI GC of network "${list.name}": ${report.errors.join('; ')}`), { report });
  return report;
}

export interface StatusReport {
  network: string;
  ready: boolean;
  checked: string[];
  skipped: string[];
}

export async function statusNetworkList(name: string, o: CommonOptions = {}): Promise<StatusReport> {
  const list = o.list ?? loadNetworkList(name, o.confDir ?? DEFAULT_CONF_DIR);
  const p = plan(list, o);
  const { speak, skip } = await pluginsSpeaking11(p, o);
  const report: StatusReport = { network: list.name, ready: true, checked: [], skipped: skip.map((s) => s.conf.type) };
  for (const pl of skip) o.explain?.(`# ${pl.conf.type} (${pl.path}) does not speak CNI 1.1.0: no STATUS sent`);
  for (const pl of speak) {
    const { capabilities: _c, ...rest } = pl.conf;
    const conf = { cniVersion: '1.1.0', name: list.name, ...rest };
    conf.cniVersion = '1.1.0';
    await execPlugin(pl.path, { command: 'STATUS', path: p.dirs }, JSON.stringify(conf, null, 2), { explain: o.explain, context: `of network "${list.name}"` });
    report.checked.push(pl.conf.type);
  }
  return report;
}

export { loadNetworkList };
