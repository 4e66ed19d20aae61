// A crash half-way (kill -9 of minid, a power cut) must be recoverable: `minid system prune`
// compares minid's records with the kernel's objects and removes what was left behind.
// MINID_CRASH_AT makes minid SIGKILL itself at a named point, so the crash is repeatable.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadImages, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { freePort, freeSubnet, hostState, rand } from '../network/helpers.js';

const R = rand();
let store: Store;
const mine = (t: string) => t.includes(`mdt${R}`) || /minid-[0-9a-f]{12}/.test(t) || /^mv[0-9a-f]{8}$/.test(t) || /minid:([0-9a-f]{8}:)?bridge/.test(t);

beforeAll(async () => {
  requireRoot();
  store = makeStore('crash');
  store.env.MINID_BRIDGE_NAME = `mdt${R}0`;
  store.env.MINID_BRIDGE_SUBNET = freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`);
  await loadImages(store, ['busybox']);
});

afterAll(async () => {
  // The host as before minid: containers, the bridge, its rules and minid's chains go.
  const reset = await minid(store, ['system', 'reset']);
  expect(reset.exitCode, reset.stderr).toBe(0);
  await store?.cleanup();
  fs.rmSync(path.dirname(store.root), { recursive: true, force: true }); // teardown wrote locks there again
});

it.each(['network-batch', 'after-network'])('system prune recovers from a kill -9 at %s', async (point) => {
  const port = await freePort();
  const r = await minid(store, ['run', '-d', '-p', `${port}:80`, 'busybox', 'sleep', '60'], { env: { ...store.env, MINID_CRASH_AT: point } });
  expect(r.signal).toBe('SIGKILL');
  // Something was left: the container record, and its namespace (maybe its veth and rules)
  // unless the container's supervisor, which saw minid die before the go, has already
  // released them itself (its exit hook; a moment later on a quiet host, sooner on a busy one).
  const id = (await minid(store, ['ps', '-aq'])).stdout.trim();
  expect(id).toMatch(/^[0-9a-f]{12}$/);
  const p = await minid(store, ['system', 'prune']);
  expect(p.exitCode, p.stderr).toBe(0);
  expect(p.stdout).toMatch(/Deleted/);
  expect((await minid(store, ['ps', '-aq'])).stdout.trim()).toBe('');
  const after = hostState(mine);
  expect(after.netns).not.toContain(`minid-${id}`);
  expect(after.links).not.toContain(`mv${id.slice(0, 8)}`);
  expect(after.iptables.filter((l) => l.includes(`--dport ${port}`) || l.includes(id))).toEqual([]);
  // The address went back to the pool: no reservation is left (one file per reserved IP).
  const ipam = `${store.root}/ipam/bridge`;
  const reserved = fs.existsSync(ipam) ? fs.readdirSync(ipam).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
  expect(reserved).toEqual([]);
});

it.each([[[]], [['-d']]])('a Ctrl-C while the network is set up (run %j) undoes everything: exit 130, nothing left', async (flags) => {
  const port = await freePort();
  const env = { ...store.env, MINID_CRASH_AT: 'network-batch', MINID_CRASH_SIGNAL: 'SIGINT' };
  const r = await minid(store, ['run', '--rm', ...flags, '-p', `${port}:80`, 'busybox', 'true'], { env });
  expect(r.exitCode, r.stderr).toBe(130);
  expect(r.stderr.trim()).toMatch(/^minid: interrupted \(SIGINT\) before the container started; what was set up for it is undone$/);
  expect(r.stdout).toBe('');
  // Nothing for `system prune` to find.
  expect((await minid(store, ['ps', '-aq'])).stdout.trim()).toBe('');
  const after = hostState(mine);
  expect(after.iptables.filter((l) => l.includes(`--dport ${port}`))).toEqual([]);
  const ipam = `${store.root}/ipam/bridge`;
  expect(fs.existsSync(ipam) ? fs.readdirSync(ipam).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : []).toEqual([]);
  const p = await minid(store, ['system', 'prune']);
  expect(p.stdout).not.toMatch(/Deleted/);
});
