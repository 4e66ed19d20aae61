// Containers of `minid run --cni` in topo and why, over a snapshot recorded on a real host
// (`minid topo --format snapshot`: busybox "c1" serving httpd on port 80, attached by Debian's
// reference plugins bridge + host-local + portmap, list "mhcni", bridge mdtcnih1, *:28555->80),
// broken the way a person would behind minid's back; and the pure parts: the record built from
// what the cni driver stored, and the one read pass.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allMarks, buildTopo } from '../../../src/see/topo.js';
import { renderTopoText } from '../../../src/see/render-text.js';
import { renderTopoSvg } from '../../../src/see/render-svg.js';
import { cniRecordOf, pluginTypes } from '../../../src/see/cni.js';
import { leftoverChecks } from '../../../src/see/checks.js';
import { parseFrom, parseTarget, renderWhy, why } from '../../../src/see/why.js';
import { readKernel } from '../../../src/see/read.js';
import { setRunner } from '../../../src/sys/exec.js';
import { realProbe, setHostProbe } from '../../../src/network/host.js';
import type { Snapshot } from '../../../src/see/snapshot.js';

const load = (): Snapshot => JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../fixtures/see/cni.snapshot.json'), 'utf8')) as Snapshot;
const NS = 'minid-61bb6a353f5b';
const VETH = 'vetha2d935d4';
const BR = 'mdtcnih1';
const checks = (s: Snapshot): string[] => allMarks(buildTopo(s)).map((m) => m.check);
const dropLink = (s: Snapshot, name: string): void => void (s.kernel.host.links = s.kernel.host.links.filter((l) => l.name !== name));
const dropInner = (s: Snapshot, name: string): void => void (s.kernel.netns[NS].links = s.kernel.netns[NS].links.filter((l) => l.name !== name));

afterEach(() => {
  setRunner(null);
  setHostProbe(null);
});

describe('the record of a CNI container (pure)', () => {
  it('plugin types: a list in call order with IPAM plugins after their owner; a single configuration; garbage', () => {
    const list = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge', ipam: { type: 'host-local' } }, { type: 'portmap' }] };
    expect(pluginTypes(JSON.stringify(list))).toEqual(['bridge', 'host-local', 'portmap']);
    expect(pluginTypes(JSON.stringify({ cniVersion: '0.4.0', name: 'n', type: 'macvlan', ipam: { type: 'dhcp' } }))).toEqual(['macvlan', 'dhcp']);
    expect(pluginTypes('not json')).toEqual([]);
    expect(pluginTypes(null)).toEqual([]);
  });

  it('the cached result wins over the state; a legacy result converts; IPv6 is left out', () => {
    const att = { netnsName: 'minid-abc', network: 'n', ports: [], cni: { name: 'n', result: { cniVersion: '0.2.0', ip4: { ip: '10.9.0.5/16', gateway: '10.9.0.1', routes: [{ dst: '0.0.0.0/0' }] } } } };
    const fromState = cniRecordOf(att, 'abc', 'c', 'eth0', null, null);
    expect(fromState).toMatchObject({ resultFrom: 'state', plugins: [], cniVersion: '0.2.0', interfaces: [], ips: [{ address: '10.9.0.5/16', gateway: '10.9.0.1' }], routes: [{ dst: '0.0.0.0/0' }] });
    const cached = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/run/netns/minid-abc' }],
      ips: [{ address: 'fd00::5/64', interface: 2 }, { address: '10.88.0.5/16', gateway: '10.88.0.1', interface: 2 }],
      routes: [{ dst: '::/0' }, { dst: '0.0.0.0/0', gw: '10.88.0.1' }],
    };
    const r = cniRecordOf(att, 'abc', 'c', 'eth0', cached, JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge', ipam: { type: 'host-local' } }] }));
    expect(r).toMatchObject({ resultFrom: 'cache', plugins: ['bridge', 'host-local'], cniVersion: '1.0.0', ips: [{ address: '10.88.0.5/16', interface: 2 }], routes: [{ dst: '0.0.0.0/0', gw: '10.88.0.1' }] });
    expect(r.interfaces.map((i) => i.name)).toEqual(['cni0', 'veth1', 'eth0']);
  });

  it('one read pass: the CNI container namespace is read with the others, by ip -n and ss -N, nothing else per container', async () => {
    const calls: string[] = [];
    setHostProbe({ ...realProbe, netnsList: async () => [NS], readSysctl: async () => '1' });
    setRunner(async (argv) => {
      calls.push(argv.join(' '));
      return { exitCode: 0, stdout: argv.includes('-j') ? '[]' : '', stderr: '' };
    });
    const rec = load().records;
    const k = await readKernel(rec);
    expect(Object.keys(k.netns)).toEqual([NS]);
    expect(calls.filter((c) => c.includes(NS)).sort()).toEqual([`ip -n ${NS} -j -4 route show`, `ip -n ${NS} -j -d addr show`, `ss -N ${NS} -H -ltunp`]);
  });
});

