// attach/detach/pruneLeftovers with the recording runner and the fake probe: what would run,
// what is stored, and that refused requests leave no trace.
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attach, detach, pruneLeftovers } from '../../../src/network/index.js';
import { listEndpoints } from '../../../src/network/endpoints.js';
import { reservations } from '../../../src/network/ipam.js';
import { ensureDefaultNetwork, upMarker } from '../../../src/network/networks.js';
import { MinidError } from '../../../src/errors.js';
import { FakeProbe, ID1, ID2, ID3, Recorder, resetSeams, STORE_ID, tempRoots, wireLinks, wireSysctl } from './helpers.js';

let roots: ReturnType<typeof tempRoots>;
let probe: FakeProbe;
let rec: Recorder;
beforeEach(() => {
  roots = tempRoots();
  probe = new FakeProbe().install();
  rec = new Recorder().install();
  wireSysctl(rec, probe);
  // `ip link add minid0 ... type bridge` makes the bridge exist, `ip link set minid0 alias A` labels it.
  wireLinks(rec, probe);
});

/** Nothing but the store's identity was written (the store directory holds store-id only). */
const storedNothing = (): string[] => fs.readdirSync(roots.root);
afterEach(() => {
  resetSeams();
  roots.cleanup();
});

const web = { containerId: ID1, containerName: 'web', mode: 'bridge' as const, ports: ['8080:80'] };

