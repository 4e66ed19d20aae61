// `minid trace service:NAME --from NODE/POD`: one probe TCP connection from a pod on one node to
// a service, followed through the netfilter of every node (src/see/clustertrace.ts prints it).
//
//   1. in every node's namespace, a trace table of minid's own (the same script as `minid trace`,
//      src/see/nftrace.ts) marks the probe's packets by their dedicated source port;
//   2. `nft monitor trace` runs inside every node (nsenter --net), each reporting its own hooks;
//   3. the probe connects from the pod's namespace (curl --local-port) to VIP:port;
//   4. each node's events are mapped back to its own rules (nft handles → iptables-save lines);
//      the source node's routing decision and conntrack entry are read from its kernel;
//   5. the tables are deleted again in every node, on success, failure and Ctrl-C alike.
import { run, spawnProcess } from '../sys/exec.js';
import { fail, MinidError } from '../errors.js';
import { storeRef } from '../sys/store.js';
import { cleanUpOnSignal, groupPackets, parseNftHandles, parseTraceLine, traceTableScript, type RulePlace, type TraceEvent } from '../see/nftrace.js';
import { describeConntrack, iptablesByPlace, parseConntrack, pathOf, type PacketPath, type RuleBook } from '../see/tracereport.js';
import { chosenBackend, diagnoseCluster, renderClusterTrace, type ClusterTraceContext, type TraceEndpoint } from '../see/clustertrace.js';
import { readState, type ClusterState } from './index.js';
import type { ClusterNode } from './plan.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inNode = (n: ClusterNode, ...argv: string[]): string[] => ['nsenter', `--net=/run/netns/${n.netns}`, ...argv];

/** A source port above the kernel's ephemeral range (as `minid trace` picks it). */
function probePort(): number {
  return 61000 + Math.floor(Math.random() * 4000);
}

/** `node1/cli`: the node and the pod's name. */
function parseFrom(from: string | undefined, s: ClusterState): { node: ClusterNode; pod: string } {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(from ?? '');
  if (!m) fail(`--from must name a pod as NODE/POD for a service trace (e.g. --from node1/cli), got "${from ?? ''}"`, 1);
  const node = s.nodes.find((n) => n.name === m[1]);
  if (!node) fail(`--from ${from}: no node "${m[1]}" in the cluster (it has ${s.nodes.map((n) => n.name).join(', ')})`, 1);
  return { node, pod: m[2] };
}

/** nft's handles and iptables' lines of one node: to name each rule its trace hit. */
async function nodeRuleBook(n: ClusterNode): Promise<RuleBook> {
  const places = new Map<string, RulePlace>();
  const tables = (await run(inNode(n, 'nft', 'list', 'tables', 'ip'), { allowFail: true })).stdout;
  for (const m of tables.matchAll(/^table ip (\S+)/gm)) {
    const listing = await run(inNode(n, 'nft', '-a', 'list', 'table', 'ip', m[1]), { allowFail: true });
    for (const [h, p] of parseNftHandles(listing.stdout)) places.set(`${m[1]} ${h}`, p);
  }
  const save = await run(inNode(n, 'iptables-save'), { allowFail: true });
  return { places, iptables: iptablesByPlace(save.stdout) };
}

/** Send marker packets inside the node until its monitor reports one (then it listens), at most 3 s. */
async function waitForMonitor(n: ClusterNode, out: () => string, sport: number): Promise<void> {
  for (let i = 0; i < 30; i++) {
    await run(inNode(n, 'bash', '-c', `echo minid-trace > /dev/udp/127.0.0.1/${sport}`), { allowFail: true });
    await sleep(100);
    if (out().includes(`udp dport ${sport}`)) return;
  }
  throw new MinidError(`nft monitor trace reported nothing on ${n.name} within 3 s: cannot trace in the node`, 1);
}

