import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createNetwork,
  ensureDefaultNetwork,
  getNetwork,
  inspectNetwork,
  listNetworks,
  pruneNetworks,
  removeNetwork,
  records,
} from '../../../src/network/networks.js';
import { allocate } from '../../../src/network/ipam.js';
import { paths } from '../../../src/sys/paths.js';
import { FakeProbe, ID1, Recorder, resetSeams, STORE_ID, tempRoots } from './helpers.js';

let roots: ReturnType<typeof tempRoots>;
let probe: FakeProbe;
let rec: Recorder;
beforeEach(() => {
  roots = tempRoots();
  probe = new FakeProbe().install();
  rec = new Recorder().install();
});
afterEach(() => {
  resetSeams();
  roots.cleanup();
});

describe('the default network', () => {
  it('is recorded on first use with the first free subnet and bridge minid0', async () => {
    const r = await ensureDefaultNetwork();
    expect(r).toMatchObject({ name: 'bridge', driver: 'bridge', bridge: 'minid0', subnet: '172.30.0.0/16', gateway: '172.30.0.1', builtin: true });
    expect(await getNetwork('bridge')).toEqual(r);
    expect(rec.calls).toEqual([]); // nothing on the host yet
  });

  it('avoids subnets the host already routes', async () => {
    probe.routeList.push({ dst: '172.30.5.0/24', dev: 'wg0', desc: '172.30.5.0/24 dev wg0' }, { dst: '172.31.0.0/16', dev: 'x', desc: 'x' });
    expect((await ensureDefaultNetwork()).subnet).toBe('172.18.0.0/16');
  });

  it('takes MINID_BRIDGE_SUBNET and MINID_BRIDGE_NAME', async () => {
    process.env.MINID_BRIDGE_SUBNET = '10.123.0.0/24';
    process.env.MINID_BRIDGE_NAME = 'mdt0';
    expect(await ensureDefaultNetwork()).toMatchObject({ bridge: 'mdt0', subnet: '10.123.0.0/24', gateway: '10.123.0.1' });
  });

  it('refuses a MINID_BRIDGE_SUBNET that overlaps a host route', async () => {
    process.env.MINID_BRIDGE_SUBNET = '192.0.2.0/25';
    await expect(ensureDefaultNetwork()).rejects.toThrow('MINID_BRIDGE_SUBNET 192.0.2.0/25 overlaps the host\'s route 192.0.2.0/24 dev eth0');
  });

  it("refuses a bridge another store's default network uses (the same MINID_BRIDGE_NAME)", async () => {
    probe.linksSet.add('minid0');
    probe.aliases.set('minid0', 'minid:0a0b0c0d:bridge');
    await expect(ensureDefaultNetwork()).rejects.toThrow(
      `bridge minid0 belongs to network "bridge" of another minid store (store id 0a0b0c0d), not to network "bridge" of this store (${roots.root}, store id ${STORE_ID}): give this store a bridge of its own: set MINID_BRIDGE_NAME (and MINID_BRIDGE_SUBNET) for it`,
    );
    expect(records()).toEqual([]);
    // Its own (an earlier record wiped), or one without a label (an older minid's): taken.
    for (const alias of [`minid:${STORE_ID}:bridge`, '']) {
      probe.aliases.set('minid0', alias);
      expect((await ensureDefaultNetwork({ dryRun: true })).bridge).toBe('minid0');
    }
  });

  it('cannot be removed', async () => {
    await expect(removeNetwork('bridge')).rejects.toThrow('bridge is a pre-defined network and cannot be removed');
    await expect(removeNetwork('host')).rejects.toThrow('host is a pre-defined network and cannot be removed');
  });
});

