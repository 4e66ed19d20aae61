// `minid topo` and `minid why` with a container of `minid run --cni` (root; CI runs it): busybox
// httpd attached by Debian's reference plugins (bridge + host-local + portmap, as
// test/integration/cni/run.test.ts runs them) appears in topo with its interface, address,
// the plugins' bridge and veth; its interface deleted inside its namespace behind minid's back
// is marked with the fix, which works as typed. The list has no ipMasq: the reference bridge
// plugin's DEL cannot remove its masquerade rule once the interface is gone (it reads the
// address from it), and the test must leave nothing. Everything is removed in afterAll.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { suiteStore } from '../../helpers/minid.js';
import { REF_BIN, freeSubnet, rand, removeSharedRefChains, snapshot, type Snapshot } from '../cni/helpers.js';
import { curl, freePort } from '../network/helpers.js';
import type { Topo } from '../../../src/see/topo.js';

const s = suiteStore('seecni');
const name = `mdt-see-${rand()}`;
const bridge = `mdtcni${rand(3)}`;
let confDir = '';
let dataDir = '';
let before: Snapshot;
let id = '';
let ns = '';
let port = 0;
let base = '';

const sh = async (argv: string[]) => execa(argv[0], argv.slice(1), { reject: false });
const topoJson = async (...args: string[]): Promise<{ code: number; t: Topo }> => {
  const r = await s.run(['topo', ...args, '--format', 'json']);
  expect(r.stderr).toBe('');
  return { code: r.exitCode ?? 1, t: JSON.parse(String(r.stdout)) as Topo };
};
const marks = (t: Topo): string[] => [...t.host.marks, ...t.networks.flatMap((n) => n.marks), ...t.cni.flatMap((n) => n.marks), ...t.leftovers].map((m) => m.check);
/** What of this test is in the kernel: links, rules naming the list or the container, the namespace. */
const ours = async (): Promise<string[]> => [
  ...String((await sh(['ip', '-o', 'link'])).stdout).split('\n').filter((l) => l.includes(bridge)).map((l) => `link ${l.split(':')[1]?.trim()}`),
  ...String((await sh(['iptables-save'])).stdout).split('\n').filter((l) => (l.includes(name) || (id && l.includes(id))) && l.startsWith('-A')),
  ...(ns && fs.existsSync(`/run/netns/${ns}`) ? [`netns ${ns}`] : []),
];
const waitHttp = async (): Promise<void> => {
  for (let i = 0; i < 50 && !String((await sh(['ss', '-N', ns, '-H', '-ltn'])).stdout).includes(':80 '); i++) await new Promise((res) => setTimeout(res, 100));
};

beforeAll(async () => {
  if (!fs.existsSync(path.join(REF_BIN, 'bridge'))) throw new Error('the reference CNI plugins are missing: apt-get install containernetworking-plugins');
  before = await snapshot();
  confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdt-see-cni-conf-'));
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdt-see-cni-data-'));
  const net = await freeSubnet();
  base = net.base;
  const conf = {
    cniVersion: '1.0.0',
    name,
    plugins: [
      { type: 'bridge', bridge, isGateway: true, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: net.cidr, gateway: net.gw }]], routes: [{ dst: '0.0.0.0/0' }], dataDir } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  fs.writeFileSync(path.join(confDir, `${name}.conflist`), JSON.stringify(conf));
  port = await freePort();
  const r = await s.run(['run', '-d', '--name', 'cweb', '--cni', name, '--cni-conf-dir', confDir, '--cni-path', REF_BIN, '-p', `${port}:80`, 'busybox', 'sh', '-c', 'httpd -p 80 -h /etc; trap "exit 0" TERM; while sleep 1; do :; done']);
  expect(r.stderr).toBe('');
  id = String(r.stdout).trim();
  s.ids.push(id);
  ns = `minid-${id.slice(0, 12)}`;
  await waitHttp();
});