describe('attach (bridge)', () => {
  it('sets up the network the first time, with 4 processes, and records the endpoint', async () => {
    const lines: string[] = [];
    const att = await attach(web, { explain: (l) => lines.push(l) });
    expect(att).toMatchObject({
      mode: 'bridge',
      netnsName: `minid-${ID1.slice(0, 12)}`,
      netnsPath: `/run/netns/minid-${ID1.slice(0, 12)}`,
      network: 'bridge',
      bridge: 'minid0',
      veth: `mv${ID1.slice(0, 8)}`,
      ip: '172.30.0.2',
      prefixLength: 16,
      gateway: '172.30.0.1',
      mac: '02:4d:ac:1e:00:02',
      ports: [{ protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80 }],
      undoNames: ['create the network namespace', 'create the veth pair', 'publish 8080 -> 80/tcp'],
    });
    expect(att.undo.map((u) => u.map((c) => c.argv.slice(0, 4).join(' ')))).toEqual([
      ['ip netns del minid-3f2a1b4c5d6e'],
      ['ip link del mv3f2a1b4c'],
      ['iptables -t nat -D', 'iptables -t filter -D'],
    ]);
    expect(JSON.parse(JSON.stringify(att))).toEqual(att); // serializable
    expect(rec.calls.map((c) => c.argv[0])).toEqual(['ip', 'ip', 'sysctl', 'iptables-restore']);
    expect(lines[0]).toBe(`# attach container web (${ID1.slice(0, 12)}) to network "bridge": 172.30.0.2/16 on bridge minid0`);
    expect(lines).toContain(
      "# [6/20] create the veth pair: a virtual cable: what enters mv3f2a1b4c leaves eth0 and back (MTU 1400 from the host's uplink); eth0 is made inside minid-3f2a1b4c5d6e (no clash with a host eth0), which spares the ~20 ms that moving it in later (`ip link set PEER netns minid-3f2a1b4c5d6e`) costs",
    );
    expect(listEndpoints()).toMatchObject([{ containerId: ID1, state: 'attached', ip: '172.30.0.2' }]);
    expect(reservations('bridge')).toEqual([{ ip: '172.30.0.2', containerId: ID1 }]);
    expect(fs.existsSync(upMarker('bridge'))).toBe(true);
    expect(probe.aliases.get('minid0')).toBe(`minid:${STORE_ID}:bridge`);
  });

  it('the second container only runs its own steps', async () => {
    await attach(web);
    // What the first attach put in the kernel, as iptables-save would now show it.
    probe.iptables = `*nat\n:MINID-DNAT - [0:0]\n-A MINID-POSTROUTING -s 172.30.0.0/16 ! -o minid0 -m comment --comment "minid:${STORE_ID}:bridge" -j MASQUERADE\nCOMMIT\n`;
    rec.clear();
    const att = await attach({ containerId: ID2, containerName: 'db', mode: 'bridge', ports: [] });
    expect(att.ip).toBe('172.30.0.3');
    expect(rec.calls.map((c) => c.argv.join(' '))).toEqual(['ip -batch -', `ip -n minid-${ID2.slice(0, 12)} -batch -`]);
  });

  it('sets the network up again when its rules were flushed behind its back', async () => {
    await attach(web);
    probe.iptables = ''; // e.g. a workshop ran `iptables -t nat -F`
    rec.clear();
    await attach({ containerId: ID2, containerName: 'db', mode: 'bridge', ports: [] });
    expect(rec.calls.map((c) => c.argv[0])).toContain('iptables-restore');
  });

  it('takes the MTU from the uplink, 1500 without one', async () => {
    probe.up = null;
    await attach(web);
    expect(rec.calls[0].input).toMatch(/type veth peer name eth0 mtu 1500 address [0-9a-f:]+ netns minid-3f2a1b4c5d6e/);
  });

  it('refuses a port another container publishes before anything is set up', async () => {
    await attach(web);
    rec.clear();
    const err = await attach({ containerId: ID2, containerName: 'web2', mode: 'bridge', ports: ['8080:81'] }).catch((e) => e);
    expect(err).toBeInstanceOf(MinidError);
    expect(err.message).toBe(`cannot publish 8080/tcp: the port is already in use by container web (${ID1.slice(0, 12)})`);
    expect(rec.calls).toEqual([]);
    expect(reservations('bridge').map((r) => r.containerId)).toEqual([ID1]);
    expect(listEndpoints().map((e) => e.containerId)).toEqual([ID1]);
  });

  it('refuses a port a host process holds, naming it', async () => {
    probe.holders.set('tcp/8080', 'process nginx (pid 4242)');
    await expect(attach(web)).rejects.toThrow('cannot publish 8080/tcp: the port is already in use by process nginx (pid 4242)');
    expect(rec.calls).toEqual([]);
    expect(listEndpoints()).toEqual([]);
  });

  it('refuses a malformed port spec before anything else', async () => {
    await expect(attach({ ...web, ports: ['80:70000'] })).rejects.toThrow('invalid port spec "80:70000": port 70000 is out of range 1-65535');
    expect(storedNothing()).toEqual(['store-id']);
  });

  it('on a failing step rolls back, frees the address and the endpoint, and names the step', async () => {
    rec.failWhen((a) => a.join(' ') === `ip -n minid-${ID1.slice(0, 12)} -batch -`, { stderr: 'Error: Nexthop has invalid gateway.\nCommand failed -:4\n' });
    const err = await attach(web).catch((e) => e);
    expect(err.message).toBe(
      'network setup failed at step 11/20 "add the default route": ip -n minid-3f2a1b4c5d6e route add default via 172.30.0.1: Error: Nexthop has invalid gateway.; undid the steps already applied',
    );
    const undo = rec.calls[rec.calls.length - 1];
    expect(undo).toEqual({ argv: ['ip', '-force', '-batch', '-'], input: 'link del mv3f2a1b4c\nlink del minid0\nnetns del minid-3f2a1b4c5d6e\n' });
    expect(reservations('bridge')).toEqual([]);
    expect(listEndpoints()).toEqual([]);
    expect(fs.existsSync(upMarker('bridge'))).toBe(false);
  });

  it('dry-run prints the plan, runs nothing and stores nothing', async () => {
    const lines: string[] = [];
    const att = await attach(web, { dryRun: true, explain: (l) => lines.push(l) });
    expect(rec.calls).toEqual([]);
    expect(att.ip).toBe('172.30.0.2');
    expect(lines[0]).toMatch(/\(dry run: nothing is changed\)$/);
    expect(lines).toContain('ip netns add minid-3f2a1b4c5d6e');
    expect(lines).toContain(`ip link set minid0 alias minid:${STORE_ID}:bridge`);
    expect(storedNothing()).toEqual(['store-id']);
  });

  it("refuses another store's bridge, or a subnet routed elsewhere, before changing the host", async () => {
    probe.linksSet.add('minid0');
    probe.aliases.set('minid0', 'minid:0a0b0c0d:bridge');
    // When the default network's record is made, and when a network recorded earlier is set up.
    await expect(attach(web)).rejects.toThrow(/^bridge minid0 belongs to network "bridge" of another minid store \(store id 0a0b0c0d\)/);
    probe.linksSet.delete('minid0');
    await ensureDefaultNetwork();
    probe.linksSet.add('minid0');
    await expect(attach(web)).rejects.toThrow(/^bridge minid0 belongs to network "bridge" of another minid store \(store id 0a0b0c0d\)/);
    probe.linksSet.delete('minid0');
    probe.routeList.push({ dst: '172.30.0.0/16', dev: 'mbr-0a0b0c0d0e0', desc: '172.30.0.0/16 dev mbr-0a0b0c0d0e0' });
    await expect(attach(web)).rejects.toThrow(/^subnet 172\.30\.0\.0\/16 of network "bridge" overlaps the host's route 172\.30\.0\.0\/16 dev mbr-0a0b0c0d0e0 \(another store's network, or the host's\)/);
    expect(rec.calls).toEqual([]);
    expect(reservations('bridge')).toEqual([]);
    expect(listEndpoints()).toEqual([]);
  });

  it('refuses to attach the same container twice', async () => {
    await attach(web);
    await expect(attach({ ...web, ports: [] })).rejects.toThrow('container web is already connected to network bridge');
  });
});

describe('other modes', () => {
  it('none: a namespace with loopback up', async () => {
    const att = await attach({ containerId: ID1, containerName: 'x', mode: 'none', ports: [] });
    expect(att).toMatchObject({ mode: 'none', netnsPath: '/run/netns/minid-3f2a1b4c5d6e', ports: [], undo: [[{ argv: ['ip', 'netns', 'del', 'minid-3f2a1b4c5d6e'] }]] });
    expect(rec.calls.map((c) => c.argv.join(' '))).toEqual(['ip netns add minid-3f2a1b4c5d6e', 'ip -n minid-3f2a1b4c5d6e link set lo up']);
  });

  it('host: nothing to do', async () => {
    expect(await attach({ containerId: ID1, containerName: 'x', mode: 'host', ports: [] })).toMatchObject({ mode: 'host', ports: [], undo: [] });
    expect(rec.calls).toEqual([]);
  });

  it('container:NAME joins the given namespace; ports are refused', async () => {
    expect(await attach({ containerId: ID1, containerName: 'x', mode: { container: '/proc/42/ns/net' }, ports: [] })).toMatchObject({ mode: 'container', netnsPath: '/proc/42/ns/net' });
    await expect(attach({ containerId: ID1, containerName: 'x', mode: { container: '/proc/42/ns/net' }, ports: ['80'] })).rejects.toThrow(/conflicting options/);
    await expect(attach({ containerId: ID1, containerName: 'x', mode: 'none', ports: ['80'] })).rejects.toThrow(/conflicting options/);
  });

  it('rejects an unusable container id', async () => {
    await expect(attach({ containerId: 'short', containerName: 'x', mode: 'none', ports: [] })).rejects.toThrow('invalid container id "short"');
  });
});

describe('detach', () => {
  it('runs the stored undo commands in reverse, in 2 processes, and frees the address', async () => {
    const att = await attach(web);
    rec.clear();
    await detach(att);
    expect(rec.calls.map((c) => c.argv.join(' '))).toEqual(['iptables-restore --noflush', 'ip -force -batch -']);
    expect(rec.calls[1].input).toBe('link del mv3f2a1b4c\nnetns del minid-3f2a1b4c5d6e\n');
    expect(reservations('bridge')).toEqual([]);
    expect(listEndpoints()).toEqual([]);
  });

  it('is idempotent and tolerates a missing namespace', async () => {
    const att = await attach(web);
    rec.responders.unshift((argv) => (argv.includes('-force') ? { exitCode: 1, stderr: 'Cannot find device "mv3f2a1b4c"\nCommand failed -:1\nCannot remove namespace file "/run/netns/minid-3f2a1b4c5d6e": No such file or directory\nCommand failed -:2\n' } : undefined));
    rec.responders.unshift((argv) => (argv[0] === 'iptables-restore' || argv[0] === 'iptables' ? { exitCode: 1, stderr: 'iptables: Bad rule\n' } : undefined));
    await detach(att);
    await detach(att);
    expect(listEndpoints()).toEqual([]);
  });

  it('needs nothing but the attachment (e.g. after a crash, in a fresh process)', async () => {
    const att = JSON.parse(JSON.stringify(await attach(web)));
    resetSeams();
    rec = new Recorder().install();
    probe = new FakeProbe().install();
    await detach(att);
    expect(rec.calls.map((c) => c.argv[0])).toEqual(['iptables-restore', 'ip']);
  });
});

describe('pruneLeftovers', () => {
  it('removes namespaces, veths, rules, endpoints and addresses of unknown containers only', async () => {
    await attach(web);
    await attach({ containerId: ID2, containerName: 'gone', mode: 'bridge', ports: ['9090:90'] });
    probe.netns = [`minid-${ID1.slice(0, 12)}`, `minid-${ID2.slice(0, 12)}`, 'someone-elses'];
    probe.linksSet.add(`mv${ID1.slice(0, 8)}`).add(`mv${ID2.slice(0, 8)}`).add(`mc${ID3.slice(0, 8)}`).add('mvlan0');
    for (const l of [`mv${ID1.slice(0, 8)}`, `mv${ID2.slice(0, 8)}`, `mc${ID3.slice(0, 8)}`]) probe.linkKinds.set(l, 'veth');
    probe.iptables = [
      '*nat',
      ':MINID-DNAT - [0:0]',
      `-A MINID-DNAT -p tcp -m tcp --dport 8080 -m comment --comment "minid:${STORE_ID}:bridge:web:${ID1.slice(0, 12)}" -j DNAT --to-destination 172.30.0.2:80`,
      `-A MINID-DNAT -p tcp -m tcp --dport 9090 -m comment --comment "minid:${STORE_ID}:bridge:gone:${ID2.slice(0, 12)}" -j DNAT --to-destination 172.30.0.3:90`,
      // Another store's rule naming the same container id, and an older minid's: neither is this store's.
      `-A MINID-DNAT -p tcp -m tcp --dport 9091 -m comment --comment "minid:0a0b0c0d:bridge:gone:${ID2.slice(0, 12)}" -j DNAT --to-destination 10.99.0.3:90`,
      `-A MINID-DNAT -p tcp -m tcp --dport 9092 -m comment --comment "minid:bridge:gone:${ID2.slice(0, 12)}" -j DNAT --to-destination 172.30.0.3:90`,
      `-A MINID-POSTROUTING -s 172.30.0.0/16 ! -o minid0 -m comment --comment "minid:${STORE_ID}:bridge" -j MASQUERADE`,
      'COMMIT',
      '',
    ].join('\n');
    rec.clear();
    const removed = await pruneLeftovers(new Set([ID1]));
    expect(removed).toEqual([
      `iptables rule (nat MINID-DNAT) of container gone (${ID2.slice(0, 12)})`,
      `veth mv${ID2.slice(0, 8)}`,
      `netns minid-${ID2.slice(0, 12)}`,
      `endpoint of container gone (${ID2.slice(0, 12)}) on network bridge`,
      `address 172.30.0.3 on network bridge (container ${ID2.slice(0, 12)})`,
    ]);
    expect(rec.calls.map((c) => c.argv.join(' '))).toEqual([
      `iptables -t nat -D MINID-DNAT -p tcp -m tcp --dport 9090 -m comment --comment minid:${STORE_ID}:bridge:gone:${ID2.slice(0, 12)} -j DNAT --to-destination 172.30.0.3:90`,
      'ip -force -batch -',
    ]);
    expect(rec.calls[1].input).toBe(`link del mv${ID2.slice(0, 8)}\nnetns del minid-${ID2.slice(0, 12)}\n`);
    expect(reservations('bridge').map((r) => r.containerId)).toEqual([ID1]);
    // ID3 has no record here: another minid instance's, untouched unless asked for.
    expect(await pruneLeftovers(new Set([ID1]))).toEqual([]);
    expect(await pruneLeftovers(new Set([ID1]), { hostWide: true, only: (f) => ID3.startsWith(f) })).toEqual([`veth mc${ID3.slice(0, 8)}`]);
  });

  it('finds a --network none namespace left by a crash', async () => {
    await attach({ containerId: ID3, containerName: 'lonely', mode: 'none', ports: [] });
    probe.netns = [`minid-${ID3.slice(0, 12)}`];
    expect(await pruneLeftovers(new Set())).toEqual([`netns minid-${ID3.slice(0, 12)}`, `endpoint of container lonely (${ID3.slice(0, 12)}) on network none`]);
  });
});