export async function traceService(name: string, o: { from?: string }): Promise<{ text: string; ok: boolean }> {
  const s = readState();
  if (!s || s.status !== 'up') fail('there is no cluster up: `minid cluster up` makes one, `minid service create` a service', 1);
  const { readServices, readPods } = await import('./services.js');
  const svc = readServices()?.services.find((x) => x.name === name);
  if (!svc) fail(`no such service "${name}": \`minid service ls\` lists them`, 1);
  const from = parseFrom(o.from, s);
  const pods = await readPods(s);
  const client = pods.find((p) => p.node === from.node.name && p.name === from.pod);
  if (!client) fail(`--from ${o.from}: no running pod "${from.pod}" on ${from.node.name} (\`minid --node ${from.node.name} ps\`)`, 1);
  const endpoints: TraceEndpoint[] = pods
    .filter((p) => Object.entries(svc.selector).every(([k, v]) => p.labels[k] === v))
    .map((p) => ({ node: p.node, container: p.name, ip: p.ip, port: svc.targetPort, veth: p.veth, netns: p.netns }));

  const store = await storeRef();
  const sport = probePort();
  const table = `minid_trace_${store.id}_${sport}`;
  const monitors: { node: ClusterNode; proc: Awaited<ReturnType<typeof spawnProcess>>; out: string }[] = [];
  let inflight: Promise<unknown> = Promise.resolve();
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const m of monitors) if (m.proc.exitCode === null) m.proc.kill('SIGTERM');
    // Only minid's own tables, by their exact names, in every node; then the markers' conntrack entries.
    for (const n of s.nodes) {
      for (const fam of ['inet', 'bridge']) await run(inNode(n, 'nft', 'delete', 'table', fam, table), { allowFail: true });
      await run(inNode(n, 'conntrack', '-D', '-p', 'udp', '--orig-port-dst', String(sport)), { allowFail: true });
    }
    // The probe's own conntrack entry goes too: a trace leaves nothing behind.
    await run(inNode(from.node, 'conntrack', '-D', '-p', 'tcp', '--orig-port-src', String(sport)), { allowFail: true });
  };
  const unhook = cleanUpOnSignal(() => inflight, cleanup);
  try {
    for (const n of s.nodes) {
      const made = await (inflight = run(inNode(n, 'nft', '-f', '-'), { input: traceTableScript(table, sport), allowFail: true }));
      if (made.exitCode !== 0) throw new MinidError(`cannot create the trace table ${table} in ${n.name}: ${made.stderr.trim().split('\n').pop()} (is the nftables package installed?)`, 1);
    }
    for (const n of s.nodes) {
      const proc = await spawnProcess(inNode(n, 'nft', '-a', 'monitor', 'trace'), { stdio: ['ignore', 'pipe', 'pipe'] });
      const m = { node: n, proc, out: '' };
      proc.stdout!.on('data', (d: Buffer) => (m.out += d.toString()));
      monitors.push(m);
      await waitForMonitor(n, () => m.out, sport);
    }
    const probeCmd = [
      'nsenter', `--net=/run/netns/${client.netns}`,
      'curl', '-sS', '-o', '/dev/null', '--local-port', String(sport), '--connect-timeout', '3', '-m', '4', `http://${svc.clusterIP}:${svc.port}/`,
    ];
    const pr = await run(probeCmd, { allowFail: true });
    const outcome = pr.exitCode === 0 || pr.exitCode === 52 || pr.exitCode === 56 ? 'connected' : pr.exitCode === 7 ? 'refused' : pr.exitCode === 28 ? 'timeout' : 'failed';
    await sleep(300); // the last events
    for (const m of monitors) m.proc.kill('SIGTERM');

    const paths: Record<string, PacketPath[]> = {};
    for (const m of monitors) {
      const events = m.out.split('\n').map(parseTraceLine).filter((e): e is TraceEvent => e !== null && e.chain !== 'marker' && e.fields?.['udp dport'] !== String(sport));
      const book = await nodeRuleBook(m.node);
      paths[m.node.name] = groupPackets(events, table, sport).map((p) => pathOf(p, table, book));
    }
    const ctx: ClusterTraceContext = {
      mode: s.mode,
      service: { name: svc.name, vip: svc.clusterIP, port: svc.port },
      endpoints,
      client: { name: client.name, node: from.node.name, ip: client.ip },
      nodes: s.nodes.map((n) => ({ name: n.name, netns: n.netns, ip: n.ip, podSubnet: n.podSubnet })),
      paths,
      sport,
      table,
      probe: probeCmd.join(' '),
      outcome,
      routeGet: '',
      listening: {},
      conntrack: [],
    };
    const ct = await run(inNode(from.node, 'conntrack', '-L', '-p', 'tcp', '--orig-port-src', String(sport)), { allowFail: true });
    const entry = parseConntrack(ct.stdout);
    ctx.conntrack = entry ? describeConntrack(entry) : [];
    const be = chosenBackend(ctx);
    if (be) {
      const rg = await run(['ip', '-n', from.node.netns, 'route', 'get', be.ip], { allowFail: true });
      ctx.routeGet = (rg.stdout || rg.stderr).trim().split('\n')[0] ?? '';
      if (be.netns) ctx.listening[be.ip] = (await run(['ss', '-N', be.netns, '-Htln', `sport = :${be.port}`], { allowFail: true })).stdout.trim();
    }
    const v = diagnoseCluster(ctx);
    return { text: renderClusterTrace(ctx, v), ok: v.ok };
  } finally {
    await cleanup();
    unhook();
  }
}
