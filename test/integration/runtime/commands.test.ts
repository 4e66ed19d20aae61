// Commands through the CLI as a user types them (bin/minid, with a store of its own), each
// output checked the way a user reads it, and against the host where it makes a claim about it:
// kill, run -i with piped stdin, --dry-run, pull from a registry on 127.0.0.1, image inspect,
// network ls, network inspect --diagram, network check, network prune. Root; CI runs it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, eventually, imagesDir, loadImages, makeStore, minid, mountsUnder, requireRoot, type Store } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';
import { freePort } from '../network/helpers.js';
import { httpAddr, skopeoPush, startRegistry, stopAll } from '../../fixtures/registry/servers.js';

let store: Store;
let work: string;
const procs: ChildProcess[] = [];
const m = (args: string[], opts = {}) => minid(store, args, opts);
const R = Math.random().toString(16).slice(2, 6);
const sh = async (script: string) => execa('sh', ['-c', script], { env: { ...process.env, ...store.env }, reject: false, timeout: 60_000 });
const out = async (args: string[]): Promise<string> => {
  const r = await m(args);
  if (r.exitCode !== 0) throw new Error(`minid ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return String(r.stdout);
};
const storeId = (): string => fs.readFileSync(path.join(store.root, 'store-id'), 'utf8').trim();
const ipJson = async (args: string[]): Promise<{ ifname: string }[]> => JSON.parse(String((await execa('ip', ['-j', ...args])).stdout || '[]'));

beforeAll(async () => {
  requireRoot();
  store = makeStore('cmds');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-cmds-work-'));
  await loadImages(store, ['busybox']);
});

afterAll(async () => {
  await stopAll(procs);
  await store?.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
  expect(mountsUnder(store.root)).toEqual([]);
});

describe('kill', () => {
  it("sends the signal to PID 1: its trap runs, and the container's exit code is the trap's", async () => {
    const trap = 'trap "echo got USR1; exit 7" USR1; echo ready; while :; do sleep 0.1; done';
    expect((await m(['run', '-d', '--name', `trap-${R}`, '--network', 'none', 'busybox', 'sh', '-c', trap])).exitCode).toBe(0);
    await eventually(async () => expect(await out(['logs', `trap-${R}`])).toBe('ready'));
    const k = await m(['kill', '-s', 'USR1', `trap-${R}`]);
    expect([k.exitCode, k.stdout, k.stderr]).toEqual([0, `trap-${R}`, '']); // docker prints the name given
    expect((await out(['wait', `trap-${R}`])).trim()).toBe('7');
    expect(await out(['logs', `trap-${R}`])).toBe('ready\ngot USR1');
    const [ins] = JSON.parse(await out(['inspect', `trap-${R}`]));
    expect([ins.State.Status, ins.State.ExitCode]).toEqual(['exited', 7]);
    expect((await out(['ps', '-a'])).split('\n').find((l) => l.endsWith(`trap-${R}`))).toMatch(/ Exited \(7\) /);
  });

  it('sends SIGKILL by default (exit 137); a signal by number works too', async () => {
    const id = (await out(['run', '-d', '--network', 'none', 'busybox', 'sleep', '600'])).trim();
    expect((await out(['kill', id.slice(0, 12)])).trim()).toBe(id.slice(0, 12));
    expect((await out(['wait', id])).trim()).toBe('137');
    const trap = 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done';
    const id2 = (await out(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', trap])).trim();
    await eventually(async () => expect(await out(['logs', id2])).toBe('ready'));
    expect((await m(['kill', '--signal', '15', id2])).exitCode).toBe(0);
    expect((await out(['wait', id2])).trim()).toBe('42');
    expect((await m(['rm', id, id2])).exitCode).toBe(0);
  });

  it('refuses a stopped container, a missing one and a bad signal in one line each (exit 1), as docker refuses them', async () => {
    // Docker: "Cannot kill container: NAME: Container ID is not running", and its CLI exits 1.
    const stopped = await m(['kill', `trap-${R}`]);
    expect([stopped.exitCode, stopped.stdout, stopped.stderr]).toEqual([1, '', `minid: container trap-${R} is not running`]);
    const missing = await m(['kill', `nosuch-${R}`]);
    expect([missing.exitCode, missing.stderr]).toEqual([1, `minid: no such container: nosuch-${R} (see \`minid ps -a\`)`]);
    const id = (await out(['run', '-d', '--network', 'none', 'busybox', 'sleep', '600'])).trim();
    const bad = await m(['kill', '-s', 'NOPE', id]);
    expect([bad.exitCode, bad.stdout, bad.stderr]).toEqual([1, '', 'minid: invalid signal "NOPE": use a name like SIGTERM or a number']);
    expect(JSON.parse(await out(['inspect', id]))[0].State.Status).toBe('running'); // nothing was sent
    // Several: each one that can be killed is, the others are said, and the exit code says so.
    const both = await m(['kill', id, `nosuch-${R}`]);
    expect([both.exitCode, both.stdout, both.stderr]).toEqual([1, id, `minid: no such container: nosuch-${R} (see \`minid ps -a\`)`]);
    expect((await out(['wait', id])).trim()).toBe('137');
    expect((await m(['rm', id, `trap-${R}`])).exitCode).toBe(0);
  });
});

