// The plugin skeleton, like the reference plugins' pkg/skel: read the CNI_ environment and the
// config on stdin, validate them, dispatch to cmdAdd/cmdDel/cmdCheck/cmdGC/cmdStatus, answer
// VERSION, and print either the result (converted to the config's cniVersion) or an error
// result {cniVersion, code, msg, details} on stdout with exit status 1. Logs go to stderr.
//
// Start-up matters (a plugin runs for every container, and delegates to IPAM plugins): only
// node: built-ins and small minid modules are imported. External commands run through
// minid's one runner (src/sys/exec.ts: traced with MINID_DEBUG=1, a signal-killed command
// ends with 128+N) with "no helper": a plugin lives too short a time for minid-spawner.
import fs from 'node:fs';
import { debugMark, withoutHelper } from '../../src/sys/exec.js';
import {
  ErrorCode,
  SUPPORTED_VERSIONS,
  compareVersions,
  convertResult,
  isValidVersion,
  validateContainerId,
  validateIfName,
  validateNetworkName,
  type CniResult,
} from '../../src/cni/spec.js';

/** Every error a plugin reports has a named code (src/cni/spec.ts: the spec's, libcni's, minid's own). */
export { ErrorCode } from '../../src/cni/spec.js';

/** An error result: what the plugin prints as {cniVersion, code, msg, details} and exits 1. */
export class CniError extends Error {
  constructor(
    public readonly code: ErrorCode,
    msg: string,
    public readonly details = '',
  ) {
    super(msg);
  }
}

export interface CmdArgs {
  command: string;
  containerId: string;
  netns: string;
  ifName: string;
  args: string;
  path: string;
  stdinData: string;
  /** The parsed stdin config. */
  conf: any;
  cniVersion: string;
}

export interface PluginFuncs {
  add: (a: CmdArgs) => Promise<CniResult>;
  del: (a: CmdArgs) => Promise<void>;
  check?: (a: CmdArgs) => Promise<void>;
  gc?: (a: CmdArgs) => Promise<void>;
  status?: (a: CmdArgs) => Promise<void>;
}

export interface PluginInfo {
  name: string;
  about: string;
  versions?: string[];
}

/** One of minid's plugins: what cni-plugins/main.ts runs by name. */
export interface Plugin {
  funcs: PluginFuncs;
  info: PluginInfo;
}

// minid's plugins are one program (cni-plugins/main.ts), each launcher naming the one to run.
// When a plugin delegates to another of them (minid-bridge to minid-host-local) and CNI_PATH
// leads to that very launcher, the delegated plugin runs in this process: the same call as
// a process of its own would get (its CNI_COMMAND, the same stdin and environment), without
// a second Node start.
let siblings: { plugins: Record<string, Plugin>; dir: string } | undefined;

/** The plugins that can run in this process, and the folder of their launchers. */
export function setSiblings(plugins: Record<string, Plugin>, launcherDir: string): void {
  siblings = { plugins, dir: launcherDir };
}

/** Back to the state of a process that has run no plugin (after the snapshot's rehearsal). */
export function resetState(): void {
  siblings = undefined;
  currentVersion = '1.1.0';
}

/** The plugin whose launcher `file` (found in CNI_PATH) is, if it is one of this program's. */
export function siblingAt(type: string, file: string): Plugin | undefined {
  const p = siblings?.plugins[type];
  if (!p) return undefined;
  try {
    return fs.realpathSync(file) === fs.realpathSync(`${siblings!.dir}/${type}`) ? p : undefined;
  } catch {
    return undefined;
  }
}

let currentVersion = '1.1.0';

export function log(name: string, msg: string): void {
  process.stderr.write(`${name}: ${msg}\n`);
}

const REQUIRED: Record<string, string[]> = {
  ADD: ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  GC: ['CNI_COMMAND', 'CNI_PATH'],
  STATUS: ['CNI_COMMAND', 'CNI_PATH'],
  VERSION: ['CNI_COMMAND'],
};

export function toCniError(e: unknown): CniError {
  return e instanceof CniError ? e : new CniError(ErrorCode.INTERNAL, (e as Error)?.message ?? String(e));
}

export function errorJson(e: CniError): string {
  const o: Record<string, unknown> = { cniVersion: currentVersion, code: e.code, msg: e.message };
  if (e.details) o.details = e.details;
  return JSON.stringify(o);
}

