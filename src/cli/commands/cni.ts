// `minid cni add|del|check NAME NETNS-PATH` (like the CNI project's cnitool) and
// `minid network gc|status`. main.ts wires these into commander; each returns what it printed.
//
// Defaults follow cnitool: NETCONFPATH (else /etc/cni/net.d), CNI_PATH (else /opt/cni/bin and
// /usr/lib/cni), CNI_IFNAME (else eth0), CNI_ARGS, CAP_ARGS (JSON capability arguments), and a
// container ID derived from the namespace path.
import { createHash } from 'node:crypto';
import { fail } from '../../errors.js';
import type { CniResult } from '../../cni/spec.js';
import type { CapabilityArgs, GCAttachment, GCReport, StatusReport } from '../../cni/libcni.js';

export interface CniCommandOptions {
  containerId?: string;
  ifName?: string;
  /** CNI_ARGS "K=V;K=V". */
  args?: string;
  /** Capability arguments as JSON text or an object (cnitool's CAP_ARGS). */
  capArgs?: string | CapabilityArgs;
  /** docker-style -p specs, added to capArgs.portMappings. */
  publish?: string[];
  confDir?: string;
  cniPath?: string;
  cacheDir?: string;
  /** true: narrate plugin calls on stderr; or a function receiving each line. */
  explain?: boolean | ((line: string) => void);
  /** Where output goes (default stdout). */
  out?: (text: string) => void;
}