describe('run -i with stdin from a pipe (the Node start path)', () => {
  it('`echo hi | minid run -i --rm busybox cat` prints hi, and the container is gone', async () => {
    const before = await out(['ps', '-aq']);
    const r = await sh(`echo hi | ${cli} run -i --rm busybox cat`);
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, 'hi', '']);
    expect(await out(['ps', '-aq'])).toBe(before);
  });

  it('carries a megabyte whole, ends at EOF, and gives back the exit code', async () => {
    const file = path.join(work, 'in.bin');
    fs.writeFileSync(file, crypto.randomBytes(1 << 20));
    const sum = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const r = await sh(`cat ${file} | ${cli} run -i --rm --network none busybox sha256sum`);
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, `${sum}  -`, '']);
    const code = await sh(`printf 'one\\ntwo\\n' | ${cli} run -i --rm --network none busybox sh -c 'while read l; do echo "got $l"; done; exit 3'`);
    expect([code.exitCode, code.stdout]).toEqual([3, 'got one\ngot two']);
  });

  it('without -i the container gets no stdin, as with docker', async () => {
    const r = await sh(`echo hi | ${cli} run --rm --network none busybox cat`);
    expect([r.exitCode, r.stdout]).toEqual([0, '']);
  });
});

describe('--dry-run', () => {
  /** What a run could change: this store's links, namespaces, rules, records, containers. */
  async function snapshot(names: string[]) {
    const mine = (s: string): boolean => names.some((n) => s.includes(n));
    const links = (await ipJson(['link', 'show'])).map((l) => l.ifname).filter(mine).sort();
    const netns = (fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : []).filter(mine).sort();
    const rules = String((await execa('iptables-save')).stdout).split('\n').filter(mine).sort();
    const files = String((await execa('find', [store.root, store.run, '-not', '-path', '*/locks*'])).stdout).split('\n').sort();
    return { links, netns, rules, files, ps: await out(['ps', '-aq']) };
  }

  /** Dry-run a container with -p PORT:80 on `net`: the plan, checked; what it names, not on the host. */
  async function dryRun(net: string, port: number, userBridge?: string): Promise<void> {
    const r = await m(['run', '--dry-run', '--name', `dry-${R}`, '--network', net, '-p', `${port}:80`, 'busybox', 'true']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stderr).toBe(''); // the plan is the output (stdout, to pipe into a file); the container never ran
    const plan = String(r.stdout);
    expect(plan).toContain('(dry run: nothing is changed)');
    expect(plan).toMatch(/^ip netns add minid-0{12}$/m);
    expect(plan).toMatch(/^ip link add mv00000000 .*type veth peer name eth0 .*netns minid-0{12}$/m);
    expect(plan).toMatch(new RegExp(`^iptables -t nat -A MINID-DNAT -p tcp -m tcp --dport ${port} .* -j DNAT --to-destination [0-9.]+:80$`, 'm'));
    // A network no container has joined yet: its bridge and its DNS server are in the plan.
    if (userBridge) expect(plan).toMatch(new RegExp(`^ip link add ${userBridge} .*type bridge$`, 'm'));
    if (userBridge) expect(plan).toMatch(/dnsmasq would start/);
    const made = [...plan.matchAll(/^ip (?:netns|link) add (\S+)/gm)].map((x) => x[1]);
    expect(made.filter((n) => n !== store.env.MINID_BRIDGE_NAME)).toEqual(['minid-000000000000', ...(userBridge ? [userBridge] : []), 'mv00000000']);
    const now = await snapshot(made);
    expect([now.links, now.netns]).toEqual([[], []]);
  }

  it('prints the plan and changes nothing: no link, namespace, rule, record or container', async () => {
    const netName = `dry${R}`;
    await out(['network', 'create', '--subnet', freeSubnet((a, b) => `10.${150 + a}.${b}.0/24`), netName]);
    try {
      const port = await freePort();
      const userBridge = JSON.parse(await out(['network', 'inspect', netName]))[0].Options['minid.bridge.name'] as string;
      // This store's objects only: other stores on this host come and go meanwhile.
      const state = () => snapshot([storeId(), store.env.MINID_BRIDGE_NAME, userBridge, 'minid-000000000000', 'mv00000000', `--dport ${port} `]);
      const was = await state();
      await dryRun(netName, port, userBridge);
      await dryRun('bridge', port); // up: earlier tests ran on it
      expect(await state()).toEqual(was);
    } finally {
      expect((await m(['network', 'rm', netName])).exitCode).toBe(0);
    }
  });
});

