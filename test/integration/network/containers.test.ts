// What a user checks, with real containers started by the minid CLI: nginx published with -p
// answers on 127.0.0.1, on the host's address, from a LAN host and from another container
// (hairpin); containers reach the LAN through MASQUERADE; UDP works; conflicts are refused;
// user networks are isolated; and afterwards the host is as it was.
// The "LAN" is a namespace of this test on a veth off the host (198.18.0.0/15, the RFC 2544
// benchmarking range): no packet goes anywhere else.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, loadImages, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { FIXTURE, curl, freePort, freeSubnet, hostState, rand, sh, udpAsk, type HostState } from './helpers.js';

const R = rand();
const LAN_NS = `mdt-lan-${R}`;
const LAN_IF = `mdtl${R}`;
let LAN_HOST_IP = '';
let LAN_IP = '';
let store: Store;
let before: HostState;
// This run's objects, and any container namespace, veth or minid rule (CI runs nothing else).
const mine = (t: string) => t.includes(R) || /^minid-[0-9a-f]{12}$/.test(t) || /^mv[0-9a-f]{8}/.test(t) || /minid:|MINID/.test(t);
const servers: ChildProcess[] = [];
const m = (args: string[]) => minid(store, args);
/** The container's address on its first network (docker's inspect shape). */
const primaryIp = (x: any): string => (Object.values(x.NetworkSettings.Networks)[0] as any).IPAddress;