describe('minid topo with a CNI container', () => {
  it('draws it with its interface, address, the host bridge and veth the result names, labelled with the plugins; no marks when all agree', () => {
    const s = load();
    const t = buildTopo(s);
    expect(allMarks(t)).toEqual([]);
    expect(t.networks).toEqual([]);
    expect(t.cni).toHaveLength(1);
    const n = t.cni[0];
    expect(n).toMatchObject({ name: 'mhcni', label: 'CNI network mhcni (plugins: bridge, host-local, portmap)', cniVersion: '1.0.0', bridges: [{ name: BR, exists: true, up: true, addresses: ['10.231.77.1/24'] }] });
    expect(n.rules).toContain('the plugins own their rules (bridge, portmap): minid does not check them');
    expect(n.containers[0]).toMatchObject({
      container: 'c1', status: 'running', netns: { name: NS, exists: true }, bridge: BR, resultFrom: 'cache',
      interfaces: [{ name: 'eth0', exists: true, up: true, kind: 'veth', addresses: ['10.231.77.3/24'] }],
      hostEnd: { name: VETH, exists: true, up: true, master: BR, hairpin: true },
      expected: { addresses: ['10.231.77.3/24'], gateway: '10.231.77.1' },
      published: [{ protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 28555, containerPort: 80 }],
    });
    const text = renderTopoText(t);
    expect(text).toContain('└─ CNI network mhcni (plugins: bridge, host-local, portmap), cniVersion 1.0.0: the plugins made these links\n');
    expect(text).toContain(`      bridge ${BR} up 10.231.77.1/24  (named in the CNI result)\n`);
    expect(text).toContain(`      └─ ${VETH} up hairpin ══ virtual cable (veth) ══ eth0 10.231.77.3/24 up\n`);
    expect(text).toContain(`            netns ${NS}: container c1 (61bb6a353f5b) running\n`);
    expect(text).toContain('            published *:28555 -> 80/tcp (by the plugins\' rules)\n');
    expect(text).toContain("✓ the kernel matches minid's records");
    const svg = renderTopoSvg(t);
    expect(svg).toContain('CNI network mhcni (plugins: bridge, host-local, portmap)');
    expect(svg).toContain(`bridge ${BR} (made by the plugins) up 10.231.77.1/24`);
    expect(svg).toContain('container c1 (CNI)');
  });

  it('topo NAME: a CNI network alone; a network of minid\'s leaves the CNI ones out', () => {
    const s = load();
    expect(buildTopo(s, 'mhcni').cni.map((n) => n.name)).toEqual(['mhcni']);
    s.records.networks.push({ id: 'f'.repeat(64), name: 'bridge', driver: 'bridge', bridge: 'mtopo9', subnet: '10.177.40.0/24', gateway: '10.177.40.1', created: '' });
    expect(buildTopo(s, 'bridge').cni).toEqual([]);
  });

  it('its interface deleted inside the namespace (the host end goes with it): both marked, the fix is a restart; no route mark on top', () => {
    const s = load();
    dropInner(s, 'eth0');
    dropLink(s, VETH);
    s.kernel.netns[NS].routes = [];
    const t = buildTopo(s);
    expect(t.cni[0].marks.map((m) => [m.check, m.subject])).toEqual([['cni.interface.exists', `netns:${NS}/eth0`], ['cni.host.exists', `link:${VETH}`]]);
    expect(t.cni[0].marks[0]).toMatchObject({ found: `no eth0 in ${NS} (it has: lo)`, fix: "minid restart c1  (the plugins' DEL, then ADD: they make it again)" });
    expect(t.cni[0].containers[0].interfaces[0]).toMatchObject({ name: 'eth0', exists: false });
    const text = renderTopoText(t);
    expect(text).toContain(`${VETH} MISSING ✗2 ══ virtual cable (veth) ══ eth0 MISSING ✗1`);
    expect(text).toContain("Where the kernel and minid's records disagree (2):");
    expect(text).toContain("      fix:   minid restart c1  (the plugins' DEL, then ADD: they make it again)");
  });

  it("its address gone, the host veth down, the bridge gone: each marked with the command that repairs it", () => {
    const s = load();
    s.kernel.netns[NS].links.find((l) => l.name === 'eth0')!.addresses = [];
    expect(checks(s)).toEqual(['cni.address']);
    expect(allMarks(buildTopo(s))[0].fix).toBe(`ip -n ${NS} addr add 10.231.77.3/24 dev eth0`);
    const d = load();
    Object.assign(d.kernel.host.links.find((l) => l.name === VETH)!, { up: false, operstate: 'DOWN' });
    expect(allMarks(buildTopo(d)).map((m) => [m.check, m.fix])).toEqual([['cni.host.up', `ip link set ${VETH} up`]]);
    expect(renderTopoText(buildTopo(d))).toContain(`${VETH} DOWN hairpin ✗1 ══`);
    // The bridge deleted: still told by the result's order (bridge, host veth, container), though the kernel no longer knows its kind.
    const b = load();
    dropLink(b, BR);
    delete b.kernel.host.links.find((l) => l.name === VETH)!.master;
    const t = buildTopo(b);
    expect(t.cni[0].bridges).toEqual([{ name: BR, exists: false, up: false, operstate: 'ABSENT', addresses: [] }]);
    expect(allMarks(t).map((m) => [m.check, m.subject])).toEqual([['cni.host.exists', `link:${BR}`], ['cni.host.exists', `link:${VETH}`]]);
    expect(renderTopoText(t)).toContain(`bridge ${BR} MISSING ✗`);
  });

  it('its namespace name deleted while the container runs: the fix gives the name back; gone for good: a restart', () => {
    const s = load();
    s.kernel.netnsNames = [];
    delete (s.kernel.netns as Record<string, unknown>)[NS];
    const m = allMarks(buildTopo(s));
    expect(m.map((x) => x.check)).toEqual(['netns.exists']);
    expect(m[0].fix).toBe(`ip netns attach ${NS} 30922  (gives the container's namespace its name back)`);
    dropLink(s, VETH);
    const g = allMarks(buildTopo(s));
    expect(g.map((x) => x.check)).toEqual(['netns.exists', 'cni.host.exists']);
    expect(g[0].fix).toBe("the container lost its network: minid restart c1  (the plugins' DEL, then ADD: they make it again)");
  });

  it("a --network none or --cni container's namespace is no leftover; one no record holds is", () => {
    const s = load();
    s.records.cni = [];
    expect(leftoverChecks(s).map((c) => c.id)).toEqual([]); // records.namespaces holds it (the none endpoint)
    s.records.namespaces = [];
    expect(leftoverChecks(s).map((c) => [c.id, c.subject])).toEqual([['leftover.netns', `netns:${NS}`]]);
  });
});

