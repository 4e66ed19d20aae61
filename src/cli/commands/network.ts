// `minid network create|ls|inspect|rm|prune`, printing like docker. main.ts wires commander;
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
import { table } from '../format.js';
import { explainer } from '../explain.js';

export interface Out {
  out: (text: string) => void;
  err: (text: string) => void;
}
const stdio: Out = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

export async function networkCreate(
  name: string,
  opts: { subnet?: string; gateway?: string; driver?: string; explain?: boolean; explainTo?: string; label?: string[]; labelFile?: string[] } = {},
  io: Out = stdio,
): Promise<void> {
  const { parseLabels } = await import('../labels.js');
  const labels = parseLabels(opts.label ?? [], opts.labelFile ?? []);
  const r = await createNetwork({ name, subnet: opts.subnet, gateway: opts.gateway, driver: opts.driver, labels });
  const ex = opts.explainTo ? explainer(opts, 'minid network create') : undefined;
  const say = ex?.say ?? (opts.explain ? (l: string) => io.out(l + '\n') : undefined);
  say?.(`# network "${r.name}": ${r.subnet} via ${r.gateway} on bridge ${r.bridge} (recorded only: its bridge and rules are made by the first container that joins it)`);
  ex?.end();
  io.out(say && (!ex || ex.onStdout) ? `# network id: ${r.id}\n` : `${r.id}\n`);
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
  if (opts.format) {
    // docker's network context (cli/command/formatter): the fields a template may name.
    const { formatRows } = await import('../template.js');
    const rows = nets.map((n) => ({
      ID: () => id(n.id), Name: () => n.name, Driver: () => n.driver, Scope: () => n.scope,
      IPv6: () => 'false', Internal: () => 'false', Labels: () => '', Label: () => '', CreatedAt: () => '',
    }));
    io.out(formatRows(opts.format, rows, { headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT' } }));
    return;
  }
  io.out(table(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], nets.map((n) => [id(n.id), n.name, n.driver, n.scope])));
}

export async function networkInspect(names: string[], opts: { diagram?: boolean; format?: string } = {}, io: Out = stdio): Promise<void> {
  const results = [];
  for (const name of names) results.push(await inspectNetwork(name));
  if (opts.diagram) {
    const p = probe();
    const uplink = await p.uplink();
    const addresses = uplink ? await p.addresses(uplink.dev) : [];
    io.out(results.map((r) => renderDiagram(r.record, r.endpoints, { uplink: uplink && { ...uplink, addresses }, up: r.json.Up })).join('\n'));
    return;
  }
  const { dockerNetwork } = await import('./network-shape.js');
  const { printInspected } = await import('./inspect.js');
  await printInspected(results.map((r) => dockerNetwork(r.json)), opts.format, io.out);
}

export async function networkRm(names: string[], io: Out = stdio, opts: { explain?: boolean; explainTo?: string } = {}): Promise<void> {
  const errors: string[] = [];
  const ex = opts.explainTo ? explainer(opts, 'minid network rm: what it removes, step by step') : undefined;
  const explain = ex?.say ?? (opts.explain ? (l: string) => io.out(l + '\n') : undefined);
  const shared = !!explain && (!ex || ex.onStdout); // the names printed among the script's lines: comments
  for (const name of names) {
    try {
      await removeNetwork(name, { explain });
      io.out(shared ? `# removed network ${name}\n` : `${name}\n`);
    } catch (e) {
      if (!(e instanceof MinidError)) throw e;
      errors.push(e.message);
    }
  }
  ex?.end();
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
