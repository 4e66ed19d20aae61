// The services follow containers that exit or restart by themselves (src/cluster/follow.ts):
// no minid command on the node, only the container's supervisor. A three-node cluster, a
// service over two httpd backends on node1 and node2, a client pod on node3:
//   - web1's process is killed from the host (SIGKILL by its pid: a crash, an OOM kill):
//     every node's rules end with one endpoint, and every connection from node3's pod reaches
//     web2;
//   - web3 (--restart on-failure) exits 3 and is restarted by its supervisor: it leaves the
//     rules while it waits out its back-off and comes back once it runs again;
//   - `cluster down` right after a container died leaves nothing: no process, no folder.
//   - readiness: a backend with a health check is an endpoint only while it is healthy.
// Every address used is inside namespaces the test made.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';
import { clusterSuite, sh } from './helpers.js';

const { suite, storeId, ok } = clusterSuite('follow');

/** busybox httpd on 8080 serving a page that names the backend; `-f`: in the foreground, as PID 1. */
const httpd = (name: string) => `mkdir -p /www && echo backend-${name} > /www/index.html && exec httpd -f -p 8080 -h /www`;
/**
 * web3: serves (httpd in the background) until /ctl/fail appears, then exits 3; run again by
 * its supervisor while /ctl/fail is there, it exits 3 at once (its back-off grows: 0.1 s, 0.2 s,
 * ... 6.4 s); once the file is gone it serves again.
 */
const flaky =
  'mkdir -p /www && echo backend-web3 > /www/index.html && [ ! -e /ctl/fail ] || exit 3; ' +
  'httpd -p 8080 -h /www; while [ ! -e /ctl/fail ]; do sleep 0.1; done; exit 3';
