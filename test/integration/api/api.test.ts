// minid's TypeScript API as a test suite uses it: `import ... from 'minid'`, the package's own
// entry (dist/api, through package.json's exports), never src/. A store of its own (its own
// bridge and subnet), images loaded through the API; every test ends with nothing of its
// containers left: no record, no mount, no bridge port.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MinidError, Session, SESSION_LABEL, containers, createNetwork, load, networks, pull, run, type Container } from 'minid';
import { imagesDir, makeStore, minid, mountsUnder, repo, requireRoot, type Store } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';
import { httpAddr, loopbackPort, skopeoPush, startRegistry, stopAll } from '../../fixtures/registry/servers.js';

let store: Store;
let tmp: string;
const saved: Record<string, string | undefined> = {};

/** Nothing of these containers is left: not in `minid ps -a`, no mount of theirs, no veth on the store's bridge. */
async function gone(ids: string[]): Promise<void> {
  const ps = await minid(store, ['ps', '-aq', '--no-trunc']);
  for (const id of ids) expect(ps.stdout).not.toContain(id);
  for (const id of ids) expect(mountsUnder(id)).toEqual([]);
  expect(fs.readdirSync(path.join(store.root, 'containers')).filter((d) => ids.includes(d))).toEqual([]);
}

beforeAll(async () => {
  requireRoot();
  store = makeStore('api');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-api-'));
  // The API reads the store from the environment at each call, as the CLI does.
  for (const [k, v] of Object.entries(store.env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  expect(await load(path.join(imagesDir, 'busybox'))).toEqual(['busybox:latest']);
  expect(await load(path.join(imagesDir, 'nginx'))).toEqual(['nginx:latest']);
});

afterAll(async () => {
  // The default session's leftovers (a failed test's) go with the store.
  await store?.cleanup();
  for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the TypeScript API', () => {
  it('importing it runs nothing (no output, no store made); without root, a call is one line', async () => {
    const none = path.join(tmp, 'no-store');
    const importIt = "const m = await import('minid'); console.log(typeof m.run);";
    const script = `${importIt} await m.run('busybox').catch((e) => console.log(e.name + ': ' + e.message));`;
    const env = { MINID_ROOT: none, MINID_RUN: `${none}-run` };
    const imported = await execa('node', ['--input-type=module', '-e', importIt], { cwd: repo, env, reject: false });
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toBe('function');
    const asNobody = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', '--input-type=module', '-e', script], { cwd: repo, env, reject: false });
    expect(asNobody.stdout).toBe('function\nMinidError: the minid API must run as root (it creates namespaces, mounts and iptables rules): run the tests with sudo');
    expect(fs.existsSync(none) || fs.existsSync(`${none}-run`)).toBe(false);
  });

  it('nginx on a random published port: waitForPort, fetch, exec, logs, cp in and out; `await using` leaves nothing', async () => {
    let id = '';
    {
      await using web = await run('nginx', { ports: [80], labels: { suite: 'api' } });
      id = web.id;
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      const port = await web.port(80);
      expect(port).toBeGreaterThan(1023);
      expect(await web.ports()).toEqual([{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: port }]);
      await web.waitForPort(80, { timeout: 20_000 });

      const page = await fetch(await web.url(80));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Welcome to nginx');

      // exec: output captured, stdout and stderr apart, its exit code; input on stdin.
      const x = await web.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
      expect(x).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
      expect((await web.exec(['cat'], { input: 'piped' })).stdout).toBe('piped');
      expect((await web.exec(['sh', '-c', 'echo $A'], { env: { A: 'from the test' } })).stdout).toBe('from the test\n');

      // logs: nginx's access log line for that request.
      await web.waitForLog(/"GET \/ HTTP\/1\.1" 200/, { timeout: 10_000 });
      expect((await web.logs()).stdout).toMatch(/"GET \/ HTTP\/1\.1" 200/);

      // cp in: a file from the host, then served; cp out: nginx's config to the host.
      const page2 = path.join(tmp, 'api.txt');
      fs.writeFileSync(page2, 'copied in by the API\n');
      await web.copyTo(page2, '/var/www/html/api.txt');
      expect(await (await fetch(await web.url(80, '/api.txt'))).text()).toBe('copied in by the API\n');
      await web.copyFrom('/etc/nginx/nginx.conf', path.join(tmp, 'nginx.conf'));
      expect(fs.readFileSync(path.join(tmp, 'nginx.conf'), 'utf8')).toContain('http {');
      await web.writeFile('/tmp/note', 'a note');
      expect((await web.readFile('/tmp/note')).toString()).toBe('a note');

      const info = await web.inspect();
      expect(info.State.Status).toBe('running');
      expect(info.Config.Labels).toMatchObject({ suite: 'api', [SESSION_LABEL]: expect.stringMatching(/^[0-9a-f]{32}$/) });
    }
    await gone([id]);
  });

  it('waitForLog, waitForHealthy (a check of the test\'s own), stop, wait, and waits that fail say why', async () => {
    let ids: string[] = [];
    {
      await using box = await run('busybox', { command: ['sh', '-c', 'echo starting; sleep 0.3; echo ready; echo warn >&2; exec sleep 600'], stopTimeout: 1 });
      const m = await box.waitForLog(/ready/);
      expect(m[0]).toBe('ready');
      await box.waitForLog('warn', { stream: 'stderr' });
      expect(await box.logs()).toEqual({ stdout: 'starting\nready\n', stderr: 'warn\n' });

      // Healthy when the test says so: a command that exits 0, or a function.
      setTimeout(() => void box.exec(['touch', '/tmp/healthy']), 300);
      await box.waitForHealthy(['test', '-f', '/tmp/healthy'], { timeout: 10_000 });
      let calls = 0;
      await box.waitForHealthy(async () => ++calls >= 3, { interval: 10 });
      expect(calls).toBe(3);
      await expect(box.waitForHealthy(() => false, { timeout: 300 })).rejects.toThrow(/waited for the health check to pass, but not within 300 ms \(last: the check returned false\)/);
      await expect(box.waitForLog(/never printed/, { timeout: 300 })).rejects.toThrow(/its last lines:\nstarting\nready/);

      await box.stop();
      expect(await box.status()).toBe('exited');
      expect(await box.wait()).toBe(137); // sleep as PID 1 has no SIGTERM handler, so ignores it: SIGKILL after 1 s
      await expect(box.waitForPort(80, { timeout: 1000 })).rejects.toThrow(/it is exited|no address/);

      const quick = await run('busybox', { command: ['sh', '-c', 'echo bye; exit 4'] });
      await expect(quick.waitForLog(/hello/)).rejects.toThrow(/but it is exited; its last lines:\nbye/);
      expect(await quick.wait()).toBe(4);
      await quick.remove();
      ids = [box.id, quick.id];
    }
    await gone(ids);
  });

  it('the healthcheck run option and waitForHealthy() by the container\'s own check (testcontainers\' Wait.forHealthCheck)', async () => {
    let ids: string[] = [];
    {
      await using ok = await run('busybox', { command: ['sh', '-c', 'sleep 0.5; touch /tmp/up; exec sleep 600'], network: 'none', healthcheck: { cmd: 'test -e /tmp/up', interval: '200ms' } });
      await ok.waitForHealthy({ timeout: 20_000 });
      const i = await ok.inspect();
      expect(i.State.Health.Status).toBe('healthy');
      expect(i.Config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'test -e /tmp/up'], Interval: 200_000_000 });
      // An argv is docker's ["CMD", ...]; unhealthy fails the wait at once.
      await using bad = await run('busybox', { command: ['sleep', '600'], network: 'none', healthcheck: { cmd: ['false'], interval: '200ms', retries: 1 } });
      expect((await bad.inspect()).Config.Healthcheck.Test).toEqual(['CMD', 'false']);
      await expect(bad.waitForHealthy({ timeout: 20_000 })).rejects.toThrow(/is unhealthy \(failing streak \d+; last: exit 1\)/);
      await using plain = await run('busybox', { command: ['sleep', '600'], network: 'none' });
      await expect(plain.waitForHealthy()).rejects.toThrow(/has no health check: run it with one/);
      await expect(run('busybox', { healthcheck: { cmd: 'true', interval: 'soon' } })).rejects.toThrow(/invalid argument "soon" for "--health-interval" flag/);
      ids = [ok.id, bad.id, plain.id];
    }
    await gone(ids);
  });

  it('networks: create one, run a container on it, connect another, they talk; removing a network in use is refused', async () => {
    const subnet = freeSubnet((a, b) => `10.${150 + a}.${b}.0/24`);
    await using net = await createNetwork({ subnet });
    expect(net.subnet).toBe(subnet);
    expect((await networks({ label: SESSION_LABEL })).map((n) => n.name)).toContain(net.name);
    await using a = await run('busybox', { network: net.name, name: `api-a-${net.name.slice(-8)}`, command: ['sleep', '600'] });
    await using b = await run('busybox', { command: ['sleep', '600'] });
    await b.connect(net);
    const ipA = (await a.inspect()).NetworkSettings.Networks[net.name].IPAddress as string;
    expect(ipA.split('.').slice(0, 3)).toEqual(subnet.split('.').slice(0, 3));
    const ping = await b.exec(['ping', '-c', '1', '-W', '2', ipA]);
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0);
    await b.disconnect(net);
    expect((await b.exec(['ping', '-c', '1', '-W', '1', ipA])).exitCode).not.toBe(0);
    await expect(net.remove()).rejects.toThrow(/has active endpoints/);
    await a.remove();
    await net.remove();
    expect((await networks()).map((n) => n.name)).not.toContain(net.name);
  });

  it('waitForPort with --network host: the host\'s own port (busybox httpd on 127.0.0.1)', async () => {
    const port = await loopbackPort();
    await using web = await run('busybox', { network: 'host', command: ['sh', '-c', `sleep 0.5; echo served > /tmp/index.html; exec httpd -f -h /tmp -p 127.0.0.1:${port}`] });
    expect(await web.ip()).toBeUndefined();
    await web.waitForPort(port, { timeout: 10_000 });
    expect(await (await fetch(`http://127.0.0.1:${port}/index.html`)).text()).toBe('served\n');
  });

  it("pull from a registry on 127.0.0.1, and run's pull: 'always'", async () => {
    const port = await loopbackPort();
    const registry = await startRegistry(tmp, 'api', port, httpAddr(port));
    try {
      const ref = `127.0.0.1:${port}/library/busybox:latest`;
      await skopeoPush(path.join(imagesDir, 'busybox'), 'latest', ref);
      const id = await pull(ref);
      expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
      await using c = await run(ref, { pull: 'always', command: ['echo', 'pulled'] });
      expect(await c.wait()).toBe(0);
      expect((await c.logs()).stdout).toBe('pulled\n');
    } finally {
      await stopAll([registry.proc]);
    }
  });

  it("run's mistakes are one line (MinidError) and leave nothing; a session closes only its own", async () => {
    const before = (await containers()).length;
    await expect(run('busybox', { memory: 'lots' })).rejects.toThrow(MinidError);
    await expect(run('busybox', { memory: 'lots' })).rejects.toThrow(/^invalid .*memory|lots/);
    const notFound = await run('busybox', { command: ['/no/such/program'] }).catch((e) => e);
    expect(notFound).toBeInstanceOf(MinidError);
    expect(notFound.exitCode).toBe(127);
    await expect(run('nosuchimage', { pull: 'never' })).rejects.toThrow(/not found locally/);
    await expect(run('busybox', { network: 'none', ports: [80] })).rejects.toThrow(/cannot be published/);
    expect((await containers()).length).toBe(before);

    const mine = await Session.start();
    const other = await Session.start();
    const c1: Container = await mine.run('busybox', { command: ['sleep', '600'] });
    const c2: Container = await other.run('busybox', { command: ['sleep', '600'] });
    expect((await mine.containers()).map((c) => c.id)).toEqual([c1.id]);
    const closed = await mine.close();
    expect(closed).toEqual({ containers: [c1.name], networks: [], errors: [] });
    await expect(mine.run('busybox')).rejects.toThrow(/session is closed/);
    expect(await c2.status()).toBe('running');
    await other[Symbol.asyncDispose]();
    await gone([c1.id, c2.id]);
  });
});
