// Host and namespace plumbing for the plugins: `ip -batch` (on the host or inside CNI_NETNS via
// nsenter), sysfs/procfs reads and writes, and delegation to IPAM plugins found in CNI_PATH.
// Every command goes through src/sys/exec.ts (without minid-spawner: see skel.ts).
import { randomBytes } from 'node:crypto'; // (the global crypto loads all of WebCrypto at first use)
import fs from 'node:fs';
import path from 'node:path';
import { run, type RunResult } from '../../src/sys/exec.js';
import { convertResult, type CniResult } from '../../src/cni/spec.js';
import { CniError, ErrorCode, dispatch, errorJson, log, siblingAt, toCniError, type CmdArgs, type Plugin } from './skel.js';

/**
 * argv that runs `ip ...` inside the network namespace at path p: `ip -n NAME` for a namespace
 * named in /run/netns (one process, not nsenter's exec of ip: ~1 ms less per call), else
 * through nsenter.
 */
export function inNetns(p: string, argv: string[]): string[] {
  const name = /^\/(?:var\/)?run\/netns\/([^/]+)$/.exec(p)?.[1];
  if (argv[0] === 'ip' && name && !name.startsWith('.') && fs.existsSync(p)) return ['ip', '-n', name, ...argv.slice(1)];
  return ['nsenter', `--net=${p}`, ...argv];
}

/**
 * Run `ip -batch -` with one command per line; on the host, or inside netns. `more`: lines that
 * follow once known; ip starts (and runs `lines`) meanwhile, and a rejected `more` just ends the
 * batch. Without an error, ip runs each line as it reads it and stops at the first that fails.
 */
export async function ipBatch(lines: string[], netns?: string, opts: { force?: boolean; allowFail?: boolean; more?: Promise<string[]> } = {}) {
  if (!lines.length && !opts.more) return { exitCode: 0, stdout: '', stderr: '' };
  const ip = ['ip', ...(opts.force ? ['-force'] : []), '-batch', '-'];
  const text = (l: string[]) => l.map((x) => x + '\n').join('');
  return run(netns ? inNetns(netns, ip) : ip, { input: text(lines), inputMore: opts.more?.then(text), allowFail: opts.allowFail });
}

/** `ip -j ...` parsed. */
export async function ipJson(args: string[], netns?: string): Promise<any[]> {
  const argv = ['ip', '-j', ...args];
  const r = await run(netns ? inNetns(netns, argv) : argv, { allowFail: true });
  if (r.exitCode !== 0) return [];
  try {
    return JSON.parse(r.stdout || '[]');
  } catch {
    return [];
  }
}

export const linkExists = (name: string): boolean => fs.existsSync(`/sys/class/net/${name}`);
export const isBridge = (name: string): boolean => fs.existsSync(`/sys/class/net/${name}/bridge`);

