// The CNI specification as data: versions, result shapes, error codes, and the conversions
// between result versions. Shared by minid's CNI runtime (src/cni) and minid's own plugins
// (cni-plugins/), so it must stay dependency-free and cheap to import (plugins start often).
//
// Result formats:
//   0.1.0, 0.2.0         {ip4: {ip, gateway, routes}, ip6: {...}, dns}
//   0.3.0, 0.3.1, 0.4.0  {interfaces, ips: [{version: "4", address, gateway, interface}], routes, dns}
//   1.0.0, 1.1.0         like 0.4.0 without ips[].version
// Internally minid always works with the 1.x shape and converts at the edges.

/** The newest spec version minid implements. */
export const CURRENT_VERSION = '1.1.0';

/** Versions minid (runtime and plugins) can speak. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

/**
 * The `code` of a CNI error result, by name: every error minid's runtime and plugins report.
 *
 * SPEC.md, "Well-known Error Codes": codes 1-99 belong to the spec and must not be used
 * otherwise; 100 and up are free for a plugin's own errors. libcni (pkg/types) adds two that
 * its reference plugins return: 8 for a CNI_NETNS that is the plugin's own namespace, 999 for
 * an error with no code of its own (here: one the plugin did not foresee, a bug).
 */
export const ErrorCode = {
  // The spec's well-known codes.
  /** 1: the config's cniVersion (or a command it does not allow) is not supported. */
  INCOMPATIBLE_CNI_VERSION: 1,
  /** 2: a field of the network config this plugin does not support; the message names key and value. */
  UNSUPPORTED_FIELD: 2,
  /** 3: container unknown or does not exist: the runtime need not clean up (no DEL). */
  UNKNOWN_CONTAINER: 3,
  /** 4: a CNI_ environment variable is missing or invalid; the message names it. */
  INVALID_ENVIRONMENT_VARIABLES: 4,
  /** 5: I/O failure, such as reading the config from stdin or a file of the plugin's. */
  IO_FAILURE: 5,
  /** 6: content that does not decode: the config, a prevResult, a delegate's result. */
  DECODING_FAILURE: 6,
  /** 7: the network config decodes but does not validate. */
  INVALID_NETWORK_CONFIG: 7,
  /** 11: a transient condition (a lock held elsewhere): the runtime should retry later. */
  TRY_AGAIN_LATER: 11,
  /** 50 (STATUS, 1.1.0): the plugin cannot serve ADD now. */
  PLUGIN_NOT_AVAILABLE: 50,
  /** 51 (STATUS, 1.1.0): as 50, and existing containers may have limited connectivity. */
  LIMITED_CONNECTIVITY: 51,

  // libcni's.
  /** 0: no code known (a runtime's stand-in for a plugin that printed no error result). */
  UNKNOWN: 0,
  /** 8: CNI_NETNS is the plugin's own network namespace (libcni's ErrInvalidNetNS). */
  INVALID_NETNS: 8,
  /** 999: an error the plugin did not foresee (libcni's ErrInternal). */
  INTERNAL: 999,

  // minid's plugins' own codes (>= 100).
  /** 100: an interface (bridge, veth pair, lo) could not be created, configured or deleted. */
  INTERFACE_FAILURE: 100,
  /** 101: the container already has an interface of that name. */
  INTERFACE_EXISTS: 101,
  /** 102: the IPAM plugin answered without a usable address. */
  IPAM_RESULT_INVALID: 102,
  /** 103: iptables rules (masquerade, port mappings) could not be added or removed. */
  RULES_FAILURE: 103,
  /** 104: a delegated plugin failed without a CNI error result of its own. */
  DELEGATE_FAILURE: 104,
  /** 105: CHECK found the attachment different from what ADD set up. */
  CHECK_MISMATCH: 105,
  /** 106: the plugins' program was started under a name that is none of its plugins. */
  NO_SUCH_PLUGIN: 106,
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What a runtime prints beside a code. Codes >= 100 mean what the plugin that sent them says. */
const CODE_NAMES: Record<number, string> = {
  [ErrorCode.UNKNOWN]: 'unknown error',
  [ErrorCode.INCOMPATIBLE_CNI_VERSION]: 'incompatible CNI version',
  [ErrorCode.UNSUPPORTED_FIELD]: 'unsupported field in network configuration',
  [ErrorCode.UNKNOWN_CONTAINER]: 'container unknown',
  [ErrorCode.INVALID_ENVIRONMENT_VARIABLES]: 'invalid environment variables',
  [ErrorCode.IO_FAILURE]: 'I/O failure',
  [ErrorCode.DECODING_FAILURE]: 'failed to decode content',
  [ErrorCode.INVALID_NETWORK_CONFIG]: 'invalid network configuration',
  [ErrorCode.INVALID_NETNS]: 'invalid network namespace',
  [ErrorCode.TRY_AGAIN_LATER]: 'try again later',
  [ErrorCode.PLUGIN_NOT_AVAILABLE]: 'plugin not available',
  [ErrorCode.LIMITED_CONNECTIVITY]: 'plugin not available, existing containers may have limited connectivity',
  [ErrorCode.INTERNAL]: 'internal error',
};

/** The name a runtime shows for a code: the spec's (and libcni's) names; others are the plugin's own. */
export function errorCodeName(code: number): string {
  return CODE_NAMES[code] ?? (code >= 100 ? 'plugin-specific error' : `error code ${code}`);
}

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface CniIPConfig {
  /** Only in 0.3.x/0.4.0 results. */
  version?: '4' | '6';
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface CniDNS {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A result in the 0.3.0 .. 1.1.0 shape. */
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIPConfig[];
  routes?: CniRoute[];
  dns?: CniDNS;
  [extra: string]: unknown;
}

export interface CniErrorResult {
  cniVersion?: string;
  code: number;
  msg: string;
  details?: string;
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP?: string;
}

// ---------------------------------------------------------------------------------------------
// Versions

/** Parse "1.0.0" (or "0.4") into numbers; throws on garbage. */
export function parseVersion(v: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(String(v ?? '').trim());
  if (!m) throw new Error(`invalid CNI version "${v}"`);
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

export function isValidVersion(v: unknown): v is string {
  try {
    parseVersion(String(v));
    return typeof v === 'string';
  } catch {
    return false;
  }
}

/** <0, 0, >0 like a sort comparator. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

export const versionAtLeast = (v: string, min: string): boolean => compareVersions(v, min) >= 0;

/** Result family of a version: 'legacy' (0.1/0.2), '04' (0.3.x/0.4.0) or '1' (1.x). */
export function resultFamily(v: string): 'legacy' | '04' | '1' {
  const [maj, min] = parseVersion(v);
  if (maj >= 1) return '1';
  if (min >= 3) return '04';
  return 'legacy';
}

// ---------------------------------------------------------------------------------------------
// Result conversion

const isV6 = (addr: string): boolean => addr.includes(':');

/** Any supported result (any version) to the internal 1.x shape (cniVersion kept as given). */
export function toCurrent(raw: any): CniResult {
  if (!raw || typeof raw !== 'object') throw new Error('result is not a JSON object');
  const v = typeof raw.cniVersion === 'string' && raw.cniVersion ? raw.cniVersion : '0.1.0';
  const fam = resultFamily(v);
  if (fam === 'legacy') {
    const out: CniResult = { cniVersion: v, interfaces: [], ips: [], routes: [] };
    for (const key of ['ip4', 'ip6'] as const) {
      const c = raw[key];
      if (!c) continue;
      if (c.ip) out.ips!.push({ address: c.ip, ...(c.gateway ? { gateway: c.gateway } : {}) });
      for (const r of c.routes ?? []) out.routes!.push({ dst: r.dst, ...(r.gw ? { gw: r.gw } : {}) });
    }
    if (raw.dns && Object.keys(raw.dns).length) out.dns = raw.dns;
    return out;
  }
  const out: CniResult = { ...raw, cniVersion: v };
  if (Array.isArray(raw.ips)) {
    out.ips = raw.ips.map((ip: CniIPConfig) => {
      const { version: _drop, ...rest } = ip;
      return rest;
    });
  }
  return out;
}

/** Convert a result (any supported version) to the given version. */
export function convertResult(raw: any, to: string): CniResult {
  const cur = toCurrent(raw);
  const fam = resultFamily(to);
  if (fam === '1') return { ...cur, cniVersion: to };
  if (fam === '04') {
    const out: CniResult = { ...cur, cniVersion: to };
    if (cur.ips) {
      out.ips = cur.ips.map((ip) => {
        const o: CniIPConfig = { version: isV6(ip.address) ? '6' : '4', address: ip.address };
        if (ip.gateway) o.gateway = ip.gateway;
        if (ip.interface !== undefined) o.interface = ip.interface;
        return o;
      });
    }
    return out;
  }
  // Legacy: the first IPv4 and IPv6 address, routes split by family.
  const out: any = { cniVersion: to };
  for (const [key, six] of [
    ['ip4', false],
    ['ip6', true],
  ] as const) {
    const ip = (cur.ips ?? []).find((i) => isV6(i.address) === six);
    if (!ip) continue;
    const routes = (cur.routes ?? []).filter((r) => isV6(r.dst) === six).map((r) => ({ dst: r.dst, ...(r.gw ? { gw: r.gw } : {}) }));
    out[key] = { ip: ip.address, ...(ip.gateway ? { gateway: ip.gateway } : {}), ...(routes.length ? { routes } : {}) };
  }
  if (cur.dns && Object.keys(cur.dns).length) out.dns = cur.dns;
  return out as CniResult;
}

/** Validate the shape of a 1.x/0.4 result well enough to trust it; returns a problem or null. */
export function resultProblem(r: any): string | null {
  if (!r || typeof r !== 'object' || Array.isArray(r)) return 'result is not a JSON object';
  if (r.interfaces !== undefined && !Array.isArray(r.interfaces)) return '"interfaces" is not a list';
  if (r.ips !== undefined && !Array.isArray(r.ips)) return '"ips" is not a list';
  for (const ip of r.ips ?? []) {
    if (typeof ip?.address !== 'string' || !ip.address.includes('/')) return `ips entry ${JSON.stringify(ip)} has no CIDR address`;
    if (ip.interface !== undefined && (!Number.isInteger(ip.interface) || ip.interface < 0 || ip.interface >= (r.interfaces?.length ?? 0)))
      return `ips entry ${ip.address} names interface index ${ip.interface}, which is not in "interfaces"`;
  }
  if (r.routes !== undefined && !Array.isArray(r.routes)) return '"routes" is not a list';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Names (the spec's and libcni's validation rules)

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validateContainerId(id: string): string | null {
  if (!id) return 'missing container ID';
  if (!NAME_RE.test(id)) return `invalid characters in container ID "${id}"`;
  return null;
}

export function validateNetworkName(name: string): string | null {
  if (!name) return 'missing network name';
  if (!NAME_RE.test(name)) return `invalid characters in network name "${name}"`;
  return null;
}

export function validateIfName(ifName: string): string | null {
  if (!ifName) return 'interface name is empty';
  if (ifName.length > 15) return `interface name "${ifName}" is too long (at most 15 characters)`;
  if (ifName === '.' || ifName === '..') return 'interface name is . or ..';
  if (/[/:\s]/.test(ifName)) return `interface name "${ifName}" contains / or : or whitespace`;
  return null;
}

/** CNI_ARGS "A=b;C=d" to pairs. */
export function parseCniArgs(s: string | undefined): [string, string][] {
  if (!s) return [];
  return s
    .split(';')
    .filter(Boolean)
    .map((kv) => {
      const i = kv.indexOf('=');
      return i < 0 ? ([kv, ''] as [string, string]) : ([kv.slice(0, i), kv.slice(i + 1)] as [string, string]);
    });
}

export function formatCniArgs(args: [string, string][] | Record<string, string> | undefined): string {
  if (!args) return '';
  const pairs = Array.isArray(args) ? args : Object.entries(args);
  return pairs.map(([k, v]) => `${k}=${v}`).join(';');
}
