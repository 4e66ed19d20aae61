// `minid ps` as docker prints it: its columns and tabwriter layout, COMMAND quoted and cut at
// 20 characters, --filter, --format (Go templates, src/cli/template.ts), -n/-l, -s, --no-trunc.
import fs from 'node:fs';
import path from 'node:path';
import { MinidError } from '../../errors.js';
import * as rt from '../../runtime/container.js';
import { listStates, type ContainerState } from '../../runtime/state.js';
import { paths } from '../../sys/paths.js';
import { since, statusText, table } from '../format.js';
import { healthFilterValue, readHealth } from '../../runtime/health.js';

export interface PsOptions {
  all?: boolean;
  quiet?: boolean;
  json?: boolean;
  filter?: string[];
  format?: string;
  trunc?: boolean; // --no-trunc sets it false
  last?: string;
  latest?: boolean;
  size?: boolean;
}

/** docker's ellipsis cut (stringutils.Ellipsis): n characters, the last one "…". */
export const ellipsis = (s: string, n: number): string => ([...s].length <= n ? s : [...s].slice(0, n - 1).join('') + '…');

/**
 * The COMMAND column as docker's daemon and CLI make it: the path, then the arguments, those
 * with a space in single quotes; cut to 20 characters; then Go-quoted (strconv.Quote).
 */
