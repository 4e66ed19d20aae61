// `network connect/disconnect` at the network layer: the plan (golden files, like plan.test.ts),
// and connect()/disconnect() with the recording runner and the fake probe: what would run, what
// is stored, and that refused or failed connects leave no trace.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attach, connect, createNetwork, disconnect, pruneLeftovers } from '../../../src/network/index.js';
import { planConnect, extraVethHost, type ConnectPlanInput } from '../../../src/network/connect.js';
import { endpointsDir, listEndpoints } from '../../../src/network/endpoints.js';
import { reservations } from '../../../src/network/ipam.js';
import { upMarker } from '../../../src/network/networks.js';
import { applyPlan, formatPlan } from '../../../src/network/step.js';
import { MinidError } from '../../../src/errors.js';
import type { NetworkRecord } from '../../../src/network/types.js';
import { FakeProbe, ID1, ID2, Recorder, resetSeams, STORE, tempRoots, wireLinks, wireSysctl } from './helpers.js';

const frontNet: NetworkRecord = {
  id: 'f0f0f0f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c',
  name: 'front',
  driver: 'bridge',
  bridge: 'mbr-f0f0f0f0a1b',
  subnet: '10.88.0.0/24',
  gateway: '10.88.0.1',
  created: '2026-01-01T00:00:00.000Z',
};
const NS1 = `minid-${ID1.slice(0, 12)}`;

const planInput = (over: Partial<ConnectPlanInput> = {}): ConnectPlanInput => ({
  containerId: ID1,
  containerName: 'web',
  network: frontNet,
  store: STORE,
  netns: NS1,
  ifName: 'eth1',
  ip: '10.88.0.2',
  prefixLength: 24,
  mtu: 1400,
  state: { networkUp: true, ipForward: true },
  primaryNetwork: 'bridge',
  ...over,
});

describe('planConnect', () => {
  let rec: Recorder;
  beforeEach(() => {
    rec = new Recorder().install();
    wireSysctl(rec, new FakeProbe().install());
  });
  afterEach(resetSeams);

  const golden = async (title: string, steps: ReturnType<typeof planConnect>): Promise<string> => {
    await applyPlan(steps);
    return `${formatPlan(steps, title)}\n# ---- processes started (batched) ----\n${rec.text()}\n`;
  };

  it('network already up: only the veth pair, ethN and its address (2 processes)', async () => {
    const steps = planConnect(planInput());
    await expect(await golden('minid network connect front web (network "front" already up)', steps)).toMatchFileSnapshot('__golden__/connect-up.sh');
    expect(rec.calls.map((c) => c.argv.join(' '))).toEqual(['ip -batch -', `ip -n ${NS1} -batch -`]);
  });

  it('first user of the network: the bridge and its rules too, the same steps as attach', async () => {
    const steps = planConnect(planInput({ state: { networkUp: false, bridgeExists: false, iptablesSave: '', ipForward: false } }));
    await expect(await golden('minid network connect front web (first container on "front")', steps)).toMatchFileSnapshot('__golden__/connect-first.sh');
    const names = steps.filter((s) => !s.skip).map((s) => s.name);
    expect(names).toContain('create the bridge');
    expect(names).toContain('allow forwarding for the network, isolate it from other networks');
    expect(names).not.toContain('create the network namespace');
  });

  it('never touches the default route nor creates a namespace; link names fit in 15 characters', () => {
    const argv = planConnect(planInput({ state: { networkUp: false, iptablesSave: '', ipForward: false } })).flatMap((s) => s.apply).map((c) => c.argv.join(' '));
    expect(argv.filter((a) => / route /.test(a) || /netns (add|del)/.test(a))).toEqual([]);
    const host = extraVethHost(ID1, frontNet.id);
    expect(host).toBe('mv3f2a1b4c-f0f0');
    expect(argv).toContain(`ip link add ${host} mtu 1400 type veth peer name mc3f2a1b4c-f0f0 mtu 1400 address 02:4d:0a:58:00:02`);
    expect(argv).toContain(`ip -n ${NS1} link set mc3f2a1b4c-f0f0 name eth1`);
    for (const n of argv.flatMap((a) => a.split(' ')).filter((w) => /^(mv|mc)[0-9a-f]/.test(w))) expect(n.length).toBeLessThanOrEqual(15);
  });

  it('only the veth pair is the container\'s to undo', () => {
    const steps = planConnect(planInput({ state: { networkUp: false, iptablesSave: '', ipForward: false } }));
    const own = steps.filter((s) => (s.owner ?? 'container') === 'container' && s.undo.length);
    expect(own.map((s) => [s.name, s.undo.map((c) => c.argv.join(' '))])).toEqual([['create the veth pair', ['ip link del mv3f2a1b4c-f0f0']]]);
  });
});

