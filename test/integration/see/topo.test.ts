// `minid topo` and `minid why` against the real kernel (root; CI runs it). One container of a
// test store serves HTTP (busybox httpd) on a published port; the tests snapshot the topology,
// then break one thing at a time behind minid's back, the way a person would with ip, sysctl
// and iptables, and check that topo marks it and why names the cause and the fix. Every break
// is repaired in a finally, even when an assertion fails. Only this store's objects are
// touched (its bridge, its veth, its rules): host-wide settings (ip_forward, FORWARD's policy,
// br_netfilter) are never flipped here; test/unit/see covers them over recorded snapshots.
import fs from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { suiteStore } from '../../helpers/minid.js';
import { normaliseTopo } from '../../helpers/topo.js';
import { curl, freePort } from '../network/helpers.js';
import type { Topo } from '../../../src/see/topo.js';

const s = suiteStore('see');
let id = '';
let ns = '';
let veth = '';
let bridge = '';
let store = '';
let loopPort = 0;
let anyPort = 0;

const sh = async (argv: string[]) => execa(argv[0], argv.slice(1), { reject: false });
const topoJson = async (): Promise<Topo> => {
  const r = await s.run(['topo', '--format', 'json']);
  expect(r.stderr).toBe('');
  return JSON.parse(String(r.stdout)) as Topo;
};
const marks = (t: Topo): string[] => [...t.host.marks, ...t.networks.flatMap((n) => n.marks), ...t.leftovers].map((m) => m.check);
/** This store's rules as iptables-save prints them, without counters: what topo and why must not change. */
const ourRules = async (): Promise<string[]> =>
  String((await sh(['iptables-save'])).stdout).split('\n').filter((l) => l.includes(`minid:${store}:`));
const localnet = () => fs.readFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, 'utf8').trim();
/** The kernel's own verdict: does the published port answer (curl from the host, 2 s at most)? */
const answers = async (host: string, port: number): Promise<boolean> => (await curl(`http://${host}:${port}/passwd`, undefined, 2)).includes('root:');
/** The store bridge's own address: a host address these tests may send to. */
let gateway = '';

