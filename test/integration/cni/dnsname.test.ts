// `minid run --cni` with a chain that ends in a DNS plugin: Debian's dnsname (podman's, dnsmasq
// based: it starts one dnsmasq per CNI network on the bridge and returns the bridge's address in
// the result's `dns` section). minid writes that section into the container's resolv.conf as
// the CNI spec intends, and passes the container's name as K8S_POD_NAME (as podman does), so two
// containers resolve each other by name. Afterwards: no dnsmasq, file, link, namespace or rule.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadImages, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { REF_BIN, freeSubnet, rand, removeSharedRefChains, settledLeftovers, snapshot, type Snapshot } from './helpers.js';

const DNSNAME_DIR = '/run/containers/cni/dnsname';
let store: Store;
let before: Snapshot;
let confDir = '';
let dataDir = '';
const name = `mdt-dns-${rand()}`;
const bridge = `mdtcni${rand(3)}`;
let inputBefore: string[] = [];
const inputRules = async (): Promise<string[]> => (await execa('iptables-save', ['-t', 'filter'])).stdout.split('\n').filter((l) => l.startsWith('-A INPUT'));

/** dnsname's dnsmasq for our network, if it runs (its pid file is in its folder). */
function dnsnamePid(): number | null {
  try {
    const pid = Number(fs.readFileSync(path.join(DNSNAME_DIR, name, 'pidfile'), 'utf8').trim());
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(name) ? pid : null;
  } catch {
    return null;
  }
}

beforeAll(async () => {
  requireRoot();
  expect(fs.existsSync(path.join(REF_BIN, 'dnsname')), 'the dnsname plugin (apt-get install golang-github-containernetworking-plugin-dnsname)').toBe(true);
  store = makeStore('cnidns');
  await loadImages(store, ['busybox']);
  confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdt-cni-conf-'));
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdt-cni-data-'));
  before = await snapshot();
  inputBefore = await inputRules();
}, 60_000);

afterAll(async () => {
  try {
    await store?.cleanup();
  } finally {
    const pid = dnsnamePid();
    if (pid) process.kill(pid, 'SIGTERM'); // only if a DEL did not stop it
    fs.rmSync(path.join(DNSNAME_DIR, name), { recursive: true, force: true });
    // dnsname inserts an INPUT rule for its bridge's DNS port and never removes it.
    for (const l of await inputRules()) if (!inputBefore.includes(l) && l.includes(bridge)) await execa('iptables', ['-D', ...l.slice(3).split(' ')], { reject: false });
    await execa('ip', ['link', 'del', bridge], { reject: false });
    await removeSharedRefChains(before);
    fs.rmSync(confDir, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  expect(await settledLeftovers(before)).toEqual([]);
  expect((await inputRules()).filter((l) => !inputBefore.includes(l))).toEqual([]);
});

it('a chain ending in dnsname: the result\'s dns section goes into resolv.conf, and containers resolve each other', async () => {
  const net = await freeSubnet();
  const conf = {
    cniVersion: '0.4.0',
    name,
    plugins: [
      {
        type: 'bridge', bridge, isGateway: true, ipMasq: false, hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: net.cidr, gateway: net.gw }]], routes: [{ dst: '0.0.0.0/0' }], dataDir },
      },
      { type: 'dnsname', domainName: 'dns.minid' },
    ],
  };
  fs.writeFileSync(path.join(confDir, `${name}.conflist`), JSON.stringify(conf));
  const cni = ['--cni', name, '--cni-conf-dir', confDir, '--cni-path', REF_BIN];
  for (const c of ['alpha', 'beta']) {
    const r = await minid(store, ['run', '-d', '--name', `${c}-${name}`, ...cni, 'busybox', 'sleep', '600']);
    expect(r.exitCode, r.stderr).toBe(0);
  }
  const resolv = (await minid(store, ['exec', `alpha-${name}`, 'cat', '/etc/resolv.conf'])).stdout;
  expect(resolv).toMatch(new RegExp(`^nameserver ${net.gw.replace(/\./g, '\\.')}$`, 'm'));
  expect(resolv).toContain("nameservers from the CNI result's dns section");
  const ipOf = async (c: string) => JSON.parse((await minid(store, ['inspect', `${c}-${name}`])).stdout)[0].NetworkSettings.IPAddress as string;
  const ask = await minid(store, ['exec', `alpha-${name}`, 'nslookup', `beta-${name}`]);
  expect(ask.exitCode, ask.stdout + ask.stderr).toBe(0);
  expect(ask.stdout).toContain(`Address: ${await ipOf('beta')}`);
  const back = await minid(store, ['exec', `beta-${name}`, 'nslookup', `alpha-${name}.dns.minid`]);
  expect(back.stdout).toContain(`Address: ${await ipOf('alpha')}`);
  // --dns still wins over the result.
  const own = await minid(store, ['run', '--rm', ...cni, '--dns', '192.0.2.53', 'busybox', 'cat', '/etc/resolv.conf']);
  expect(own.exitCode, own.stderr).toBe(0);
  expect(own.stdout).toMatch(/^nameserver 192\.0\.2\.53$/m);
  expect(own.stdout).not.toContain(`nameserver ${net.gw}`);
  // Removing both: dnsname's DEL takes their names and stops its dnsmasq with the last one.
  const pid = dnsnamePid();
  expect(pid).not.toBeNull();
  expect((await minid(store, ['rm', '-f', `alpha-${name}`, `beta-${name}`])).exitCode).toBe(0);
  for (let i = 0; i < 50 && dnsnamePid(); i++) await new Promise((r) => setTimeout(r, 100));
  expect(dnsnamePid()).toBeNull();
});
