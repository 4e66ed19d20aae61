// minid as a CNI runtime (src/cni) driving real plugin chains: the Debian reference plugins
// (bridge + host-local + portmap + firewall + tuning, ptp, macvlan) and minid's own, with a
// published port actually served from inside the namespace, version negotiation, a failing
// plugin in the middle of a chain rolled back, crash recovery from the cache, GC, and the CLI
// module. Needs root; fails (never skips) without it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FIXTURES,
  MINID_BIN,
  REF_BIN,
  Owned,
  ownedPerTest,
  curl,
  forceRemoveRules,
  freeSubnet,
  must,
  rand,
  removeSharedRefChains,
  requireRootAndBuild,
  reservations,
  serveHttp,
  sh,
  snapshot,
  iptablesLines,
  repo,
  type Snapshot,
} from './helpers.js';
import { addNetworkList, checkNetworkList, delNetworkList, gcNetworkList, statusNetworkList, loadNetworkList, parsePortMappings } from '../../../src/cni/index.js';
import { clearVersionMemo } from '../../../src/cni/invoke.js';
import { listCache } from '../../../src/cni/cache.js';
import { cniAdd, cniCheck, cniDel, networkStatus } from '../../../src/cli/commands/cni.js';

requireRootAndBuild();

let fileBefore: Snapshot;
let owned: Owned;
let stateDir: string;
const savedEnv = { root: process.env.MINID_ROOT, run: process.env.MINID_RUN };

