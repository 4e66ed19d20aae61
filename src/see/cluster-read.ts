// `minid topo --cluster`: read the whole cluster from the kernel, one snapshot per node.
// Read-only. A node is read by its own minid (`minid topo --format snapshot`), run inside the
// node's network namespace with the node's store — the environment `minid --node` gives it
// (src/cluster/index.ts): so each node's snapshot is exactly what `minid --node NAME topo`
// reads, the one reader (read.ts) unchanged. Around them: the LAN bridge on the host, and for
// --mode vxlan each node's vxlan1 forwarding (FDB) and neighbour entries.
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../sys/exec.js';
import { packageRoot } from '../sys/paths.js';
import { nodeEnv, readState } from '../cluster/index.js';
import { VXLAN_DEV } from '../cluster/plan.js';
import { parseIpAddr } from './parse.js';
import type { ClusterSnapshot, FdbEntry, NeighEntry, NodeSnapshot } from './cluster-topo.js';
import type { Snapshot } from './snapshot.js';

async function out(argv: string[], env?: Record<string, string>): Promise<string> {
  const r = await run(argv, { allowFail: true, env });
  if (r.exitCode !== 0) throw new Error((r.stderr || r.stdout).trim().split('\n').pop() || `exit ${r.exitCode}`);
  return r.stdout;
}

/** `bridge -j fdb show`: the MAC -> remote address entries (the ones with a dst). */
export function parseFdb(json: string): FdbEntry[] {
  const list = JSON.parse(json || '[]') as { mac: string; dst?: string }[];
  return list.filter((e) => e.dst).map((e) => ({ mac: e.mac, dst: e.dst! }));
}

/** `ip -j neigh show`: address -> MAC. */
export function parseNeigh(json: string): NeighEntry[] {
  const list = JSON.parse(json || '[]') as { dst: string; lladdr?: string; state?: string[] }[];
  return list.map((e) => ({ dst: e.dst, lladdr: e.lladdr ?? null, state: (e.state ?? []).join(' ') }));
}

/** null when there is no cluster record. */
export async function readClusterSnapshot(): Promise<ClusterSnapshot | null> {
  const state = readState();
  if (!state) return null;
  const hostLinks = parseIpAddr(await out(['ip', '-j', '-d', 'addr', 'show']));
  const bridge = hostLinks.find((l) => l.name === state.bridge) ?? null;
  const ports = hostLinks.filter((l) => l.master === state.bridge);
  const nodes: NodeSnapshot[] = await Promise.all(
    state.nodes.map(async (node): Promise<NodeSnapshot> => {
      const ns: NodeSnapshot = { name: node.name, snapshot: null, fdb: [], neigh: [] };
      if (!fs.existsSync(`/run/netns/${node.netns}`)) {
        ns.error = `/run/netns/${node.netns} does not exist`;
        return ns;
      }
      try {
        const argv = ['nsenter', `--net=/run/netns/${node.netns}`, '--', path.join(packageRoot(), 'bin', 'minid'), 'topo', '--format', 'snapshot'];
        ns.snapshot = JSON.parse(await out(argv, nodeEnv(state, node))) as Snapshot;
        if (state.mode === 'vxlan') {
          ns.fdb = parseFdb(await out(['bridge', '-n', node.netns, '-j', 'fdb', 'show', 'dev', VXLAN_DEV]).catch(() => ''));
          ns.neigh = parseNeigh(await out(['ip', '-n', node.netns, '-j', '-4', 'neigh', 'show', 'dev', VXLAN_DEV]).catch(() => ''));
        }
      } catch (e) {
        ns.error = (e as Error).message;
      }
      return ns;
    }),
  );
  const { readServices } = await import('../cluster/services.js');
  const services = (readServices()?.services ?? []).map((s) => ({ name: s.name, type: s.type, clusterIP: s.clusterIP, port: s.port, ...(s.nodePort ? { nodePort: s.nodePort } : {}) }));
  return { state, lan: { bridge, ports }, nodes, services };
}