afterAll(async () => {
  // The container first (the plugins' DEL), then what the bridge plugin keeps by design (its bridge).
  if (id) await s.run(['rm', '-f', id]);
  await sh(['ip', 'link', 'del', bridge]);
  await removeSharedRefChains(before);
  for (const d of [confDir, dataDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  expect(await ours()).toEqual([]);
});

describe('minid topo and why with a container of minid run --cni', () => {
  it('shows it: its interface and address, the bridge and veth the result names, labelled with the plugins; no marks', async () => {
    const { code, t } = await topoJson();
    expect(marks(t)).toEqual([]);
    expect(code).toBe(0);
    expect(t.cni).toHaveLength(1);
    const n = t.cni[0];
    expect(n).toMatchObject({ name, label: `CNI network ${name} (plugins: bridge, host-local, portmap)`, plugins: ['bridge', 'host-local', 'portmap'], cniVersion: '1.0.0' });
    expect(n.bridges.map((b) => [b.name, b.exists, b.up])).toEqual([[bridge, true, true]]);
    const c = n.containers[0];
    expect(c).toMatchObject({ container: 'cweb', id, status: 'running', netns: { name: ns, exists: true }, bridge, resultFrom: 'cache' });
    expect(c.interfaces).toHaveLength(1);
    const addr = c.interfaces[0].addresses[0];
    expect(addr.startsWith(`${base}.`)).toBe(true);
    expect(c.interfaces[0]).toMatchObject({ name: 'eth0', exists: true, up: true, addresses: [addr] });
    expect(c.expected.addresses).toEqual([addr]);
    expect(c.hostEnd).toMatchObject({ exists: true, up: true, master: bridge });
    expect(c.listening.map((l) => l.port)).toContain(80);
    expect(c.published).toEqual([{ protocol: 'tcp', hostIp: '0.0.0.0', hostPort: port, containerPort: 80 }]);
    // The kernel agrees: it answers on its address.
    expect(await curl(`http://${addr.split('/')[0]}:80/passwd`, undefined, 2)).toContain('root:');

    const text = await s.run(['topo']);
    expect([text.exitCode, text.stderr]).toEqual([0, '']);
    expect(String(text.stdout)).toContain(`CNI network ${name} (plugins: bridge, host-local, portmap)`);
    expect(String(text.stdout)).toContain(`${c.hostEnd!.name} up hairpin ══ virtual cable (veth) ══ eth0 ${addr} up`);
    expect(String(text.stdout)).toContain(`netns ${ns}: container cweb (${id.slice(0, 12)}) running`);
    // topo NAME takes the list's name; the handout draws it too.
    const one = await topoJson(name);
    expect([one.code, one.t.cni.map((x) => x.name)]).toEqual([0, [name]]);
    const svg = await s.run(['topo', name, '--format', 'svg']);
    expect(String(svg.stdout)).toContain(`CNI network ${name} (plugins: bridge, host-local, portmap)`);
    const w = await s.run(['why', 'cweb:80']);
    expect([w.exitCode, w.stderr]).toEqual([0, '']);
    expect(String(w.stdout)).toContain(`the plugins own their rules (bridge, portmap): minid does not check them`);
  });

  it('its interface deleted inside its namespace: topo marks it with the fix, why names it, and the fix works as typed', async () => {
    const hostEnd = (await topoJson()).t.cni[0].containers[0].hostEnd!.name;
    expect((await sh(['ip', '-n', ns, 'link', 'del', 'eth0'])).exitCode).toBe(0);
    const { code, t } = await topoJson();
    expect(code).toBe(1);
    expect(t.cni[0].marks.map((m) => [m.check, m.subject])).toEqual([['cni.interface.exists', `netns:${ns}/eth0`], ['cni.host.exists', `link:${hostEnd}`]]);
    const fix = t.cni[0].marks[0].fix!;
    expect(fix).toBe("minid restart cweb  (the plugins' DEL, then ADD: they make it again)");
    const text = String((await s.run(['topo'])).stdout);
    expect(text).toMatch(new RegExp(`${hostEnd} MISSING ✗\\d ══ virtual cable \\(veth\\) ══ eth0 MISSING ✗\\d`));
    expect(text).toContain(`      fix:   ${fix}`);
    const w = await s.run(['why', 'cweb:80']);
    expect(w.exitCode).toBe(1);
    expect(String(w.stdout)).toContain(`checks failed; the lowest one first: the interface eth0 the plugins made exists in ${ns} and pairs with ${hostEnd}\n  fix: ${fix}`);
    // The fix, as typed (minus its explanation).
    const r = await s.run(fix.split('  (')[0].split(' ').slice(1));
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
    await waitHttp();
    const after = await topoJson();
    expect(marks(after.t)).toEqual([]);
    expect(after.t.cni[0].containers[0].interfaces[0].exists).toBe(true);
  });
});