beforeAll(async () => {
  fileBefore = await snapshot();
  stateDir = fs.mkdtempSync('/tmp/mdt-cni-state-');
  process.env.MINID_ROOT = path.join(stateDir, 'lib');
  process.env.MINID_RUN = path.join(stateDir, 'run');
});
afterAll(async () => {
  await removeSharedRefChains(fileBefore);
  fs.rmSync(stateDir, { recursive: true, force: true });
  for (const [k, v] of [
    ['MINID_ROOT', savedEnv.root],
    ['MINID_RUN', savedEnv.run],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
ownedPerTest((o) => (owned = o), clearVersionMemo);

/** A test network: conf dir with one list, data dir, cache dir, bridge name, subnet. */
async function setup(kind: 'reference' | 'minid', extra: { cniVersion?: string; cniVersions?: string[]; middle?: object[] } = {}) {
  const subnet = await freeSubnet();
  const name = `mdt-cni-${rand()}`;
  const bridge = owned.link('mdtcni');
  const dataDir = owned.dir('ipam');
  const confDir = owned.dir('netd');
  const cacheDir = path.join(owned.dir('cache'), 'cache');
  const ref = kind === 'reference';
  const t = (n: string) => (ref ? n : `minid-${n}`);
  const plugins: object[] = [
    {
      type: t('bridge'),
      bridge,
      isGateway: true,
      isDefaultGateway: true,
      ipMasq: true,
      hairpinMode: true,
      // No default route from IPAM: isDefaultGateway adds it (the reference bridge would add a
      // second one and fail with "file exists").
      ipam: { type: t('host-local'), ranges: [[{ subnet: subnet.cidr }]], dataDir },
    },
    ...(extra.middle ?? []),
    ...(ref
      ? [
          { type: 'firewall', backend: 'iptables' },
          { type: 'tuning', sysctl: { 'net.core.somaxconn': '1024' } },
        ]
      : [{ type: 'minid-loopback' }]),
    { type: t('portmap'), capabilities: { portMappings: true }, snat: true },
  ];
  const list: Record<string, unknown> = { cniVersion: extra.cniVersion ?? '1.0.0', name, plugins };
  if (extra.cniVersions) list.cniVersions = extra.cniVersions;
  fs.writeFileSync(path.join(confDir, `50-${name}.conflist`), JSON.stringify(list, null, 2));
  const cniPath = [FIXTURES, MINID_BIN, REF_BIN];
  return { subnet, name, bridge, dataDir, confDir, cacheDir, cniPath };
}

/** The reference bridge's ipMasq rules and chains for a network (comment `name: "N" id: "C"`). */
async function refMasqRules(net: string): Promise<string[]> {
  const lines = await iptablesLines();
  // iptables-save escapes the quotes inside the comment: --comment "name: \"N\" id: \"C\""
  const jumps = lines.filter((l) => l.includes(`name: \\"${net}\\"`));
  const chains = new Set(jumps.map((l) => /-j (CNI-[0-9a-f]+)/.exec(l)?.[1]).filter(Boolean) as string[]);
  return lines
    .filter((l) => jumps.includes(l) || [...chains].some((c) => l.startsWith(`nat: :${c} `) || l.startsWith(`nat: -A ${c} `)))
    .map((l) => `iptables ${l}`);
}

async function freePort(): Promise<number> {
  const used = (await must(['ss', '-Htan'])).split('\n');
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 10000);
    if (!used.some((l) => l.includes(`:${p} `))) return p;
  }
}

describe.each(['reference', 'minid'] as const)('%s chain driven by minid', (kind) => {
  it('publishes a port served inside the namespace: on 127.0.0.1, via the host, and hairpin', async () => {
    const s = await setup(kind);
    const ns = await owned.netns('srv');
    const hostPort = await freePort();
    const lines: string[] = [];
    const o = {
      containerId: `srv${rand(6)}`,
      netns: ns.path,
      confDir: s.confDir,
      cniPath: s.cniPath,
      cacheDir: s.cacheDir,
      capabilityArgs: { portMappings: parsePortMappings([`${hostPort}:80`]) },
      explain: (l: string) => lines.push(l),
    };
    const result = await addNetworkList(s.name, o);
    const cip = result.ips![0].address.split('/')[0];
    expect(result.cniVersion).toBe('1.0.0');
    expect(result.interfaces!.find((i) => i.sandbox === ns.path)?.name).toBe('eth0');
    // The explain hook showed every plugin call, its config and its result.
    const calls = lines.filter((l) => l.startsWith('CNI_COMMAND=ADD'));
    expect(calls).toHaveLength(kind === 'reference' ? 4 : 3);
    expect(calls[0]).toMatch(new RegExp(`^CNI_COMMAND=ADD CNI_CONTAINERID=${o.containerId} CNI_NETNS=${ns.path} CNI_IFNAME=eth0 CNI_PATH=\\S+ \\S+/${kind === 'reference' ? 'bridge' : 'minid-bridge'} <<'EOF'\n`));
    expect(calls[calls.length - 1]).toContain(`"portMappings": [`);
    expect(lines.filter((l) => l.startsWith('# result')).length).toBeGreaterThanOrEqual(calls.length);
    expect(listCache(s.name, s.cacheDir).map((c) => c.containerId)).toEqual([o.containerId]);

    const body = `hello from ${kind} ${rand()}`;
    await serveHttp(owned, ns.path, 80, body);
    // 1. the host itself, on loopback
    const local = await curl(`http://127.0.0.1:${hostPort}/`);
    if (local.stdout !== body && process.env.MDT_DEBUG) {
      console.log((await sh(['iptables-save', '-c'])).stdout);
      console.log((await sh(['sh', '-c', `sysctl -a 2>/dev/null | grep -E 'route_localnet|ip_forward|bridge-nf'; conntrack -L 2>&1 | grep ${hostPort}; ip route get ${cip}; ip -n ${ns.name} addr; ip -n ${ns.name} route; nsenter --net=${ns.path} ss -ltn; ip link show ${s.bridge}; bridge link`])).stdout);
    }
    expect(local.stdout, local.stderr).toBe(body);
    // 2. "via the host": a client namespace reaches the host's address on its own link
    const client = await owned.netns('cli');
    const link = await freeSubnet();
    const hostEnd = owned.link('mdtcnih');
    await must(['ip', 'link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client.path]);
    await must(['ip', 'addr', 'add', `${link.gw}/24`, 'dev', hostEnd]);
    await must(['ip', 'link', 'set', hostEnd, 'up']);
    await must(['ip', '-n', client.name, 'addr', 'add', `${link.ip(2)}/24`, 'dev', 'eth0']);
    await must(['ip', '-n', client.name, 'link', 'set', 'eth0', 'up']);
    await must(['ip', '-n', client.name, 'route', 'add', 'default', 'via', link.gw]);
    const remote = await curl(`http://${link.gw}:${hostPort}/`, client.path);
    expect(remote.stdout, remote.stderr).toBe(body);
    // 3. hairpin: the container reaches its own published port through the gateway
    const hairpin = await curl(`http://${s.subnet.gw}:${hostPort}/`, ns.path);
    expect(hairpin.stdout, hairpin.stderr).toBe(body);

    if (kind === 'minid') {
      await checkNetworkList(s.name, o);
    } else {
      // The reference portmap's CHECK fails for IPv4-only containers on an IPv6-capable host:
      // minid reports that as one clear error naming the plugin.
      await expect(checkNetworkList(s.name, o)).rejects.toThrow(/CNI plugin portmap \(\/usr\/lib\/cni\/portmap\) CHECK .*could not check ipv6 dnat/);
    }
    await delNetworkList(s.name, o);
    expect(await must(['iptables-save', '-t', 'nat'])).not.toContain(cip);
    expect(reservations(s.dataDir)).toEqual([]);
    expect(listCache(s.name, s.cacheDir)).toEqual([]);
    expect((await curl(`http://127.0.0.1:${hostPort}/`)).exitCode).not.toBe(0);
    await delNetworkList(s.name, o); // again: fine
  });

  it('a failing plugin in the middle of the chain is rolled back cleanly', async () => {
    const s = await setup(kind, { middle: [{ type: 'mdt-fail' }] });
    const ns = await owned.netns('fail');
    const log = path.join(owned.dir('faillog'), 'calls');
    process.env.MDT_FAIL_LOG = log;
    try {
      const o = { containerId: `fail${rand(6)}`, netns: ns.path, confDir: s.confDir, cniPath: s.cniPath, cacheDir: s.cacheDir, capabilityArgs: { portMappings: parsePortMappings(['18080:80']) } };
      const err = await addNetworkList(s.name, o).catch((e) => e);
      expect(err.message).toMatch(/^CNI plugin mdt-fail \(.*fixtures\/mdt-fail\) ADD of container fail\w+ to network "mdt-cni-\w+" failed: mdt-fail refuses ADD \(this plugin always fails ADD\) \[code 7: invalid network configuration\]; rolled back$/);
      expect(fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[0]).filter((c) => c !== 'VERSION')).toEqual(['ADD', 'DEL']);
      expect((await sh(['ip', '-n', ns.name, 'link', 'show', 'eth0'])).exitCode).not.toBe(0);
      expect(reservations(s.dataDir)).toEqual([]);
      expect(listCache(undefined, s.cacheDir)).toEqual([]);
      expect(await must(['iptables-save', '-t', 'nat'])).not.toContain(s.subnet.base + '.');
    } finally {
      delete process.env.MDT_FAIL_LOG;
    }
  });

  it('DEL works from the cache after a crash, when the namespace and the config file are gone; GC removes stale attachments', async () => {
    const s = await setup(kind);
    const a = await owned.netns('a');
    const b = await owned.netns('b');
    const base = { confDir: s.confDir, cniPath: s.cniPath, cacheDir: s.cacheDir };
    const ra = await addNetworkList(s.name, { ...base, containerId: 'crash1', netns: a.path, capabilityArgs: { portMappings: parsePortMappings(['18081:80']) } });
    await addNetworkList(s.name, { ...base, containerId: 'stale2', netns: b.path });
    expect(reservations(s.dataDir)).toHaveLength(2);
    // A crash: both namespaces vanish without DEL.
    await must(['ip', 'netns', 'del', a.name]);
    await must(['ip', 'netns', 'del', b.name]);
    // GC of the network: every cached attachment whose namespace is gone is stale.
    const lines: string[] = [];
    const copy = fs.readFileSync(path.join(s.confDir, `50-${s.name}.conflist`), 'utf8');
    const report = await gcNetworkList(s.name, { ...base, validAttachments: [{ containerID: 'crash1', ifname: 'eth0' }], explain: (l) => lines.push(l) });
    expect(report.deleted).toEqual([{ containerID: 'stale2', ifname: 'eth0' }]);
    if (kind === 'reference') {
      expect(report.gcPlugins).toEqual([]);
      expect(report.skipped).toEqual(['bridge', 'firewall', 'tuning', 'portmap']);
    } else {
      expect(report.gcPlugins).toEqual(['minid-bridge', 'minid-loopback', 'minid-portmap']);
    }
    expect(reservations(s.dataDir)).toEqual([`${s.name}/${ra.ips![0].address.split('/')[0]}`]);
    // The config file disappears too: DEL still works from the cached config and result.
    fs.rmSync(path.join(s.confDir, `50-${s.name}.conflist`));
    await delNetworkList(s.name, { ...base, containerId: 'crash1', netns: a.path });
    if (kind === 'reference') {
      // bridge 1.1.1 learns the ipMasq addresses from the container's interface, so a DEL after
      // the namespace is gone leaves its CNI-<hash> masquerade chain behind (a known leak).
      const leaked = await refMasqRules(s.name);
      expect(leaked.filter((l) => l.includes('-A POSTROUTING')).length).toBe(2);
      await forceRemoveRules(leaked);
    }
    expect(reservations(s.dataDir)).toEqual([]);
    expect(listCache(undefined, s.cacheDir)).toEqual([]);
    expect(await must(['iptables-save', '-t', 'nat'])).not.toContain(s.subnet.base + '.');
    expect(copy).toContain(s.name);
  });
});

describe('version negotiation with the reference plugins', () => {
  it('refuses cniVersion 1.1.0 naming the plugins and the fix', async () => {
    const s = await setup('reference', { cniVersion: '1.1.0' });
    const ns = await owned.netns('v');
    const err = await addNetworkList(s.name, { containerId: 'v1', netns: ns.path, confDir: s.confDir, cniPath: s.cniPath, cacheDir: s.cacheDir }).catch((e) => e);
    expect(err.message).toMatch(/CNI network "mdt-cni-\w+" needs cniVersion 1\.1\.0, which its plugins do not all speak: bridge \(\/usr\/lib\/cni\/bridge\) supports 0\.1\.0, .*1\.0\.0.*: set "cniVersion": "1\.0\.0" in /);
    expect((await sh(['ip', '-n', ns.name, 'link', 'show', 'eth0'])).exitCode).not.toBe(0);
  });

  it('picks the highest version all plugins speak from cniVersions', async () => {
    const s = await setup('reference', { cniVersion: '1.1.0', cniVersions: ['0.4.0', '1.0.0', '1.1.0'] });
    const ns = await owned.netns('v');
    const o = { containerId: 'v2', netns: ns.path, confDir: s.confDir, cniPath: s.cniPath, cacheDir: s.cacheDir };
    const r = await addNetworkList(s.name, o);
    expect(r.cniVersion).toBe('1.0.0');
    // STATUS: no reference plugin speaks 1.1.0, so none is asked.
    const st = await statusNetworkList(s.name, o);
    expect(st.skipped).toEqual(['bridge', 'firewall', 'tuning', 'portmap']);
    await delNetworkList(s.name, o);
  });
});

describe('other reference interface plugins', () => {
  it('ptp + host-local: the host reaches the container', async () => {
    const subnet = await freeSubnet();
    const confDir = owned.dir('netd');
    const dataDir = owned.dir('ipam');
    const cacheDir = owned.dir('cache');
    const name = `mdt-cni-ptp-${rand()}`;
    fs.writeFileSync(
      path.join(confDir, 'ptp.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name, plugins: [{ type: 'ptp', ipMasq: false, ipam: { type: 'host-local', subnet: subnet.cidr, dataDir } }, { type: 'loopback' }] }),
    );
    const ns = await owned.netns('ptp');
    const o = { containerId: 'ptp1', netns: ns.path, confDir, cniPath: [REF_BIN], cacheDir };
    const r = await addNetworkList(name, o);
    const cip = r.ips![0].address.split('/')[0];
    expect(r.interfaces!.some((i) => i.sandbox === ns.path)).toBe(true);
    expect((await sh(['busybox', 'ping', '-c', '1', '-W', '2', cip])).exitCode).toBe(0);
    await checkNetworkList(name, o);
    await delNetworkList(name, o);
    expect(reservations(dataDir)).toEqual([]);
  });

  it('macvlan + host-local on a host-only parent: two containers reach each other', async () => {
    const subnet = await freeSubnet();
    // No dummy driver in this kernel: the parent is one end of a veth pair that stays on the host.
    const parent = owned.link('mdtcnip');
    const peer = owned.link('mdtcniq');
    await must(['ip', 'link', 'add', parent, 'type', 'veth', 'peer', 'name', peer]);
    await must(['ip', 'link', 'set', peer, 'up']);
    await must(['ip', 'link', 'set', parent, 'up']);
    const confDir = owned.dir('netd');
    const dataDir = owned.dir('ipam');
    const cacheDir = owned.dir('cache');
    const name = `mdt-cni-mv-${rand()}`;
    fs.writeFileSync(
      path.join(confDir, 'mv.conf'),
      JSON.stringify({ cniVersion: '0.4.0', name, type: 'macvlan', master: parent, mode: 'bridge', ipam: { type: 'host-local', subnet: subnet.cidr, dataDir } }),
    );
    const [a, b] = [await owned.netns('mva'), await owned.netns('mvb')];
    const oa = { containerId: 'mva', netns: a.path, confDir, cniPath: [REF_BIN], cacheDir };
    const ob = { containerId: 'mvb', netns: b.path, confDir, cniPath: [REF_BIN], cacheDir };
    const ra = await addNetworkList(name, oa);
    const rb = await addNetworkList(name, ob);
    expect(ra.cniVersion).toBe('0.4.0');
    expect(ra.ips![0].version).toBe('4');
    const bip = rb.ips![0].address.split('/')[0];
    expect((await sh(['nsenter', `--net=${a.path}`, 'busybox', 'ping', '-c', '1', '-W', '2', bip])).exitCode).toBe(0);
    await delNetworkList(name, oa);
    await delNetworkList(name, ob);
    expect(reservations(dataDir)).toEqual([]);
  });
});

describe('the CLI module and the shipped configuration', () => {
  it('cniAdd / cniCheck / cniDel print and behave like cnitool; networkStatus reports readiness', async () => {
    const s = await setup('minid', { cniVersion: '1.1.0' });
    const ns = await owned.netns('cli');
    const out: string[] = [];
    const o = { confDir: s.confDir, cniPath: s.cniPath.join(':'), cacheDir: s.cacheDir, publish: ['127.0.0.1:18082:80'], out: (t: string) => out.push(t) };
    const r = await cniAdd(s.name, ns.path, o);
    expect(JSON.parse(out[0])).toEqual(r);
    expect(listCache(s.name, s.cacheDir)[0].containerId).toMatch(/^minid-[0-9a-f]{19}$/);
    expect(listCache(s.name, s.cacheDir)[0].capabilityArgs).toEqual({ portMappings: [{ hostPort: 18082, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }] });
    await cniCheck(s.name, ns.path, o);
    const st = await networkStatus({ name: s.name, confDir: s.confDir, cniPath: s.cniPath.join(':'), out: (t) => out.push(t) });
    expect(st[0].checked).toEqual(['minid-bridge', 'minid-loopback', 'minid-portmap']);
    expect(out[out.length - 1]).toBe(`${s.name}: ready, checked minid-bridge, minid-loopback, minid-portmap`);
    await cniDel(s.name, ns.path, o);
    await cniDel(s.name, ns.path, o);
    expect(reservations(s.dataDir)).toEqual([]);
    await expect(cniAdd('mdt-no-such-net', ns.path, o)).rejects.toThrow(/unknown CNI network "mdt-no-such-net"/);
  });

  it('cni-plugins/conf/10-minid.conflist loads and names only minid plugins that exist', async () => {
    const l = loadNetworkList('minid', path.join(repo, 'cni-plugins', 'conf'));
    expect(l.plugins.map((p) => p.type)).toEqual(['minid-bridge', 'minid-portmap']);
    expect(l.plugins[0].ipam?.type).toBe('minid-host-local');
    for (const p of ['minid-bridge', 'minid-portmap', 'minid-host-local']) expect(fs.existsSync(path.join(MINID_BIN, p))).toBe(true);
    expect(l.cniVersion).toBe('1.1.0');
  });
});
