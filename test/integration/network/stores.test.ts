// Two stores side by side on one host (two MINID_ROOT/MINID_RUN pairs, as tests and the users
// of one workshop machine have), each with networks of the same names: the default "bridge"
// (each on its own bridge and subnet) and a user network "front". Each runs nginx on both,
// with published ports. Then one store does everything that removes or re-creates kernel
// objects (run --dry-run's "stale rules" plan, network rm, network prune, system prune,
// system reset, setting its networks up again), and the other store's rules, bridges,
// namespaces and containers stay as they were (not even re-created: rule counters only grow,
// bridges and namespaces keep their ifindex and inode), and its published ports still serve.
// Then the same the other way round. A third store that names the first one's bridge in
// MINID_BRIDGE_NAME is refused with one line.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, loadImages, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { curl, freePort, freeSubnet, hostState, rand, sh, type HostState } from './helpers.js';

const R = rand();

interface Side {
  label: string;
  store: Store;
  /** The store's identity (MINID_ROOT/store-id), made by its first command. */
  id: string;
  /** Its default bridge and the bridge of its network "front". */
  bridges: string[];
  /** Full ids of its running containers. */
  containers: string[];
  /** Published host ports, each served by nginx. */
  ports: number[];
}

let A: Side;
let B: Side;
let before: HostState;
const sides = (): Side[] => [A, B].filter(Boolean);
/** This file's objects: its bridges, its stores' rules, its containers' namespaces and veths. */
const mine = (t: string): boolean =>
  t.includes(R) ||
  sides().some((s) => (s.id && t.includes(`minid:${s.id}:`)) || s.bridges.some((b) => t.includes(b)) || s.containers.some((c) => t.includes(c.slice(0, 8))));

function side(label: string): Side {
  const store = makeStore(`st${label}`);
  store.env.MINID_BRIDGE_NAME = `ms${label}${R}0`;
  store.env.MINID_BRIDGE_SUBNET = freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`);
  return { label, store, id: '', bridges: [store.env.MINID_BRIDGE_NAME], containers: [], ports: [] };
}

const m = (s: Side, args: string[]) => minid(s.store, args);
async function ok(s: Side, args: string[]): Promise<string> {
  const r = await m(s, args);
  expect(r.exitCode, `${s.label}: minid ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}
const storeId = (s: Side): string => fs.readFileSync(path.join(s.store.root, 'store-id'), 'utf8').trim();
const bridgeOf = async (s: Side, net: string): Promise<string> => JSON.parse(await ok(s, ['network', 'inspect', net]))[0].Options['minid.bridge.name'];

