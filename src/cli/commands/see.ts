// `minid topo [NETWORK]` and `minid why TARGET`: read the kernel once (see/read.ts), then
// print. Both are read-only: nothing on the host changes.
import { MinidError } from '../../errors.js';

const write = (t: string): void => void process.stdout.write(t);

export async function topo(network: string | undefined, o: { format?: string; cluster?: boolean } = {}): Promise<number> {
  const format = o.format ?? 'text';
  if (!['text', 'json', 'svg', 'snapshot'].includes(format)) throw new MinidError(`invalid --format "${format}": give text, json or svg`, 1);
  if (o.cluster) return clusterTopo(network, format);
  const { readSnapshot } = await import('../../see/read.js');
  const { buildTopo, allMarks } = await import('../../see/topo.js');
  const snap = await readSnapshot();
  // A network of minid's, or a CNI configuration list one of this store's containers runs on.
  if (network && !snap.records.networks.some((n) => n.name === network || n.id.startsWith(network)) && !(snap.records.cni ?? []).some((c) => c.network === network))
    throw new MinidError(`no such network: ${network} (minid network ls lists minid's; a CNI network shows here once a container runs with --cni ${network})`, 1);
  // The raw snapshot: what the checks read, for a bug report or a recorded test (test/fixtures/see/).
  if (format === 'snapshot') {
    write(JSON.stringify(snap, null, 2) + '\n');
    return 0;
  }
  const t = buildTopo(snap, network);
  if (format === 'json') write(JSON.stringify(t, null, 2) + '\n');
  else if (format === 'svg') write((await import('../../see/render-svg.js')).renderTopoSvg(t));
  else write((await import('../../see/render-text.js')).renderTopoText(t));
  return allMarks(t).some((m) => !m.harmless) ? 1 : 0;
}

/** `minid topo --cluster`: every node read inside it (see/cluster-read.ts), drawn as one. */
async function clusterTopo(network: string | undefined, format: string): Promise<number> {
  if (network) throw new MinidError(`topo --cluster draws the whole cluster: drop "${network}" (or \`minid --node NAME topo ${network}\` for one node's network)`, 1);
  const { readClusterSnapshot } = await import('../../see/cluster-read.js');
  const snap = await readClusterSnapshot();
  if (!snap) throw new MinidError('there is no cluster: `minid cluster up` makes one', 1);
  if (format === 'snapshot') {
    write(JSON.stringify(snap, null, 2) + '\n');
    return 0;
  }
  const c = await import('../../see/cluster-topo.js');
  const t = c.buildClusterTopo(snap);
  if (format === 'json') write(JSON.stringify(t, null, 2) + '\n');
  else if (format === 'svg') write((await import('../../see/cluster-svg.js')).renderClusterSvg(t));
  else write(c.renderClusterText(t));
  return c.clusterMarks(t).length ? 1 : 0;
}

export async function why(target: string, o: { from?: string; format?: string } = {}): Promise<number> {
  const format = o.format ?? 'text';
  if (!['text', 'json'].includes(format)) throw new MinidError(`invalid --format "${format}": give text or json`, 1);
  const w = await import('../../see/why.js');
  const t = w.parseTarget(target);
  const from = w.parseFrom(o.from);
  const { readSnapshot } = await import('../../see/read.js');
  const r = w.why(await readSnapshot(), t, from);
  write(format === 'json' ? JSON.stringify(r, null, 2) + '\n' : w.renderWhy(r));
  return r.cause ? 1 : 0;
}