describe('createNetwork', () => {
  it('records a user network with an automatic subnet and bridge mbr-<id11>', async () => {
    await ensureDefaultNetwork();
    const r = await createNetwork({ name: 'front' });
    expect(r).toMatchObject({ name: 'front', bridge: `mbr-${r.id.slice(0, 11)}`, subnet: '172.31.0.0/16', gateway: '172.31.0.1' });
    expect(r.id).toMatch(/^[0-9a-f]{64}$/);
    expect(await getNetwork(r.id.slice(0, 12))).toEqual(r);
    expect(rec.calls).toEqual([]);
  });

  it('names the bridge after the network id, not its name: another store may have a network of that name', async () => {
    const r = await createNetwork({ name: 'a-very-long-network-name', subnet: '10.1.0.0/24' });
    expect(r.bridge).toBe(`mbr-${r.id.slice(0, 11)}`);
    const again = await createNetwork({ name: 'front', subnet: '10.2.0.0/24' });
    expect(again.bridge).not.toBe('mbr-front');
  });

  it('takes --subnet and --gateway', async () => {
    expect(await createNetwork({ name: 'back', subnet: '10.50.0.0/16', gateway: '10.50.255.254' })).toMatchObject({ subnet: '10.50.0.0/16', gateway: '10.50.255.254' });
  });

  it.each([
    [{ name: 'x', subnet: '10.0.0.0/33' }, 'invalid subnet "10.0.0.0/33": expected an IPv4 CIDR like 172.30.0.0/16'],
    [{ name: 'x', subnet: 'banana' }, 'invalid subnet "banana": expected an IPv4 CIDR like 172.30.0.0/16'],
    [{ name: 'x', subnet: '10.0.0.1/24' }, 'invalid subnet "10.0.0.1/24": host bits are set (did you mean 10.0.0.0/24?)'],
    [{ name: 'x', subnet: '10.0.0.0/31' }, 'invalid subnet "10.0.0.0/31": /31 leaves no room for a gateway and containers (use /30 or larger)'],
    [{ name: 'x', subnet: '10.0.0.0/24', gateway: '10.0.1.1' }, 'invalid gateway 10.0.1.1: it is outside the subnet 10.0.0.0/24'],
    [{ name: 'x', subnet: '10.0.0.0/24', gateway: '10.0.0.255' }, 'invalid gateway 10.0.0.255: it is the broadcast address of 10.0.0.0/24'],
    [{ name: 'x', subnet: '10.0.0.0/24', gateway: 'nope' }, 'invalid gateway "nope": not an IPv4 address'],
    [{ name: 'x', gateway: '10.0.0.1' }, '--gateway needs --subnet'],
    [{ name: 'x', subnet: '192.0.2.128/25' }, "subnet 192.0.2.128/25 overlaps the host's route 192.0.2.0/24 dev eth0"],
    [{ name: 'bad name!' }, 'invalid network name "bad name!"'],
    [{ name: 'bridge' }, 'network with name bridge already exists'],
    [{ name: 'x', driver: 'overlay' }, 'network driver "overlay" is not supported (only bridge)'],
  ])('refuses %j', async (o, msg) => {
    const err = await createNetwork(o).catch((e) => e);
    expect(err.message).toContain(msg);
    expect(err.exitCode).toBe(125);
    expect(records()).toEqual([]); // nothing changed
  });

  it('refuses an overlap with another minid network, and a duplicate name', async () => {
    await createNetwork({ name: 'a', subnet: '10.60.0.0/16' });
    await expect(createNetwork({ name: 'b', subnet: '10.60.128.0/24' })).rejects.toThrow('subnet 10.60.128.0/24 overlaps network "a" (10.60.0.0/16)');
    await expect(createNetwork({ name: 'a', subnet: '10.61.0.0/16' })).rejects.toThrow('network with name a already exists');
  });

  it('refuses a bridge name that already exists on the host', async () => {
    probe.linkExists = async (name) => name.startsWith('mbr-');
    await expect(createNetwork({ name: 'taken' })).rejects.toThrow(/^a link named mbr-[0-9a-f]{11} already exists on the host/);
  });
});

