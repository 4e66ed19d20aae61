// kube-proxy follows the endpoints: a pod that dies leaves its service, one that comes back
// rejoins it. Here a node's containers have no daemon watching them, only their supervisor
// (src/runtime/launch.ts, shim.sh). So when a container of a node's store exits, or its
// --restart policy waits or runs it again, its supervisor starts `minid service sync` for the
// cluster: detached (the exit record is not delayed), serialized with every other sync by the
// 'services' lock, and only when the cluster has services. A sync that fails writes one line to
// <root>/cluster/services.log, which `minid service ls` points to.
//
// The supervisor runs inside the node's network namespace; the sync does not care: it reaches
// each node by name (`ip -n NS`, `nsenter --net=/run/netns/NS`), like a sync run on the host.
// Kept light: the node's minid loads it for every container it starts.
import path from 'node:path';
import { packageRoot } from '../sys/paths.js';

/** Where the cluster's record and the sync's notes live, from the host store's two roots. */
export const servicesRecord = (root: string): string => path.join(root, 'cluster', 'services.json');
export const syncLog = (root: string): string => path.join(root, 'cluster', 'services.log');
/** Touched by every sync that went through (its mtime): a failure older than it is history. */
export const syncedMarker = (run: string): string => path.join(run, 'cluster', 'services.synced');

/** What a node's supervisor needs to re-sync the services (launch.ts writes it as a shell function). */
export interface SupervisorSync {
  /** Nothing is done unless this file exists: the cluster has services. */
  record: string;
  /** The host's `minid service sync`, with the host store's environment rather than the node's. */
  argv: string[];
  /** One line per failed sync. */
  log: string;
  /** Who asks, for that line: "node1: container web (0123456789ab)". */
  who: string;
}

/**
 * The environment a node's minid runs with (src/cluster/index.ts, nodeEnv) names the host
 * store (MINID_CLUSTER_ROOT, MINID_CLUSTER_RUN) and the node (MINID_NODE). Anything else: not a
 * node's store, no sync.
 */
export function supervisorSync(c: { id: string; name: string }, env: NodeJS.ProcessEnv = process.env): SupervisorSync | undefined {
  const { MINID_CLUSTER_ROOT: root, MINID_CLUSTER_RUN: run, MINID_NODE: node } = env;
  if (!root || !run || !node) return undefined;
  // The node's own settings are dropped: the sync is the host store's command.
  const nodeOnly = ['MINID_NODE', 'MINID_NODE_NETNS', 'MINID_SYSFS', 'MINID_BRIDGE_NAME', 'MINID_BRIDGE_SUBNET', 'MINID_CLUSTER_ROOT', 'MINID_CLUSTER_RUN'];
  return {
    record: servicesRecord(root),
    argv: ['env', ...nodeOnly.flatMap((v) => ['-u', v]), `MINID_ROOT=${root}`, `MINID_RUN=${run}`, path.join(packageRoot(), 'bin', 'minid'), 'service', 'sync'],
    log: syncLog(root),
    who: `${node}: container ${c.name} (${c.id.slice(0, 12)})`,
  };
}

/**
 * The same sync from a process of the node other than its supervisor (the health monitor, when
 * a container's health changes: Kubernetes' readiness): the supervisor's own `svcsync`, run by
 * sh in the background, so that there is one way to start it.
 */
export async function syncInBackground(s: SupervisorSync, what: string): Promise<void> {
  const { serviceSyncFunction } = await import('../runtime/launch.js');
  const { spawnProcess } = await import('../sys/exec.js');
  const child = await spawnProcess(['sh', '-c', `${serviceSyncFunction(s)}\nsvcsync "$1"`, 'sh', what], { stdio: 'ignore', detached: true });
  child.unref();
}
