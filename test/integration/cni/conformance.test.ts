// One CNI conformance suite, run against minid's plugins (cni-plugins/bin) and the reference
// plugins from Debian (/usr/lib/cni), for each spec version. Plugins are called directly, the
// way the spec defines the contract (environment + config on stdin), so the suite checks the
// plugins and nothing of minid's runtime. Needs root; fails (never skips) without it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MINID_BIN,
  REF_BIN,
  Owned,
  ownedPerTest,
  freeSubnet,
  invoke,
  must,
  removeSharedRefChains,
  requireRootAndBuild,
  reservations,
  sh,
  snapshot,
  rand,
  type Snapshot,
} from './helpers.js';

interface Impl {
  name: string;
  dir: string;
  bridge: string;
  ipam: string;
  loopback: string;
  portmap: string;
  versions: string[];
  /** Known deviations of an implementation, asserted as such (so a fix shows up). */
  quirks: { portmapCheckFails?: boolean };
}

const IMPLS: Impl[] = [
  { name: 'minid', dir: MINID_BIN, bridge: 'minid-bridge', ipam: 'minid-host-local', loopback: 'minid-loopback', portmap: 'minid-portmap', versions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'], quirks: {} },
  { name: 'reference', dir: REF_BIN, bridge: 'bridge', ipam: 'host-local', loopback: 'loopback', portmap: 'portmap', versions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'],
    // portmap 1.1.1's CHECK looks for an IPv6 DNAT chain whenever the host has IPv6, even for an
    // IPv4-only container: "could not check ipv6 dnat: chain CNI-DN-... not found".
    quirks: { portmapCheckFails: true } },
];
const VERSIONS = ['0.4.0', '1.0.0', '1.1.0'];

requireRootAndBuild();

let fileBefore: Snapshot;
beforeAll(async () => {
  fileBefore = await snapshot();
});
afterAll(async () => {
  await removeSharedRefChains(fileBefore);
});

let owned: Owned;
ownedPerTest((o) => (owned = o));

/** A fresh network: name, bridge, subnet, data dir, all owned by the test. */
async function network(impl: Impl, v: string, extra: Record<string, unknown> = {}, ipamExtra: Record<string, unknown> = {}) {
  const subnet = await freeSubnet();
  const name = `mdt-cni-${rand()}`;
  const bridge = owned.link('mdtcni');
  const dataDir = owned.dir('ipam');
  const conf = {
    cniVersion: v,
    name,
    type: impl.bridge,
    bridge,
    isGateway: true,
    isDefaultGateway: true,
    hairpinMode: true,
    // The route names its gateway: the reference bridge's CHECK (1.1.1) cannot match a route
    // without "gw" against the kernel's route via the gateway.
    ipam: { type: impl.ipam, subnet: subnet.cidr, dataDir, routes: [{ dst: '10.231.0.0/16', gw: subnet.gw }], ...ipamExtra },
    ...extra,
  };
  return { subnet, name, bridge, dataDir, conf };
}

async function gone(p: string, ms = 5000): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 50))) if (!fs.existsSync(p)) return true;
  return false;
}

const withPrev = (conf: object, prevResult: unknown) => ({ ...conf, prevResult });

