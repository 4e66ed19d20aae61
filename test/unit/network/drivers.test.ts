// The driver table (src/network/drivers/): one driver per mode behind one interface, and the
// attachments that containers created by an earlier minid have in their state, which must
// still be undone (stop, rm) by this one.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { attach, check, describe as describeAtt, detach, DRIVERS, fromStored, type Attachment } from '../../../src/network/index.js';
import { driverFor } from '../../../src/network/drivers/index.js';
import { SERVICES, type NetworkService } from '../../../src/network/services.js';
import { getNetwork, pruneLeftovers, teardownNetwork } from '../../../src/network/index.js';
import { listEndpoints } from '../../../src/network/endpoints.js';
import { detachNetwork } from '../../../src/runtime/netglue.js';
import type { ContainerConfig } from '../../../src/runtime/state.js';
import { FakeProbe, ID1, Recorder, resetSeams, tempRoots, wireLinks, wireSysctl } from './helpers.js';

// The CNI library is the cni driver's business; here it only records what it is asked.
const cniCalls = vi.hoisted(() => [] as { op: string; name: string; o: Record<string, unknown> }[]);
vi.mock('../../../src/cni/index.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../../src/cni/index.js')>();
  const record = (op: string) => async (name: string, o: Record<string, unknown>) => {
    cniCalls.push({ op, name, o });
    return op === 'ADD' ? { cniVersion: '1.0.0', ips: [{ address: '10.22.0.5/16', gateway: '10.22.0.1' }] } : undefined;
  };
  return { ...orig, addNetworkList: record('ADD'), delNetworkList: record('DEL'), checkNetworkList: record('CHECK') };
});

let roots: ReturnType<typeof tempRoots>;
let rec: Recorder;
beforeEach(() => {
  roots = tempRoots();
  const probe = new FakeProbe().install();
  rec = new Recorder().install();
  wireSysctl(rec, probe);
  wireLinks(rec, probe);
  cniCalls.length = 0;
});
afterEach(() => {
  resetSeams();
  roots.cleanup();
});

const NS = `minid-${ID1.slice(0, 12)}`;
const NS_PATH = `/run/netns/${NS}`;
const nsUndo = [[{ argv: ['ip', 'netns', 'del', NS] }]];

describe('the driver table', () => {
  it('has one driver per mode, under its own name', () => {
    expect(Object.keys(DRIVERS)).toEqual(['none', 'host', 'container', 'bridge', 'cni']);
    for (const [name, d] of Object.entries(DRIVERS)) expect(d.name).toBe(name);
  });

  it('is reached by the runtime through network/index.ts only (CNI included: no runtime file imports another network module)', () => {
    const dir = path.join(__dirname, '../../../src/runtime');
    const past = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/(?:from |import\()'(\.\.\/(?:network|cni)\/[^']+)'/g)].map((m) => `${f}: ${m[1]}`))
      .filter((l) => !l.endsWith(': ../network/index.js'));
    expect(past).toEqual([]);
  });

  it('picks the driver from what the runtime asked for', () => {
    expect(driverFor('none').name).toBe('none');
    expect(driverFor('host').name).toBe('host');
    expect(driverFor('bridge').name).toBe('bridge');
    expect(driverFor({ container: '/proc/1/ns/net' }).name).toBe('container');
    expect(driverFor({ cni: 'mynet' }).name).toBe('cni');
    expect(() => driverFor('overlay' as 'none')).toThrow('unknown network mode "overlay"');
  });

  it('describes each kind of attachment the same way (what inspect shows)', async () => {
    const none = await attach({ containerId: ID1, containerName: 'x', mode: 'none', ports: [] });
    expect(describeAtt(none)).toEqual({ network: 'none', ifName: '', veth: '', bridge: '', connected: false, ports: [] });
    await detach(none);
    const host = await attach({ containerId: ID1, containerName: 'x', mode: 'host', ports: [] });
    expect(describeAtt(host)).toEqual({ network: 'host', ifName: '', veth: '', bridge: '', connected: false, ports: [] });
    const joined = await attach({ containerId: ID1, containerName: 'x', mode: { container: '/proc/1/ns/net' }, ports: [] });
    expect(describeAtt(joined)).toMatchObject({ network: 'container', ifName: '', endpoint: {} });
    const br = await attach({ containerId: ID1, containerName: 'web', mode: 'bridge', ports: ['8080:80'] });
    expect(describeAtt(br)).toEqual({
      network: 'bridge', ifName: 'eth0', veth: `mv${ID1.slice(0, 8)}`, bridge: 'minid0', connected: false, ports: br.ports,
      endpoint: { ip: '172.30.0.2', prefixLength: 16, gateway: '172.30.0.1', mac: '02:4d:ac:1e:00:02', aliases: undefined },
    });
  });

  it('checks that an attachment is still in place', async () => {
    const none = await attach({ containerId: ID1, containerName: 'x', mode: 'none', ports: [] });
    expect(await check(none)).toEqual([`the network namespace ${NS_PATH} is gone`]); // the recorder made none
    expect(await check({ mode: 'host', ports: [], undo: [] })).toEqual([]);
  });
});

