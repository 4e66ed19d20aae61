// Privileged: real namespaces, veths, bridges and iptables rules on this host. Must run as
// root and fails (never skips) otherwise.
//
// "Containers" are plain network namespaces made by attach(), with a small node server started
// inside by the test (the runtime is not involved). "The LAN" is a namespace of our own on a
// veth off the host (198.18.N.0/24, the RFC 2544 benchmarking range): no packet leaves for any
// address these tests did not create.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attach, createNetwork, detach, getNetwork, pruneLeftovers, removeNetwork, teardownNetwork, type Attachment } from '../../../src/network/index.js';
import { curl, freePort, freeSubnet, hostState, minidState, rand, serve, sh, stopStarted, udpAsk, type HostState } from './helpers.js';

if (process.getuid?.() !== 0) {
  throw new Error('test/integration/network must run as root: it creates namespaces, links and iptables rules');
}

const R = rand(4);
const LAN_NS = `mdt-lan-${R}`;
const LAN_HOST_IF = `mdtl${R}`; // host side of the LAN cable
const LAN_PEER_IF = `mdtp${R}`;
let LAN_NET = '';
let HOST_LAN_IP = ''; // the host's own address on the LAN
let LAN_IP = ''; // the simulated LAN machine
let base: { root: string; run: string; dir: string };
let before: HostState; // before anything (LAN included)
let baseline: HostState; // with the LAN, before each test

const attachments: Attachment[] = [];
const userNetworks: string[] = [];
const userBridges: string[] = [];
const myIds = new Set<string>();
const newId = (): string => {
  const id = crypto.randomBytes(32).toString('hex');
  myIds.add(id);
  return id;
};
/** Does a link/namespace name or an iptables line belong to this run? */
function mine(text: string): boolean {
  // Comments name the store first (minid:<store>:a<R>); user bridges are mbr-<network id11>.
  const tokens = [`mdt${R}0`, `mdtl${R}`, `mdt-lan-${R}`, `:a${R}`, `:b${R}`, ...userBridges];
  for (const id of myIds) tokens.push(`mv${id.slice(0, 8)}`, `mc${id.slice(0, 8)}`, `minid-${id.slice(0, 12)}`, `:${id.slice(0, 12)}`);
  return tokens.some((t) => text.includes(t));
}
const ns = (a: Attachment): string => a.netnsName!;

async function connect(name: string, o: { ports?: string[]; network?: string } = {}): Promise<Attachment> {
  const a = await attach({ containerId: newId(), containerName: name, mode: 'bridge', network: o.network, ports: o.ports ?? [] });
  attachments.push(a);
  return a;
}