describe('list, inspect, rm, prune', () => {
  it('lists the default network first, then user networks, then host and none', async () => {
    await createNetwork({ name: 'zeta', subnet: '10.70.0.0/24' });
    await createNetwork({ name: 'alpha', subnet: '10.71.0.0/24' });
    expect((await listNetworks()).map((n) => `${n.name}/${n.driver}`)).toEqual(['bridge/bridge', 'alpha/bridge', 'zeta/bridge', 'host/host', 'none/null']);
  });

  it('inspects like docker', async () => {
    const r = await createNetwork({ name: 'front', subnet: '10.72.0.0/24' });
    const { json } = await inspectNetwork('front');
    expect(json).toMatchObject({ Name: 'front', Id: r.id, Driver: 'bridge', Scope: 'local', IPAM: { Config: [{ Subnet: '10.72.0.0/24', Gateway: '10.72.0.1' }] }, Containers: {}, Up: false });
  });

  it('refuses rm while a container holds an address, then removes record, IPAM and kernel objects', async () => {
    await createNetwork({ name: 'front', subnet: '10.73.0.0/24' });
    await allocate('front', '10.73.0.0/24', '10.73.0.1', ID1);
    await expect(removeNetwork('front')).rejects.toThrow(`network front has active endpoints (${ID1.slice(0, 12)}): remove or disconnect those containers first`);
    await expect(removeNetwork('front', { attachedContainers: () => ['web'] })).rejects.toThrow('network front has active endpoints (web)');
    await removeNetwork('front', { attachedContainers: () => [] });
    expect(records()).toEqual([]);
    expect(fs.existsSync(path.join(paths.ipam(), 'front'))).toBe(false);
  });

  it("rm deletes the bridge and the rules that carry the network's comment, not another store's", async () => {
    const r = await createNetwork({ name: 'front', subnet: '10.74.0.0/24' });
    probe.linksSet.add(r.bridge).add('mbr-0a0b0c0d0e0');
    probe.aliases.set(r.bridge, `minid:${STORE_ID}:front`).set('mbr-0a0b0c0d0e0', 'minid:0a0b0c0d:front');
    probe.iptables = [
      '*nat',
      ':MINID-POSTROUTING - [0:0]',
      `-A MINID-POSTROUTING -s 10.74.0.0/24 ! -o ${r.bridge} -m comment --comment "minid:${STORE_ID}:front" -j MASQUERADE`,
      // Another store's network "front" (and an older minid's): not this store's.
      '-A MINID-POSTROUTING -s 10.99.0.0/24 ! -o mbr-0a0b0c0d0e0 -m comment --comment "minid:0a0b0c0d:front" -j MASQUERADE',
      '-A MINID-POSTROUTING -s 10.98.0.0/24 ! -o mbr-front -m comment --comment "minid:front" -j MASQUERADE',
      'COMMIT',
      '',
    ].join('\n');
    await removeNetwork('front');
    const argv = rec.calls.map((c) => c.argv.join(' '));
    expect(argv).toContain(`iptables -t nat -D MINID-POSTROUTING -s 10.74.0.0/24 ! -o ${r.bridge} -m comment --comment minid:${STORE_ID}:front -j MASQUERADE`);
    expect(rec.text()).toContain(`ip link del ${r.bridge}`);
    expect(rec.text()).not.toMatch(/0a0b0c0d|mbr-front/);
  });

  it("rm leaves a bridge of the same name alone when another store's label is on it", async () => {
    const r = await createNetwork({ name: 'front', subnet: '10.77.0.0/24' });
    probe.linksSet.add(r.bridge);
    probe.aliases.set(r.bridge, 'minid:0a0b0c0d:front');
    const lines: string[] = [];
    await removeNetwork('front', { explain: (l) => lines.push(l) });
    expect(rec.text()).not.toContain('link del');
    expect(lines[0]).toBe(`# bridge ${r.bridge} is labelled "minid:0a0b0c0d:front": not this store's (${STORE_ID}), left alone`);
  });

  it('prune removes only unused user networks', async () => {
    await createNetwork({ name: 'used', subnet: '10.75.0.0/24' });
    await createNetwork({ name: 'unused', subnet: '10.76.0.0/24' });
    await allocate('used', '10.75.0.0/24', '10.75.0.1', ID1);
    expect(await pruneNetworks()).toEqual(['unused']);
    expect(records().map((r) => r.name)).toEqual(['used']);
  });
});
