// Network configuration files, found and parsed the way libcni does it:
//   - `.conflist` files in the conf dir, sorted by file name, the first whose "name" matches;
//   - else single-plugin `.conf` / `.json` files, sorted by name, first match, upgraded to a list.
// A file that cannot be parsed on the way is an error naming that file (libcni does the same:
// a broken file in the conf dir is something the administrator must hear about).
import fs from 'node:fs';
import path from 'node:path';
import { MinidError } from '../errors.js';
import { CURRENT_VERSION, compareVersions, isValidVersion, validateNetworkName } from './spec.js';

export const DEFAULT_CONF_DIR = '/etc/cni/net.d';

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  ipam?: { type?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface NetworkConfigList {
  name: string;
  /** The version the list is executed with (highest of cniVersion / cniVersions minid speaks). */
  cniVersion: string;
  /** Every version the file offers, highest first (cniVersion plus cniVersions, capped at ours). */
  cniVersions: string[];
  disableCheck: boolean;
  disableGC: boolean;
  plugins: PluginConf[];
  /** The file it came from ('' when built from bytes). */
  source: string;
  /** The raw JSON text (cached with the result so DEL works if the file changes). */
  bytes: string;
}

export class ConfigError extends MinidError {}

function readBool(raw: any, key: string, where: string): boolean {
  const v = raw[key];
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw new ConfigError(`${where}: invalid value ${JSON.stringify(v)} for "${key}" (expected true or false)`);
}

function checkPlugin(p: any, i: number, where: string): PluginConf {
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw new ConfigError(`${where}: plugin ${i} is not a JSON object`);
  if (typeof p.type !== 'string' || !p.type) throw new ConfigError(`${where}: plugin ${i} has no "type" (the plugin binary name)`);
  if (/[/\\]/.test(p.type) || p.type === '.' || p.type === '..')
    throw new ConfigError(`${where}: plugin type "${p.type}" must be a plain file name, without / or \\`);
  if (p.ipam?.type !== undefined && (typeof p.ipam.type !== 'string' || /[/\\]/.test(p.ipam.type)))
    throw new ConfigError(`${where}: ipam type ${JSON.stringify(p.ipam.type)} must be a plain file name`);
  return p as PluginConf;
}

/** A configuration file's JSON, which must be an object. */
function parseObject(text: string, where: string): any {
  let raw: any;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`cannot parse ${where}: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where}: not a JSON object`);
  return raw;
}

/** Parse a .conflist text. */
export function confListFromBytes(text: string, source = ''): NetworkConfigList {
  const where = source || 'network configuration';
  const raw = parseObject(text, where);
  if (typeof raw.name !== 'string') throw new ConfigError(`${where}: no network "name"`);
  const bad = validateNetworkName(raw.name);
  if (bad) throw new ConfigError(`${where}: ${bad} (must start with a letter or digit, then letters, digits, _ . -)`);
  if (raw.cniVersion !== undefined && !isValidVersion(raw.cniVersion))
    throw new ConfigError(`${where}: invalid cniVersion ${JSON.stringify(raw.cniVersion)}`);
  const offered: string[] = [];
  if (raw.cniVersions !== undefined) {
    if (!Array.isArray(raw.cniVersions)) throw new ConfigError(`${where}: "cniVersions" must be a list of versions`);
    for (const v of raw.cniVersions) {
      if (!isValidVersion(v)) throw new ConfigError(`${where}: invalid entry ${JSON.stringify(v)} in cniVersions`);
      offered.push(v);
    }
  }
  if (raw.cniVersion) offered.push(raw.cniVersion);
  // Versions newer than the spec minid implements are ignored (like libcni).
  const usable = [...new Set(offered)].filter((v) => compareVersions(v, CURRENT_VERSION) <= 0).sort((a, b) => compareVersions(b, a));
  let cniVersion: string;
  if (usable.length) cniVersion = usable[0];
  else if (offered.length) cniVersion = [...offered].sort((a, b) => compareVersions(b, a))[0]; // refused later, clearly
  else cniVersion = '0.1.0'; // libcni's reading of a missing version
  if (!Array.isArray(raw.plugins)) throw new ConfigError(`${where}: no "plugins" list`);
  if (raw.plugins.length === 0) throw new ConfigError(`${where}: the "plugins" list is empty`);
  return {
    name: raw.name,
    cniVersion,
    cniVersions: usable.length ? usable : [cniVersion],
    disableCheck: readBool(raw, 'disableCheck', where),
    disableGC: readBool(raw, 'disableGC', where),
    plugins: raw.plugins.map((p: any, i: number) => checkPlugin(p, i, where)),
    source,
    bytes: text,
  };
}

/** Parse a single-plugin .conf/.json text and upgrade it to a list (libcni's ConfListFromConf). */
export function confListFromConf(text: string, source = ''): NetworkConfigList {
  const where = source || 'network configuration';
  const raw = parseObject(text, where);
  checkPlugin(raw, 0, where);
  const list = JSON.stringify({ name: raw.name, cniVersion: raw.cniVersion, plugins: [raw] });
  return { ...confListFromBytes(list, source), bytes: list };
}

function confFiles(dir: string, exts: string[]): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(`cannot read the CNI configuration directory ${dir}: ${(e as Error).message}`);
  }
  return entries
    .filter((e) => !e.isDirectory() && exts.includes(path.extname(e.name)))
    .map((e) => path.join(dir, e.name))
    .sort();
}

function readConf(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

export class NetworkNotFoundError extends MinidError {}

/** Find network NAME in confDir, as libcni's LoadConfList does. */
export function loadNetworkList(name: string, confDir: string = DEFAULT_CONF_DIR): NetworkConfigList {
  const lists = confFiles(confDir, ['.conflist']);
  for (const f of lists) {
    const l = confListFromBytes(readConf(f), f);
    if (l.name === name) return l;
  }
  const singles = confFiles(confDir, ['.conf', '.json']);
  for (const f of singles) {
    const text = readConf(f);
    let n: unknown;
    try {
      n = JSON.parse(text)?.name;
    } catch (e) {
      throw new ConfigError(`cannot parse ${f}: ${(e as Error).message}`);
    }
    if (n === name) return confListFromConf(text, f);
  }
  const known = listNetworkNames(confDir, true);
  if (!lists.length && !singles.length)
    throw new NetworkNotFoundError(`unknown CNI network "${name}": no network configurations in ${confDir}`);
  throw new NetworkNotFoundError(
    `unknown CNI network "${name}": no configuration with that name in ${confDir}` + (known.length ? ` (known: ${known.join(', ')})` : ''),
  );
}

/** Names of the networks in confDir, in libcni's order (broken files skipped when lenient). */
export function listNetworkNames(confDir: string = DEFAULT_CONF_DIR, lenient = false): string[] {
  const out: string[] = [];
  for (const f of [...confFiles(confDir, ['.conflist']), ...confFiles(confDir, ['.conf', '.json'])]) {
    try {
      const n = JSON.parse(fs.readFileSync(f, 'utf8'))?.name;
      if (typeof n === 'string' && !out.includes(n)) out.push(n);
    } catch (e) {
      if (!lenient) throw new ConfigError(`cannot parse ${f}: ${(e as Error).message}`);
    }
  }
  return out;
}
