import { describe, expect, it } from 'vitest';
import { renderDiagram } from '../../../src/network/diagram.js';
import type { NetworkRecord } from '../../../src/network/types.js';
import { ID1, ID2 } from './helpers.js';

const net: NetworkRecord = { id: 'b1d9e0f0a1b2' + '0'.repeat(52), name: 'bridge', driver: 'bridge', bridge: 'minid0', subnet: '172.30.0.0/16', gateway: '172.30.0.1', created: '', builtin: true };

describe('renderDiagram', () => {
  it('draws uplink, bridge, each container with its veth pair, namespace, IP, ports and the NAT rules', async () => {
    const eps = [
      { mode: 'bridge', containerId: ID1, containerName: 'web', ip: '172.30.0.2', prefixLength: 16, mac: '02:4d:ac:1e:00:02', ports: [{ protocol: 'tcp' as const, hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80 }, { protocol: 'udp' as const, hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53 }], undo: [] },
      { mode: 'bridge', containerId: ID2, containerName: 'db', ip: '172.30.0.3', prefixLength: 16, ports: [], undo: [] },
    ];
    const text = renderDiagram(net, eps, { uplink: { dev: 'eth0', mtu: 1400, addresses: ['192.0.2.2/24'] }, up: true });
    await expect(text).toMatchFileSnapshot('__golden__/diagram-bridge.txt');
    expect(text).toContain('mv3f2a1b4c ════ veth ════ eth0 172.30.0.2/16   [netns minid-3f2a1b4c5d6e]');
    expect(text).toMatch(/MINID-DNAT\s+-p tcp --dport 8080\s+-> DNAT 172.30.0.2:80/);
  });

  it('says when nothing is set up and there is no container or uplink', () => {
    const text = renderDiagram(net, [], { uplink: null, up: false });
    expect(text).toContain('not set up yet');
    expect(text).toContain('(no containers)');
    expect(text).toContain('uplink: none');
  });
});