beforeAll(async () => {
  loopPort = await freePort();
  anyPort = await freePort();
  // httpd daemonizes; sleep keeps the container up when the test stops the app.
  const r = await s.run(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${loopPort}:80`, '-p', `${anyPort}:80`, 'busybox', 'sh', '-c', 'httpd -p 80 -h /etc; exec sleep 600']);
  expect(r.stderr).toBe('');
  id = String(r.stdout).trim();
  s.ids.push(id);
  ns = `minid-${id.slice(0, 12)}`;
  veth = `mv${id.slice(0, 8)}`;
  bridge = s.store.env.MINID_BRIDGE_NAME;
  store = fs.readFileSync(`${s.store.root}/store-id`, 'utf8').trim();
  // The app is up once its socket is.
  for (let i = 0; i < 50 && !String((await sh(['ss', '-N', ns, '-H', '-ltn'])).stdout).includes(':80 '); i++) await new Promise((res) => setTimeout(res, 100));
});

afterAll(async () => {
  // Whatever a failed test left broken (the finally blocks repair each break already).
  if (bridge && fs.existsSync(`/proc/sys/net/ipv4/conf/${bridge}`)) await sh(['sysctl', '-qw', `net.ipv4.conf.${bridge}.route_localnet=1`]);
});

describe('minid topo and why read the kernel', () => {
  it('a healthy set-up: the JSON snapshot, no marks, every why check passes, and nothing changed', async () => {
    const before = await ourRules();
    const t = await topoJson();
    expect(marks(t)).toEqual([]);
    gateway = t.networks[0].gateway;
    expect([await answers('127.0.0.1', loopPort), await answers(gateway, anyPort)]).toEqual([true, true]);
    const n = normaliseTopo(t, [loopPort, anyPort]) as Record<string, any>;
    // Host-wide values this test does not own (they depend on the machine, and stay as they are).
    for (const k of ['forwardPolicy', 'rpFilterAll', 'brNetfilter']) n.host[k] = 'HOST';
    for (const net of n.networks) net.bridge.rpFilter = 'HOST';
    n.host.rules = n.host.rules.map((r: { rule: string; present: boolean }) => `${r.present ? '' : 'MISSING '}${r.rule}`);
    await expect(JSON.stringify(n, null, 2) + '\n').toMatchFileSnapshot('__golden__/topo-web.json');
    for (const from of ['host', '127.0.0.1', 'container:web']) {
      const w = await s.run(['why', 'web:80', '--from', from]);
      expect([w.exitCode, w.stderr]).toEqual([0, '']);
      expect(String(w.stdout)).toMatch(new RegExp(`✓ every check on this path passes: web:80/tcp should answer from ${from.replace('.', '\\.')}$`)); // execa strips the last newline
      expect(String(w.stdout)).not.toContain('✗');
    }
    // Read-only: the same rules (counters aside) and sysctls as before.
    expect(await ourRules()).toEqual(before);
    expect(localnet()).toBe('1');
    // The text and the handout render the same topology.
    const text = await s.run(['topo']);
    expect(text.exitCode).toBe(0);
    expect(String(text.stdout)).toContain(`${veth} up hairpin ══ virtual cable (veth) ══ eth0 `);
    const svg = await s.run(['topo', '--format', 'svg']);
    expect(String(svg.stdout)).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(String(svg.stdout)).toContain(`bridge ${bridge} (virtual switch) up`);
  });

  it('route_localnet flipped on the store bridge: marked, and why from 127.0.0.1 names it with the fix', async () => {
    await sh(['sysctl', '-qw', `net.ipv4.conf.${bridge}.route_localnet=0`]);
    try {
      const t = await topoJson();
      expect(marks(t)).toEqual(['bridge.route_localnet']);
      expect(t.networks[0].bridge.routeLocalnet).toBe('0');
      const text = String((await s.run(['topo'])).stdout);
      expect(text).toContain('route_localnet=0 ✗1');
      expect(text).toContain(`fix:   sysctl -w net.ipv4.conf.${bridge}.route_localnet=1`);
      const w = await s.run(['why', 'web:80', '--from', '127.0.0.1']);
      expect(w.exitCode).toBe(1);
      expect(String(w.stdout)).toContain(`✗ 1 check failed; the lowest one first: the bridge may carry 127.0.0.1 traffic (route_localnet), so 127.0.0.1:PORT can be DNATed into it\n  fix: sysctl -w net.ipv4.conf.${bridge}.route_localnet=1`);
      // The host-address path does not need it.
      expect((await s.run(['why', 'web:80', '--from', 'host'])).exitCode).toBe(0);
      expect(localnet()).toBe('0'); // why repaired nothing
      expect([await answers('127.0.0.1', loopPort), await answers(gateway, anyPort)]).toEqual([false, true]); // the kernel agrees
    } finally {
      await sh(['sysctl', '-qw', `net.ipv4.conf.${bridge}.route_localnet=1`]);
    }
    expect(marks(await topoJson())).toEqual([]);
  });

  it("one of the store's DNAT rules deleted: marked missing, why names it, and topo's fix puts it back", async () => {
    const line = (await ourRules()).find((l) => l.startsWith('-A MINID-DNAT') && l.includes(`--dport ${anyPort} `));
    expect(line).toBeDefined();
    const args = line!.replace(/^-A /, '').match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"|"$/g, ''));
    expect((await sh(['iptables', '-t', 'nat', '-D', ...args])).exitCode).toBe(0);
    try {
      const t = await topoJson();
      expect(marks(t)).toEqual(['rule.dnat']);
      const missing = t.networks[0].rules.filter((r) => !r.present);
      expect(missing.map((r) => [r.chain, r.owner])).toEqual([['MINID-DNAT', 'container web']]);
      expect(missing[0].fix).toBe(`iptables -t nat -A MINID-DNAT -p tcp -m tcp --dport ${anyPort} -m comment --comment minid:${store}:bridge:web:${id.slice(0, 12)} -j DNAT --to-destination ${t.networks[0].endpoints[0].expected.address.split('/')[0]}:80`);
      const w = await s.run(['why', 'web:80', '--from', 'host', '--format', 'json']);
      expect(w.exitCode).toBe(1);
      const r = JSON.parse(String(w.stdout));
      expect(r.cause).toMatchObject({ id: 'rule.dnat', ok: false, fix: missing[0].fix });
      // The loopback binding's rule is still there: from 127.0.0.1 it answers.
      expect((await s.run(['why', 'web:80', '--from', '127.0.0.1'])).exitCode).toBe(0);
      expect([await answers('127.0.0.1', loopPort), await answers(gateway, anyPort)]).toEqual([true, false]); // the kernel agrees
      // The printed fix is a command that works as typed.
      expect((await execa('sh', ['-c', missing[0].fix!], { reject: false })).exitCode).toBe(0);
      expect(marks(await topoJson())).toEqual([]);
    } finally {
      if ((await sh(['iptables', '-t', 'nat', '-C', ...args])).exitCode !== 0) await sh(['iptables', '-t', 'nat', '-A', ...args]);
    }
  });

  it("the container's veth set down on the host: marked on the cable, why names it first", async () => {
    await sh(['ip', 'link', 'set', veth, 'down']);
    try {
      const t = await topoJson();
      expect(marks(t)).toEqual(['veth.host.up']);
      expect(t.networks[0].endpoints[0].cable.host).toMatchObject({ name: veth, up: false });
      expect(String((await s.run(['topo'])).stdout)).toMatch(new RegExp(`${veth} DOWN hairpin ✗1 ══ virtual cable`));
      const w = await s.run(['why', 'web:80']);
      expect(w.exitCode).toBe(1);
      expect(String(w.stdout)).toContain(`✗ the host end ${veth} is up\n    down (operstate DOWN)\n    fix: ip link set ${veth} up\n`);
      expect(String(w.stdout)).toMatch(new RegExp(`✗ 1 check failed; the lowest one first: the host end ${veth} is up\\n  fix: ip link set ${veth} up$`));
      expect(await answers('127.0.0.1', loopPort)).toBe(false); // the kernel agrees
    } finally {
      await sh(['ip', 'link', 'set', veth, 'up']);
    }
    expect(marks(await topoJson())).toEqual([]);
  });

  it('hairpin mode off on the container\'s bridge port: why from the container itself names it, and the kernel agrees', async () => {
    const gw = (await topoJson()).networks[0].gateway;
    const ask = async () => String((await s.run(['exec', 'web', 'sh', '-c', `printf 'GET /passwd HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${gw} ${anyPort} | head -1`])).stdout);
    expect(await ask()).toMatch(/^HTTP\/1\.[01] 200/);
    // Read, never set: whether bridged frames meet iptables is the host's choice.
    const callIptables = fs.existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables') && fs.readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim() === '1';
    await sh(['ip', 'link', 'set', veth, 'type', 'bridge_slave', 'hairpin', 'off']);
    try {
      const t = await topoJson();
      expect(t.networks[0].marks.map((m) => [m.check, !!m.harmless])).toEqual([['veth.host.hairpin', !callIptables]]);
      const w = await s.run(['why', 'web:80', '--from', 'container:web']);
      if (callIptables) {
        expect(w.exitCode).toBe(1);
        expect(String(w.stdout)).toMatch(new RegExp(`the lowest one first: hairpin mode on bridge port ${veth} .*\\n  fix: ip link set ${veth} type bridge_slave hairpin on$`));
        expect(await ask()).toBe(''); // the kernel agrees: no answer
      } else {
        expect(w.exitCode).toBe(0);
        expect(String(w.stdout)).toContain(`! hairpin mode on bridge port ${veth}`);
      }
    } finally {
      await sh(['ip', 'link', 'set', veth, 'type', 'bridge_slave', 'hairpin', 'on']);
    }
    expect(marks(await topoJson())).toEqual([]);
    expect(await ask()).toMatch(/^HTTP\/1\.[01] 200/);
  });

  it("the container's namespace name deleted (ip netns del): marked, and why gives the name back with ip netns attach", async () => {
    const pid = String((await s.run(['inspect', '-f', '{{.State.Pid}}', 'web'])).stdout).trim();
    expect(Number(pid)).toBeGreaterThan(1);
    // The name goes; the namespace lives on while the container's processes are in it.
    expect((await sh(['ip', 'netns', 'del', ns])).exitCode).toBe(0);
    try {
      const t = await topoJson();
      expect(marks(t)).toEqual(expect.arrayContaining(['netns.exists']));
      expect(t.networks[0].endpoints[0].netns).toEqual({ name: ns, exists: false });
      const w = await s.run(['why', 'web:80']);
      expect(w.exitCode).toBe(1);
      expect(String(w.stdout)).toContain(`fix: ip netns attach ${ns} ${pid}  (gives the container's namespace its name back)`);
      expect(String(w.stdout)).toMatch(new RegExp(`the lowest one first: the container's network namespace ${ns} exists`));
    } finally {
      if (!fs.existsSync(`/run/netns/${ns}`)) await sh(['ip', 'netns', 'attach', ns, pid]);
    }
    expect(marks(await topoJson())).toEqual([]);
  });

  it('the app stopped inside the container: marked on its port, why says nothing listens and how to start it', async () => {
    // The app's host pid, from its socket in the container's namespace.
    const ss = String((await sh(['ss', '-N', ns, '-H', '-ltnp'])).stdout);
    const pid = Number(/pid=(\d+)/.exec(ss)?.[1]);
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50 && String((await sh(['ss', '-N', ns, '-H', '-ltn'])).stdout).includes(':80 '); i++) await new Promise((res) => setTimeout(res, 100));
    const t = await topoJson();
    expect(marks(t)).toEqual(['app.listening', 'app.listening']); // one per published port
    expect(t.networks[0].endpoints[0].listening).toEqual([]);
    expect(await answers('127.0.0.1', loopPort)).toBe(false);
    const w = await s.run(['why', 'web:80', '--from', '127.0.0.1']);
    expect(w.exitCode).toBe(1);
    expect(String(w.stdout)).toContain('✗ the app in web listens on tcp port 80');
    expect(String(w.stdout)).toContain('    nothing listens on tcp port 80\n    fix: start the app (minid logs web tells why it stopped; minid restart web)\n');
    // Started again (in the container, as its command did): the marks go.
    expect((await s.run(['exec', 'web', 'httpd', '-p', '80', '-h', '/etc'])).exitCode).toBe(0);
    for (let i = 0; i < 50 && !String((await sh(['ss', '-N', ns, '-H', '-ltn'])).stdout).includes(':80 '); i++) await new Promise((res) => setTimeout(res, 100));
    expect(marks(await topoJson())).toEqual([]);
    expect(await answers('127.0.0.1', loopPort)).toBe(true);
  });

  it('bad input: one line and exit 1', async () => {
    for (const [args, msg] of [
      [['why', 'nosuch:80'], 'minid: no such container: nosuch (minid ps -a lists them)'],
      [['why', 'web:80', '--from', 'lan'], 'minid: invalid --from "lan": give host, 127.0.0.1 or container:NAME'],
      [['topo', 'nosuch'], "minid: no such network: nosuch (minid network ls lists minid's; a CNI network shows here once a container runs with --cni nosuch)"],
      [['topo', '--format', 'png'], 'minid: invalid --format "png": give text, json or svg'],
    ] as const) {
      const r = await s.run([...args]);
      expect([r.exitCode, r.stderr, r.stdout]).toEqual([1, msg, '']);
    }
  });
});
