// Names on user networks (#16) with real containers and minid's real DNS server (dnsmasq):
// containers resolve each other (busybox nslookup) and reach each other by name; a shared
// --network-alias answers every address; NAME.NETWORK and the short id resolve; a removed
// container's name is gone within a second; another network gets NXDOMAIN; outside names are
// forwarded, over UDP and TCP, to an upstream DNS server this file runs in a namespace of its
// own (never a real outside address: MINID_RESOLV_CONF points minid at it), and --dns to
// another one; a killed server comes back with every name at the next run; bad names are
// refused (one line, 125, nothing created); connect/disconnect add and remove names;
// `network inspect` lists them; `--network container:X` shares X's resolver.
// Afterwards no DNS process, file, link, namespace or rule of this file is left.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, eventually, loadImages, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { freeSubnet, hostState, rand, run, sh, type HostState } from './helpers.js';

const ASK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/network/dns-ask.mjs');
const R = rand();
const NET_A = `dna${R}`;
const NET_B = `dnb${R}`;
/** The "outside": a namespace with two DNS servers (the host's resolver, and one for --dns). */
const UP_NS = `mdu${R}`;
const UP_HOST = `mdu${R}h`;
let upSubnet = '';
const upIp = (n: number): string => upSubnet.replace(/\.0\/24$/, `.${n}`);
const upstreams: ChildProcess[] = [];
let tmp = '';
let store: Store;
let before: HostState;
const ids: string[] = [];
const mine = (t: string): boolean => t.includes(R) || ids.some((id) => t.includes(id.slice(0, 8)));
const m = (args: string[]) => minid(store, args);

async function start(name: string, args: string[]): Promise<string> {
  const r = await m(['run', '-d', '--name', name, ...args, 'busybox', 'sleep', '600']);
  expect(r.exitCode, r.stderr).toBe(0);
  const id = r.stdout.trim();
  ids.push(id);
  return id;
}
const ipOf = async (name: string): Promise<string> => (Object.values(JSON.parse((await m(['inspect', name])).stdout)[0].NetworkSettings.Networks)[0] as any).IPAddress;
/** busybox nslookup in a container: the addresses it printed for the name (after the "Name:" line), or its error. */
async function lookup(from: string, name: string): Promise<string[] | string> {
  const r = await m(['exec', from, 'nslookup', name]);
  const out = r.stdout.split('\n');
  const addrs = out.flatMap((l, i) => (i > 0 && /^Name:/.test(out[i - 1]) && /^Address: /.test(l) ? [l.slice('Address: '.length).trim()] : []));
  if (addrs.length) return addrs.sort();
  return /NXDOMAIN/.test(r.stdout + r.stderr) ? 'NXDOMAIN' : `FAIL ${r.exitCode}: ${r.stdout} ${r.stderr}`;
}
/** The fixture's query from inside a container's namespace, to 127.0.0.11 as its resolv.conf says. */
async function ask(id: string, name: string, type = 'A', proto = 'udp'): Promise<{ rcode: number; answers: string[] }> {
  const r = await run(['ip', 'netns', 'exec', `minid-${id.slice(0, 12)}`, process.execPath, ASK, '127.0.0.11', name, type, proto]);
  if (r.code !== 0) throw new Error(`dns-ask ${name} ${type} ${proto}: ${r.err}`);
  return JSON.parse(r.out);
}
/** Every live dnsmasq whose command line names a path of this store (zombies are gone already). */
function storeServers(): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(store.run)) pids.push(Number(p));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}
const serverRecord = (net: string): { pid: number } => JSON.parse(fs.readFileSync(path.join(store.run, 'dns', net, 'network.json'), 'utf8'));

/** An upstream DNS server in UP_NS answering outside.test with `answer`; killed by its PID in afterAll. */
function upstream(ip: string, answer: string): Promise<void> {
  const p = spawn('ip', ['netns', 'exec', UP_NS, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
    `--listen-address=${ip}`, '--bind-interfaces', `--address=/outside.test/${answer}`, '--user=root', '--pid-file', '--log-facility=-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  upstreams.push(p);
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr!.on('data', (d) => {
      err += d;
      if (/started, version/.test(err)) resolve();
    });
    p.on('exit', (code) => reject(new Error(`upstream dnsmasq on ${ip} exited (${code}): ${err}`)));
  });
}

