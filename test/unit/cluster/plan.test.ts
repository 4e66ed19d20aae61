// The cluster's plans (src/cluster/plan.ts) as the shell scripts `cluster up --explain` and
// `cluster down --explain` print: golden files a reviewer reads (update with `vitest -u`).
import { afterEach, describe, expect, it } from 'vitest';
import { downSteps, layout, rangeApart, reservedClash, upSteps } from '../../../src/cluster/plan.js';
import { parseSubnet } from '../../../src/network/cidr.js';
import { formatPlan, formatStep, cmd } from '../../../src/network/step.js';

const three = (mode: 'routes' | 'vxlan') =>
  layout({ store: '0a1b2c3d', mode, lan: parseSubnet('192.168.1.0/24'), podCidr: parseSubnet('10.244.0.0/16'), nodes: 3, sysfsDir: (n) => `/run/minid/cluster/sysfs/${n}` });

describe('cluster layout', () => {
  it('numbers the nodes as the course notes do, names everything after the store', () => {
    const l = three('routes');
    expect(l.bridge).toBe('mcl0a1b2c3d');
    expect(l.nodes.map((n) => [n.name, n.ip, n.podSubnet, n.netns, n.uplink])).toEqual([
      ['node1', '192.168.1.11', '10.244.1.0/24', 'mcl-0a1b2c3d-node1', 'mcl0a1b2c3dn1'],
      ['node2', '192.168.1.12', '10.244.2.0/24', 'mcl-0a1b2c3d-node2', 'mcl0a1b2c3dn2'],
      ['node3', '192.168.1.13', '10.244.3.0/24', 'mcl-0a1b2c3d-node3', 'mcl0a1b2c3dn3'],
    ]);
    // link names fit in 15 characters
    for (const n of l.nodes) expect(n.uplink.length).toBeLessThanOrEqual(15);
  });
});

describe('ranges the kernel gives another meaning', () => {
  it('refuses loopback, link-local, multicast, "this network" and the reserved top; private ranges pass', () => {
    const clash = (c: string) => reservedClash(parseSubnet(c), '--pod-cidr', '10.244.0.0/16');
    expect(clash('127.0.0.0/16')).toBe('--pod-cidr 127.0.0.0/16 overlaps 127.0.0.0/8 (loopback): those addresses are not routed like a host\'s; pick a private range (e.g. --pod-cidr 10.244.0.0/16)');
    expect(clash('169.254.0.0/20')).toContain('(link-local)');
    expect(clash('224.0.0.0/16')).toContain('(multicast)');
    expect(clash('0.0.0.0/8')).toContain('"this network"');
    expect(clash('255.255.0.0/16')).toContain('broadcast');
    expect(clash('0.0.0.0/0')).toContain('overlaps 0.0.0.0/8');
    for (const ok of ['10.244.0.0/16', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10']) expect(clash(ok), ok).toBeNull();
  });

  it('suggests a services range apart from the pods and the LAN (not the default when that is what clashes)', () => {
    expect(rangeApart(['10.244.0.0/16', '192.168.1.0/24'])).toBe('10.96.0.0/16');
    expect(rangeApart(['10.96.0.0/12', '192.168.1.0/24'])).toBe('172.20.0.0/16');
    expect(rangeApart(['10.0.0.0/8', '172.16.0.0/12'])).toBe('192.168.200.0/24');
  });
});

describe('cluster plans (golden)', () => {
  for (const mode of ['routes', 'vxlan'] as const) {
    it(`up, --mode ${mode}`, async () => {
      const steps = upSteps(three(mode));
      for (const s of steps) expect(s.apply.length, s.name).toBeGreaterThan(0);
      await expect(formatPlan(steps, `cluster up (${mode})`)).toMatchFileSnapshot(`__golden__/up-${mode}.sh`);
    });
  }

  it('down takes only what is there', async () => {
    const l = three('vxlan');
    const present = { netns: new Set([l.nodes[0].netns, l.nodes[1].netns]), links: new Set([l.bridge, l.nodes[0].uplink]), mounts: new Set([l.nodes[0].sysfs]) };
    const steps = downSteps(l, present);
    expect(steps.filter((s) => !s.skip).map((s) => s.name)).toEqual([`unmount node1's sysfs`, 'unplug node1 from the LAN', 'delete node node1', 'delete node node2', 'delete the LAN']);
    await expect(formatPlan(steps, 'cluster down')).toMatchFileSnapshot('__golden__/down-partial.sh');
  });
});

describe('explain on a node', () => {
  afterEach(() => {
    delete process.env.MINID_NODE_NETNS;
  });
  it('prints the commands a node runs as typed on the host', () => {
    process.env.MINID_NODE_NETNS = 'mcl-0a1b2c3d-node2';
    const lines = formatStep({ name: 'create the bridge', why: 'a switch', apply: [cmd('ip', 'link', 'add', 'cni0', 'type', 'bridge')], undo: [] }, 1, 1);
    expect(lines.at(-1)).toBe('nsenter --net=/run/netns/mcl-0a1b2c3d-node2 ip link add cni0 type bridge');
  });
});