describe('minid why with a CNI container', () => {
  it('checks what the result names and the app, and says the plugins own the rules', () => {
    const r = why(load(), parseTarget('c1:80'), parseFrom('host'));
    expect(r.cause).toBeNull();
    expect(r.path).toBe(`host -> 10.231.77.3:80 (routed to the plugins' ${BR}) -> ${BR} -> ${VETH} -> eth0 10.231.77.3:80`);
    expect(r.checks.map((c) => c.id)).toEqual(['container.running', 'netns.exists', 'cni.interface.exists', 'cni.interface.up', 'cni.host.exists', 'cni.host.up', 'cni.address', 'cni.default_route', 'cni.host.exists', 'cni.host.up', 'app.listening']);
    const text = renderWhy(r);
    expect(text).toContain('– c1 is on CNI network mhcni (plugins: bridge, host-local, portmap): the plugins own their rules (bridge, portmap)');
    expect(text).toMatch(/✓ every check on this path passes: c1:80\/tcp should answer from host \(the plugins' rules aside\)\n$/);
    expect(why(load(), parseTarget('c1:28555'), parseFrom('127.0.0.1')).path).toBe(`host -> 127.0.0.1:28555 -> the plugins' rules (bridge, host-local, portmap): DNAT -> ${BR} -> ${VETH} -> eth0 10.231.77.3:80`);
  });

  it('names the lowest failure with its fix: the deleted interface; an unpublished port from 127.0.0.1', () => {
    const s = load();
    dropInner(s, 'eth0');
    dropLink(s, VETH);
    const r = why(s, parseTarget('c1:80'), parseFrom('host'));
    expect(r.cause).toMatchObject({ id: 'cni.interface.exists', fix: "minid restart c1  (the plugins' DEL, then ADD: they make it again)" });
    // From itself (hairpin) and from a container with no network of its own.
    expect(why(load(), parseTarget('c1:80'), parseFrom('container:c1'))).toMatchObject({ pathKind: 'hairpin', cause: null });
    expect(() => why(load(), parseTarget('c1:80'), parseFrom('container:nosuch'))).toThrow('no container nosuch with a network of its own (minid ps lists them)');
    const l = why(load(), parseTarget('c1:81'), parseFrom('127.0.0.1'));
    expect(l.cause).toMatchObject({ id: 'port.published', ok: false });
    expect(l.cause!.fix).toContain('-p HOSTPORT:81');
  });
});