const get = (ip: string, port: number) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip} ${port}`;

/** The endpoints a node's kernel holds: the DNAT targets of minid's endpoint chains. */
function endpointsOn(netns: string): string[] {
  return sh('nsenter', [`--net=/run/netns/${netns}`, 'iptables-save', '-t', 'nat'])
    .split('\n')
    .filter((l) => l.startsWith('-A MINID-SEP-'))
    .map((l) => / --to-destination (\S+)/.exec(l)?.[1])
    .filter((x): x is string => !!x)
    .sort();
}

/** minid's endpoint chains a node's kernel holds (a dead endpoint's goes with its rules). */
const sepChains = (netns: string): string[] =>
  sh('nsenter', [`--net=/run/netns/${netns}`, 'iptables-save', '-t', 'nat'])
    .split('\n')
    .filter((l) => l.startsWith(':MINID-SEP-'));

/** Processes whose command line names a folder (the store's: supervisors, syncs, minid itself). */
function processesMentioning(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(dir)) found.push(`${pid}: ${cmd}`);
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

describe('services follow containers that come and go by themselves', () => {
  afterAll(async () => {
    await suite.run(['cluster', 'down']); // a failed test's cluster, if any
  });

  it('a killed backend leaves every node\'s rules, a restarted one comes back; cluster down right after a death leaves nothing', async () => {
    const lan = freeSubnet((a) => `172.16.${100 + a}.0/24`);
    await ok(['cluster', 'up', '--nodes', '3', '--pod-cidr', '10.250.0.0/16', '--lan', lan]);
    const id = storeId();
    const netns = [1, 2, 3].map((i) => `mcl-${id}-node${i}`);
    const base = path.dirname(suite.store.root); // the store's lib and run folders
    const ctl = path.join(suite.tmp, 'ctl');
    fs.mkdirSync(ctl);
    const log = path.join(suite.store.root, 'cluster', 'services.log');
    const inspect = async (node: string, name: string, format: string) => (await ok(['--node', node, 'inspect', '-f', format, name])).trim();
    const ipOf = async (node: string, name: string) => `${await inspect(node, name, '{{.NetworkSettings.IPAddress}}')}:8080`;
    const fromClient = async (n: number) => {
      const out = await ok(['--node', 'node3', 'exec', 'cli', 'sh', '-c', `for i in $(seq ${n}); do ${get('10.99.0.1', 80)}; done`]);
      return { web1: out.split('backend-web1').length - 1, web2: out.split('backend-web2').length - 1, web3: out.split('backend-web3').length - 1 };
    };
    const everyNode = (want: string[]) => eventually(() => {
      for (const ns of netns) {
        expect(endpointsOn(ns), ns).toEqual([...want].sort());
        expect(sepChains(ns), ns).toHaveLength(want.length);
      }
    }, 60_000, 200);
    try {
      await ok(['--node', 'node1', 'run', '-d', '--name', 'web1', '-l', 'app=web', 'busybox', 'sh', '-c', httpd('web1')]);
      await ok(['--node', 'node2', 'run', '-d', '--name', 'web2', '-l', 'app=web', 'busybox', 'sh', '-c', httpd('web2')]);
      await ok(['--node', 'node3', 'run', '-d', '--name', 'cli', 'busybox', 'sleep', '600']);
      await ok(['service', 'create', 'web', '--port', '80', '--target-port', '8080', '--selector', 'app=web', '--service-cidr', '10.99.0.0/16']);
      const [web1, web2] = [await ipOf('node1', 'web1'), await ipOf('node2', 'web2')];
      for (const ns of netns) expect(endpointsOn(ns)).toEqual([web1, web2].sort());

      // web1 dies by itself: SIGKILL from the host to its PID 1 (no minid command on the node).
      const pid = Number(await inspect('node1', 'web1', '{{.State.Pid}}'));
      expect(pid).toBeGreaterThan(1);
      process.kill(pid, 'SIGKILL');
      await everyNode([web2]);
      expect(await inspect('node1', 'web1', '{{.State.Status}}')).toBe('exited');
      // Every new connection from node3's pod now goes to web2.
      expect(await fromClient(10)).toEqual({ web1: 0, web2: 10, web3: 0 });

      // web3, --restart on-failure: an endpoint while it runs...
      await ok(['--node', 'node1', 'run', '-d', '--name', 'web3', '-l', 'app=web', '--restart', 'on-failure', '-v', `${ctl}:/ctl`, 'busybox', 'sh', '-c', flaky]);
      const web3 = await ipOf('node1', 'web3');
      await everyNode([web2, web3]);
      // ...it exits 3 and keeps failing: out of the rules while its supervisor waits to run it again.
      fs.writeFileSync(path.join(ctl, 'fail'), '');
      await eventually(async () => {
        expect(endpointsOn(netns[2])).toEqual([web2]);
        expect(Number(await inspect('node1', 'web3', '{{.RestartCount}}'))).toBeGreaterThan(0);
      }, 60_000, 100);
      // It runs again (its supervisor's restart, no minid command): back in every node's rules, and answering.
      // (A run that began just before the file went still exits 3: it is an endpoint for the
      // moment it runs, as a pod without a readiness probe is; so wait for a run that stays.)
      fs.rmSync(path.join(ctl, 'fail'));
      await eventually(async () => expect(await inspect('node1', 'web3', '{{.State.Status}}')).toBe('running'), 60_000, 100);
      await everyNode([web2, web3]);
      await eventually(async () => expect((await fromClient(10)).web3).toBeGreaterThan(0), 30_000, 500);

      // No sync failed; `service ls` warns of none.
      expect(fs.existsSync(log), fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '').toBe(false);
      const ls = await suite.run(['service', 'ls']);
      expect(String(ls.stderr)).toBe('');
      expect(String(ls.stdout)).toContain(`${web2.split(':')[0]}:8080(node2)`);

      // cluster down right after a backend died (its supervisor's sync under way or about to start).
      process.kill(Number(await inspect('node2', 'web2', '{{.State.Pid}}')), 'SIGKILL');
    } finally {
      const down = await suite.run(['cluster', 'down']);
      expect(down.exitCode, String(down.stderr)).toBe(0);
    }
    for (const ns of netns) expect(fs.existsSync(`/run/netns/${ns}`)).toBe(false);
    expect(sh('ip', ['-o', 'link', 'show'])).not.toContain(`mcl${id}`);
    // A sync that waited for the services' lock finds no services and ends: nothing of the store runs.
    await eventually(() => expect(processesMentioning(base)).toEqual([]), 15_000, 200);
    expect(fs.existsSync(path.join(suite.store.root, 'cluster'))).toBe(false);
    expect(fs.existsSync(path.join(suite.store.run, 'cluster'))).toBe(false);
  }, 300_000);

  it('readiness: a backend with a health check is an endpoint only while healthy (its monitor re-syncs)', async () => {
    const lan = freeSubnet((a) => `172.16.${150 + a}.0/24`);
    await ok(['cluster', 'up', '--nodes', '2', '--pod-cidr', '10.251.0.0/16', '--lan', lan]);
    const id = storeId();
    const netns = [1, 2].map((i) => `mcl-${id}-node${i}`);
    const ipOf = async (node: string, name: string) => `${(await ok(['--node', node, 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', name])).trim()}:8080`;
    const everyNode = (want: string[]) => eventually(() => netns.forEach((ns) => expect(endpointsOn(ns)).toEqual([...want].sort())), 20_000, 200);
    try {
      await ok(['service', 'create', 'web', '--port', '80', '--target-port', '8080', '--selector', 'app=web', '--service-cidr', '10.98.0.0/16']);
      // ready1 is healthy once /tmp/ready exists; plain2 has no check (ready while it runs).
      await ok(['--node', 'node1', 'run', '-d', '--name', 'ready1', '-l', 'app=web', '--health-cmd', 'test -e /tmp/ready', '--health-interval', '200ms', '--health-retries', '1', 'busybox', 'sh', '-c', httpd('ready1')]);
      await ok(['--node', 'node2', 'run', '-d', '--name', 'plain2', '-l', 'app=web', 'busybox', 'sh', '-c', httpd('plain2')]);
      const [ready1, plain2] = [await ipOf('node1', 'ready1'), await ipOf('node2', 'plain2')];
      await everyNode([plain2]); // ready1 starts as "starting", then "unhealthy": not an endpoint
      await ok(['--node', 'node1', 'exec', 'ready1', 'touch', '/tmp/ready']);
      await everyNode([plain2, ready1]);
      expect(String(await ok(['service', 'ls']))).toContain(`${ready1.split(':')[0]}:8080(node1)`);
      await ok(['--node', 'node1', 'exec', 'ready1', 'rm', '/tmp/ready']);
      await everyNode([plain2]);
    } finally {
      const down = await suite.run(['cluster', 'down']);
      expect(down.exitCode, String(down.stderr)).toBe(0);
    }
    for (const ns of netns) expect(fs.existsSync(`/run/netns/${ns}`)).toBe(false);
  }, 120_000);
});
