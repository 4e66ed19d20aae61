// `minid network create|ls|inspect|rm|prune`, printing like docker. main.ts wires commander;
// each function takes already-parsed options and an optional output sink (tests capture it).
import { MinidError } from '../../errors.js';
import {
  createNetwork,
  inspectNetwork,
  listNetworks,
  pruneNetworks,
  removeNetwork,
} from '../../network/index.js';
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

/** `none` or `host` (by name or id prefix): docker's built-in networks, which minid keeps no record of. */
export async function builtinNetworkObject(ref: string): Promise<Record<string, unknown> | undefined> {
  const { PSEUDO_NETWORKS } = await import('../../network/networks.js');
  if (!(ref in PSEUDO_NETWORKS) && !/^[0-9a-f]+$/.test(ref)) return undefined;
  const net = (await listNetworks()).find((n) => n.name in PSEUDO_NETWORKS && (n.name === ref || n.id.startsWith(ref)));
  if (!net) return undefined;
  const fs = await import('node:fs');
  const { root } = await import('../../sys/paths.js');
  const { listStates } = await import('../../runtime/state.js');
  const { builtinNetwork } = await import('./network-shape.js');
  // docker's Created is its daemon's first start; minid's store was made then.
  const st = fs.statSync(root());
  const created = (st.birthtimeMs ? st.birthtime : st.mtime).toISOString();
  const members = listStates()
    .filter((s) => s.status === 'running' && s.config.net.mode === net.name)
    .map((s) => ({ id: s.config.id, name: s.config.name }));
  return builtinNetwork({ ...net, created }, members);
}

export async function networkInspect(names: string[], opts: { diagram?: boolean; format?: string } = {}, io: Out = stdio): Promise<void> {
  if (!opts.diagram) {
    const shaped: Record<string, unknown>[] = [];
    const { dockerNetwork } = await import('./network-shape.js');
    for (const name of names) shaped.push((await builtinNetworkObject(name)) ?? dockerNetwork((await inspectNetwork(name)).json));
    const { printInspected } = await import('./inspect.js');
    return printInspected(shaped, opts.format, io.out);
  }
  const results = [];
  for (const name of names) results.push(await inspectNetwork(name));
  // The topology as the kernel holds it (see/): one snapshot, one drawing per network.
  const { readSnapshot } = await import('../../see/read.js');
  const { buildTopo } = await import('../../see/topo.js');
  const { renderTopoText } = await import('../../see/render-text.js');
  const snap = await readSnapshot();
  io.out(results.map((r) => renderTopoText(buildTopo(snap, r.record.name))).join('\n'));
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
