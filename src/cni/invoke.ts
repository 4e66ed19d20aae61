// Running one CNI plugin: find the executable in the plugin path, build the CNI_ environment,
// write the request config on stdin, read the result (or the error result) from stdout.
// Everything goes through src/sys/exec.ts; every call can be narrated through `explain`.
import fs from 'node:fs';
import path from 'node:path';
import { MinidError } from '../errors.js';
import { run, quote } from '../sys/exec.js';
import { readJson, writeAtomic } from '../sys/jsonfile.js';
import { ErrorCode, errorCodeName, type CniErrorResult } from './spec.js';

export const DEFAULT_CNI_PATH = ['/opt/cni/bin', '/usr/lib/cni'];

export type Explain = (line: string) => void;

/** The plugin search path: explicit option, else $CNI_PATH, else /opt/cni/bin then /usr/lib/cni. */
export function cniPath(opt?: string | string[]): string[] {
  if (Array.isArray(opt) && opt.length) return opt;
  if (typeof opt === 'string' && opt) return opt.split(':').filter(Boolean);
  const env = process.env.CNI_PATH;
  if (env) return env.split(':').filter(Boolean);
  return DEFAULT_CNI_PATH;
}

export class PluginNotFoundError extends MinidError {}

export function findPlugin(type: string, dirs: string[]): string {
  for (const d of dirs) {
    const p = path.join(d, type);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  throw new PluginNotFoundError(
    `CNI plugin "${type}" not found in the plugin path ${dirs.join(':')} (install it there, or set CNI_PATH / --cni-path)`,
  );
}

export interface InvokeArgs {
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';
  containerId?: string;
  netns?: string;
  ifName?: string;
  args?: string;
  path: string[];
}

export function pluginEnv(a: InvokeArgs): Record<string, string> {
  // Every CNI_ variable is set, empty when unused, so nothing leaks in from minid's own env.
  return {
    CNI_COMMAND: a.command,
    CNI_CONTAINERID: a.containerId ?? '',
    CNI_NETNS: a.netns ?? '',
    CNI_IFNAME: a.ifName ?? '',
    CNI_ARGS: a.args ?? '',
    CNI_PATH: a.path.join(':'),
  };
}

/** The call as a shell line a workshop can copy: env, plugin, config as a here-document. */
export function explainCall(pluginPath: string, env: Record<string, string>, stdin: string): string {
  const vars = Object.entries(env)
    .filter(([k, v]) => v !== '' || k === 'CNI_COMMAND')
    .map(([k, v]) => `${k}=${quote(v)}`);
  const body = stdin.endsWith('\n') ? stdin : stdin + '\n';
  return `${vars.join(' ')} ${quote(pluginPath)} <<'EOF'\n${body}EOF`;
}

/** A plugin said no: its error result, kept whole. */
export class PluginError extends MinidError {
  constructor(
    message: string,
    public readonly plugin: string,
    public readonly command: string,
    public readonly cniError: CniErrorResult,
    public readonly stderr: string,
  ) {
    super(message);
  }
}

export interface ExecOptions {
  explain?: Explain;
  /** For messages: which network, container... the call is about. */
  context?: string;
  timeoutMs?: number;
}

function lastLines(s: string, n = 3): string {
  return s.trim().split('\n').filter(Boolean).slice(-n).join(' | ');
}

/**
 * Execute a plugin. Returns the parsed stdout (null when empty). A non-zero exit becomes a
 * PluginError naming the plugin, carrying the plugin's code/msg/details.
 */
export async function execPlugin(pluginPath: string, a: InvokeArgs, stdin: string, o: ExecOptions = {}): Promise<any> {
  const env = pluginEnv(a);
  const type = path.basename(pluginPath);
  o.explain?.(explainCall(pluginPath, env, stdin));
  const t0 = Date.now();
  const r = await run([pluginPath], { input: stdin, env, allowFail: true, timeoutMs: o.timeoutMs ?? 120_000 });
  const ms = Date.now() - t0;
  const out = r.stdout.trim();
  if (r.stderr.trim() && o.explain) for (const l of r.stderr.trim().split('\n')) o.explain(`# ${type} stderr: ${l}`);
  const what = `CNI plugin ${type} (${pluginPath}) ${a.command}${o.context ? ` ${o.context}` : ''}`;
  if (r.exitCode !== 0) {
    let e: CniErrorResult | null = null;
    try {
      const j = JSON.parse(out);
      if (j && typeof j === 'object' && typeof j.code === 'number') e = j;
    } catch {
      /* not JSON */
    }
    if (!e) e = { code: ErrorCode.UNKNOWN, msg: lastLines(r.stderr) || lastLines(out) || `exit code ${r.exitCode}` };
    o.explain?.(`# error: ${JSON.stringify(e)}`);
    o.explain?.(`# ${type} ${a.command} exited ${r.exitCode} after ${ms} ms`);
    const code = `code ${e.code}: ${errorCodeName(e.code)}`;
    const details = e.details ? ` (${e.details})` : '';
    throw new PluginError(`${what} failed: ${e.msg}${details} [${code}]`, type, a.command, e, r.stderr);
  }
  if (!out) {
    o.explain?.(`# result: none (${type} ${a.command} took ${ms} ms)`);
    return null;
  }
  let parsed: any;
  try {
    parsed = JSON.parse(out);
  } catch (err) {
    throw new PluginError(`${what} printed something that is not JSON: ${out.slice(0, 200)}`, type, a.command, { code: ErrorCode.DECODING_FAILURE, msg: 'undecodable result' }, r.stderr);
  }
  o.explain?.(`# result: ${JSON.stringify(parsed)}`);
  o.explain?.(`# ${type} ${a.command} took ${ms} ms`);
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// VERSION, remembered per plugin binary (path + size + mtime) so minid does not pay a process
// start for every negotiation: a Node plugin costs ~100 ms to start.

export interface VersionInfo {
  cniVersion?: string;
  supportedVersions: string[];
}

const memo = new Map<string, VersionInfo>();

function versionKey(p: string): string {
  try {
    const real = fs.realpathSync(p);
    const st = fs.statSync(real);
    return `${real}:${st.size}:${st.mtimeMs}`;
  } catch {
    return p;
  }
}

export async function getVersionInfo(pluginPath: string, dirs: string[], o: ExecOptions & { cacheFile?: string } = {}): Promise<VersionInfo> {
  const key = versionKey(pluginPath);
  const hit = memo.get(key);
  if (hit) return hit;
  let disk: Record<string, VersionInfo> = {};
  if (o.cacheFile) {
    disk = readJson<Record<string, VersionInfo>>(o.cacheFile) ?? {};
    if (disk[key]?.supportedVersions) {
      memo.set(key, disk[key]);
      return disk[key];
    }
  }
  const out = await execPlugin(pluginPath, { command: 'VERSION', path: dirs }, JSON.stringify({ cniVersion: '1.1.0' }), o);
  // A plugin from before spec 0.2.0 has no VERSION: it speaks 0.1.0 only.
  const vi: VersionInfo =
    out && Array.isArray(out.supportedVersions) ? { cniVersion: out.cniVersion, supportedVersions: out.supportedVersions.map(String) } : { supportedVersions: ['0.1.0'] };
  memo.set(key, vi);
  if (o.cacheFile) {
    try {
      fs.mkdirSync(path.dirname(o.cacheFile), { recursive: true });
      writeAtomic(o.cacheFile, JSON.stringify({ ...disk, [key]: vi }));
    } catch {
      /* a cache, nothing more */
    }
  }
  return vi;
}

/** Forget remembered VERSION answers (tests). */
export function clearVersionMemo(): void {
  memo.clear();
}