/** Is path the network namespace this process runs in? (ADD into our own netns is refused.) */
function isOwnNetns(p: string): boolean {
  try {
    const a = fs.statSync(p);
    const b = fs.statSync('/proc/self/ns/net');
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/** One plugin invocation, without touching the process (exported for tests). */
export async function dispatch(
  funcs: PluginFuncs,
  info: PluginInfo,
  env: NodeJS.ProcessEnv,
  readStdin: () => string = () => fs.readFileSync(0, 'utf8'),
): Promise<string | null> {
  const versions = info.versions ?? SUPPORTED_VERSIONS;
  const cmd = env.CNI_COMMAND ?? '';
  if (!cmd) {
    process.stderr.write(`${info.about}\nCNI protocol versions supported: ${versions.join(', ')}\n`);
    return null;
  }
  const req = REQUIRED[cmd];
  if (!req) throw new CniError(ErrorCode.INVALID_ENVIRONMENT_VARIABLES, `unknown CNI_COMMAND: ${cmd}`);
  const missing = req.filter((k) => !env[k]);
  if (missing.length) throw new CniError(ErrorCode.INVALID_ENVIRONMENT_VARIABLES, `required env variables [${missing.join(',')}] missing`);
  if (cmd === 'VERSION') return JSON.stringify({ cniVersion: '1.1.0', supportedVersions: versions });
  if (cmd === 'ADD' || cmd === 'CHECK' || cmd === 'DEL') {
    const bad = validateContainerId(env.CNI_CONTAINERID!);
    if (bad) throw new CniError(ErrorCode.INVALID_ENVIRONMENT_VARIABLES, bad, 'CNI_CONTAINERID');
    const badIf = validateIfName(env.CNI_IFNAME!);
    if (badIf) throw new CniError(ErrorCode.INVALID_ENVIRONMENT_VARIABLES, badIf, 'CNI_IFNAME');
  }
  let stdin: string;
  try {
    stdin = readStdin();
  } catch (e) {
    throw new CniError(ErrorCode.IO_FAILURE, `error reading from stdin: ${(e as Error).message}`);
  }
  let conf: any;
  try {
    conf = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(ErrorCode.DECODING_FAILURE, `error decoding network config: ${(e as Error).message}`);
  }
  if (!conf || typeof conf !== 'object' || Array.isArray(conf)) throw new CniError(ErrorCode.DECODING_FAILURE, 'error decoding network config: not a JSON object');
  if (!conf.name) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, 'missing network name');
  const badName = validateNetworkName(String(conf.name));
  if (badName) throw new CniError(ErrorCode.INVALID_NETWORK_CONFIG, badName);
  const v = conf.cniVersion === undefined || conf.cniVersion === '' ? '0.1.0' : conf.cniVersion;
  if (!isValidVersion(v)) throw new CniError(ErrorCode.DECODING_FAILURE, `invalid cniVersion ${JSON.stringify(conf.cniVersion)}`);
  if (!versions.includes(v))
    throw new CniError(ErrorCode.INCOMPATIBLE_CNI_VERSION, 'incompatible CNI versions', `config is "${v}", plugin supports [${versions.map((x) => `"${x}"`).join(' ')}]`);
  currentVersion = v;
  const needs = (min: string) => {
    if (compareVersions(v, min) < 0) throw new CniError(ErrorCode.INCOMPATIBLE_CNI_VERSION, `config version does not allow ${cmd}`, `${cmd} needs cniVersion ${min} or later, the config is ${v}`);
  };
  const args: CmdArgs = {
    command: cmd,
    containerId: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifName: env.CNI_IFNAME ?? '',
    args: env.CNI_ARGS ?? '',
    path: env.CNI_PATH ?? '',
    stdinData: stdin,
    conf,
    cniVersion: v,
  };
  if ((cmd === 'ADD' || cmd === 'CHECK') && isOwnNetns(args.netns))
    throw new CniError(ErrorCode.INVALID_NETNS, "plugin's netns and netns from CNI_NETNS should not be the same");
  switch (cmd) {
    case 'ADD': {
      const r = await funcs.add(args);
      return JSON.stringify(convertResult({ ...r, cniVersion: v }, v));
    }
    case 'DEL':
      await funcs.del(args);
      return null;
    case 'CHECK':
      needs('0.4.0');
      if (!funcs.check) throw new CniError(ErrorCode.UNSUPPORTED_FIELD, `${info.name} does not implement CHECK`);
      await funcs.check(args);
      return null;
    case 'GC':
      needs('1.1.0');
      if (funcs.gc) await funcs.gc(args);
      return null;
    case 'STATUS':
      needs('1.1.0');
      if (funcs.status) await funcs.status(args);
      return null;
  }
  return null;
}

/** Run a plugin: the whole process. */
export async function pluginMain({ funcs, info }: Plugin): Promise<void> {
  withoutHelper();
  const cmd = process.env.CNI_COMMAND ?? '';
  debugMark(`${info.name} ${cmd}`);
  let code = 0;
  try {
    const out = await dispatch(funcs, info, process.env);
    if (out !== null) process.stdout.write(out + '\n');
  } catch (e) {
    const ce = toCniError(e);
    if (!(e instanceof CniError) && process.env.MINID_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    log(info.name, `${cmd} failed: ${ce.message}${ce.details ? ` (${ce.details})` : ''}`);
    process.stdout.write(errorJson(ce) + '\n');
    code = 1;
  }
  debugMark(`${info.name} ${cmd}: done`);
  // End now rather than once Node has torn its heap down: the answer is out (stdout and stderr
  // are written synchronously when they are pipes or files, as a runtime gives them).
  process.exit(code);
}

/** Parse CNI_ARGS into a record (IgnoreUnknown etc. kept as given). */
export function cniArgsRecord(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of s.split(';').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i < 0) throw new CniError(ErrorCode.INVALID_ENVIRONMENT_VARIABLES, `invalid CNI_ARGS pair "${kv}"`, 'CNI_ARGS');
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** A plugin's view of prevResult (any version) in the 1.x shape, or null. */
export function prevResultOf(a: CmdArgs): CniResult | null {
  const p = a.conf.prevResult;
  if (p === undefined || p === null) return null;
  try {
    return convertResult({ ...p, cniVersion: a.cniVersion }, '1.0.0');
  } catch (e) {
    throw new CniError(ErrorCode.DECODING_FAILURE, `could not parse prevResult: ${(e as Error).message}`);
  }
}

/** Does the namespace path still exist? */
export const netnsExists = (p: string): boolean => !!p && fs.existsSync(p);
