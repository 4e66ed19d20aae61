// `minid network create|ls|inspect|rm|prune`, printing like docker. The lead wires commander;
// each function takes already-parsed options and an optional output sink (tests capture it).
import { MinidError } from '../../errors.js';
import {
  createNetwork,
  inspectNetwork,
  listNetworks,
  pruneNetworks,
  removeNetwork,
  renderDiagram,
} from '../../network/index.js';
import { probe } from '../../network/host.js';

export interface Out {
  out: (text: string) => void;
  err: (text: string) => void;
}
const stdio: Out = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** Left-aligned columns separated by 3 spaces, like docker's tabwriter. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] + 3))).join('').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export async function networkCreate(name: string, opts: { subnet?: string; gateway?: string; driver?: string; explain?: boolean } = {}, io: Out = stdio): Promise<void> {
  const r = await createNetwork({ name, subnet: opts.subnet, gateway: opts.gateway, driver: opts.driver });
  if (opts.explain)
    io.err(`# network "${r.name}": ${r.subnet} via ${r.gateway} on bridge ${r.bridge} (recorded only: its bridge and rules are made by the first container that joins it)\n`);
  io.out(`${r.id}\n`);
}

export async function networkLs(opts: { quiet?: boolean; noTrunc?: boolean; format?: string } = {}, io: Out = stdio): Promise<void> {
  // By name, as docker lists them (the built-in host and none among the others).
  const nets = (await listNetworks()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const id = (s: string): string => (opts.noTrunc ? s : s.slice(0, 12));
  if (opts.quiet) {
    io.out(nets.map((n) => id(n.id)).join('\n') + (nets.length ? '\n' : ''));
    return;
  }
  if (opts.format === 'json') {
    for (const n of nets) io.out(JSON.stringify({ ID: id(n.id), Name: n.name, Driver: n.driver, Scope: n.scope, Subnet: n.subnet ?? '', Bridge: n.bridge ?? '' }) + '\n');
    return;
  }
  io.out(table(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], nets.map((n) => [id(n.id), n.name, n.driver, n.scope])));
}

export async function networkInspect(names: string[], opts: { diagram?: boolean } = {}, io: Out = stdio): Promise<void> {
  const results = [];
  for (const name of names) results.push(await inspectNetwork(name));
  if (opts.diagram) {
    const p = probe();
    const uplink = await p.uplink();
    const addresses = uplink ? await p.addresses(uplink.dev) : [];
    io.out(results.map((r) => renderDiagram(r.record, r.endpoints, { uplink: uplink && { ...uplink, addresses }, up: r.json.Up })).join('\n'));
    return;
  }
  io.out(JSON.stringify(results.map((r) => r.json), null, 4) + '\n');
}

export async function networkRm(names: string[], io: Out = stdio, opts: { explain?: boolean } = {}): Promise<void> {
  const errors: string[] = [];
  const explain = opts.explain ? (l: string) => io.err(l + '\n') : undefined;
  for (const name of names) {
    try {
      await removeNetwork(name, { explain });
      io.out(`${name}\n`);
    } catch (e) {
      if (!(e instanceof MinidError)) throw e;
      errors.push(e.message);
    }
  }
  if (errors.length === 1) throw new MinidError(errors[0]);
  if (errors.length > 1) {
    for (const m of errors.slice(0, -1)) io.err(`Error: ${m}\n`);
    throw new MinidError(errors[errors.length - 1]);
  }
}

export async function networkPrune(io: Out = stdio): Promise<void> {
  const removed = await pruneNetworks();
  if (removed.length) io.out(`Deleted Networks:\n${removed.join('\n')}\n\n`);
}
