// A three-node cluster on one machine (src/cluster, docs/cluster.md), once per mode, one after
// the other: a pod on node1 fetches a page from busybox httpd in a pod on node3, and httpd's
// log shows the client's own pod address (no NAT between pods); then `cluster down` leaves
// nothing on the host. Bad input is refused with one line and nothing made; an `up` killed
// half-way is taken by `system prune`. Every address used is inside namespaces the test made
// (the LAN, the nodes, the pods). The nodes' stores share the suite store's images (symlinks).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, minid, mountsUnder } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';
import { clusterSuite, sh } from './helpers.js';

const { suite, storeId, ok } = clusterSuite('cluster');

/** What of a cluster of store `id` the host holds: namespaces, links, mounts, records, rules. */
function leftovers(id: string, containerIds: string[]): string[] {
  const out: string[] = [];
  for (const ns of sh('ip', ['netns', 'list']).split('\n')) {
    if (ns.startsWith(`mcl-${id}-`) || containerIds.some((c) => ns.startsWith(`minid-${c.slice(0, 12)}`))) out.push(`netns ${ns}`);
  }
  for (const l of sh('ip', ['-o', 'link', 'show']).split('\n')) if (l.includes(`mcl${id}`) || containerIds.some((c) => l.includes(`mv${c.slice(0, 8)}`))) out.push(`link ${l}`);
  out.push(...mountsUnder(path.dirname(suite.store.root)).map((m) => `mount ${m}`));
  for (const d of [path.join(suite.store.root, 'cluster'), path.join(suite.store.run, 'cluster')]) if (fs.existsSync(d)) out.push(`record ${d}`);
  for (const l of sh('iptables-save', []).split('\n')) if (l.includes('cluster pods reach pods') || containerIds.some((c) => l.includes(c.slice(0, 12)))) out.push(`rule ${l}`);
  return out;
}

const httpd = `mkdir /www && echo hello > /www/index.html && exec httpd -f -vv -p 8080 -h /www`;

