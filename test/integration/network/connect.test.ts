// `minid network connect/disconnect` with real containers: c1 on network A and c2 on network B
// cannot talk (isolation); after `network connect B c1`, c1 has eth1 on B (and still its default
// route through A) and reaches c2 on B's address; after `network disconnect B c1` it cannot
// again. Refusals are one line, exit 1 (as docker's CLI), nothing changed. `network rm` is refused while a
// container is connected, and `rm -f` of a connected container releases everything. Afterwards
// the host's links, namespaces and rules are as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImages, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { freeSubnet, hostState, rand, run, sh, type HostState } from './helpers.js';

const R = rand();
const NET_A = `cna-${R}`;
const NET_B = `cnb-${R}`;
let store: Store;
let before: HostState;
/** id8 prefixes of the containers this file started (their netns and veths are named after them). */
const ids: string[] = [];
/** The bridges of its networks (mbr-<network id11>: the name is not in them). */
const bridges: string[] = [];
const mine = (t: string): boolean => t.includes(R) || ids.some((id) => t.includes(id.slice(0, 8))) || bridges.some((b) => t.includes(b));
const m = (args: string[]) => minid(store, args);

async function start(name: string, args: string[]): Promise<string> {
  const r = await m(['run', '-d', '--name', name, ...args]);
  expect(r.exitCode, r.stderr).toBe(0);
  const id = r.stdout.trim();
  ids.push(id);
  return id;
}
const inspect = async (name: string): Promise<any> => JSON.parse((await m(['inspect', name])).stdout)[0];
/** What c1 gets from IP:7000 (busybox nc in the container). */
const ask = async (from: string, ip: string): Promise<string> => (await m(['exec', from, 'nc', '-w', '2', ip, '7000'])).stdout;
const ns = (id: string): string => `minid-${id.slice(0, 12)}`;
const server = (name: string) => ['busybox', 'sh', '-c', `while true; do echo hello-from-${name} | nc -l -p 7000; done`];