describe('pull, then image inspect', () => {
  let host = '';
  let ref = ''; // busybox, whose content the store has (loaded as busybox:latest)
  const digests: Record<string, string> = {};
  beforeAll(async () => {
    // A registry of our own on 127.0.0.1, on a free port of 19600-19649, with busybox and nginx pushed by skopeo.
    let port = 0;
    for (const p of [...Array(50).keys()].map((i) => 19600 + i).sort(() => Math.random() - 0.5)) {
      const free = await new Promise<boolean>((resolve) => {
        const s = net.createServer().once('error', () => resolve(false));
        s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
      });
      if (free) {
        port = p;
        break;
      }
    }
    if (!port) throw new Error('no free port in 19600-19649 for the test registry');
    procs.push((await startRegistry(work, 'cmds', port, httpAddr(port))).proc);
    host = `127.0.0.1:${port}`;
    ref = `${host}/library/busybox`;
    for (const name of ['busybox', 'nginx']) {
      await skopeoPush(path.join(imagesDir, name), 'latest', `${host}/library/${name}:latest`);
      const res = await fetch(`http://${host}/v2/library/${name}/manifests/latest`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
      digests[name] = res.headers.get('docker-content-digest') ?? '';
      expect(digests[name]).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
  }, 120_000);

  it("pulls through the CLI, prints docker's lines, and the image runs", async () => {
    const nginx = `${host}/library/nginx`;
    const r = await m(['pull', nginx]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const lines = String(r.stdout).split('\n');
    expect(lines[0]).toBe('Using default tag: latest');
    expect(lines.slice(-3)).toEqual([`Digest: ${digests.nginx}`, `Status: Downloaded newer image for ${nginx}:latest`, `${nginx}:latest`]);
    expect(await out(['images'])).toMatch(new RegExp(`^${nginx.replace(/\./g, '\\.')} +latest +[0-9a-f]{12} `, 'm'));
    const v = await m(['run', '--rm', '--network', 'none', nginx, 'nginx', '-v']);
    expect([v.exitCode, v.stderr]).toEqual([0, expect.stringMatching(/^nginx version: nginx\//)]);
    // Again: nothing to download. -q: the reference only.
    const again = await m(['pull', nginx]);
    expect(String(again.stdout).split('\n').slice(-2)).toEqual([`Status: Image is up to date for ${nginx}:latest`, `${nginx}:latest`]);
    expect(await out(['pull', '-q', `${nginx}:latest`])).toBe(`${nginx}:latest`);
  });

  it('a pull whose content the store has under another name says so of the reference pulled', async () => {
    const r = await m(['pull', ref]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    // (It named the image's first name, busybox:latest.)
    expect(String(r.stdout).split('\n').slice(-2)).toEqual([`Status: Image is up to date for ${ref}:latest`, `${ref}:latest`]);
    expect((await out(['run', '--rm', '--network', 'none', ref, 'echo', 'pulled'])).trim()).toBe('pulled');
  });

  it("image inspect prints docker's JSON: Id, RepoTags, RepoDigests, Config, RootFS.Layers", async () => {
    // What the image is, from its OCI layout: its config blob.
    const layout = path.join(imagesDir, 'busybox');
    const blob = (d: string) => JSON.parse(fs.readFileSync(path.join(layout, 'blobs', 'sha256', d.slice(7)), 'utf8'));
    const manifest = blob(JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')).manifests[0].digest);
    const config = blob(manifest.config.digest);
    const list = JSON.parse(await out(['image', 'inspect', ref]));
    expect(list).toHaveLength(1);
    const img = list[0];
    expect(img.Id).toBe(manifest.config.digest);
    expect(img.RepoTags).toContain(`${ref}:latest`);
    expect(img.RepoTags).toContain('busybox:latest'); // loaded under that name: the same image
    expect(img.RepoDigests).toContain(`${ref}@${digests.busybox}`);
    expect(img.Config.Cmd).toEqual(config.config.Cmd);
    expect(img.Config.Env).toEqual(config.config.Env);
    expect(img.RootFS).toEqual({ Type: 'layers', Layers: config.rootfs.diff_ids });
    expect([img.Architecture, img.Os]).toEqual([config.architecture, config.os]);
    expect(img.Size).toBeGreaterThan(0);
    // The short id `images` shows, and `image inspect` by it; two references, two entries.
    const short = img.Id.slice(7, 19);
    expect(await out(['images', '-q'])).toContain(short);
    expect(JSON.parse(await out(['image', 'inspect', short, 'busybox'])).map((i: { Id: string }) => i.Id)).toEqual([img.Id, img.Id]);
    const missing = await m(['image', 'inspect', `nope${R}`]);
    // As docker: an empty JSON array on stdout, the error on stderr, exit 1.
    expect([missing.exitCode, missing.stdout, missing.stderr]).toEqual([1, '[]', `minid: no such image: nope${R}`]);
  });
});

describe('network ls, inspect --diagram, prune', () => {
  const used = `used${R}`;
  const empty = `empty${R}`;

  it('network ls lists the built-in networks and the ones created, with their ids', async () => {
    const subnet = freeSubnet((a, b) => `10.${150 + a}.${b}.0/24`);
    const id = (await out(['network', 'create', '--subnet', subnet, used])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    await out(['network', 'create', '--subnet', freeSubnet((a, b) => `10.${150 + a}.${b}.0/24`), empty]);
    const lines = (await out(['network', 'ls'])).split('\n');
    expect(lines[0]).toMatch(/^NETWORK ID +NAME +DRIVER +SCOPE$/);
    const rows = lines.slice(1).map((l) => l.split(/ {2,}/));
    expect(rows.map((r) => r[1])).toEqual(['bridge', empty, 'host', 'none', used]); // by name
    expect(rows.find((r) => r[1] === used)).toEqual([id.slice(0, 12), used, 'bridge', 'local']);
    expect(rows.find((r) => r[1] === 'none')!.slice(2)).toEqual(['null', 'local']);
    expect((await out(['network', 'ls', '-q'])).split('\n')).toEqual(rows.map((r) => r[0]));
    expect((await out(['network', 'ls', '--no-trunc'])).split('\n').find((l) => l.includes(used))).toMatch(new RegExp(`^${id} +${used} `));
  });

  it('network inspect --diagram draws what the kernel holds: bridge, veth pair, namespace, address, port, DNAT', async () => {
    const port = await freePort();
    const cid = (await out(['run', '-d', '--name', `web-${R}`, '--network', used, '-p', `${port}:80`, 'busybox', 'sleep', '600'])).trim();
    const [netJson] = JSON.parse(await out(['network', 'inspect', used]));
    const bridge = netJson.Options['minid.bridge.name'] as string;
    const ip = (netJson.Containers[cid].IPv4Address as string).split('/')[0];
    const gw = netJson.IPAM.Config[0].Gateway as string;
    // The same drawing as `minid topo NETWORK` (see/): read from the kernel, not minid's records.
    const d = await out(['network', 'inspect', '--diagram', used]);
    const id12 = cid.slice(0, 12);
    const re = (x: string) => x.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    expect(d).toContain(`bridge ${bridge} up ${gw}/24  virtual switch of network "${used}" (id ${netJson.Id.slice(0, 12)}) ${netJson.IPAM.Config[0].Subnet}, gateway ${gw}`);
    expect(d).toMatch(new RegExp(`mv${cid.slice(0, 8)} up hairpin ══ virtual cable \\(veth\\) ══ eth0 ${re(ip)}/24 up`));
    expect(d).toContain(`netns minid-${id12}: container web-${R} (${id12}) running`);
    expect(d).toContain(`published *:${port} -> 80/tcp`);
    expect(d).toMatch(new RegExp(`nat MINID-DNAT +\\d+ +\\d+  -p tcp -m tcp --dport ${port} -j DNAT --to-destination ${re(ip)}:80   \\(container web-${R}\\)`));
    // sleep serves nothing: the one disagreement is the app missing behind the published port.
    expect(d).toContain(`found: nothing listens on tcp port 80`);
    // ... and each of those is true on the host.
    const br = JSON.parse(String((await execa('ip', ['-j', 'addr', 'show', 'dev', bridge])).stdout))[0];
    expect(br.addr_info.map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`)).toContain(`${gw}/24`);
    expect(String((await execa('ip', ['-o', 'link', 'show', `mv${cid.slice(0, 8)}`])).stdout)).toContain(`master ${bridge}`);
    expect(String((await execa('ip', ['-n', `minid-${id12}`, '-br', 'addr', 'show', 'eth0'])).stdout)).toContain(`${ip}/24`);
    expect(String((await execa('iptables-save', ['-t', 'nat'])).stdout)).toMatch(new RegExp(`--dport ${port} .*-j DNAT --to-destination ${ip.replace(/\./g, '\\.')}:80`));
    // A network no container joined yet: the diagram says its bridge is not there yet.
    expect(await out(['network', 'inspect', '--diagram', empty])).toMatch(/not set up yet/);
  });

  it('network check asks each attachment\'s driver: passes while it is in place, names what is gone (exit 1)', async () => {
    const ok = await m(['network', 'check', `web-${R}`]);
    expect([ok.exitCode, ok.stdout]).toEqual([0, `web-${R}: bridge attachment to "${used}" passed`]);
    const lone = (await out(['run', '-d', '--name', `lone-${R}`, '--network', 'none', 'busybox', 'sleep', '600'])).trim();
    try {
      expect(await out(['network', 'check', `lone-${R}`])).toBe(`lone-${R}: none attachment passed`);
      // Its namespace deleted by hand (the processes keep it alive, the name is gone): the check says so.
      await execa('ip', ['netns', 'del', `minid-${lone.slice(0, 12)}`]);
      const bad = await m(['network', 'check', `lone-${R}`]);
      expect([bad.exitCode, bad.stdout]).toEqual([1, '']);
      expect(String(bad.stderr).trim()).toBe(`minid: lone-${R}: none attachment: the network namespace /run/netns/minid-${lone.slice(0, 12)} is gone`);
    } finally {
      expect((await m(['rm', '-f', `lone-${R}`])).exitCode).toBe(0);
    }
  });

  it('network prune removes the networks no container uses, with their bridge and rules, and keeps the others', async () => {
    const [usedJson] = JSON.parse(await out(['network', 'inspect', used]));
    const bridge = usedJson.Options['minid.bridge.name'] as string;
    const p1 = await m(['network', 'prune']);
    expect([p1.exitCode, p1.stdout, p1.stderr]).toEqual([0, `Deleted Networks:\n${empty}\n`, '']); // docker's lines
    expect((await out(['network', 'ls'])).split('\n').slice(1).map((l) => l.split(/ {2,}/)[1])).toEqual(['bridge', 'host', 'none', used]);
    // In use: kept with its bridge and rules; once its container is gone, pruned with them.
    expect((await ipJson(['link', 'show', 'dev', bridge]))).toHaveLength(1);
    expect((await m(['rm', '-f', `web-${R}`])).exitCode).toBe(0);
    const p2 = await m(['network', 'prune']);
    expect([p2.exitCode, p2.stdout]).toEqual([0, `Deleted Networks:\n${used}\n`]);
    expect((await execa('ip', ['link', 'show', 'dev', bridge], { reject: false })).exitCode).not.toBe(0);
    expect(String((await execa('iptables-save')).stdout)).not.toContain(`minid:${storeId()}:${used}`);
    // Nothing left to prune: nothing printed; the built-in networks are never pruned.
    const p3 = await m(['network', 'prune']);
    expect([p3.exitCode, p3.stdout, p3.stderr]).toEqual([0, '', '']);
    expect((await out(['network', 'ls', '-q'])).split('\n')).toHaveLength(3);
  });
});