beforeAll(async () => {
  requireRoot();
  store = makeStore('dns');
  store.env.MINID_BRIDGE_NAME = `mdd${R}0`;
  before = hostState(mine);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-dns-test-'));
  // The "outside": UP_NS, reached from the host through a veth pair; the host's resolver (as
  // minid reads it) is upIp(2), and upIp(3) is the one a container names with --dns.
  upSubnet = freeSubnet((a, b) => `10.${150 + a}.${b}.0/24`);
  sh(['ip', 'netns', 'add', UP_NS]);
  sh(['ip', 'link', 'add', UP_HOST, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', UP_NS]);
  sh(['ip', 'addr', 'add', `${upIp(1)}/24`, 'dev', UP_HOST]);
  sh(['ip', 'link', 'set', UP_HOST, 'up']);
  for (const n of [2, 3]) sh(['ip', '-n', UP_NS, 'addr', 'add', `${upIp(n)}/24`, 'dev', 'eth0']);
  sh(['ip', '-n', UP_NS, 'link', 'set', 'eth0', 'up']);
  sh(['ip', '-n', UP_NS, 'link', 'set', 'lo', 'up']);
  await upstream(upIp(2), '10.9.8.7');
  await upstream(upIp(3), '10.9.8.6');
  fs.writeFileSync(path.join(tmp, 'resolv.conf'), `nameserver ${upIp(2)}\n`);
  store.env.MINID_RESOLV_CONF = path.join(tmp, 'resolv.conf');
  await loadImages(store, ['busybox']);
  const sa = freeSubnet((a, b) => `10.${150 + a}.${b}.0/24`);
  const sb = freeSubnet((a, b) => `10.${150 + a}.${b}.0/24`);
  expect((await m(['network', 'create', '--subnet', sa, NET_A])).exitCode).toBe(0);
  expect((await m(['network', 'create', '--subnet', sb, NET_B])).exitCode).toBe(0);
}, 120_000);

afterAll(async () => {
  try {
    if (store) {
      // The networks while the store is there (a minid run after cleanup would make it again).
      const left = (await m(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (left.length) await m(['rm', '-f', ...left]);
      for (const net of [NET_A, NET_B]) await m(['network', 'rm', net]);
      await store.cleanup(); // rm -f every container, system reset (stops any DNS server left)
    }
  } finally {
    for (const p of upstreams) {
      if (p.exitCode === null && p.pid) {
        const gone = new Promise((r) => p.once('exit', r));
        process.kill(p.pid, 'SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 2000))]);
      }
    }
    await run(['ip', 'link', 'del', UP_HOST]);
    await run(['ip', 'netns', 'del', UP_NS]);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
  expect(hostState(mine)).toEqual(before);
});

describe('names on user networks', () => {
  it('two containers resolve each other and reach each other by name; resolv.conf names 127.0.0.11', async () => {
    const run1 = await m(['run', '-d', '--explain', '--name', 'web1', '--network', NET_A, '--network-alias', 'shared', 'busybox', 'sleep', '600']);
    expect(run1.exitCode, run1.stderr).toBe(0);
    ids.push(/^# container id: (\S+)$/m.exec(run1.stdout)![1]); // --explain shares stdout: the id is a comment
    // --explain shows the server, the records and the rules that make 127.0.0.11 work.
    expect(run1.stdout).toContain(`dnsmasq --conf-file=${path.join(store.run, 'dns', NET_A, 'network.conf')}`);
    expect(run1.stdout).toMatch(/-A OUTPUT -d 127\.0\.0\.11\/32 -p udp -m udp --dport 53 -j DNAT --to-destination [\d.]+:53/);
    expect(run1.stdout).toContain('nameserver 127.0.0.11');
    await start('web2', ['--network', NET_A, '--network-alias', 'shared']);
    const [ip1, ip2] = [await ipOf('web1'), await ipOf('web2')];
    const resolv = (await m(['exec', 'web1', 'cat', '/etc/resolv.conf'])).stdout;
    expect(resolv).toMatch(/^nameserver 127\.0\.0\.11$/m);
    expect(resolv).not.toContain(upIp(2));
    expect(await lookup('web1', 'web2')).toEqual([ip2]);
    expect(await lookup('web2', 'web1')).toEqual([ip1]);
    const ping = await m(['exec', 'web1', 'ping', '-c', '1', '-W', '2', 'web2']);
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0);
    expect(ping.stdout).toContain(`from ${ip2}`);
  });

  it('a shared alias answers both addresses; NAME.NETWORK, the short id and PTR resolve; AAAA is empty NOERROR', async () => {
    const [ip1, ip2] = [await ipOf('web1'), await ipOf('web2')];
    expect(await lookup('web1', 'shared')).toEqual([ip1, ip2].sort());
    expect(await lookup('web1', `web2.${NET_A}`)).toEqual([ip2]);
    expect(await lookup('web1', ids[1].slice(0, 12))).toEqual([ip2]);
    expect(await ask(ids[0], ip2.split('.').reverse().join('.') + '.in-addr.arpa', 'PTR')).toEqual({ rcode: 0, answers: ['web2'] });
    expect(await ask(ids[0], 'web2', 'AAAA')).toEqual({ rcode: 0, answers: [] });
    expect(await ask(ids[0], `nothing.${NET_A}`)).toMatchObject({ rcode: 3 });
    // network inspect lists the server and every name.
    const dns = JSON.parse((await m(['network', 'inspect', NET_A])).stdout)[0].Minid.DNS;
    expect(dns.Server).toMatchObject({ Running: true, Forwarders: [upIp(2)], Pid: serverRecord(NET_A).pid });
    expect(dns.Records).toMatchObject({ web1: [ip1], [`web2.${NET_A}`]: [ip2], [ids[1].slice(0, 12)]: [ip2], shared: [ip1, ip2].sort() });
    expect(dns.Reverse).toEqual({ [ip1]: 'web1', [ip2]: 'web2' });
    expect(dns.Server.Answers.sort()).toEqual(['web1', 'web2']);
    expect(dns.ContainerServers).toEqual([]);
  });

  it('--network container:X shares X\'s resolver', async () => {
    const r = await m(['run', '--rm', '--network', 'container:web1', 'busybox', 'nslookup', 'web2']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Address: ${await ipOf('web2')}`);
  });

  it('a container on another network gets NXDOMAIN for them', async () => {
    const id = await start('other', ['--network', NET_B]);
    expect(await lookup('other', 'web1')).toBe('NXDOMAIN');
    expect(await lookup('other', 'shared')).toBe('NXDOMAIN');
    expect(await ask(id, 'web2')).toMatchObject({ rcode: 3, answers: [] });
    expect(await lookup('other', 'other')).toEqual([await ipOf('other')]);
  });

  it('network A\'s server answers nobody on network B, not even asked at A\'s gateway directly', async () => {
    const gwA = JSON.parse(fs.readFileSync(path.join(store.run, 'dns', NET_A, 'network.json'), 'utf8')).address as string;
    const other = ids[ids.length - 1];
    // busybox nslookup with A's gateway as the server: no answer (dnsmasq ignores queries that
    // did not arrive by A's bridge).
    const r = await m(['exec', 'other', 'timeout', '4', 'nslookup', 'web1', gwA]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).not.toContain(await ipOf('web1'));
    const tries = await Promise.all(['udp', 'tcp'].map((proto) => run(['ip', 'netns', 'exec', `minid-${other.slice(0, 12)}`, process.execPath, ASK, gwA, 'web1', 'A', proto])));
    for (const q of tries) expect(q.code, q.out).toBe(2); // "no answer
    // From A, the same question at the same address is answered.
    expect(await lookup('web1', 'web2')).toEqual([await ipOf('web2')]);
    const q = await run(['ip', 'netns', 'exec', `minid-${ids[0].slice(0, 12)}`, process.execPath, ASK, gwA, 'web2', 'A', 'udp']);
    expect(JSON.parse(q.out)).toEqual({ rcode: 0, answers: [await ipOf('web2')] });
    // The host's INPUT chain (policy DROP on some hosts) lets A's queries in, by A's bridge only.
    const rules = sh(['iptables-save', '-t', 'filter']).split('\n').filter((l) => l.startsWith('-A MINID-INPUT') && l.includes(`${gwA}/32`));
    expect(rules).toHaveLength(2);
    for (const l of rules) expect(l).toMatch(new RegExp(`-i \\S+ -p (udp|tcp) -m (udp|tcp) --dport 53 -m comment --comment "?minid[^ ]*${NET_A}"? -j ACCEPT`));
  });

  it('outside names are forwarded over UDP and TCP to the host\'s resolver; --dns forwards to its own', async () => {
    expect(await lookup('web1', 'outside.test')).toEqual(['10.9.8.7']);
    expect(await ask(ids[0], 'outside.test', 'A', 'udp')).toEqual({ rcode: 0, answers: ['10.9.8.7'] });
    expect(await ask(ids[0], 'outside.test', 'A', 'tcp')).toEqual({ rcode: 0, answers: ['10.9.8.7'] });
    expect(await ask(ids[0], 'web2', 'A', 'tcp')).toEqual({ rcode: 0, answers: [await ipOf('web2')] });
    // --dns: the same names, other names from that server.
    const id = await start('own', ['--network', NET_A, '--dns', upIp(3)]);
    expect(await lookup('own', 'outside.test')).toEqual(['10.9.8.6']);
    expect(await ask(id, 'outside.test', 'A', 'tcp')).toEqual({ rcode: 0, answers: ['10.9.8.6'] });
    expect(await lookup('own', 'web1')).toEqual([await ipOf('web1')]);
    expect(await lookup('web1', 'own')).toEqual([await ipOf('own')]);
    expect(fs.readdirSync(path.join(store.run, 'dns', NET_A))).toContain(`c-${id.slice(0, 12)}.json`);
    // network inspect: its names among the others, and which server answers it (its own).
    const dns = JSON.parse((await m(['network', 'inspect', NET_A])).stdout)[0].Minid.DNS;
    expect(dns.Records.own).toEqual([await ipOf('own')]);
    expect(dns.Reverse[await ipOf('own')]).toBe('own');
    expect(dns.Server.Answers).not.toContain('own');
    expect(dns.ContainerServers).toEqual([
      expect.objectContaining({ Name: `container own (${id.slice(0, 12)})`, Address: '127.0.0.11:53', Running: true, Forwarders: [upIp(3)], Networks: [NET_A], Answers: ['own'] }),
    ]);
    // Its own server goes with it.
    const own = JSON.parse(fs.readFileSync(path.join(store.run, 'dns', NET_A, `c-${id.slice(0, 12)}.json`), 'utf8')).pid as number;
    expect((await m(['rm', '-f', 'own'])).exitCode).toBe(0);
    expect(storeServers()).not.toContain(own);
    expect(fs.readdirSync(path.join(store.run, 'dns', NET_A)).filter((f) => f.startsWith('c-'))).toEqual([]);
  });

  it('dns log shows who asked what and the answer, forwarded or not; -f follows new queries', async () => {
    const [ip1, ip2] = [await ipOf('web1'), await ipOf('web2')];
    await lookup('web1', 'web2');
    await lookup('web1', 'outside.test');
    await ask(ids[0], `nothing.${NET_A}`);
    const r = await m(['dns', 'log', NET_A]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`web1 \\(${ip1}\\)  A web2  ->  ${ip2}   \\(the network's names\\)`));
    expect(r.stdout).toMatch(new RegExp(`web1 \\(${ip1}\\)  A outside\\.test  ->  10\\.9\\.8\\.7   \\(forwarded to ${upIp(2)}`));
    expect(r.stdout).toContain(`A nothing.${NET_A}  ->  NXDOMAIN`);
    const bad = await m(['dns', 'log', 'bridge']);
    expect(bad.exitCode).toBe(1); // docker's CLI: 1 for what the daemon refuses
    expect(bad.stderr).toMatch(/network bridge has no DNS server/);
    // -f: a query made after it started shows up.
    const f = spawn(cli, ['dns', 'log', '-f', NET_A], { env: { ...process.env, ...store.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      f.stdout!.on('data', (d) => (out += d));
      await eventually(() => expect(out).toContain('A web2'), 5000, 50);
      await ask(ids[1], 'web1');
      await eventually(() => expect(out).toMatch(new RegExp(`web2 \\(${ip2}\\)  A web1  ->  ${ip1}`)), 5000, 50);
    } finally {
      const gone = new Promise((res) => f.once('exit', res));
      if (f.exitCode === null) process.kill(f.pid!, 'SIGTERM');
      await gone;
    }
  });

  it('a removed container\'s name is gone within a second', async () => {
    const ip2 = await ipOf('web2');
    expect((await m(['rm', '-f', 'web2'])).exitCode).toBe(0);
    const t0 = Date.now();
    await eventually(async () => expect(await ask(ids[0], 'web2')).toMatchObject({ rcode: 3, answers: [] }), 1000, 50);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await lookup('web1', 'shared')).toEqual([await ipOf('web1')]);
    expect(await lookup('web1', ip2)).not.toContain('web2');
  });

  it('a stopped container\'s names go (and come back when it starts again)', async () => {
    const id = await start('stopme', ['--network', NET_A, '--network-alias', 'paused']);
    expect(await ask(ids[0], 'stopme')).toEqual({ rcode: 0, answers: [await ipOf('stopme')] });
    expect((await m(['stop', '-t', '1', 'stopme'])).exitCode).toBe(0);
    expect(await ask(ids[0], 'stopme')).toMatchObject({ rcode: 3, answers: [] });
    expect(await ask(ids[0], 'paused')).toMatchObject({ rcode: 3, answers: [] });
    expect(JSON.parse((await m(['network', 'inspect', NET_A])).stdout)[0].Minid.DNS.Records.stopme).toBeUndefined();
    expect((await m(['start', 'stopme'])).exitCode).toBe(0);
    expect(await ask(ids[0], 'paused')).toEqual({ rcode: 0, answers: [await ipOf('stopme')] });
    expect((await m(['rm', '-f', 'stopme'])).exitCode).toBe(0);
    expect(id).toBeTruthy();
  });

  it('network connect adds the names (and --alias), and the connected container resolves both networks\' names; disconnect undoes it', async () => {
    const bad = await m(['network', 'connect', '--alias', 'web1', NET_A, 'other']);
    expect(bad.exitCode).toBe(1); // docker's CLI: 1 for what the daemon refuses
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/the alias web1 is the name of container web1/);
    const c = await m(['network', 'connect', '--alias', 'elsewhere', NET_A, 'other']);
    expect(c.exitCode, c.stderr).toBe(0);
    const info = JSON.parse((await m(['inspect', 'other'])).stdout)[0];
    const onA = info.NetworkSettings.Networks[NET_A].IPAddress;
    const otherId = info.Id as string;
    expect(await lookup('web1', 'other')).toEqual([onA]);
    expect(await lookup('web1', 'elsewhere')).toEqual([onA]);
    // 'other' (first network B) now answers A's names too, through the same 127.0.0.11 ...
    expect(await lookup('other', 'web1')).toEqual([await ipOf('web1')]);
    expect(await lookup('other', `web1.${NET_A}`)).toEqual([await ipOf('web1')]);
    expect(await lookup('other', 'outside.test')).toEqual(['10.9.8.7']);
    expect(await ask(otherId, 'outside.test', 'A', 'tcp')).toEqual({ rcode: 0, answers: ['10.9.8.7'] });
    // ... from a server of its own, in its namespace, that only it can ask.
    const other = otherId.slice(0, 12);
    expect(fs.existsSync(path.join(store.run, 'dns', NET_B, `c-${other}.json`))).toBe(true);
    // network inspect of A: its names, and the server that answers 'other' (its own, recorded with B).
    const dnsA = JSON.parse((await m(['network', 'inspect', NET_A])).stdout)[0].Minid.DNS;
    expect(dnsA.Records).toMatchObject({ other: [onA], elsewhere: [onA] });
    expect(dnsA.ContainerServers).toEqual([expect.objectContaining({ Name: `container other (${other})`, Running: true, Networks: [NET_B, NET_A], Answers: ['other'] })]);
    // B's containers still do not see A's names.
    const onB = await start('onb', ['--network', NET_B]);
    expect(await ask(onB, 'web1')).toMatchObject({ rcode: 3, answers: [] });
    expect(await lookup('onb', 'other')).toEqual([await ipOf('other')]);
    expect((await m(['network', 'disconnect', NET_A, 'other'])).exitCode).toBe(0);
    expect(await ask(ids[0], 'other')).toMatchObject({ rcode: 3 });
    expect(await ask(ids[0], 'elsewhere')).toMatchObject({ rcode: 3 });
    // Back on B alone: B's server again, A's names gone for it.
    expect(await ask(otherId, 'web1')).toMatchObject({ rcode: 3, answers: [] });
    expect(await lookup('other', 'onb')).toEqual([await ipOf('onb')]);
    expect(fs.existsSync(path.join(store.run, 'dns', NET_B, `c-${other}.json`))).toBe(false);
    expect((await m(['rm', '-f', 'onb'])).exitCode).toBe(0);
  });

  it('a killed DNS server comes back, with every name, when the next container starts', async () => {
    const { pid } = serverRecord(NET_A);
    process.kill(pid, 'SIGKILL');
    await eventually(() => expect(storeServers()).not.toContain(pid), 5000, 20);
    await start('web3', ['--network', NET_A, '--network-alias', 'shared']);
    expect(serverRecord(NET_A).pid).not.toBe(pid);
    expect(await lookup('web3', 'web1')).toEqual([await ipOf('web1')]);
    expect(await lookup('web1', 'web3')).toEqual([await ipOf('web3')]);
    expect(await lookup('web1', 'shared')).toEqual([await ipOf('web1'), await ipOf('web3')].sort());
    expect(await lookup('web3', `web1.${NET_A}`)).toEqual([await ipOf('web1')]);
  });

  it('bad names: one line, exit 125, nothing created', async () => {
    const count = async () => (await m(['ps', '-aq'])).stdout.split('\n').filter(Boolean).length;
    const n = await count();
    const records = fs.readFileSync(path.join(store.run, 'dns', NET_A, 'records'), 'utf8');
    for (const [args, msg] of [
      [['--network-alias', 'bad name'], /invalid --network-alias "bad name": not a DNS name/],
      [['--network-alias', '-x'], /invalid --network-alias "-x"/],
      [['--network-alias', 'web1'], /the alias web1 is the name of container web1 .* on network/],
      [['--name', 'shared'], /the name shared is an alias of container/],
      [['--dns', 'dns.example'], /invalid --dns "dns\.example": not an IP address/],
    ] as const) {
      // run, and --dry-run too: the same one line, before any plan is printed.
      for (const how of ['-d', '--dry-run']) {
        const r = await m(['run', how, ...args, '--network', NET_A, 'busybox', 'true']);
        expect(r.exitCode, r.stderr).toBe(125);
        expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(msg)]);
      }
    }
    const r = await m(['run', '-d', '--network-alias', 'x', 'busybox', 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/--network-alias is only for containers on a user-defined network/);
    expect(await count()).toBe(n);
    expect(fs.readFileSync(path.join(store.run, 'dns', NET_A, 'records'), 'utf8')).toBe(records);
    expect(fs.readdirSync(path.join(store.run, 'dns', NET_A)).filter((f) => f.startsWith('c-'))).toEqual([]);
  });

  it('--dry-run shows the resolver rules and changes nothing', async () => {
    const records = fs.readFileSync(path.join(store.run, 'dns', NET_A, 'records'), 'utf8');
    const r = await m(['run', '--dry-run', '--network', NET_A, 'busybox', 'true']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`its DNS server (pid ${serverRecord(NET_A).pid}) would get this container's names`); // the plan: stdout
    expect(r.stdout).toMatch(/-A OUTPUT -d 127\.0\.0\.11\/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination [\d.]+:53/);
    expect(fs.readFileSync(path.join(store.run, 'dns', NET_A, 'records'), 'utf8')).toBe(records);
  });

  it('--dry-run with --dns shows the container\'s own server (configuration, command) instead of the DNAT, and starts nothing', async () => {
    const files = fs.readdirSync(path.join(store.run, 'dns', NET_A)).sort();
    const servers = storeServers().sort();
    const r = await m(['run', '--dry-run', '--network', NET_A, '--dns', upIp(3), 'busybox', 'true']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`its DNS server (pid ${serverRecord(NET_A).pid}) would get this container's names`);
    expect(r.stdout).toMatch(/# the DNS server of container \w{12}: --dns [\d.]+: .* in its namespace at 127\.0\.0\.11:53 \(no DNAT/);
    expect(r.stdout).toContain(`server=${upIp(3)}`);
    expect(r.stdout).toContain('listen-address=127.0.0.11');
    expect(r.stdout).toMatch(new RegExp(`nsenter --net=/run/netns/minid-\\w{12} dnsmasq --conf-file=${path.join(store.run, 'dns', NET_A)}/c-\\w{12}\\.conf`));
    expect(r.stdout).not.toMatch(/DNAT --to-destination/);
    expect(fs.readdirSync(path.join(store.run, 'dns', NET_A)).sort()).toEqual(files);
    expect(storeServers().sort()).toEqual(servers);
    // A network without a container yet: the server it would start, and the host's rules that let queries in.
    const netC = `dnc${R}`;
    const sc = freeSubnet((a, b) => `10.${150 + a}.${b}.0/24`);
    expect((await m(['network', 'create', '--subnet', sc, netC])).exitCode).toBe(0);
    try {
      const c = await m(['run', '--dry-run', '--network', netC, 'busybox', 'true']);
      expect(c.exitCode, c.stderr).toBe(0);
      const gw = sc.replace(/\.0\/24$/, '.1');
      expect(c.stdout).toContain(`the network's first container: dnsmasq would start on ${gw}:53 (another port if that one is taken), forwarding other names to ${upIp(2)}`);
      expect(c.stdout).toContain(`dnsmasq --conf-file=${path.join(store.run, 'dns', netC, 'network.conf')}`);
      expect(c.stdout).toMatch(new RegExp(`-A MINID-INPUT -d ${gw.replace(/\./g, '\\.')}/32 -i \\S+ -p udp -m udp --dport 53 .*-j ACCEPT`));
      expect(c.stdout).toMatch(new RegExp(`DNAT --to-destination ${gw.replace(/\./g, '\\.')}:53`));
      expect(fs.existsSync(path.join(store.run, 'dns', netC))).toBe(false);
    } finally {
      expect((await m(['network', 'rm', netC])).exitCode).toBe(0);
    }
  });

  it('--dns-search and --dns-option go into resolv.conf next to 127.0.0.11', async () => {
    const r = await m(['run', '--rm', '--network', NET_A, '--dns-search', 'corp.example', '--dns-option', 'ndots:2', 'busybox', 'cat', '/etc/resolv.conf']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['nameserver 127.0.0.11', 'search corp.example', 'options ndots:2']);
  });

  it('the default bridge network has no names (docker\'s behaviour)', async () => {
    const r = await m(['run', '--rm', 'busybox', 'cat', '/etc/resolv.conf']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`nameserver ${upIp(2)}`);
    expect(r.stdout).not.toContain('127.0.0.11');
  });

  it('system prune stops a leaked server (its network record gone)', async () => {
    const id = await start('leak', ['--network', NET_B]);
    const { pid } = serverRecord(NET_B);
    expect((await m(['rm', '-f', 'leak'])).exitCode).toBe(0);
    expect(storeServers()).toContain(pid);
    // A network record lost (a crash, a hand-made mess): its server is nobody's any more.
    const rec = path.join(store.root, 'networks', `${NET_B}.json`);
    const saved = fs.readFileSync(rec);
    fs.rmSync(rec);
    try {
      const r = await m(['system', 'prune']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Deleted DNS server of network ${NET_B}, pid ${pid}`);
      await eventually(() => expect(storeServers()).not.toContain(pid), 3000, 20);
      expect(fs.existsSync(path.join(store.run, 'dns', NET_B))).toBe(false);
    } finally {
      fs.writeFileSync(rec, saved);
    }
    expect(id).toBeTruthy();
  });

  it('nothing is left after network rm: no server, no file', async () => {
    expect((await m(['rm', '-f', 'web1', 'web3', 'other'])).exitCode).toBe(0);
    expect(storeServers().length).toBeGreaterThan(0); // the network's server outlives its containers
    for (const net of [NET_A, NET_B]) {
      const r = await m(['network', 'rm', net]);
      expect(r.exitCode, r.stderr).toBe(0);
    }
    await eventually(() => expect(storeServers()).toEqual([]), 3000, 20);
    expect(fs.readdirSync(path.join(store.run, 'dns'))).toEqual([]);
    expect(sh(['iptables-save'])).not.toContain(NET_A);
  });
});