beforeAll(async () => {
  requireRoot();
  store = makeStore('connect');
  store.env.MINID_BRIDGE_NAME = `mdc${R}0`;
  store.env.MINID_BRIDGE_SUBNET = freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`);
  before = hostState(mine);
  await loadImages(store, ['busybox']);
}, 120_000);

afterAll(async () => {
  // The networks first: a minid run after cleanup() would make the store's folder again.
  if (store) for (const net of [NET_A, NET_B]) await m(['network', 'rm', net]).catch(() => {});
  await store?.cleanup();
  expect(hostState(mine)).toEqual(before);
});

describe('network connect / disconnect with real containers', () => {
  it('c1 on A reaches c2 on B only while connected to B', async () => {
    const sa = freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`);
    const sb = freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`);
    expect((await m(['network', 'create', '--subnet', sa, NET_A])).exitCode).toBe(0);
    expect((await m(['network', 'create', '--subnet', sb, NET_B])).exitCode).toBe(0);
    for (const n of [NET_A, NET_B]) bridges.push(JSON.parse((await m(['network', 'inspect', n])).stdout)[0].Options['minid.bridge.name']);
    const id1 = await start('c1', ['--network', NET_A, ...server('c1')]);
    const id2 = await start('c2', ['--network', NET_B, ...server('c2')]);
    const ip1 = (Object.values((await inspect('c1')).NetworkSettings.Networks)[0] as any).IPAddress as string;
    const ip2 = (Object.values((await inspect('c2')).NetworkSettings.Networks)[0] as any).IPAddress as string;
    const gwA = (Object.values((await inspect('c1')).NetworkSettings.Networks)[0] as any).Gateway as string;
    await new Promise((res) => setTimeout(res, 300));
    // Isolated: A's container cannot reach B's (MINID-ISOLATION drops it at the host).
    expect(await ask('c1', ip2)).not.toContain('hello-from-c2');
    expect(await ask('c2', ip1)).not.toContain('hello-from-c1');

    // Connect: eth1 on B, the default route still through A.
    const c = await minid(store, ['network', 'connect', '--explain', NET_B, 'c1']);
    expect(c.exitCode, c.stderr).toBe(0);
    expect(c.stderr).toBe(''); // the explanation is the output: stdout
    expect(c.stdout).toMatch(new RegExp(`^# connect container c1 \\(${id1.slice(0, 12)}\\) to network "${NET_B}": eth1 `));
    expect(c.stdout).toContain(`ip link add mv${id1.slice(0, 8)}-`);
    const c1 = await inspect('c1');
    const nets = c1.NetworkSettings.Networks;
    expect(Object.keys(nets)).toEqual([NET_A, NET_B]);
    expect(nets[NET_B]).toMatchObject({ IPPrefixLen: 24 });
    expect(c1.Minid.Networks[NET_B]).toMatchObject({ InterfaceName: 'eth1', Connected: true }); // minid's own facts
    const ip1b = nets[NET_B].IPAddress as string;
    expect(sh(['ip', '-n', ns(id1), '-4', '-o', 'addr', 'show', 'dev', 'eth1'])).toContain(`${ip1b}/24`);
    expect(sh(['ip', '-n', ns(id1), 'route', 'show', 'default']).trim()).toBe(`default via ${gwA} dev eth0`);
    expect((await m(['exec', 'c1', 'cat', '/etc/hosts'])).stdout).toContain(`${ip1b}\t`);
    const onB = JSON.parse((await m(['network', 'inspect', NET_B])).stdout)[0].Containers;
    expect(Object.values(onB).map((x: any) => x.Name).sort()).toEqual(['c1', 'c2']);

    expect(await ask('c1', ip2)).toContain('hello-from-c2');
    // And back: c2 reaches c1 on its B address.
    expect(await ask('c2', ip1b)).toContain('hello-from-c1');

    // Disconnect: eth1 and the host end are gone, the hosts line too; isolated again.
    const d = await m(['network', 'disconnect', NET_B, 'c1']);
    expect(d.exitCode, d.stderr).toBe(0);
    expect((await run(['ip', '-n', ns(id1), 'link', 'show', 'eth1'])).code).not.toBe(0);
    expect(sh(['ip', '-br', 'link']).split('\n').filter((l) => l.startsWith(`mv${id1.slice(0, 8)}-`))).toEqual([]);
    expect((await m(['exec', 'c1', 'cat', '/etc/hosts'])).stdout).not.toContain(`${ip1b}\t`);
    expect(Object.keys((await inspect('c1')).NetworkSettings.Networks)).toEqual([NET_A]);
    expect(await ask('c1', ip2)).not.toContain('hello-from-c2');
    expect(await ask('c1', ip1)).toContain('hello-from-c1'); // its own network still works

    // Connected again with --ip; `network rm B` is refused while c1 is connected, even without c2.
    const ipFixed = sb.replace(/\.0\/24$/, '.77');
    expect((await m(['network', 'connect', '--ip', ipFixed, NET_B, 'c1'])).exitCode).toBe(0);
    expect(await ask('c1', ip2)).toContain('hello-from-c2');
    expect((await m(['rm', '-f', 'c2'])).exitCode).toBe(0);
    const rmB = await m(['network', 'rm', NET_B]);
    expect(rmB.exitCode).toBe(1); // docker's CLI: the daemon refused
    expect(rmB.stderr).toMatch(new RegExp(`network ${NET_B} has active endpoints \\(c1\\)`));

    // rm -f of a connected container releases its second interface too.
    expect((await m(['rm', '-f', 'c1'])).exitCode).toBe(0);
    expect(sh(['ip', '-br', 'link']).split('\n').filter((l) => l.startsWith(`mv${id1.slice(0, 8)}`) || l.startsWith(`mv${id2.slice(0, 8)}`))).toEqual([]);
    expect((await m(['network', 'rm', NET_A, NET_B])).exitCode).toBe(0);
  }, 120_000);

  it('refuses bad requests with one line, exit 1 (docker: the daemon refused), and changes nothing', async () => {
    const sa = freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`);
    expect((await m(['network', 'create', '--subnet', sa, NET_A])).exitCode).toBe(0);
    await start('r1', ['--network', NET_A, 'busybox', 'sleep', '60']);
    await start('h1', ['--network', 'host', 'busybox', 'sleep', '60']);
    await start('n1', ['--network', 'none', 'busybox', 'sleep', '60']);
    const stateBefore = hostState(mine);
    const cfgBefore = JSON.stringify(await inspect('r1'));
    for (const [args, re] of [
      [['network', 'connect', 'nosuchnet', 'r1'], /network nosuchnet not found/],
      [['network', 'connect', NET_A, 'nosuchctr'], /no such container: nosuchctr/],
      [['network', 'connect', NET_A, 'r1'], /container r1 is already connected to network/],
      [['network', 'connect', NET_A, 'h1'], /container h1 uses --network host/],
      [['network', 'connect', NET_A, 'n1'], /container n1 uses --network none/],
      [['network', 'connect', 'host', 'r1'], /only bridge networks can be connected/],
      [['network', 'connect', '--ip', '192.0.2.9', 'bridge', 'r1'], /outside the subnet/],
      [['network', 'disconnect', NET_A, 'r1'], /container r1 was run on network/],
      [['network', 'disconnect', NET_A, 'h1'], /not connected/],
    ] as [string[], RegExp][]) {
      const r = await m(args);
      expect(r.exitCode, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
    expect(JSON.stringify(await inspect('r1'))).toBe(cfgBefore);
    expect(hostState(mine)).toEqual(stateBefore);
    // Stopped: refused too.
    expect((await m(['stop', '-t', '0', 'r1'])).exitCode).toBe(0);
    const stopped = await m(['network', 'connect', 'bridge', 'r1']);
    expect(stopped.exitCode).toBe(1);
    expect(stopped.stderr).toMatch(/container r1 is not running/);
    expect((await m(['rm', '-f', 'r1', 'h1', 'n1'])).exitCode).toBe(0);
    expect((await m(['network', 'rm', NET_A])).exitCode).toBe(0);
  }, 60_000);
});
