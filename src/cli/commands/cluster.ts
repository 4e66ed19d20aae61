// `minid cluster up|down|status` (src/cluster, docs/cluster.md): parse and print only.
const explainer = (on?: boolean) => (on ? (line: string) => process.stderr.write(line + '\n') : undefined);

export async function up(o: { nodes?: string; mode?: string; podCidr?: string; lan?: string; explain?: boolean }) {
  const { clusterUp } = await import('../../cluster/index.js');
  const s = await clusterUp({ nodes: o.nodes, mode: o.mode, podCidr: o.podCidr, lan: o.lan, explain: explainer(o.explain) });
  process.stdout.write(`Cluster up: ${s.nodes.length} node${s.nodes.length > 1 ? 's' : ''} on LAN ${s.lan} (bridge ${s.bridge}), pods in ${s.podCidr}, mode ${s.mode}\n`);
  for (const n of s.nodes) process.stdout.write(`  ${n.name}  ${n.ip}  pods ${n.podSubnet}  DNS ${n.ip}:53  (minid --node ${n.name} run ...)\n`);
}

export async function down(o: { explain?: boolean }) {
  const { clusterDown } = await import('../../cluster/index.js');
  const { state, warnings } = await clusterDown({ explain: explainer(o.explain) });
  for (const w of warnings) process.stderr.write(`minid: warning: ${w}\n`);
  process.stdout.write(state ? `Cluster down: ${state.nodes.length} nodes and the LAN ${state.lan} removed\n` : 'No cluster\n');
}

export async function status() {
  const { clusterStatus } = await import('../../cluster/index.js');
  const st = await clusterStatus();
  if (!st) {
    process.stdout.write('No cluster: `minid cluster up` makes one\n');
    return 1;
  }
  const { state, nodes } = st;
  process.stdout.write(`Cluster (${state.status}): mode ${state.mode}, LAN ${state.lan} on bridge ${state.bridge}, pods in ${state.podCidr}\n`);
  const { tabwrite } = await import('../tabwrite.js');
  const rows = [['NODE', 'ADDRESS', 'POD SUBNET', 'NAMESPACE', 'CONTAINERS', 'DNS', 'STATE']];
  for (const n of nodes) {
    const dns = n.dns.running ? `${n.dns.address} (dnsmasq ${n.dns.pid})` : `${n.dns.address} (not running)`;
    rows.push([n.name, n.ip, n.podSubnet, n.netns, String(n.containers), dns, n.problems.length ? `✗ ${n.problems.join('; ')}` : '✓']);
  }
  process.stdout.write(tabwrite(rows, 0));
  for (const n of nodes) {
    process.stdout.write(`${n.name}: routes to other nodes' pods (from its kernel)\n`);
    for (const r of n.podRoutes) process.stdout.write(`  ${r}\n`);
    for (const f of n.overlay) process.stdout.write(`  fdb: ${f}\n`);
  }
  process.stdout.write('The whole cluster drawn from each node\'s kernel (its pods, routes, marks with fixes): minid topo --cluster\n');
  return nodes.some((n) => n.problems.length) ? 1 : 0;
}