export function readSys(p: string): string | null {
  try {
    return fs.readFileSync(p, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Write a sysctl on the host (only when it differs). Returns whether it changed. */
export function setSysctl(key: string, value: string): boolean {
  const p = path.join('/proc/sys', key.replace(/\./g, '/'));
  const cur = readSys(p);
  if (cur === value) return false;
  fs.writeFileSync(p, value);
  return true;
}

export const macOf = (name: string): string => readSys(`/sys/class/net/${name}/address`) ?? '';

/** A random, locally administered unicast MAC. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0] & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function randomHex(bytes: number): string {
  return [...randomBytes(bytes)].map((x) => x.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------------------------------------
// Delegation (spec section 4): find the plugin in CNI_PATH, run it with our environment and our
// stdin, pass its stderr on, and turn its error result into ours.

export function findInPath(type: string, cniPath: string): string {
  if (!type || /[/\\]/.test(type)) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `invalid plugin type ${JSON.stringify(type)}`);
  for (const d of cniPath.split(':').filter(Boolean)) {
    const p = path.join(d, type);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, `failed to find plugin "${type}" in path [${cniPath.split(':').join(' ')}]`);
}

/** Does `type` in CNI_PATH lead to one of this program's own plugins (run in this process)? */
export function isSibling(type: string, cniPath: string): boolean {
  try {
    return !!siblingAt(type, findInPath(type, cniPath));
  } catch {
    return false;
  }
}

export async function delegate(type: string, command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS', a: CmdArgs): Promise<CniResult | null> {
  const p = findInPath(type, a.path);
  const sibling = siblingAt(type, p);
  const r = sibling ? await inProcess(sibling, command, a) : await run([p], { input: a.stdinData, env: { CNI_COMMAND: command }, allowFail: true });
  if (r.stderr) process.stderr.write(r.stderr);
  const out = r.stdout.trim();
  if (r.exitCode !== 0) {
    let e: any = null;
    try {
      e = JSON.parse(out);
    } catch {
      /* not JSON */
    }
    if (e && typeof e.code === 'number') throw new CniError(e.code as ErrorCode, `${type}: ${e.msg}`, e.details ?? '');
    throw new CniError(ErrorCode.DELEGATE_FAILURE, `${type} ${command} failed: ${(r.stderr || out).trim().split('\n').pop() || `exit ${r.exitCode}`}`);
  }
  if (command !== 'ADD') return null;
  try {
    const j = JSON.parse(out);
    return convertResult({ cniVersion: a.cniVersion, ...j }, '1.0.0');
  } catch (e) {
    throw new CniError(ErrorCode.DECODING_FAILURE, `${type} returned an undecodable result: ${(e as Error).message}`);
  }
}

/** One of minid's own plugins, run here as its process would run (skel.ts, siblings). */
async function inProcess(sibling: Plugin, command: string, a: CmdArgs): Promise<RunResult> {
  try {
    const out = await dispatch(sibling.funcs, sibling.info, { ...process.env, CNI_COMMAND: command }, () => a.stdinData);
    return { exitCode: 0, stdout: out ?? '', stderr: '' };
  } catch (e) {
    const ce = toCniError(e);
    log(sibling.info.name, `${command} failed: ${ce.message}${ce.details ? ` (${ce.details})` : ''}`);
    return { exitCode: 1, stdout: errorJson(ce), stderr: '' };
  }
}

/**
 * Configure an interface inside the namespace from a result: addresses and routes that belong
 * to interface index `idx` (like the reference's ipam.ConfigureIface). One `ip -batch` call.
 */
export function configureIfaceLines(ifName: string, idx: number, r: CniResult): string[] {
  const lines: string[] = [];
  const mine = (r.ips ?? []).filter((ip) => ip.interface === undefined || ip.interface === idx);
  for (const ip of mine) lines.push(`addr add ${ip.address} dev ${ifName}${ip.address.includes(':') ? ' nodad' : ''}`);
  lines.push(`link set ${ifName} up`);
  for (const rt of r.routes ?? []) {
    const six = rt.dst.includes(':');
    // A route needs an address of its family on the interface.
    if (!mine.some((ip) => ip.address.includes(':') === six)) continue;
    let gw = rt.gw;
    if (!gw) gw = mine.find((ip) => ip.address.includes(':') === six && ip.gateway)?.gateway;
    let l = `route add ${rt.dst}`;
    if (gw) l += ` via ${gw}`;
    l += ` dev ${ifName}`;
    if (rt.mtu) l += ` mtu ${rt.mtu}`;
    if (rt.advmss) l += ` advmss ${rt.advmss}`;
    if (rt.priority !== undefined) l += ` metric ${rt.priority}`;
    if (rt.table !== undefined) l += ` table ${rt.table}`;
    if (rt.scope !== undefined) l += ` scope ${rt.scope}`;
    lines.push(l);
  }
  return lines;
}

/** CHECK helper: addresses and routes of `ifName` in the namespace match the result. */
export async function checkIface(ifName: string, idx: number, r: CniResult, netns: string, mac?: string): Promise<void> {
  const [links, addrs, routes4, routes6] = await Promise.all([
    ipJson(['link', 'show', 'dev', ifName], netns),
    ipJson(['addr', 'show', 'dev', ifName], netns),
    ipJson(['-4', 'route', 'show', 'dev', ifName], netns),
    ipJson(['-6', 'route', 'show', 'dev', ifName], netns),
  ]);
  if (!links.length) throw new CniError(ErrorCode.UNKNOWN_CONTAINER, `interface ${ifName} not found in ${netns}`);
  if (mac && links[0].address && links[0].address.toLowerCase() !== mac.toLowerCase())
    throw new CniError(ErrorCode.CHECK_MISMATCH, `interface ${ifName} has MAC ${links[0].address}, expected ${mac}`);
  const have = new Set<string>();
  for (const a of addrs) for (const ai of a.addr_info ?? []) have.add(`${ai.local}/${ai.prefixlen}`);
  for (const ip of r.ips ?? []) {
    if (ip.interface !== undefined && ip.interface !== idx) continue;
    if (!have.has(ip.address)) throw new CniError(ErrorCode.CHECK_MISMATCH, `interface ${ifName} in ${netns} lacks address ${ip.address}`);
  }
  const routes = [...routes4, ...routes6];
  for (const rt of r.routes ?? []) {
    const dst = rt.dst === '0.0.0.0/0' || rt.dst === '::/0' ? 'default' : rt.dst;
    const found = routes.some((x) => (x.dst === dst || `${x.dst}/32` === dst || `${x.dst}/128` === dst) && (!rt.gw || x.gateway === rt.gw));
    const famOk = (r.ips ?? []).some((ip) => ip.address.includes(':') === rt.dst.includes(':'));
    if (famOk && !found) throw new CniError(ErrorCode.CHECK_MISMATCH, `route to ${rt.dst}${rt.gw ? ` via ${rt.gw}` : ''} is missing in ${netns}`);
  }
}
