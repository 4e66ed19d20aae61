// testcontainers-node itself (the npm package, with dockerode under it) against minid's
// Engine API socket: DOCKER_HOST=unix://..., its reaper container disabled. The images are in
// the store already, so testcontainers pulls nothing (and MINID_CONFIG is offline anyway).
import { describe, expect, it } from 'vitest';
import { engineSuite } from './service.js';

const { suite, svc } = engineSuite('eng-tc', ['busybox', 'nginx']);

/** testcontainers, loaded once DOCKER_HOST names our socket (it reads the environment once). */
async function tc() {
  process.env.DOCKER_HOST = svc.host;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  return import('testcontainers');
}

describe('testcontainers against minid system service', () => {
  it('starts nginx with an exposed port and an HTTP wait strategy, answers, stops', async () => {
    const { GenericContainer, Wait } = await tc();
    const c = await new GenericContainer('nginx:latest')
      .withExposedPorts(80)
      // Copied into the created container before it starts (PUT /containers/{id}/archive).
      .withCopyContentToContainer([{ content: 'copied in\n', target: '/var/www/html/copied.txt' }])
      .withWaitStrategy(Wait.forHttp('/', 80))
      .withStartupTimeout(30_000)
      .start();
    try {
      const port = c.getMappedPort(80);
      expect(port).toBeGreaterThan(0);
      const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      expect(page).toContain('Welcome to nginx');
      // exec, logs and the labels testcontainers set, through the same socket.
      const r = await c.exec(['sh', '-c', 'echo to-out; echo to-err >&2; exit 3']);
      expect(r).toMatchObject({ exitCode: 3, stdout: 'to-out\n', stderr: 'to-err\n' });
      expect(await (await fetch(`http://127.0.0.1:${port}/copied.txt`)).text()).toBe('copied in\n');
      // Copied out: a tar of the file (GET /containers/{id}/archive).
      const chunks: Buffer[] = [];
      for await (const d of await c.copyArchiveFromContainer('/etc/nginx/nginx.conf')) chunks.push(Buffer.from(d));
      const tar = Buffer.concat(chunks);
      expect(tar.subarray(0, 100).toString()).toMatch(/^nginx\.conf/); // the first header's name
      expect(tar.toString()).toContain('worker_processes');
      const labels = (await suite.run(['inspect', '-f', '{{index .Config.Labels "org.testcontainers"}}', c.getId()])).stdout;
      expect(labels).toBe('true');
    } finally {
      await c.stop();
    }
    // stop removes it (testcontainers' default): gone from minid too.
    expect((await suite.run(['ps', '-aq'])).stdout).toBe('');
  });

  it('creates a network, runs two containers on it that reach each other, removes it', async () => {
    const { GenericContainer, Network, Wait } = await tc();
    const network = await new Network().start();
    try {
      const web = await new GenericContainer('nginx:latest').withNetwork(network).withExposedPorts(80).withWaitStrategy(Wait.forHttp('/', 80)).start();
      const ip = web.getIpAddress(network.getName());
      expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      const client = await new GenericContainer('busybox:latest').withNetwork(network).withCommand(['sleep', '600']).start(); // no port: no wait
      const r = await client.exec(['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc ${ip} 80`]);
      expect(r.output).toContain('Welcome to nginx');
      await client.stop({ timeout: 1000 });
      await web.stop();
    } finally {
      await network.stop();
    }
    expect((await suite.run(['network', 'ls', '--format', '{{.Name}}'])).stdout).not.toContain(network.getName());
  });

  it('waits for a log message', async () => {
    const { GenericContainer, Wait } = await tc();
    const c = await new GenericContainer('busybox:latest')
      .withCommand(['sh', '-c', 'sleep 0.3; echo "server is ready"; exec sleep 600'])
      .withWaitStrategy(Wait.forLogMessage(/server is ready/))
      .withStartupTimeout(20_000)
      .start();
    const logs = await c.logs();
    let text = '';
    await new Promise<void>((resolve) => {
      logs.on('data', (d) => {
        text += d;
        if (text.includes('server is ready')) resolve();
      });
    });
    logs.destroy();
    await c.stop({ timeout: 1000 });
    expect(text).toContain('server is ready');
  });

  it('waits for the health check (Wait.forHealthCheck polls inspect State.Health.Status); an unhealthy one fails', async () => {
    const { GenericContainer, Wait } = await tc();
    const c = await new GenericContainer('busybox:latest')
      .withCommand(['sh', '-c', 'sleep 0.5; touch /tmp/up; exec sleep 600'])
      // Milliseconds here; testcontainers sends nanoseconds (Config.Healthcheck).
      .withHealthCheck({ test: ['CMD-SHELL', 'test -e /tmp/up'], interval: 200, timeout: 1000, retries: 3 })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(20_000)
      .start();
    try {
      const [i] = JSON.parse((await suite.run(['inspect', c.getId()])).stdout);
      expect(i.State.Health.Status).toBe('healthy');
      expect(i.Config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'test -e /tmp/up'], Interval: 200_000_000, Timeout: 1_000_000_000, Retries: 3 });
    } finally {
      await c.stop({ timeout: 1000 });
    }
    const bad = new GenericContainer('busybox:latest')
      .withCommand(['sleep', '600'])
      .withHealthCheck({ test: ['CMD', 'false'], interval: 200, retries: 1 })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(20_000)
      .start();
    await expect(bad).rejects.toThrow(/Health check failed: unhealthy/);
    expect((await suite.run(['ps', '-aq'])).stdout).toBe('');
  });

  it('reports a container that fails before it is ready as failed', async () => {
    const { GenericContainer, Wait } = await tc();
    const started = new GenericContainer('busybox:latest')
      .withCommand(['sh', '-c', 'echo "cannot start: no config"; exit 2'])
      .withWaitStrategy(Wait.forLogMessage('ready'))
      .withStartupTimeout(15_000)
      .start();
    await expect(started).rejects.toThrow(/Log stream ended|not received|exited/i);
    // testcontainers stops and removes a container that failed to get ready: nothing is left.
    expect((await suite.run(['ps', '-aq'])).stdout).toBe('');
  });
});