async function podToPod(mode: 'routes' | 'vxlan', podCidr: string): Promise<void> {
  const lan = freeSubnet((a, b) => `192.168.${100 + a + (mode === 'vxlan' ? 50 : 0)}.0/24`);
  const up = await ok(['cluster', 'up', '--nodes', '3', '--mode', mode, '--pod-cidr', podCidr, '--lan', lan]);
  expect(up).toContain(`mode ${mode}`);
  const id = storeId();
  const ids: string[] = [];
  try {
    // The LAN bridge has no address on the host: the host routes nothing into the cluster.
    expect(sh('ip', ['-4', '-o', 'addr', 'show', 'dev', `mcl${id}`])).toBe('');
    const status = await ok(['cluster', 'status']);
    expect(status).toMatch(/node3 +\S+ +\S+\.3\.0\/24/);
    expect(status).not.toContain('✗');

    const srv = (await ok(['--node', 'node3', 'run', '-d', '--name', 'srv', 'busybox', 'sh', '-c', httpd])).trim();
    ids.push(srv);
    const srvIp = (await ok(['--node', 'node3', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'srv'])).trim();
    expect(srvIp.startsWith(podCidr.split('.').slice(0, 2).join('.') + '.3.')).toBe(true);
    // The node's minid made its bridge and rules inside the node, not on the host.
    expect(sh('ip', ['netns', 'exec', `mcl-${id}-node3`, 'ip', '-o', 'link', 'show', 'cni0'])).toContain('cni0');
    expect(sh('ip', ['-o', 'link', 'show'])).not.toMatch(/\bcni0\b.*minid:/);

    const client = (await ok(['--node', 'node1', 'run', '-d', '--name', 'cli', 'busybox', 'sh', '-c', 'sleep 300'])).trim();
    ids.push(client);
    const cliIp = (await ok(['--node', 'node1', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'cli'])).trim();
    await eventually(async () => {
      const got = await ok(['--node', 'node1', 'exec', 'cli', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${srvIp} 8080`]);
      expect(got).toContain('hello');
    });
    // No NAT: httpd on node3 saw the client pod's own address.
    // (httpd -vv logs "[::ffff:IP]:PORT: response:200" on its stderr, which `logs` prints on its own)
    await eventually(async () => {
      const logs = await suite.run(['--node', 'node3', 'logs', 'srv']);
      expect(String(logs.stderr)).toContain(`[::ffff:${cliIp}]:`);
    });
    expect(await ok(['--node', 'node1', 'ps', '-q'])).toContain(client.slice(0, 12));
    await ok(['--node', 'node1', 'rm', '-f', 'cli']);
  } finally {
    const down = await suite.run(['cluster', 'down']);
    expect(down.exitCode, String(down.stderr)).toBe(0);
  }
  expect(leftovers(id, ids)).toEqual([]);
}

describe('minid cluster', () => {
  afterAll(async () => {
    await suite.run(['cluster', 'down']); // a failed test's cluster, if any
  });

  it('refuses bad input with one line, making nothing', async () => {
    for (const [args, code, text] of [
      [['cluster', 'up', '--nodes', '0'], 1, '--nodes'],
      [['cluster', 'up', '--nodes', '10'], 1, '--nodes'],
      [['cluster', 'up', '--mode', 'bgp'], 1, '--mode'],
      [['cluster', 'up', '--pod-cidr', '10.244.0.0/16', '--lan', '10.244.7.0/24'], 1, 'overlaps'],
      [['cluster', 'up', '--pod-cidr', '127.0.0.0/16'], 1, 'overlaps 127.0.0.0/8 (loopback)'],
      [['cluster', 'up', '--pod-cidr', '224.0.0.0/16'], 1, 'overlaps 224.0.0.0/4 (multicast)'],
      [['cluster', 'up', '--pod-cidr', '10.244.1.0/16'], 1, 'host bits are set (did you mean 10.244.0.0/16?)'],
      [['cluster', 'up', '--pod-cidr', '10.244.0.0/24'], 1, 'is too small'],
      [['cluster', 'up', '--pod-cidr', 'fd00::/64'], 1, 'expected an IPv4 CIDR'],
      [['cluster', 'up', '--lan', '169.254.7.0/24'], 1, 'overlaps 169.254.0.0/16 (link-local)'],
      [['cluster', 'up', '--nodes', '2.5'], 1, '--nodes must be a whole number'],
      [['service', 'create', 'web', '--port', '80', '--selector', 'app=web'], 1, 'there is no cluster'],
      [['trace', 'service:web', '--from', 'node1/cli'], 1, 'there is no cluster'],
      [['--node', 'node1', 'run', 'busybox', 'true'], 125, 'no cluster'],
      [['--node', 'node1', 'ps'], 1, 'no cluster'],
    ] as [string[], number, string][]) {
      const r = await suite.run(args);
      expect(r.exitCode, args.join(' ')).toBe(code);
      expect(String(r.stderr).trim().split('\n')).toHaveLength(1);
      expect(String(r.stderr)).toContain(text);
    }
    expect(fs.existsSync(path.join(suite.store.root, 'cluster'))).toBe(false);
    // Nor in the kernel: no namespace, link, mount or rule of this store (refused before the store
    // even got its id, which every such name carries, or else none named after it).
    if (fs.existsSync(path.join(suite.store.root, 'store-id'))) expect(leftovers(storeId(), [])).toEqual([]);
    expect(mountsUnder(path.dirname(suite.store.root))).toEqual([]);
    await ok(['cluster', 'up', '--nodes', '2', '--lan', freeSubnet((a, b) => `192.168.${200 + a}.0/24`)]);
    const r = await suite.run(['--node', 'node7', 'run', 'busybox', 'true']);
    expect([r.exitCode, String(r.stderr).trim()]).toEqual([125, 'minid: no node "node7" in the cluster: it has node1, node2']);
    // After a reboot the record says "up" but a node's namespace is gone: one line, nothing made.
    sh('ip', ['netns', 'del', `mcl-${storeId()}-node2`]);
    const gone = await suite.run(['service', 'create', 'web', '--port', '80', '--selector', 'app=web']);
    expect([gone.exitCode, String(gone.stderr).trim()]).toEqual([1, `minid: node node2's namespace mcl-${storeId()}-node2 is gone (a reboot?): \`minid cluster down\`, then \`minid cluster up\``]);
    expect(fs.existsSync(path.join(suite.store.root, 'cluster', 'services.json'))).toBe(false);
    await ok(['cluster', 'down']);
    expect(leftovers(storeId(), [])).toEqual([]);
  });

  it('routes: pods on different nodes reach each other without NAT; down leaves nothing', async () => {
    await podToPod('routes', '10.244.0.0/16');
  });

  it('vxlan: pods on different nodes reach each other without NAT; down leaves nothing', async () => {
    await podToPod('vxlan', '10.245.0.0/16');
  });

  it('an up killed half-way is removed by system prune', async () => {
    const lan = freeSubnet((a, b) => `192.168.${200 + a}.0/24`);
    const r = await minid(suite.store, ['cluster', 'up', '--lan', lan], { env: { ...suite.store.env, MINID_CRASH_AT: 'network-batch' } });
    expect(r.exitCode).not.toBe(0);
    const id = storeId();
    expect(sh('ip', ['-o', 'link', 'show'])).toContain(`mcl${id}`); // the LAN was made, then minid died
    const prune = await ok(['system', 'prune']);
    expect(prune).toContain('cluster');
    expect(leftovers(id, [])).toEqual([]);
  });
});