export function commandText(argv: string[], trunc = true): string {
  const [p = '', ...args] = argv;
  const cmd = [p, ...args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
  return JSON.stringify(trunc ? ellipsis(cmd, 20) : cmd);
}

export function portsText(s: ContainerState): string {
  const ports: any[] = s.config.attachment?.ports ?? [];
  return ports.map((p) => `${p.hostIp || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ');
}

const labelsOf = (s: ContainerState): Record<string, string> => s.config.labels ?? {};
const networksOf = (s: ContainerState): string[] => {
  const c = s.config;
  const primary = c.net.network ?? (c.net.mode.startsWith('cni:') ? c.net.mode.slice(4) : c.net.mode);
  return [primary, ...(c.extraAttachments ?? []).map((a) => a.network)];
};

/** The ports docker's container summary lists: published ("HOSTPORT/proto" and "PORT/proto"), and exposed ones while it runs. */
function summaryPorts(s: ContainerState): { published: Set<string>; exposed: Set<string> } {
  const published = new Set<string>();
  const exposed = new Set<string>();
  for (const p of (s.config.attachment?.ports ?? []) as { hostPort: number; containerPort: number; protocol: string }[]) {
    published.add(`${p.hostPort}/${p.protocol}`);
    exposed.add(`${p.containerPort}/${p.protocol}`);
  }
  if (s.status === 'running') for (const e of s.config.exposedPorts ?? []) exposed.add(e.includes('/') ? e : `${e}/tcp`);
  return { published, exposed };
}

/** publish= and expose= values: PORT[/PROTO] or START-END[/PROTO] (tcp by default), as "PORT/proto" keys. */
function portFilter(key: string, v: string): string[] {
  if (v.includes(':')) throw new MinidError(`filter for '${key}' should not contain ':': ${v} (give the port alone: ${key}=80 or ${key}=80/tcp)`, 1);
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(v);
  const [start, end] = m ? [Number(m[1]), Number(m[2] ?? m[1])] : [0, -1];
  if (!m || start < 1 || end > 65535 || end < start) throw new MinidError(`invalid filter '${key}=${v}': use PORT[/PROTO] or START-END[/PROTO], e.g. ${key}=80/tcp`, 1);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  return Array.from({ length: end - start + 1 }, (_, i) => `${start + i}/${proto}`);
}

/** docker's --filter keys for containers; a bad one is the daemon's error (exit 1). */
export function parseFilters(list: string[]): Map<string, string[]> {
  // (health: what its health monitor last recorded, "none" without a check (runtime/health.ts);
  // is-task and isolation are swarm's and Windows'.)
  const keys = ['status', 'name', 'id', 'label', 'ancestor', 'network', 'exited', 'before', 'since', 'volume', 'publish', 'expose', 'health'];
  const m = new Map<string, string[]>();
  for (const f of list) {
    const i = f.indexOf('=');
    if (i <= 0) throw new MinidError(`bad format of filter (expected name=value): ${f}`, 1);
    const k = f.slice(0, i).toLowerCase();
    const v = f.slice(i + 1);
    if (!keys.includes(k)) throw new MinidError(`invalid filter '${k}': use one of ${keys.join(', ')}`, 1);
    if (k === 'status' && !['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(v))
      throw new MinidError(`invalid filter 'status=${v}': use created, restarting, running, removing, paused, exited or dead`, 1);
    if (k === 'exited' && !/^-?\d+$/.test(v)) throw new MinidError(`invalid filter 'exited=${v}': give an exit code`, 1);
    if (k === 'health' && !['starting', 'healthy', 'unhealthy', 'none'].includes(v))
      throw new MinidError(`invalid filter 'health=${v}': use starting, healthy, unhealthy or none (none: no health check)`, 1);
    if (k === 'publish' || k === 'expose') {
      m.set(k, [...(m.get(k) ?? []), ...portFilter(k, v)]);
      continue;
    }
    m.set(k, [...(m.get(k) ?? []), v]);
  }
  return m;
}

/** Does the container pass every filter key (values of one key: any of them; of `label`: all, as docker's)? */
export function matches(s: ContainerState, f: Map<string, string[]>, all: ContainerState[], networkId?: (name: string) => string): boolean {
  const c = s.config;
  const any = (k: string, test: (v: string) => boolean) => !f.has(k) || f.get(k)!.some(test);
  const find = (ref: string) => all.find((x) => x.config.id === ref || x.config.name === ref || x.config.id.startsWith(ref));
  const created = (ref: string) => {
    const x = find(ref);
    if (!x) throw new MinidError(`no such container: ${ref}`, 1);
    return x.config.created;
  };
  return (
    any('status', (v) => ((s as { paused?: boolean }).paused ? 'paused' : s.status) === v) &&
    any('name', (v) => new RegExp(v).test(c.name)) &&
    any('id', (v) => c.id.startsWith(v)) &&
    (f.get('label') ?? []).every((v) => {
      const [k, val] = v.split(/=(.*)/s);
      const l = labelsOf(s);
      return k in l && (val === undefined || l[k] === val);
    }) &&
    any('ancestor', (v) => {
      const bare = v.replace(/:latest$/, '');
      return c.image === v || c.image.replace(/:latest$/, '') === bare || c.imageId === v || c.imageId.replace(/^sha256:/, '').startsWith(v.replace(/^sha256:/, ''));
    }) &&
    // A network's name, or a prefix of its id (docker's two).
    any('network', (v) => networksOf(s).some((n) => n === v || (!!networkId && /^[0-9a-f]+$/.test(v) && networkId(n).startsWith(v)))) &&
    any('exited', (v) => s.status === 'exited' && (s.exit?.exitCode ?? 255) === Number(v)) &&
    any('before', (v) => c.created < created(v)) &&
    any('since', (v) => c.created > created(v)) &&
    any('health', (v) => healthFilterValue(readHealth(c)) === v) &&
    // A volume's name, a bind's host path, or a mount's path in the container (docker's three).
    any('volume', (v) => c.volumes.some((m) => m.container === v || (m.type === 'volume' ? m.name === v : m.type !== 'tmpfs' && m.host === v))) &&
    // publish= and expose= together: one of the ports (docker's rule, its summary's ports).
    (!f.has('publish') && !f.has('expose') ? true : ((p) => (f.get('publish') ?? []).some((x) => p.published.has(x)) || (f.get('expose') ?? []).some((x) => p.exposed.has(x)))(summaryPorts(s)))
  );
}

/** Bytes under a directory (the container's writable layer): `-s` is approximate, as du is. */
function duBytes(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += fs.lstatSync(p).size;
    }
  };
  walk(dir);
  return total;
}

/** docker's container context for templates (cli/command/formatter/container.go): methods by field name. */
function row(s: ContainerState, o: PsOptions, now: number, sizeText: () => string) {
  const c = s.config;
  const trunc = o.trunc !== false;
  const labels = labelsOf(s);
  return {
    ID: () => (trunc ? c.id.slice(0, 12) : c.id),
    Names: () => c.name,
    Image: () => c.image,
    Command: () => commandText(c.argv, trunc),
    CreatedAt: () => new Date(c.created).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC'),
    RunningFor: () => since(c.created, now),
    Ports: () => portsText(s),
    State: () => ((s as { paused?: boolean }).paused ? 'paused' : s.status),
    Status: () => statusText(s, now),
    Size: sizeText,
    Labels: () => Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(','),
    Label: (k: string) => labels[k] ?? '',
    Mounts: () => c.volumes.filter((v) => v.type !== 'tmpfs').map((v) => (v.type === 'volume' && v.name ? v.name : v.host)).map((m) => (trunc ? ellipsis(m, 15) : m)).join(','),
    Networks: () => networksOf(s).join(','),
    LocalVolumes: () => String(c.volumes.filter((v) => v.type === 'volume').length),
  };
}

const HEADERS = {
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED',
  Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Labels: 'LABELS', Label: 'LABEL', Mounts: 'MOUNTS',
  Networks: 'NETWORKS', LocalVolumes: 'LOCAL VOLUMES',
};

export async function ps(o: PsOptions = {}): Promise<void> {
  const filters = parseFilters(o.filter ?? []);
  const every = await rt.releaseOrphans(listStates()); // newest first
  const netId = filters.has('network') ? await (await import('./inspect.js')).networkIds() : undefined;
  let states = every.filter((s) => matches(s, filters, every, netId));
  const last = o.latest ? 1 : o.last !== undefined ? Number(o.last) : -1;
  if (o.last !== undefined && !/^-?\d+$/.test(o.last)) throw new MinidError(`invalid argument "${o.last}" for "-n, --last": give a number`, 125);
  // -n and -l look at every container; -a, or a status filter, shows stopped ones too.
  if (last > 0) states = states.slice(0, last);
  else if (!o.all && !filters.has('status') && !filters.has('exited')) states = states.filter((s) => s.status === 'running' || s.status === 'restarting');
  const now = Date.now();
  const { humanSize } = await import('./image.js');
  const sizeOf = (s: ContainerState) => () => {
    const rw = duBytes(path.join(paths.container(s.config.id), 'upper'));
    return `${humanSize(rw)} (virtual ${humanSize(rw + imageSize(s))})`;
  };
  const imageSizes = o.size || /\.Size|json/.test(o.format ?? '') ? await imageSizeMap() : new Map<string, number>();
  const imageSize = (s: ContainerState) => imageSizes.get(s.config.imageId) ?? 0;
  const rows = states.map((s) => row(s, o, now, sizeOf(s)));
  if (o.quiet) return void process.stdout.write(rows.map((r) => r.ID() + '\n').join(''));
  if (o.json) {
    const { inspectContainer } = await import('../../runtime/inspect.js');
    return void process.stdout.write(JSON.stringify(states.map((s) => inspectContainer(s, () => '')), null, 2) + '\n');
  }
  if (!o.format || o.format.trim() === 'table') {
    // The default table (also what "table" alone asks for) without the template engine (start-up time): the same layout.
    const cols: (keyof typeof HEADERS)[] = ['ID', 'Image', 'Command', 'RunningFor', 'Status', 'Ports', 'Names', ...(o.size ? (['Size'] as const) : [])];
    return void process.stdout.write(table(cols.map((k) => HEADERS[k]), rows.map((r) => cols.map((k) => (r[k] as () => string)()))));
  }
  const { formatRows, TemplateError } = await import('../template.js');
  try {
    process.stdout.write(formatRows(o.format, rows, { headers: HEADERS }));
  } catch (e) {
    if (e instanceof TemplateError) throw new MinidError(e.message, /^template parsing error/.test(e.message) ? 64 : 1);
    throw e;
  }
}

async function imageSizeMap(): Promise<Map<string, number>> {
  const { listImages } = await import('../../image/store.js');
  return new Map((await listImages()).map((i) => [i.id, i.size]));
}
