// `minid system prune` and `minid system reset`: the store's clean-up, in the order that keeps
// ownership clear (containers first, then what no container record owns any more). Both touch
// this store's objects only: other stores on the host (other MINID_ROOTs) keep theirs.
import { listStates } from './state.js';
import { releaseContainer, removeContainer } from './container.js';
import { hostLayout, removeEmptyParents } from './cgroup.js';
import type { StoreRef } from '../sys/store.js';

type Explain = ((line: string) => void) | undefined;

/**
 * After a crash or kill -9: remove stopped containers (and those whose start was cut short)
 * with what they set up, then kernel objects and reservations no container record owns; what
 * interrupted or failed pulls kept in downloads/ goes first. Returns what went, one phrase each
 * ("container web", "download 0123456789ab (partial)").
 */
export async function pruneSystem(o: { explain?: Explain } = {}): Promise<string[]> {
  const removed: string[] = [];
  // Downloads first: after a pull that filled the disk they are what frees it, and the steps
  // below may need to write (the store's identity, records).
  for (const f of (await import('../image/store.js')).pruneDownloads()) removed.push(`download ${f.slice(0, 12)}${f.endsWith('.partial') ? ' (partial)' : ''}`);
  // Labs (src/labs/): their namespaces, processes and folders (loaded only when one was started).
  const fs = await import('node:fs');
  const { runRoot } = await import('../sys/paths.js');
  if (fs.existsSync(`${runRoot()}/labs`)) for (const lab of await (await import('../labs/runner.js')).stopAllLabs()) removed.push(`lab ${lab}`);
  for (const s of listStates()) {
    if (s.status === 'running' || s.status === 'restarting') continue;
    await releaseContainer(s.config.id, { remove: true, explain: o.explain });
    removed.push(`container ${s.config.name}`);
  }
  const known = new Set(listStates().map((s) => s.config.id));
  const net = await import('../network/index.js');
  removed.push(...(await net.pruneLeftovers(known, { explain: o.explain })));
  // A cluster whose `cluster up` was cut short (src/cluster): its nodes, LAN and records.
  removed.push(...(await (await import('../cluster/index.js')).removeLeakedCluster({ all: false, explain: o.explain })));
  return removed;
}

/** What a reset did, told as it goes (the CLI prints each). */
export type ResetEvent =
  | { kind: 'store'; store: StoreRef }
  | { kind: 'container'; name: string }
  | { kind: 'network'; name: string; bridge: string }
  | { kind: 'warning'; text: string }
  | { kind: 'cluster'; what: string }
  | { kind: 'cgroup-parent' };

/**
 * Put the host back as it was before this store: remove its every container, then the kernel
 * objects of its every network (bridges, rules, and minid's chains once no store has a rule
 * left), then the parent cgroup "minid" where it is empty. Images and network definitions
 * stay. For workshops and tests.
 */
export async function resetSystem(o: { explain?: Explain }, tell: (e: ResetEvent) => void): Promise<void> {
  const { storeRef } = await import('../sys/store.js');
  tell({ kind: 'store', store: await storeRef() });
  // The cluster first (src/cluster): its nodes' containers, the nodes, the LAN.
  for (const line of await (await import('../cluster/index.js')).removeLeakedCluster({ all: true, explain: o.explain })) {
    tell(line.startsWith('warning: ') ? { kind: 'warning', text: line.slice(9) } : { kind: 'cluster', what: line });
  }
  for (const s of listStates()) {
    await removeContainer(s.config.id, true, o.explain);
    tell({ kind: 'container', name: s.config.name });
  }
  const net = await import('../network/index.js');
  for (const n of await net.listNetworks()) {
    if (!n.bridge) continue;
    const errors = await net.teardownNetwork(await net.getNetwork(n.name), { explain: o.explain });
    tell({ kind: 'network', name: n.name, bridge: n.bridge });
    for (const text of errors) tell({ kind: 'warning', text });
  }
  // The shared parent cgroup, where no container of any store is left in it (host-wide lock:
  // not while another store's start makes its cgroup there).
  const { withHostLock } = await import('../sys/lock.js');
  if ((await withHostLock('cgroups', async () => removeEmptyParents(hostLayout(), o.explain))).length) tell({ kind: 'cgroup-parent' });
}