describe('cni', () => {
  it('makes the namespace as none does, then ADD; the attachment holds all DEL needs', async () => {
    const att = await attach({ containerId: ID1, containerName: 'web', mode: { cni: 'mynet', confDir: '/etc/cni/test' }, ports: ['8080:80'] });
    expect(rec.text()).toContain(`netns add ${NS}`);
    expect(cniCalls.map((c) => [c.op, c.name, c.o.netns, c.o.confDir])).toEqual([['ADD', 'mynet', NS_PATH, '/etc/cni/test']]);
    expect(att).toMatchObject({ mode: 'cni', network: 'mynet', ip: '10.22.0.5', gateway: '10.22.0.1', netnsPath: NS_PATH, undo: nsUndo });
    expect(att).not.toHaveProperty('base');
    expect(describeAtt(att)).toMatchObject({ network: 'mynet', ifName: 'eth0', endpoint: { ip: '10.22.0.5', gateway: '10.22.0.1' } });
    rec.clear();
    await detach(JSON.parse(JSON.stringify(att)));
    expect(cniCalls[1]).toMatchObject({ op: 'DEL', name: 'mynet', o: { confDir: '/etc/cni/test', capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] } } });
    expect(rec.text()).toContain(`netns del ${NS}`);
    expect(listEndpoints()).toEqual([]);
  });
});