describe.each(IMPLS)('$name plugins', (impl) => {
  describe.each(VERSIONS)('cniVersion %s', (v) => {
    const supported = impl.versions.includes(v);

    it(`VERSION ${supported ? 'lists' : 'does not list'} ${v}`, async () => {
      for (const type of [impl.bridge, impl.ipam, impl.loopback, impl.portmap]) {
        const r = await invoke(impl.dir, type, 'VERSION', { cniVersion: v }, { ifName: '' });
        expect(r.code, r.raw).toBe(0);
        expect(Array.isArray(r.out.supportedVersions)).toBe(true);
        expect(r.out.supportedVersions.includes(v)).toBe(supported);
        expect(typeof r.out.cniVersion).toBe('string');
      }
    });

    if (!supported) {
      it('refuses ADD with error code 1 (incompatible version) and changes nothing', async () => {
        const n = await network(impl, v);
        const ns = await owned.netns();
        const r = await invoke(impl.dir, impl.bridge, 'ADD', n.conf, { containerId: 'ctr1', netns: ns.path });
        expect(r.code).not.toBe(0);
        expect(r.out?.code, r.raw).toBe(1);
        expect((await sh(['ip', '-n', ns.name, 'link', 'show', 'eth0'])).exitCode).not.toBe(0);
        expect(reservations(n.dataDir)).toEqual([]);
      });
      return;
    }

    it('ADD: result, address in the namespace, reservation; CHECK; DEL twice and after the netns is gone', async () => {
      const n = await network(impl, v);
      const ns = await owned.netns();
      const env = { containerId: 'ctr1', netns: ns.path };
      const add = await invoke(impl.dir, impl.bridge, 'ADD', n.conf, env);
      expect(add.code, add.raw + add.stderr).toBe(0);
      const r = add.out;
      expect(r.cniVersion).toBe(v);
      // interfaces: bridge, host veth, container interface in the sandbox
      expect(r.interfaces.length).toBe(3);
      expect(r.interfaces[0].name).toBe(n.bridge);
      const ci = r.interfaces.findIndex((i: any) => i.sandbox === ns.path);
      expect(ci).toBeGreaterThanOrEqual(0);
      expect(r.interfaces[ci].name).toBe('eth0');
      expect(r.interfaces[ci].mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(r.interfaces.filter((i: any) => !i.sandbox).every((i: any) => !('sandbox' in i) || i.sandbox === '')).toBe(true);
      // ips: one address in the subnet, on the container interface, with the gateway
      expect(r.ips.length).toBe(1);
      const ip = r.ips[0];
      expect(ip.address).toMatch(new RegExp(`^${n.subnet.base.replace(/\./g, '\\.')}\\.\\d+/24$`));
      expect(ip.interface).toBe(ci);
      expect(ip.gateway).toBe(n.subnet.gw);
      if (v === '0.4.0') expect(ip.version).toBe('4');
      else expect(ip.version).toBeUndefined();
      // routes: the configured one and the default route added for isDefaultGateway
      expect(r.routes).toEqual(expect.arrayContaining([{ dst: '10.231.0.0/16', gw: n.subnet.gw }, { dst: '0.0.0.0/0', gw: n.subnet.gw }]));
      // really configured inside the namespace
      const addrs = JSON.parse(await must(['ip', '-n', ns.name, '-j', 'addr', 'show', 'dev', 'eth0']));
      expect(addrs[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).toContain(ip.address);
      expect(addrs[0].address).toBe(r.interfaces[ci].mac);
      expect(addrs[0].operstate).not.toBe('DOWN');
      const routes = await must(['ip', '-n', ns.name, 'route']);
      expect(routes).toContain(`default via ${n.subnet.gw} dev eth0`);
      expect(routes).toContain(`10.231.0.0/16 via ${n.subnet.gw} dev eth0`);
      // the gateway is on the bridge, the host end is a port of it
      expect(await must(['ip', '-4', '-o', 'addr', 'show', 'dev', n.bridge])).toContain(`${n.subnet.gw}/24`);
      expect(await must(['ip', '-o', 'link', 'show', 'master', n.bridge])).toContain(r.interfaces[1].name);
      // the reservation, in host-local's format
      const addr = ip.address.split('/')[0];
      expect(fs.readFileSync(path.join(n.dataDir, n.name, addr), 'utf8')).toBe('ctr1\r\neth0');

      // CHECK passes, and fails once the address is gone
      const check = await invoke(impl.dir, impl.bridge, 'CHECK', withPrev(n.conf, r), env);
      expect(check.code, check.raw + check.stderr).toBe(0);
      await must(['ip', '-n', ns.name, 'addr', 'del', ip.address, 'dev', 'eth0']);
      const bad = await invoke(impl.dir, impl.bridge, 'CHECK', withPrev(n.conf, r), env);
      expect(bad.code).not.toBe(0);
      expect(typeof bad.out?.code).toBe('number');

      // DEL, DEL again, DEL after the namespace is gone
      const del = await invoke(impl.dir, impl.bridge, 'DEL', withPrev(n.conf, r), env);
      expect(del.code, del.raw + del.stderr).toBe(0);
      expect((await sh(['ip', '-n', ns.name, 'link', 'show', 'eth0'])).exitCode).not.toBe(0);
      expect(fs.existsSync(`/sys/class/net/${r.interfaces[1].name}`)).toBe(false);
      expect(reservations(n.dataDir)).toEqual([]);
      const del2 = await invoke(impl.dir, impl.bridge, 'DEL', withPrev(n.conf, r), env);
      expect(del2.code, del2.raw).toBe(0);
      await must(['ip', 'netns', 'del', ns.name]);
      const del3 = await invoke(impl.dir, impl.bridge, 'DEL', withPrev(n.conf, r), env);
      expect(del3.code, del3.raw).toBe(0);
      const del4 = await invoke(impl.dir, impl.bridge, 'DEL', n.conf, { containerId: 'ctr1' });
      expect(del4.code, del4.raw).toBe(0);
    });

    it('DEL after the namespace was removed releases the address', async () => {
      const n = await network(impl, v);
      const ns = await owned.netns();
      const add = await invoke(impl.dir, impl.bridge, 'ADD', n.conf, { containerId: 'ctr2', netns: ns.path });
      expect(add.code, add.raw).toBe(0);
      expect(reservations(n.dataDir)).toHaveLength(1);
      await must(['ip', 'netns', 'del', ns.name]);
      const del = await invoke(impl.dir, impl.bridge, 'DEL', withPrev(n.conf, add.out), { containerId: 'ctr2', netns: ns.path });
      expect(del.code, del.raw).toBe(0);
      expect(reservations(n.dataDir)).toEqual([]);
      // The kernel destroys a dead namespace's veth pairs asynchronously.
      expect(await gone(`/sys/class/net/${add.out.interfaces[1].name}`)).toBe(true);
    });

    it('loopback: ADD brings lo up, DEL is idempotent', async () => {
      const ns = await owned.netns();
      const conf = { cniVersion: v, name: `mdt-cni-lo-${rand()}`, type: impl.loopback };
      const add = await invoke(impl.dir, impl.loopback, 'ADD', conf, { containerId: 'ctr3', netns: ns.path, ifName: 'lo' });
      expect(add.code, add.raw).toBe(0);
      expect(add.out.interfaces[0]).toMatchObject({ name: 'lo', sandbox: ns.path });
      expect(add.out.ips.map((i: any) => i.address)).toContain('127.0.0.1/8');
      expect(await must(['ip', '-n', ns.name, '-o', 'link', 'show', 'lo'])).toMatch(/<LOOPBACK,UP/);
      const check = await invoke(impl.dir, impl.loopback, 'CHECK', withPrev(conf, add.out), { containerId: 'ctr3', netns: ns.path, ifName: 'lo' });
      expect(check.code, check.raw).toBe(0);
      for (let i = 0; i < 2; i++) {
        const del = await invoke(impl.dir, impl.loopback, 'DEL', conf, { containerId: 'ctr3', netns: ns.path, ifName: 'lo' });
        expect(del.code, del.raw).toBe(0);
      }
    });

    it('portmap: ADD installs DNAT for the container, DEL removes exactly its rules', async () => {
      const n = await network(impl, v);
      const ns = await owned.netns();
      const env = { containerId: `ctr4${rand()}`, netns: ns.path };
      const add = await invoke(impl.dir, impl.bridge, 'ADD', n.conf, env);
      expect(add.code, add.raw).toBe(0);
      const cip = add.out.ips[0].address.split('/')[0];
      const pm = {
        cniVersion: v,
        name: n.name,
        type: impl.portmap,
        runtimeConfig: { portMappings: [{ hostPort: 18000 + Math.floor(Math.random() * 1000), containerPort: 80, protocol: 'tcp' }] },
        prevResult: add.out,
      };
      const padd = await invoke(impl.dir, impl.portmap, 'ADD', pm, env);
      expect(padd.code, padd.raw + padd.stderr).toBe(0);
      expect(padd.out).toEqual(add.out);
      const nat = await must(['iptables-save', '-t', 'nat']);
      expect(nat).toContain(`--to-destination ${cip}:80`);
      const pcheck = await invoke(impl.dir, impl.portmap, 'CHECK', pm, env);
      if (impl.quirks.portmapCheckFails) expect(pcheck.out?.msg, pcheck.raw).toMatch(/could not check ipv6 dnat/);
      else expect(pcheck.code, pcheck.raw).toBe(0);
      for (let i = 0; i < 2; i++) {
        const pdel = await invoke(impl.dir, impl.portmap, 'DEL', pm, env);
        expect(pdel.code, pdel.raw).toBe(0);
      }
      expect(await must(['iptables-save', '-t', 'nat'])).not.toContain(cip);
      const del = await invoke(impl.dir, impl.bridge, 'DEL', withPrev(n.conf, add.out), env);
      expect(del.code, del.raw).toBe(0);
    });
  });

  describe('errors and concurrency (cniVersion 1.0.0)', () => {
    it('bad JSON is a decode error (code 6)', async () => {
      const ns = await owned.netns();
      for (const type of [impl.bridge, impl.ipam, impl.portmap]) {
        const r = await invoke(impl.dir, type, 'ADD', '{"cniVersion": "1.0.0", ', { containerId: 'c', netns: ns.path });
        expect(r.code).not.toBe(0);
        expect(r.out?.code, `${type}: ${r.raw}`).toBe(6);
        expect(typeof r.out.msg).toBe('string');
      }
    });

    it('a missing CNI_NETNS on ADD is an invalid-environment error (code 4) naming the variable', async () => {
      const n = await network(impl, '1.0.0');
      const r = await invoke(impl.dir, impl.bridge, 'ADD', n.conf, { containerId: 'c' });
      expect(r.out?.code, r.raw).toBe(4);
      expect(r.out.msg).toContain('CNI_NETNS');
    });

    it('an unknown IPAM type fails with an error naming it; DEL then cleans up', async () => {
      const n = await network(impl, '1.0.0');
      const ns = await owned.netns();
      const conf = { ...n.conf, ipam: { ...n.conf.ipam, type: 'nope-ipam' } };
      const r = await invoke(impl.dir, impl.bridge, 'ADD', conf, { containerId: 'c5', netns: ns.path });
      expect(r.code).not.toBe(0);
      expect(typeof r.out?.code, r.raw).toBe('number');
      expect(r.out.msg).toContain('nope-ipam');
      // The runtime must DEL after a failed ADD (spec section 3): that must leave nothing.
      const del = await invoke(impl.dir, impl.bridge, 'DEL', conf, { containerId: 'c5', netns: ns.path });
      expect((await sh(['ip', '-n', ns.name, 'link', 'show', 'eth0'])).exitCode).not.toBe(0);
      expect(del.code === 0 || del.out?.msg?.includes('nope-ipam'), del.raw).toBe(true);
    });

    it('an invalid subnet is rejected by the IPAM plugin without side effects', async () => {
      const n = await network(impl, '1.0.0');
      const ns = await owned.netns();
      const conf = { ...n.conf, ipam: { ...n.conf.ipam, subnet: '10.231.0.5/33' } };
      const r = await invoke(impl.dir, impl.ipam, 'ADD', conf, { containerId: 'c6', netns: ns.path });
      expect(r.code).not.toBe(0);
      expect(typeof r.out?.code, r.raw).toBe('number');
      expect(reservations(n.dataDir)).toEqual([]);
    });

    it("portmap reads port mappings as Go runtimes send them (containerd's CRI: HostPort, ContainerPort...)", async () => {
      const n = await network(impl, '1.0.0');
      const ns = await owned.netns();
      const env = { containerId: `gokeys${rand()}`, netns: ns.path };
      const add = await invoke(impl.dir, impl.bridge, 'ADD', n.conf, env);
      expect(add.code, add.raw).toBe(0);
      const cip = add.out.ips[0].address.split('/')[0];
      const hostPort = 18000 + Math.floor(Math.random() * 1000);
      // go-cni's PortMapping has no json tags: Go's field names, which encoding/json matches in any case.
      const pm = {
        cniVersion: '1.0.0',
        name: n.name,
        type: impl.portmap,
        runtimeConfig: { portMappings: [{ HostPort: hostPort, ContainerPort: 80, Protocol: 'tcp', HostIP: '127.0.0.1' }] },
        prevResult: add.out,
      };
      const padd = await invoke(impl.dir, impl.portmap, 'ADD', pm, env);
      expect(padd.code, padd.raw + padd.stderr).toBe(0);
      expect(await must(['iptables-save', '-t', 'nat'])).toMatch(new RegExp(`-d 127\\.0\\.0\\.1/32 .*--dport ${hostPort} .*--to-destination ${cip.replace(/\./g, '\\.')}:80`));
      const pdel = await invoke(impl.dir, impl.portmap, 'DEL', pm, env);
      expect(pdel.code, pdel.raw).toBe(0);
      expect(await must(['iptables-save', '-t', 'nat'])).not.toContain(cip);
      const del = await invoke(impl.dir, impl.bridge, 'DEL', withPrev(n.conf, add.out), env);
      expect(del.code, del.raw).toBe(0);
    });

    it('mtu applies to the bridge and both veth ends', async () => {
      const n = await network(impl, '1.0.0', { mtu: 1400 });
      const ns = await owned.netns();
      const add = await invoke(impl.dir, impl.bridge, 'ADD', n.conf, { containerId: 'mtu1', netns: ns.path });
      expect(add.code, add.raw).toBe(0);
      const mtu = (dev: string, nsName?: string) =>
        must([...(nsName ? ['ip', '-n', nsName] : ['ip']), '-j', 'link', 'show', dev]).then((o) => JSON.parse(o)[0].mtu);
      expect(await mtu(n.bridge)).toBe(1400);
      expect(await mtu(add.out.interfaces[1].name)).toBe(1400);
      expect(await mtu('eth0', ns.name)).toBe(1400);
      const del = await invoke(impl.dir, impl.bridge, 'DEL', withPrev(n.conf, add.out), { containerId: 'mtu1', netns: ns.path });
      expect(del.code, del.raw).toBe(0);
    });

    it('10 concurrent ADDs in separate namespaces never share an address', async () => {
      const n = await network(impl, '1.0.0');
      const nss = await Promise.all(Array.from({ length: 10 }, (_, i) => owned.netns(`c${i}`)));
      const adds = await Promise.all(nss.map((ns, i) => invoke(impl.dir, impl.bridge, 'ADD', n.conf, { containerId: `par${i}`, netns: ns.path })));
      for (const a of adds) expect(a.code, a.raw + a.stderr).toBe(0);
      const ips = adds.map((a) => a.out.ips[0].address);
      expect(new Set(ips).size).toBe(10);
      expect(reservations(n.dataDir)).toHaveLength(10);
      for (const [i, ns] of nss.entries()) {
        const a = JSON.parse(await must(['nsenter', `--net=${ns.path}`, 'ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0']));
        expect(`${a[0].addr_info[0].local}/24`).toBe(ips[i]);
      }
      const dels = await Promise.all(nss.map((ns, i) => invoke(impl.dir, impl.bridge, 'DEL', withPrev(n.conf, adds[i].out), { containerId: `par${i}`, netns: ns.path })));
      for (const d of dels) expect(d.code, d.raw).toBe(0);
      expect(reservations(n.dataDir)).toEqual([]);
    });
  });
});

describe('cross-implementation delegation (same CNI_PATH contract)', () => {
  const pairs = [
    { bridge: 'minid-bridge', ipam: 'host-local' },
    { bridge: 'bridge', ipam: 'minid-host-local' },
  ];
  it.each(pairs)('$bridge delegating to $ipam', async ({ bridge, ipam }) => {
    const impl = IMPLS[0];
    const n = await network({ ...impl, bridge, ipam }, '1.0.0');
    const ns = await owned.netns();
    const env = { containerId: 'xdel', netns: ns.path, cniPath: `${MINID_BIN}:${REF_BIN}` };
    const dirs = [bridge.startsWith('minid-') ? MINID_BIN : REF_BIN];
    const add = await invoke(dirs, bridge, 'ADD', n.conf, env);
    expect(add.code, add.raw + add.stderr).toBe(0);
    const addr = add.out.ips[0].address.split('/')[0];
    expect(fs.readFileSync(path.join(n.dataDir, n.name, addr), 'utf8')).toBe('xdel\r\neth0');
    expect(await must(['ip', '-n', ns.name, '-4', '-o', 'addr'])).toContain(add.out.ips[0].address);
    const check = await invoke(dirs, bridge, 'CHECK', withPrev(n.conf, add.out), env);
    expect(check.code, check.raw).toBe(0);
    const del = await invoke(dirs, bridge, 'DEL', withPrev(n.conf, add.out), env);
    expect(del.code, del.raw).toBe(0);
    expect(reservations(n.dataDir)).toEqual([]);
  });
});

describe('minid plugins: CNI 1.1.0 GC and STATUS', () => {
  const impl = IMPLS[0];

  it('GC releases exactly the attachments not listed as valid (IPAM reservations and ipMasq rules)', async () => {
    const n = await network(impl, '1.1.0', { ipMasq: true });
    const a = await owned.netns();
    const b = await owned.netns();
    const ra = await invoke(impl.dir, impl.bridge, 'ADD', n.conf, { containerId: 'keep', netns: a.path });
    const rb = await invoke(impl.dir, impl.bridge, 'ADD', n.conf, { containerId: 'stale', netns: b.path });
    expect(ra.code, ra.raw).toBe(0);
    expect(rb.code, rb.raw).toBe(0);
    expect((await must(['iptables-save', '-t', 'nat'])).match(new RegExp(`net=${n.name} `, 'g'))?.length).toBe(6);
    // The stale container's namespace disappears without a DEL (a crash).
    await must(['ip', 'netns', 'del', b.name]);
    const gc = await invoke(impl.dir, impl.bridge, 'GC', { ...n.conf, 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] }, {});
    expect(gc.code, gc.raw + gc.stderr).toBe(0);
    expect(reservations(n.dataDir)).toEqual([`${n.name}/${ra.out.ips[0].address.split('/')[0]}`]);
    const nat = await must(['iptables-save', '-t', 'nat']);
    expect(nat).toContain(`id=keep if=eth0`);
    expect(nat).not.toContain(`id=stale`);
    const del = await invoke(impl.dir, impl.bridge, 'DEL', withPrev(n.conf, ra.out), { containerId: 'keep', netns: a.path });
    expect(del.code, del.raw).toBe(0);
    expect(await must(['iptables-save', '-t', 'nat'])).not.toContain(`net=${n.name} `);
  });

  it('STATUS succeeds while addresses are free and reports code 50 when the range is exhausted', async () => {
    const n = await network(impl, '1.1.0', {}, {});
    // A range with a single usable address.
    const conf = { ...n.conf, ipam: { ...n.conf.ipam, rangeStart: n.subnet.ip(10), rangeEnd: n.subnet.ip(10) } };
    const st = await invoke(impl.dir, impl.bridge, 'STATUS', conf, {});
    expect(st.code, st.raw + st.stderr).toBe(0);
    const ns = await owned.netns();
    const add = await invoke(impl.dir, impl.bridge, 'ADD', conf, { containerId: 'lone', netns: ns.path });
    expect(add.code, add.raw).toBe(0);
    expect(add.out.ips[0].address).toBe(`${n.subnet.ip(10)}/24`);
    const st2 = await invoke(impl.dir, impl.bridge, 'STATUS', conf, {});
    expect(st2.out?.code, st2.raw).toBe(50);
    const ns2 = await owned.netns();
    const add2 = await invoke(impl.dir, impl.bridge, 'ADD', conf, { containerId: 'second', netns: ns2.path });
    expect(add2.code).not.toBe(0);
    expect(add2.out.msg).toMatch(/no IP addresses available/);
    // The failed ADD rolled its own veth back.
    expect((await sh(['ip', '-n', ns2.name, 'link', 'show', 'eth0'])).exitCode).not.toBe(0);
    const del = await invoke(impl.dir, impl.bridge, 'DEL', withPrev(conf, add.out), { containerId: 'lone', netns: ns.path });
    expect(del.code, del.raw).toBe(0);
  });

  it('GC and STATUS are refused (code 1) for a config older than 1.1.0', async () => {
    const n = await network(impl, '1.0.0');
    for (const cmd of ['GC', 'STATUS']) {
      const r = await invoke(impl.dir, impl.bridge, cmd, n.conf, {});
      expect(r.out?.code, r.raw).toBe(1);
    }
  });
});