const write = (o: { out?: (t: string) => void }) => o.out ?? ((t: string) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'));

function explainFn(e: CniCommandOptions['explain']): ((l: string) => void) | undefined {
  if (typeof e === 'function') return e;
  if (e) return (l) => process.stderr.write(l + '\n');
  return undefined;
}

/** cnitool's container ID: a prefix and the sha512 of the namespace path, 25 characters. */
export function containerIdFor(netnsPath: string): string {
  return `minid-${createHash('sha512').update(netnsPath).digest('hex')}`.slice(0, 25);
}

async function attachment(netnsPath: string, o: CniCommandOptions) {
  const { parsePortMappings } = await import('../../cni/ports.js');
  let caps: CapabilityArgs | undefined;
  const raw = o.capArgs ?? process.env.CAP_ARGS;
  if (raw) {
    if (typeof raw === 'string') {
      try {
        caps = JSON.parse(raw);
      } catch (e) {
        fail(`capability arguments are not valid JSON: ${(e as Error).message}`);
      }
    } else caps = raw;
  }
  if (o.publish?.length) caps = { ...(caps ?? {}), portMappings: [...(caps?.portMappings ?? []), ...parsePortMappings(o.publish)] };
  return {
    containerId: o.containerId ?? containerIdFor(netnsPath),
    netns: netnsPath,
    ifName: o.ifName ?? process.env.CNI_IFNAME ?? 'eth0',
    args: o.args ?? process.env.CNI_ARGS ?? undefined,
    capabilityArgs: caps,
    confDir: o.confDir ?? process.env.NETCONFPATH ?? undefined,
    cniPath: o.cniPath,
    cacheDir: o.cacheDir,
    explain: explainFn(o.explain),
  };
}

function need(name: string, netnsPath: string, verb: string): void {
  if (!name) fail(`usage: minid cni ${verb} NETWORK NETNS-PATH (network name missing)`);
  if (!netnsPath) fail(`usage: minid cni ${verb} NETWORK NETNS-PATH (network namespace path missing)`);
}

/** `minid cni add NAME NETNS`: run ADD, print the result JSON. */
export async function cniAdd(name: string, netnsPath: string, opts: CniCommandOptions = {}): Promise<CniResult> {
  need(name, netnsPath, 'add');
  const { addNetworkList } = await import('../../cni/libcni.js');
  const result = await addNetworkList(name, await attachment(netnsPath, opts));
  write(opts)(JSON.stringify(result, null, 2));
  return result;
}

/** `minid cni del NAME NETNS`: run DEL (safe to repeat). */
export async function cniDel(name: string, netnsPath: string, opts: CniCommandOptions = {}): Promise<void> {
  need(name, netnsPath, 'del');
  const { delNetworkList } = await import('../../cni/libcni.js');
  await delNetworkList(name, await attachment(netnsPath, opts));
}

/** `minid cni check NAME NETNS`: run CHECK with the cached result. */
export async function cniCheck(name: string, netnsPath: string, opts: CniCommandOptions = {}): Promise<void> {
  need(name, netnsPath, 'check');
  const { checkNetworkList } = await import('../../cni/libcni.js');
  await checkNetworkList(name, await attachment(netnsPath, opts));
}

export interface NetworkGcOptions {
  /** One network (default: every network in the conf dir). */
  name?: string;
  confDir?: string;
  cniPath?: string;
  cacheDir?: string;
  /** Attachments still in use (default: cached attachments whose namespace still exists). */
  validAttachments?: GCAttachment[];
  explain?: boolean | ((line: string) => void);
  out?: (text: string) => void;
}

/** `minid network gc`: DEL stale cached attachments, then GC to plugins that speak CNI 1.1.0. */
export async function networkGc(opts: NetworkGcOptions = {}): Promise<GCReport[]> {
  const { gcNetworkList } = await import('../../cni/libcni.js');
  const { listNetworkNames } = await import('../../cni/conf.js');
  const confDir = opts.confDir ?? process.env.NETCONFPATH ?? undefined;
  const names = opts.name ? [opts.name] : listNetworkNames(confDir, true);
  const out = write(opts);
  const reports: GCReport[] = [];
  const errors: string[] = [];
  for (const n of names) {
    try {
      const r = await gcNetworkList(n, { confDir, cniPath: opts.cniPath, cacheDir: opts.cacheDir, validAttachments: opts.validAttachments, explain: explainFn(opts.explain) });
      reports.push(r);
      const parts = [`${r.deleted.length} stale attachment(s) deleted`];
      if (r.gcPlugins.length) parts.push(`GC sent to ${r.gcPlugins.join(', ')}`);
      if (r.skipped.length) parts.push(`skipped (CNI < 1.1.0): ${r.skipped.join(', ')}`);
      out(`${n}: ${parts.join('; ')}`);
    } catch (e) {
      errors.push((e as Error).message);
      out(`${n}: ${(e as Error).message}`);
    }
  }
  if (!names.length) out('no CNI networks configured');
  if (errors.length) fail(`network gc failed for ${errors.length} network(s)`);
  return reports;
}

export interface NetworkStatusOptions {
  name?: string;
  confDir?: string;
  cniPath?: string;
  explain?: boolean | ((line: string) => void);
  out?: (text: string) => void;
}

/** `minid network status`: STATUS to plugins that speak CNI 1.1.0; one line per network. */
export async function networkStatus(opts: NetworkStatusOptions = {}): Promise<StatusReport[]> {
  const { statusNetworkList } = await import('../../cni/libcni.js');
  const { listNetworkNames } = await import('../../cni/conf.js');
  const confDir = opts.confDir ?? process.env.NETCONFPATH ?? undefined;
  const names = opts.name ? [opts.name] : listNetworkNames(confDir, true);
  const out = write(opts);
  const reports: StatusReport[] = [];
  let bad = 0;
  for (const n of names) {
    try {
      const r = await statusNetworkList(n, { confDir, cniPath: opts.cniPath, explain: explainFn(opts.explain) });
      reports.push(r);
      const extra = r.skipped.length ? ` (not asked, CNI < 1.1.0: ${r.skipped.join(', ')})` : '';
      out(`${n}: ready${r.checked.length ? `, checked ${r.checked.join(', ')}` : ''}${extra}`);
    } catch (e) {
      bad++;
      reports.push({ network: n, ready: false, checked: [], skipped: [] });
      out(`${n}: NOT READY: ${(e as Error).message}`);
    }
  }
  if (!names.length) out('no CNI networks configured');
  if (bad) fail(`${bad} CNI network(s) not ready`);
  return reports;
}

export { parsePortMappings } from '../../cni/ports.js';