beforeAll(() => {
  expect(process.getuid?.()).toBe(0);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-net-it-'));
  base = { dir, root: path.join(dir, 'lib'), run: path.join(dir, 'run') };
  process.env.MINID_ROOT = base.root;
  process.env.MINID_RUN = base.run;
  process.env.MINID_BRIDGE_NAME = `mdt${R}0`;
  process.env.MINID_BRIDGE_SUBNET = freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`);
  before = hostState(mine);

  LAN_NET = freeSubnet((_a, b) => `198.18.${b}.0/24`);
  const p = LAN_NET.split('.').slice(0, 3).join('.');
  HOST_LAN_IP = `${p}.1`;
  LAN_IP = `${p}.2`;
  sh(['ip', 'netns', 'add', LAN_NS]);
  sh(['ip', 'link', 'add', LAN_HOST_IF, 'type', 'veth', 'peer', 'name', LAN_PEER_IF, 'netns', LAN_NS]);
  sh(['ip', 'addr', 'add', `${HOST_LAN_IP}/24`, 'dev', LAN_HOST_IF]);
  sh(['ip', 'link', 'set', LAN_HOST_IF, 'up']);
  sh(['ip', '-n', LAN_NS, 'addr', 'add', `${LAN_IP}/24`, 'dev', LAN_PEER_IF]);
  sh(['ip', '-n', LAN_NS, 'link', 'set', LAN_PEER_IF, 'up']);
  sh(['ip', '-n', LAN_NS, 'link', 'set', 'lo', 'up']);
  baseline = hostState(mine);
});

afterEach(async () => {
  await stopStarted();
  for (const a of attachments.splice(0)) await detach(a);
  for (const n of userNetworks.splice(0)) await removeNetwork(n).catch(() => {});
  await teardownNetwork(await getNetwork('bridge'));
  expect(hostState(mine)).toEqual(baseline);
  expect(minidState(base.root, base.run)).toEqual([]);
});

afterAll(async () => {
  await stopStarted();
  try {
    sh(['ip', 'netns', 'del', LAN_NS]);
  } catch {
    /* already gone */
  }
  try {
    sh(['ip', 'link', 'del', LAN_HOST_IF]);
  } catch {
    /* went with the namespace */
  }
  fs.rmSync(base.dir, { recursive: true, force: true });
  expect(hostState(mine)).toEqual(before);
});

describe('bridge networking on a real host', () => {
  it('two containers on the bridge reach each other', async () => {
    const c1 = await connect('c1');
    const c2 = await connect('c2');
    await serve(ns(c1), 'c1', { http: 80 });
    expect(await curl(`http://${c1.ip}/`, ns(c2))).toBe(`c1 sees ${c2.ip}`);
    // The namespace looks like the recipe says.
    const inside = sh(['ip', '-n', ns(c1), '-br', 'addr']);
    expect(inside).toMatch(new RegExp(`^eth0@\\S+\\s+UP\\s+${c1.ip!.replace(/\./g, '\\.')}/24`, 'm'));
    expect(sh(['ip', '-n', ns(c1), 'route'])).toContain(`default via ${c1.gateway} dev eth0`);
    expect(sh(['ip', '-d', 'link', 'show', c1.veth!])).toMatch(/hairpin on/);
    expect(fs.readFileSync(`/proc/sys/net/ipv4/ip_forward`, 'utf8').trim()).toBe('1');
    expect(fs.readFileSync(`/proc/sys/net/ipv4/conf/${c1.bridge}/route_localnet`, 'utf8').trim()).toBe('1');
  });

  it('a container reaches the LAN through MASQUERADE: the LAN sees the host address', async () => {
    const c1 = await connect('c1');
    await serve(LAN_NS, 'lan', { http: 80 });
    expect(await curl(`http://${LAN_IP}/`, ns(c1))).toBe(`lan sees ${HOST_LAN_IP}`);
  });

  it('-p HOSTPORT:80 answers on 127.0.0.1, on the host addresses, from the LAN, and from containers (hairpin)', async () => {
    const port = await freePort();
    const c1 = await connect('c1', { ports: [`${port}:80`] });
    const c2 = await connect('c2');
    await serve(ns(c1), 'c1', { http: 80 });
    const gw = c1.gateway!;
    expect(await curl(`http://127.0.0.1:${port}/`)).toBe(`c1 sees ${gw}`); // 127.0.0.1 source masqueraded
    expect(await curl(`http://${HOST_LAN_IP}:${port}/`)).toBe(`c1 sees ${HOST_LAN_IP}`);
    expect(await curl(`http://${gw}:${port}/`)).toBe(`c1 sees ${gw}`);
    expect(await curl(`http://${HOST_LAN_IP}:${port}/`, LAN_NS)).toBe(`c1 sees ${LAN_IP}`); // client address kept
    expect(await curl(`http://${HOST_LAN_IP}:${port}/`, ns(c2))).toBe(`c1 sees ${gw}`); // hairpin, other container
    expect(await curl(`http://${HOST_LAN_IP}:${port}/`, ns(c1))).toBe(`c1 sees ${gw}`); // hairpin, itself
  });

  it('a UDP mapping works from the host and from the LAN', async () => {
    const port = await freePort();
    const c1 = await connect('c1', { ports: [`${port}:53/udp`] });
    await serve(ns(c1), 'c1', { udp: 53 });
    expect(await udpAsk('127.0.0.1', port)).toBe(`c1 sees ${c1.gateway}`);
    expect(await udpAsk(HOST_LAN_IP, port, LAN_NS)).toBe(`c1 sees ${LAN_IP}`);
  });

  it('a port range and -p 127.0.0.1:PORT:80 (loopback only)', async () => {
    const p1 = await freePort();
    const p2 = await freePort();
    const c1 = await connect('c1', { ports: [`127.0.0.1:${p1}:80`, `${p2}-${p2}:81-81`] });
    await serve(ns(c1), 'c1', { http: 80 });
    expect(c1.ports).toEqual([
      { protocol: 'tcp', hostIp: '127.0.0.1', hostPort: p1, containerPort: 80 },
      { protocol: 'tcp', hostIp: '0.0.0.0', hostPort: p2, containerPort: 81 },
    ]);
    expect(await curl(`http://127.0.0.1:${p1}/`)).toBe(`c1 sees ${c1.gateway}`);
    expect(await curl(`http://${HOST_LAN_IP}:${p1}/`, LAN_NS, 1)).toMatch(/^FAIL/);
  });

  it('refuses a port published by another container, or held by a host process, before setting anything up', async () => {
    const port = await freePort();
    await connect('c1', { ports: [`${port}:80`] });
    const id2 = newId();
    await expect(attach({ containerId: id2, containerName: 'c2', mode: 'bridge', ports: [`${port}:81`] })).rejects.toThrow(
      new RegExp(`^cannot publish ${port}/tcp: the port is already in use by container c1 \\([0-9a-f]{12}\\)$`),
    );
    const busy = await freePort();
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(busy, '127.0.0.1', () => r()));
    try {
      const err = await attach({ containerId: id2, containerName: 'c2', mode: 'bridge', ports: [`${busy}:80`] }).catch((e) => e);
      expect(err.message).toMatch(new RegExp(`^cannot publish ${busy}/tcp: the port is already in use by process .+ \\(pid ${process.pid}\\)$`));
    } finally {
      await new Promise((r) => holder.close(r));
    }
    expect(fs.existsSync(`/run/netns/minid-${id2.slice(0, 12)}`)).toBe(false);
    expect(sh(['ip', '-br', 'link']).includes(`mv${id2.slice(0, 8)}`)).toBe(false);
  });

  it('two user networks are isolated; containers of one network talk; published ports stay reachable', async () => {
    const na = `a${R}`;
    const nb = `b${R}`;
    const ra = await createNetwork({ name: na, subnet: freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`) });
    const rb = await createNetwork({ name: nb, subnet: freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`) });
    userNetworks.push(na, nb);
    userBridges.push(ra.bridge, rb.bridge);
    const port = await freePort();
    const a1 = await connect('a1', { network: na, ports: [`${port}:80`] });
    const a2 = await connect('a2', { network: na });
    const b1 = await connect('b1', { network: nb });
    expect(a1.bridge).toBe(`mbr-${ra.id.slice(0, 11)}`);
    // The second network found minid's chains and hooks in place (read back from iptables-save).
    const save = sh(['iptables-save']);
    for (const hook of ['-A PREROUTING .*-j MINID-DNAT', '-A OUTPUT .*-j MINID-DNAT', '-A POSTROUTING .*-j MINID-POSTROUTING', '-A FORWARD .*-j MINID-FORWARD', '-A INPUT .*-j MINID-INPUT']) {
      expect(save.split('\n').filter((l) => new RegExp(`^${hook}$`).test(l))).toHaveLength(1);
    }
    await serve(ns(a1), 'a1', { http: 80 });
    await serve(ns(b1), 'b1', { http: 80 });
    expect(await curl(`http://${a1.ip}/`, ns(a2))).toBe(`a1 sees ${a2.ip}`);
    expect(await curl(`http://${a1.ip}/`, ns(b1), 1)).toMatch(/^FAIL (28|7)$/);
    expect(await curl(`http://${b1.ip}/`, ns(a1), 1)).toMatch(/^FAIL (28|7)$/);
    // Leaving network b it is masqueraded like any outgoing traffic: a1 sees its own gateway.
    expect(await curl(`http://${HOST_LAN_IP}:${port}/`, ns(b1))).toBe(`a1 sees ${a1.gateway}`);
  });

  it('blocks packets from a container to the host\'s 127.0.0.1 services (CVE-2020-8558 guard)', async () => {
    const c1 = await connect('evil');
    // The attacker routes 127.0.0.0/8 to the gateway instead of its own loopback.
    sh(['ip', '-n', ns(c1), 'route', 'del', '127.0.0.0/8', 'dev', 'lo', 'table', 'local']);
    sh(['ip', '-n', ns(c1), 'route', 'del', '127.0.0.1', 'dev', 'lo', 'table', 'local']);
    sh(['ip', '-n', ns(c1), 'route', 'add', '127.0.0.0/8', 'via', c1.gateway!, 'dev', 'eth0']);
    sh(['ip', 'netns', 'exec', ns(c1), 'sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1', 'net.ipv4.conf.eth0.route_localnet=1']);
    const port = await freePort();
    const received: string[] = [];
    const sock = dgram.createSocket('udp4');
    sock.on('message', (m, r) => received.push(`${m} from ${r.address}`));
    await new Promise<void>((r) => sock.bind(port, '127.0.0.1', () => r()));
    const guard = ['-d', '127.0.0.0/8', '!', '-i', 'lo', '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-m', 'comment', '--comment', 'minid', '-j', 'DROP'];
    try {
      await udpAsk('127.0.0.1', port, ns(c1));
      expect(received).toEqual([]);
      // Proof that the guard is what stops it: without the rule the packet gets through.
      sh(['iptables', '-D', 'MINID-INPUT', ...guard]);
      try {
        await udpAsk('127.0.0.1', port, ns(c1));
      } finally {
        sh(['iptables', '-A', 'MINID-INPUT', ...guard]);
      }
      expect(received).toEqual([`hello from ${c1.ip}`]);
    } finally {
      sock.close();
    }
  });

  // Asserted right after detach, with the network still up: the afterEach teardown would hide a
  // detach that leaks (deleting the bridge takes its ports, and its rules go by comment).
  it('detach removes what attach added at once, and a second detach is a no-op', async () => {
    await connect('kept'); // the network stays up, with another container on it
    const upHost = hostState(mine);
    const upMinid = minidState(base.root, base.run);
    const c1 = await attach({ containerId: newId(), containerName: 'c1', mode: 'bridge', ports: [`${await freePort()}:80`] });
    const id12 = c1.containerId!.slice(0, 12);
    const ofC1 = (h: HostState): string[] => [...h.links, ...h.netns, ...h.iptables].filter((l) => l.includes(c1.veth!) || l.includes(id12));
    // What attach added: its veth, its namespace, its DNAT and FORWARD rules, its address.
    expect(ofC1(hostState(mine))).toHaveLength(4);
    expect(minidState(base.root, base.run).filter((f) => f.endsWith(`/${c1.ip}`))).toHaveLength(1);

    await detach(c1);
    expect(ofC1(hostState(mine))).toEqual([]);
    expect(hostState(mine)).toEqual(upHost);
    expect(minidState(base.root, base.run)).toEqual(upMinid); // the address is free again, the endpoint record gone
    await detach(c1);
    expect(hostState(mine)).toEqual(upHost);
    expect(minidState(base.root, base.run)).toEqual(upMinid);
  });

  it('detach tolerates a namespace removed by hand, and still removes the rest', async () => {
    await connect('kept');
    const upHost = hostState(mine);
    const upMinid = minidState(base.root, base.run);
    const c1 = await attach({ containerId: newId(), containerName: 'c1', mode: 'bridge', ports: [`${await freePort()}:80`] });
    sh(['ip', 'netns', 'del', ns(c1)]); // the veth goes with it (its peer was in there)
    await detach(c1);
    expect(hostState(mine)).toEqual(upHost);
    expect(minidState(base.root, base.run)).toEqual(upMinid);
    await detach(c1);
    expect(hostState(mine)).toEqual(upHost);
  });

  it('--network none: a namespace with loopback only', async () => {
    const a = await attach({ containerId: newId(), containerName: 'n', mode: 'none', ports: [] });
    attachments.push(a);
    expect(sh(['ip', '-n', ns(a), '-br', 'link']).trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['lo']);
    expect(sh(['ip', '-n', ns(a), '-br', 'addr'])).toMatch(/^lo\s+UNKNOWN\s+127\.0\.0\.1\/8/);
  });

  it('pruneLeftovers removes what a crashed container left behind', async () => {
    const port = await freePort();
    const ghost = await attach({ containerId: newId(), containerName: 'ghost', mode: 'bridge', ports: [`${port}:80`] });
    const kept = await connect('kept');
    // Scoped to this MINID_ROOT's records by default: other minid instances on the host are safe.
    const removed = await pruneLeftovers(new Set([kept.containerId!]));
    const g12 = ghost.containerId!.slice(0, 12);
    expect(removed).toEqual([
      `iptables rule (nat MINID-DNAT) of container ghost (${g12})`,
      `iptables rule (filter MINID-FORWARD) of container ghost (${g12})`,
      `veth mv${g12.slice(0, 8)}`,
      `netns minid-${g12}`,
      `endpoint of container ghost (${g12}) on network bridge`,
      `address ${ghost.ip} on network bridge (container ${g12})`,
    ].sort((a, b) => removed.indexOf(a) - removed.indexOf(b)));
    expect(fs.existsSync(`/run/netns/minid-${g12}`)).toBe(false);
    expect(fs.existsSync(`/run/netns/${kept.netnsName}`)).toBe(true);
  });

  // How long attach and detach take is bench/'s business (bench/README.md, "network attach and
  // detach"): here, that they can be repeated and leave nothing each time.
  it('attach with a published port and detach, again and again: each cycle leaves nothing', async () => {
    await connect('warm', { ports: [`${await freePort()}:80`] }); // sets the network up
    const upHost = hostState(mine);
    const upMinid = minidState(base.root, base.run);
    const ips = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const port = await freePort();
      const a = await attach({ containerId: newId(), containerName: `t${i}`, mode: 'bridge', ports: [`${port}:80`] });
      ips.add(a.ip!);
      expect(sh(['iptables-save', '-t', 'nat'])).toContain(`--dport ${port} `);
      await detach(a);
      expect(hostState(mine)).toEqual(upHost);
      expect(minidState(base.root, base.run)).toEqual(upMinid);
    }
    expect(ips.size).toBe(5); // round-robin: a freed address is not handed out again at once
  });
});