describe('connect / disconnect', () => {
  let roots: ReturnType<typeof tempRoots>;
  let probe: FakeProbe;
  let rec: Recorder;
  let nsFile: string;
  beforeEach(async () => {
    roots = tempRoots();
    probe = new FakeProbe().install();
    rec = new Recorder().install();
    wireSysctl(rec, probe);
    wireLinks(rec, probe);
    await createNetwork({ name: 'front', subnet: '10.88.0.0/24' });
    // The container's namespace, as far as connect() can tell (it checks the path exists).
    nsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'minid-ns-')), NS1);
    fs.writeFileSync(nsFile, '');
  });
  afterEach(() => {
    resetSeams();
    roots.cleanup();
    fs.rmSync(path.dirname(nsFile), { recursive: true, force: true });
  });

  const req = (over: Partial<Parameters<typeof connect>[0]> = {}): Parameters<typeof connect>[0] => ({
    containerId: ID1,
    containerName: 'web',
    network: 'front',
    netnsName: NS1,
    netnsPath: nsFile,
    ifName: 'eth1',
    primaryNetwork: 'bridge',
    ...over,
  });

  it('adds eth1 on the network, sets the network up, records a second endpoint next to the primary one', async () => {
    await attach({ containerId: ID1, containerName: 'web', mode: 'bridge', ports: [] });
    rec.clear();
    const lines: string[] = [];
    const att = await connect(req(), { explain: (l) => lines.push(l) });
    const frontId = JSON.parse(fs.readFileSync(path.join(roots.root, 'networks', 'front.json'), 'utf8')).id as string;
    const bridge = `mbr-${frontId.slice(0, 11)}`;
    expect(att).toMatchObject({
      mode: 'bridge',
      connected: true,
      ifName: 'eth1',
      network: 'front',
      bridge,
      netnsName: NS1,
      veth: `mv${ID1.slice(0, 8)}-${frontId.slice(0, 4)}`,
      ip: '10.88.0.2',
      prefixLength: 24,
      gateway: '10.88.0.1',
      ports: [],
      undoNames: ['create the veth pair'],
    });
    expect(att.undo).toEqual([[{ argv: ['ip', 'link', 'del', att.veth] }]]);
    expect(lines[0]).toBe(`# connect container web (${ID1.slice(0, 12)}) to network "front": eth1 10.88.0.2/24 on bridge ${bridge}`);
    expect(rec.calls.map((c) => c.argv[0])).toEqual(['ip', 'ip', 'sysctl', 'iptables-restore']); // bridge+veth, inside, route_localnet, rules
    expect(rec.text()).not.toMatch(/route add default|netns add/);
    expect(fs.readdirSync(endpointsDir()).sort()).toEqual([`${ID1}.json`, `${ID1}@front.json`]);
    expect(listEndpoints().map((e) => [e.network, e.ip, e.state])).toEqual([
      ['front', '10.88.0.2', 'attached'],
      ['bridge', '172.30.0.2', 'attached'],
    ]);
    expect(reservations('front')).toEqual([{ ip: '10.88.0.2', containerId: ID1 }]);
    expect(fs.readFileSync(path.join(roots.root, 'ipam', 'front', '10.88.0.2'), 'utf8')).toBe(`${ID1}\neth1\n`);
    expect(fs.existsSync(upMarker('front'))).toBe(true);
  });

  it('refuses a second connect to the same network without running anything', async () => {
    await connect(req());
    rec.clear();
    await expect(connect(req({ ifName: 'eth2' }))).rejects.toThrow('container web is already connected to network front');
    expect(rec.calls).toEqual([]);
  });

  it('--ip: takes that address; refuses one outside the subnet, the gateway, or a taken one, changing nothing', async () => {
    const att = await connect(req({ ip: '10.88.0.50' }));
    expect(att.ip).toBe('10.88.0.50');
    rec.clear();
    const other = { containerId: ID2, containerName: 'db' };
    for (const [ip, msg] of [
      ['10.99.0.5', 'address 10.99.0.5 is outside the subnet 10.88.0.0/24 of network "front"'],
      ['10.88.0.1', 'address 10.88.0.1 is the gateway of network "front" (the bridge\'s own address)'],
      ['10.88.0.255', 'address 10.88.0.255 is the broadcast address of 10.88.0.0/24: pick a host address'],
      ['10.88.0.50', 'address 10.88.0.50 is already in use on network "front" by container web'],
      ['banana', 'invalid address "banana": not an IPv4 address'],
    ]) {
      const err = await connect(req({ ...other, ip })).catch((e) => e);
      expect(err).toBeInstanceOf(MinidError);
      expect(err.message).toBe(msg);
    }
    expect(rec.calls).toEqual([]);
    expect(reservations('front')).toEqual([{ ip: '10.88.0.50', containerId: ID1 }]);
    expect(listEndpoints().map((e) => e.containerId)).toEqual([ID1]);
  });

  it('refuses an unknown network, a namespace that is gone, and a link name in use', async () => {
    await expect(connect(req({ network: 'nosuch' }))).rejects.toThrow('network nosuch not found');
    await expect(connect(req({ netnsPath: '/nonexistent/ns' }))).rejects.toThrow(/namespace \/nonexistent\/ns of container web is gone/);
    const frontId = JSON.parse(fs.readFileSync(path.join(roots.root, 'networks', 'front.json'), 'utf8')).id as string;
    probe.linksSet.add(extraVethHost(ID1, frontId));
    await expect(connect(req())).rejects.toThrow(/a link named mv3f2a1b4c-.{4} already exists/);
    expect(rec.calls).toEqual([]);
    expect(reservations('front')).toEqual([]);
    expect(listEndpoints()).toEqual([]);
  });

  it('on a failing step rolls back the veth pair, frees the address and the endpoint, and names the step', async () => {
    rec.failWhen((a) => a.join(' ') === `ip -n ${NS1} -batch -`, { stderr: 'RTNETLINK answers: File exists\nCommand failed -:2\n' });
    const err = await connect(req()).catch((e) => e);
    expect(err.message).toMatch(/^network connect failed at step \d+\/\d+ "assign the address": ip -n minid-3f2a1b4c5d6e addr add 10\.88\.0\.2\/24 dev eth1: RTNETLINK answers: File exists; undid the steps already applied$/);
    expect(rec.calls[rec.calls.length - 1].input).toMatch(/^link del mv3f2a1b4c-[0-9a-f]{4}\nlink del mbr-[0-9a-f]{11}\n$/);
    expect(reservations('front')).toEqual([]);
    expect(listEndpoints()).toEqual([]);
  });

  it('disconnect removes exactly what connect added; the primary endpoint stays', async () => {
    await attach({ containerId: ID1, containerName: 'web', mode: 'bridge', ports: [] });
    const att = await connect(req());
    rec.clear();
    const lines: string[] = [];
    await disconnect(att, { explain: (l) => lines.push(l) });
    expect(rec.calls).toEqual([{ argv: ['ip', 'link', 'del', att.veth!], input: undefined }]);
    expect(lines[0]).toBe(`# disconnect container web (${ID1.slice(0, 12)}) from network "front": remove eth1 (10.88.0.2)`);
    expect(listEndpoints().map((e) => e.network)).toEqual(['bridge']);
    expect(reservations('front')).toEqual([]);
    expect(reservations('bridge')).toEqual([{ ip: '172.30.0.2', containerId: ID1 }]);
    // A second disconnect is harmless (tolerant, like detach).
    await disconnect(att);
  });

  it('system prune removes what a crashed container left on a connected network too', async () => {
    await attach({ containerId: ID1, containerName: 'web', mode: 'bridge', ports: [] });
    const att = await connect(req());
    probe.linkKinds.set(att.veth!, 'veth');
    rec.clear();
    const removed = await pruneLeftovers(new Set());
    expect(removed).toContain(`veth ${att.veth}`);
    expect(removed).toContain(`endpoint of container web (${ID1.slice(0, 12)}) on network front`);
    expect(removed).toContain(`address 10.88.0.2 on network front (container ${ID1.slice(0, 12)})`);
    expect(listEndpoints()).toEqual([]);
  });
});