describe('attachments stored by an earlier minid', () => {
  /** A container's config as minid wrote it before the drivers (only what detach reads). */
  const config = (attachment: unknown, net: Partial<ContainerConfig['net']>): ContainerConfig =>
    ({ id: ID1, name: 'web', net: { ports: [], publishAll: false, dns: [], dnsSearch: [], addHosts: [], ...net }, attachment }) as unknown as ContainerConfig;

  // runtime/cniglue.ts wrote this: the none attachment spread at the top and kept under `base`,
  // the --cni-conf-dir only in the container's settings.
  const OLD_CNI = {
    containerId: ID1,
    containerName: 'web',
    mode: 'cni',
    netnsName: NS,
    netnsPath: NS_PATH,
    ports: [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    undo: nsUndo,
    undoNames: ['create the network namespace'],
    network: 'mynet',
    ip: '10.22.0.5',
    gateway: '10.22.0.1',
    cni: { name: 'mynet', portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], result: { cniVersion: '1.0.0', ips: [{ address: '10.22.0.5/16', gateway: '10.22.0.1' }] } },
    base: { mode: 'none', containerId: ID1, containerName: 'web', netnsName: NS, netnsPath: NS_PATH, ports: [], undo: nsUndo, undoNames: ['create the network namespace'] },
  };

  it('reads an old cni attachment: the folders come from the container settings, base goes', () => {
    const att = fromStored(OLD_CNI, { cni: { confDir: '/etc/cni/old', path: '/opt/cni/bin' } });
    expect(att).toMatchObject({ mode: 'cni', cni: { name: 'mynet', confDir: '/etc/cni/old', path: '/opt/cni/bin' }, undo: nsUndo });
    expect(att).not.toHaveProperty('base');
    expect(OLD_CNI).toHaveProperty('base'); // the stored object is not changed
  });

  it('rm of an old cni container: DEL with its folders and current name, then the namespace goes', async () => {
    await detachNetwork(config(OLD_CNI, { mode: 'cni:mynet', cni: { confDir: '/etc/cni/old' } }));
    expect(cniCalls).toHaveLength(1);
    const del = cniCalls[0];
    expect(del).toMatchObject({ op: 'DEL', name: 'mynet', o: { containerId: ID1, netns: NS_PATH, ifName: 'eth0', confDir: '/etc/cni/old' } });
    expect(del.o.args).toContainEqual(['K8S_POD_NAME', 'web']);
    expect(rec.text()).toContain(`netns del ${NS}`);
  });

  it('rm of an old bridge container: its undo commands, its address and endpoint', async () => {
    const att = await attach({ containerId: ID1, containerName: 'web', mode: 'bridge', ports: ['8080:80'] });
    // The shape is the one minid stored before the drivers (no field was added or renamed).
    const old = JSON.parse(JSON.stringify(att)) as Record<string, unknown>;
    expect(Object.keys(old).sort()).toEqual(['bridge', 'containerId', 'containerName', 'gateway', 'ip', 'mac', 'mode', 'netnsName', 'netnsPath', 'network', 'ports', 'prefixLength', 'undo', 'undoNames', 'veth']);
    rec.clear();
    await detachNetwork(config(old, { mode: 'bridge', network: 'bridge' }));
    expect(rec.calls[rec.calls.length - 1].input).toBe(`link del mv${ID1.slice(0, 8)}\nnetns del ${NS}\n`);
    expect(listEndpoints()).toEqual([]);
  });

  it('an attachment of an unknown mode is one clear line', async () => {
    await expect(detach({ mode: 'overlay', ports: [], undo: [] } as unknown as Attachment)).rejects.toThrow(/^unknown network mode "overlay" in a stored attachment/);
  });
});

describe('network services', () => {
  // A service plugs in with one row of SERVICES; the network layer calls its hooks.
  const calls: string[] = [];
  const fake: NetworkService = {
    joined: async (net, att) => (calls.push(`joined ${net.name} ${att.containerName} ${att.ip}`), {}),
    dryRun: async (net, att) => void calls.push(`dryRun ${net.name} ${att.containerName}`),
    connected: async (net, att) => void calls.push(`connected ${net.name} ${att.containerName}`),
    left: async (net, att, o) => void calls.push(`left ${net.name} ${att.containerName}${o.disconnected ? ' (disconnected)' : ''}`),
    renamed: async (net) => void calls.push(`renamed ${net.name}`),
    stop: async (network) => (calls.push(`stop ${network}`), []),
    prune: async () => (calls.push('prune'), ['fake leftover']),
  };
  beforeEach(() => {
    calls.length = 0;
    SERVICES.fake = { runsOn: (net) => net.name === 'bridge', load: async () => fake };
  });
  afterEach(() => {
    delete SERVICES.fake;
  });

  it('are told when a container joins and leaves, a network goes, and at prune', async () => {
    await attach({ containerId: ID1, containerName: 'web', mode: 'bridge', ports: [] }, { dryRun: true, explain: () => {} });
    const att = await attach({ containerId: ID1, containerName: 'web', mode: 'bridge', ports: [] });
    await detach(att);
    expect(await pruneLeftovers(new Set())).toEqual(['fake leftover']);
    await teardownNetwork(await getNetwork('bridge'));
    expect(calls).toEqual(['dryRun bridge web', 'joined bridge web 172.30.0.2', 'left bridge web', 'prune', 'stop bridge']);
  });

  it('a failing service undoes the attach', async () => {
    SERVICES.fake.load = async () => ({ ...fake, joined: () => Promise.reject(new Error('no server')) });
    await expect(attach({ containerId: ID1, containerName: 'web', mode: 'bridge', ports: [] })).rejects.toThrow('no server');
    expect(listEndpoints()).toEqual([]);
    expect(rec.text()).toContain(`link del mv${ID1.slice(0, 8)}`);
  });
});
