// Pulls through the Engine API (POST /images/create) from a registry on 127.0.0.1 (Debian's
// docker-registry, stopped by its PID): the docker CLI's run of an image the store lacks,
// `docker pull`'s progress, testcontainers pulling its image, and an unknown image's 404.
import path from 'node:path';
import http from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imagesDir } from '../../helpers/minid.js';
import { httpAddr, loopbackPort, skopeoPush, startRegistry, stopAll } from '../../fixtures/registry/servers.js';
import { engineSuite } from './service.js';

const { suite, svc } = engineSuite('eng-pull', []);
let registry: ChildProcess | undefined;
let image = '';

beforeAll(async () => {
  const port = await loopbackPort();
  registry = (await startRegistry(suite.tmp, 'engine', port, httpAddr(port))).proc;
  await skopeoPush(path.join(imagesDir, 'busybox'), 'latest', `127.0.0.1:${port}/library/busybox:latest`);
  image = `127.0.0.1:${port}/library/busybox:latest`;
}, 60_000);
afterAll(() => stopAll(registry ? [registry] : []));

const docker = (args: string[]) => execa('/usr/bin/docker', args, { env: { DOCKER_HOST: svc.host }, reject: false, timeout: 60_000 });

describe('pulls through the Engine API', () => {
  it('docker run of an image the store lacks: the CLI pulls it (404 on create, then images/create)', async () => {
    const r = await docker(['run', '--rm', image, 'echo', 'pulled and ran']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('pulled and ran');
    expect(r.stderr).toContain(`Unable to find image '${image}' locally`);
    expect((await suite.run(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout).toBe(image);
  });

  it('docker pull shows the progress lines; testcontainers pulls its image', async () => {
    await suite.run(['rmi', image]);
    const r = await docker(['pull', image]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Pull complete/);
    expect(r.stdout).toMatch(/Status: Downloaded newer image for /);
    await suite.run(['rmi', image]);

    process.env.DOCKER_HOST = svc.host;
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    const { GenericContainer, Wait } = await import('testcontainers');
    const c = await new GenericContainer(image).withCommand(['sh', '-c', 'echo up; exec sleep 600']).withWaitStrategy(Wait.forLogMessage('up')).start();
    await c.stop({ timeout: 1000 });
    expect((await suite.run(['images', '-q'])).stdout).not.toBe('');
  });

  it('an image no registry has: 404 and docker\'s error JSON, before any progress', async () => {
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ socketPath: svc.socket, method: 'POST', path: `/v1.41/images/create?fromImage=${encodeURIComponent(image.replace('busybox', 'nothere'))}` }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body).message).toMatch(/library\/nothere not found/);
  });
});