/** Network "front" and nginx on both networks, published; waits until both ports serve. */
async function populate(s: Side): Promise<void> {
  await ok(s, ['network', 'create', '--subnet', freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`), 'front']);
  s.bridges = [s.store.env.MINID_BRIDGE_NAME, await bridgeOf(s, 'front')];
  s.containers = [];
  s.ports = [];
  for (const [name, net] of [['web', 'bridge'], ['fweb', 'front']]) {
    const port = await freePort();
    s.containers.push((await ok(s, ['run', '-d', '--name', name, '--network', net, '-p', `${port}:80`, 'nginx'])).trim());
    s.ports.push(port);
  }
  s.id = storeId(s); // made by the first command that needed it
  await serves(s);
}

/** Every published port of the store answers with nginx's page (and counts in its DNAT rule). */
async function serves(s: Side): Promise<void> {
  for (const port of s.ports) await eventually(async () => expect(await curl(`http://127.0.0.1:${port}/`)).toMatch(/Welcome to nginx/), 15_000, 200);
}

interface Snap {
  /** The store's iptables rules (by their text) and their packet counters. */
  rules: Map<string, number>;
  /** Its bridges: ifindex and alias (a re-created bridge gets a new ifindex). */
  links: Record<string, string>;
  /** Its containers' namespaces: inode (a re-created one gets a new inode). */
  netns: Record<string, number>;
}

function snap(s: Side): Snap {
  const rules = new Map<string, number>();
  for (const line of sh(['iptables-save', '-c']).split('\n')) {
    const m = /^\[(\d+):\d+\] (.*)$/.exec(line);
    if (m && m[2].includes(`minid:${s.id}:`)) rules.set(m[2], Number(m[1]));
  }
  const links: Record<string, string> = {};
  for (const b of s.bridges) {
    const [l] = JSON.parse(sh(['ip', '-j', 'link', 'show', 'dev', b])) as { ifindex: number; ifalias?: string }[];
    links[b] = `${l.ifindex} ${fs.readFileSync(`/sys/class/net/${b}/ifalias`, 'utf8').trim()}`;
  }
  const netns: Record<string, number> = {};
  for (const c of s.containers) netns[c.slice(0, 12)] = fs.statSync(`/run/netns/minid-${c.slice(0, 12)}`).ino;
  return { rules, links, netns };
}

/** The witness's objects are all there, unchanged and not re-created, and its ports still serve. */
async function intact(w: Side, was: Snap, after: string): Promise<Snap> {
  const now = snap(w);
  expect([...now.rules.keys()].sort(), `${w.label}'s rules after ${after}`).toEqual([...was.rules.keys()].sort());
  for (const [rule, n] of was.rules) expect(now.rules.get(rule)!, `counter of ${rule} after ${after}`).toBeGreaterThanOrEqual(n);
  expect(now.links, `${w.label}'s bridges after ${after}`).toEqual(was.links);
  expect(now.netns, `${w.label}'s namespaces after ${after}`).toEqual(was.netns);
  await serves(w);
  return snap(w);
}

/** Text that would name the witness's objects. */
const namesOf = (w: Side): RegExp => new RegExp([`minid:${w.id}:`, ...w.bridges, ...w.containers.map((c) => c.slice(0, 12))].join('|'));

/** Everything in `actor` that removes or re-creates kernel objects; `witness` must not notice. */
async function exercise(actor: Side, witness: Side): Promise<void> {
  await serves(witness); // traffic: its DNAT and MASQUERADE rules count, so a re-created rule shows
  let was = snap(witness);
  expect(was.rules.size).toBeGreaterThanOrEqual(16); // 2 networks x 7 rules + 2 per published port
  expect([...was.rules.values()].some((n) => n > 0)).toBe(true);

  // network rm: refused while a container uses it; then removes the actor's "front" only.
  const refused = await m(actor, ['network', 'rm', 'front']);
  expect(refused.exitCode).toBe(1); // docker's CLI: the daemon refused
  expect(refused.stderr.trim()).toMatch(/^minid: network front has active endpoints \(fweb\)/);
  await ok(actor, ['rm', '-f', 'fweb']);
  const rm = await m(actor, ['network', 'rm', 'front']);
  expect(rm.exitCode, rm.stderr).toBe(0);
  expect(fs.existsSync(`/sys/class/net/${actor.bridges[1]}`)).toBe(false);
  was = await intact(witness, was, `${actor.label}: network rm front`);

  // network prune: a new (unused) "front" of the actor goes, the witness's "front" stays.
  await ok(actor, ['network', 'create', '--subnet', freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`), 'front']);
  expect((await ok(actor, ['network', 'prune'])).trim()).toBe('Deleted Networks:\nfront');
  was = await intact(witness, was, `${actor.label}: network prune`);

  // system prune: a stopped container and what it set up go; nothing of the witness's.
  await ok(actor, ['run', '--name', 'gone', '-p', `${await freePort()}:80`, 'busybox', 'true']);
  const pruned = await ok(actor, ['system', 'prune']);
  expect(pruned).toMatch(/^Deleted container gone$/m);
  expect(pruned).not.toMatch(namesOf(witness));
  was = await intact(witness, was, `${actor.label}: system prune`);

  // system reset: says which store it resets, removes the actor's bridge and rules only.
  const reset = await ok(actor, ['system', 'reset']);
  expect(reset.split('\n')[0]).toBe(`Resetting store ${actor.store.root} (store id ${actor.id}): its containers, bridges and rules; other stores' stay`);
  expect(reset).not.toMatch(namesOf(witness));
  expect(fs.existsSync(`/sys/class/net/${actor.bridges[0]}`)).toBe(false);
  expect(sh(['iptables-save'])).not.toContain(`minid:${actor.id}:`);
  was = await intact(witness, was, `${actor.label}: system reset`);

  // Setting "bridge" up again plans the removal of stale rules of network "bridge": its own only.
  const port = await freePort();
  const dry = await m(actor, ['run', '--dry-run', '-p', `${port}:80`, 'nginx']);
  expect(dry.exitCode, dry.stderr).toBe(0);
  expect(dry.stdout).toContain(`ip link set ${actor.bridges[0]} alias minid:${actor.id}:bridge`); // the plan: stdout
  expect(dry.stdout).not.toContain('remove stale rules');
  expect(dry.stdout).not.toMatch(namesOf(witness));
  // ...and does it, for real, next to the witness's network of the same name.
  await ok(actor, ['run', '-d', '--name', 'again', '-p', `${port}:80`, 'nginx']);
  await eventually(async () => expect(await curl(`http://127.0.0.1:${port}/`)).toMatch(/Welcome to nginx/), 15_000, 200);
  was = await intact(witness, was, `${actor.label}: run again`);
  await ok(actor, ['system', 'reset']);
  await intact(witness, was, `${actor.label}: second system reset`);
  actor.containers = [];
  actor.ports = [];
}

beforeAll(async () => {
  requireRoot();
  A = side('a');
  B = side('b');
  before = hostState(mine);
  await Promise.all([loadImages(A.store), loadImages(B.store)]);
}, 180_000);

afterAll(async () => {
  for (const s of sides()) await s.store.cleanup(); // rm -f of its containers, system reset, its folder
  expect(hostState(mine)).toEqual(before);
}, 120_000);

describe('two stores side by side, networks of the same names', () => {
  it("two stores setting up their first networks at the same moment create minid's shared chains once, and the last one out removes them", async () => {
    // minid's chains and the jumps into them are the host's, shared by every store: whoever
    // sets up the host's first minid network adds them, whoever removes its last one deletes
    // them. Both decisions are taken under a host-wide lock (sys/lock.ts withHostLock).
    const once = (save: string, re: RegExp): number => save.split('\n').filter((l) => re.test(l)).length;
    for (let round = 0; round < 3; round++) {
      const subnets = [A, B].map(() => freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`));
      await Promise.all([A, B].map((s, i) => ok(s, ['network', 'create', '--subnet', subnets[i], `race${R}`])));
      const ids = await Promise.all([A, B].map(async (s) => (await ok(s, ['run', '-d', '--network', `race${R}`, 'busybox', 'sleep', '60'])).trim()));
      const save = sh(['iptables-save']);
      expect(once(save, /^-A INPUT .*-j MINID-INPUT$/), save).toBe(1);
      expect(once(save, /^-A FORWARD .*-j MINID-FORWARD$/), save).toBe(1);
      expect(once(save, /^-A PREROUTING .*-j MINID-DNAT$/), save).toBe(1);
      expect(once(save, /^-A MINID-INPUT -d 127\.0\.0\.0\/8 .*-j DROP$/), save).toBe(1);
      await Promise.all([A, B].map((s, i) => ok(s, ['rm', '-f', ids[i]])));
      await Promise.all([A, B].map((s) => ok(s, ['network', 'rm', `race${R}`])));
    }
  }, 180_000);

  it("a fresh store's dry run plans nothing of the other store's network of the same name", async () => {
    await populate(A);
    await ok(B, ['network', 'create', '--subnet', freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`), 'front']);
    try {
      for (const net of ['bridge', 'front']) {
        const r = await m(B, ['run', '--dry-run', '--network', net, '-p', `${await freePort()}:80`, 'nginx']);
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stdout).toContain('create the bridge');
        expect(r.stdout).not.toContain('remove stale rules');
        expect(r.stdout).not.toMatch(namesOf(A));
      }
    } finally {
      await ok(B, ['network', 'rm', 'front']);
    }
  }, 120_000);

  it("B's network rm, network prune, system prune and system reset leave A's objects and ports alone", async () => {
    await populate(B);
    expect(B.id).not.toBe(A.id);
    // The same names in both stores, on different bridges.
    expect(new Set([...A.bridges, ...B.bridges]).size).toBe(4);
    await exercise(B, A);
  }, 240_000);

  it('and the other way round', async () => {
    await populate(B);
    await exercise(A, B);
  }, 240_000);

  it("a third store on the first one's bridge name is refused with one line", async () => {
    const C = side('c');
    C.store.env.MINID_BRIDGE_NAME = B.bridges[0];
    try {
      const was = snap(B);
      const r = await m(C, ['run', '--dry-run', '-p', `${await freePort()}:80`, 'nginx']);
      expect(r.exitCode).toBe(125);
      expect(r.stderr.trim().split('\n').pop()).toBe(
        `minid: bridge ${B.bridges[0]} belongs to network "bridge" of another minid store (store id ${B.id}), not to network "bridge" of this store (${C.store.root}, store id ${storeId(C)}): give this store a bridge of its own: set MINID_BRIDGE_NAME (and MINID_BRIDGE_SUBNET) for it`,
      );
      await intact(B, was, 'a third store on its bridge name');
    } finally {
      fs.rmSync(path.dirname(C.store.root), { recursive: true, force: true });
    }
  }, 60_000);
});