beforeAll(async () => {
  requireRoot();
  store = makeStore('net');
  store.env.MINID_BRIDGE_NAME = `mdt${R}0`;
  store.env.MINID_BRIDGE_SUBNET = freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`);
  before = hostState(mine);
  await loadImages(store);
  const lan = freeSubnet((_a, b) => `198.18.${b}.0/24`).split('.').slice(0, 3).join('.');
  LAN_HOST_IP = `${lan}.1`;
  LAN_IP = `${lan}.2`;
  sh(['ip', 'netns', 'add', LAN_NS]);
  sh(['ip', 'link', 'add', LAN_IF, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', LAN_NS]);
  sh(['ip', 'addr', 'add', `${LAN_HOST_IP}/24`, 'dev', LAN_IF]);
  sh(['ip', 'link', 'set', LAN_IF, 'up']);
  sh(['ip', '-n', LAN_NS, 'addr', 'add', `${LAN_IP}/24`, 'dev', 'eth0']);
  sh(['ip', '-n', LAN_NS, 'link', 'set', 'eth0', 'up']);
  sh(['ip', '-n', LAN_NS, 'link', 'set', 'lo', 'up']);
  // The LAN host answers with the source address it sees.
  const srv = spawn('ip', ['netns', 'exec', LAN_NS, 'node', FIXTURE, 'serve', 'lan', '--http', '9000', '--udp', '9001'], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(srv);
  await new Promise((res) => srv.stdout!.once('data', res));
}, 120_000);

afterAll(async () => {
  for (const s of servers) s.kill('SIGTERM'); // by the PID we started
  // The host as before minid: containers, bridges, rules, and minid's chains go.
  const reset = await minid(store, ['system', 'reset']);
  expect(reset.exitCode, reset.stderr).toBe(0);
  for (const net of ['isol-a', 'isol-b']) await m(['network', 'rm', net]);
  await store?.cleanup();
  try {
    sh(['ip', 'netns', 'del', LAN_NS]);
  } catch {
    /* gone */
  }
  try {
    sh(['ip', 'link', 'del', LAN_IF]);
  } catch {
    /* went with the namespace */
  }
  expect(hostState(mine)).toEqual(before);
  fs.rmSync(path.dirname(store.root), { recursive: true, force: true }); // teardown wrote locks there again
});

describe('bridge network with real containers', () => {
  it('nginx -p serves on 127.0.0.1, the host address, the LAN, and another container (hairpin)', async () => {
    const port = await freePort();
    const r = await m(['run', '-d', '--name', 'web', '-p', `${port}:80`, 'nginx']);
    expect(r.exitCode, r.stderr).toBe(0);
    const page = /Welcome to nginx/;
    let first = '';
    for (let i = 0; i < 50 && !page.test(first); i++) {
      first = await curl(`http://127.0.0.1:${port}/`).catch(() => '');
      if (!page.test(first)) await new Promise((res) => setTimeout(res, 100));
    }
    expect(first).toMatch(page);
    expect(await curl(`http://${LAN_HOST_IP}:${port}/`)).toMatch(page);
    expect(await curl(`http://${LAN_HOST_IP}:${port}/`, LAN_NS)).toMatch(page);
    const hair = await m(['run', '--rm', 'busybox', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${LAN_HOST_IP} ${port}`]);
    expect(hair.stdout).toMatch(page);
    expect((await m(['port', 'web'])).stdout.trim()).toBe(`80/tcp -> 0.0.0.0:${port}`);
    // The same host port again is refused before anything is set up, naming the holder.
    const dup = await m(['run', '-d', '-p', `${port}:80`, 'nginx']);
    expect(dup.exitCode).toBe(125);
    expect(dup.stderr).toMatch(/web/);
    expect((await m(['rm', '-f', 'web'])).exitCode).toBe(0);
    expect(await curl(`http://127.0.0.1:${port}/`, undefined, 1).catch(() => 'refused')).not.toMatch(page);
  });

  it('two containers reach each other; the LAN sees the host address (MASQUERADE)', async () => {
    const a = await m(['run', '-d', '--name', 'a', 'busybox', 'sh', '-c', 'echo hi-from-a | nc -l -p 7000']);
    expect(a.exitCode, a.stderr).toBe(0);
    const ipA = primaryIp(JSON.parse((await m(['inspect', 'a'])).stdout)[0]);
    expect(ipA).toMatch(/^10\./);
    const b = await m(['run', '--rm', 'busybox', 'sh', '-c', `for i in $(seq 50); do nc -w 3 ${ipA} 7000 </dev/null && break; sleep 0.1; done; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${LAN_IP} 9000`]);
    expect(b.stdout).toContain('hi-from-a');
    expect(b.stdout).toContain(`lan sees ${LAN_HOST_IP}`);
    expect((await m(['rm', '-f', 'a'])).exitCode).toBe(0);
  });

  it('publishes UDP ports', async () => {
    const port = await freePort();
    const r = await m(['run', '-d', '--name', 'udp', '-p', `${port}:5353/udp`, 'busybox', 'sleep', '60']);
    expect(r.exitCode, r.stderr).toBe(0);
    // Debian's busybox nc has no UDP: the answering process is the test's echo server, run in
    // the container's network namespace (the path under test is the host's DNAT into it).
    const netns = JSON.parse((await m(['inspect', 'udp'])).stdout)[0].Minid.NetnsPath;
    const srv = spawn('nsenter', [`--net=${netns}`, 'node', FIXTURE, 'serve', 'udp', '--udp', '5353'], { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(srv);
    await new Promise((res) => srv.stdout!.once('data', res));
    expect(await udpAsk(LAN_HOST_IP, port, LAN_NS)).toContain(`udp sees ${LAN_IP}`);
    srv.kill('SIGTERM');
    expect((await m(['rm', '-f', 'udp'])).exitCode).toBe(0);
  });

  it('gives 20 concurrent containers 20 different addresses', async () => {
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => m(['run', '-d', '--name', `c${i}`, 'busybox', 'sleep', '60'])));
    for (const r of rs) expect(r.exitCode, r.stderr).toBe(0);
    const ips = JSON.parse((await m(['inspect', ...rs.map((_, i) => `c${i}`)])).stdout).map((x: any) => primaryIp(x));
    expect(new Set(ips).size).toBe(20);
    expect((await m(['rm', '-f', ...rs.map((_, i) => `c${i}`)])).exitCode).toBe(0);
  });

  it('isolates user-defined networks from each other', async () => {
    const sa = freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`);
    const sb = freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`);
    expect((await m(['network', 'create', '--subnet', sa, 'isol-a'])).exitCode).toBe(0);
    expect((await m(['network', 'create', '--subnet', sb, 'isol-b'])).exitCode).toBe(0);
    const overlap = await m(['network', 'create', '--subnet', sa, 'isol-c']);
    expect(overlap.exitCode).toBe(1); // docker's CLI: the daemon refused
    expect(overlap.stderr).toMatch(/overlap/i);
    expect((await m(['run', '-d', '--name', 'x1', '--network', 'isol-a', 'busybox', 'sh', '-c', 'while true; do echo x1 | nc -l -p 7000; done'])).exitCode).toBe(0);
    const ip = primaryIp(JSON.parse((await m(['inspect', 'x1'])).stdout)[0]);
    await eventually(async () => {
      const same = await m(['run', '--rm', '--network', 'isol-a', 'busybox', 'nc', '-w', '2', ip, '7000']);
      expect(same.stdout).toContain('x1');
    });
    const other = await m(['run', '--rm', '--network', 'isol-b', 'busybox', 'nc', '-w', '2', ip, '7000']);
    expect(other.stdout).not.toContain('x1');
    const inUse = await m(['network', 'rm', 'isol-a']);
    expect(inUse.exitCode).toBe(1);
    expect((await m(['rm', '-f', 'x1'])).exitCode).toBe(0);
    expect((await m(['network', 'rm', 'isol-a', 'isol-b'])).exitCode).toBe(0);
  });

  it('-P publishes every exposed port on a random host port; container:NAME shares the namespace; /etc files follow the flags', async () => {
    const r = await m(['run', '-d', '--name', 'pub', '-P', '--dns', '192.0.2.53', '--dns-search', 'example.test', '--add-host', 'db.local:10.1.2.3', 'nginx']);
    expect(r.exitCode, r.stderr).toBe(0);
    const line = (await m(['port', 'pub'])).stdout.trim();
    expect(line).toMatch(/^80\/tcp -> 0\.0\.0\.0:\d+$/);
    const port = Number(line.split(':').pop());
    let page = '';
    for (let i = 0; i < 50 && !/Welcome to nginx/.test(page); i++) {
      page = await curl(`http://127.0.0.1:${port}/`).catch(() => '');
      if (!page) await new Promise((res) => setTimeout(res, 100));
    }
    expect(page).toMatch(/Welcome to nginx/);
    const files = await m(['exec', 'pub', 'sh', '-c', 'cat /etc/resolv.conf /etc/hosts /etc/hostname']);
    expect(files.stdout).toContain('nameserver 192.0.2.53');
    expect(files.stdout).toContain('search example.test');
    expect(files.stdout).toMatch(/10\.1\.2\.3\s+db\.local/);
    const ip = primaryIp(JSON.parse((await m(['inspect', 'pub'])).stdout)[0]);
    expect(files.stdout).toMatch(new RegExp(`${ip.replace(/\./g, '\\.')}\\s.*\\bpub\\b`));
    // A second container in the first one's network namespace: nginx is on its 127.0.0.1.
    const side = await m(['run', '--rm', '--network', 'container:pub', 'busybox', 'sh', '-c', `ip -o -4 addr show eth0; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 127.0.0.1 80`]);
    expect(side.stdout).toContain(ip);
    expect(side.stdout).toMatch(/Welcome to nginx/);
    expect((await m(['rm', '-f', 'pub'])).exitCode).toBe(0);
  });

  it('refuses bad input with one line and changes nothing', async () => {
    for (const [args, re] of [
      [['run', '--rm', '-p', '80:80:80:80', 'busybox', 'true'], /port/i],
      [['run', '--rm', '-p', '70000:80', 'busybox', 'true'], /range|port/i],
      [['run', '--rm', '--network', 'nosuchnet', 'busybox', 'true'], /nosuchnet/],
      [['network', 'create', '--subnet', '10.1.2.0/33', 'bad'], /CIDR|subnet/i],
      [['network', 'create', '--subnet', '10.250.1.0/24', '--gateway', '10.9.9.9', 'bad'], /gateway/i],
    ] as [string[], RegExp][]) {
      const r = await m(args);
      // docker's CLI: 125 for run failing before the start, 1 for what the daemon refuses.
      expect(r.exitCode, args.join(' ')).toBe(args[0] === 'run' ? 125 : 1);
      expect(r.stderr.trim().split('\n').length, r.stderr).toBe(1);
      expect(r.stderr).toMatch(re);
    }
    expect((await m(['ps', '-aq'])).stdout.trim()).toBe('');
  });
});
