// The docker CLI's everyday container verbs (Debian's /usr/bin/docker) against minid's Engine
// API: stats (once and streamed), top, pause/unpause, rename, diff, export, container prune,
// and what it says for a container that is not there, a bad input, or update (no such verb).
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { api, engineSuite } from './service.js';

const { suite, svc } = engineSuite('eng-verbs', ['busybox']);
const docker = (args: string[]) => execa('/usr/bin/docker', args, { env: { DOCKER_HOST: svc.host }, reject: false, timeout: 60_000 });

/** The names the tests use, removed whatever happened. */
async function removeAll(...names: string[]) {
  await docker(['rm', '-f', ...names]);
}

describe('docker CLI verbs against minid system service', () => {
  it('stats --no-stream and streamed: CPU, the -m limit, PIDs; the API object in docker\'s shape', async () => {
    try {
      const run = await docker(['run', '-d', '-m', '64m', '--name', 'st', 'busybox', 'sleep', '600']);
      expect(run.exitCode, run.stderr).toBe(0);
      const once = await docker(['stats', '--no-stream', 'st']);
      expect(once.exitCode, once.stderr).toBe(0);
      expect(once.stdout).toMatch(/CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS/);
      expect(once.stdout).toMatch(new RegExp(`${run.stdout.slice(0, 12)} +st +\\d+\\.\\d+% +[\\d.]+[KMG]?i?B / 64MiB +[\\d.]+% +\\S+ / \\S+ +\\S+ / \\S+ +1$`, 'm'));

      // The object the CLI computed that from (stream=0: two samples a second apart).
      const r = await api(svc.socket, 'GET', '/v1.41/containers/st/stats?stream=0');
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ name: '/st', id: run.stdout, memory_stats: { limit: 64 * 1024 * 1024 }, pids_stats: { current: 1 } });
      expect(r.body.cpu_stats.online_cpus).toBeGreaterThan(0);
      expect(r.body.cpu_stats.system_cpu_usage).toBeGreaterThan(r.body.precpu_stats.system_cpu_usage);
      expect(Date.parse(r.body.read)).toBeGreaterThan(Date.parse(r.body.preread));
      expect(Object.keys(r.body.networks)).toContain('eth0');

      // Streamed: the table again every second, until the client leaves (killed by its PID).
      const live = execa('/usr/bin/docker', ['stats', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', 'st'], { env: { DOCKER_HOST: svc.host }, reject: false });
      let seen = '';
      live.stdout!.on('data', (d) => (seen += d));
      const until = Date.now() + 15_000;
      while ((seen.match(/st [\d.]+[KMG]?i?B \/ 64MiB 1/g) ?? []).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      live.kill();
      await live;
      expect((seen.match(/st [\d.]+[KMG]?i?B \/ 64MiB 1/g) ?? []).length, seen).toBeGreaterThanOrEqual(2);

      // No names: every running container (the CLI lists them through GET /containers/json).
      const every = await docker(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}']);
      expect(every).toMatchObject({ stdout: 'st 1', exitCode: 0 });
      // A container that does not run: zeros, as docker's.
      expect((await docker(['create', '--name', 'idle', 'busybox', 'true'])).exitCode).toBe(0);
      expect((await docker(['stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}', 'idle'])).stdout).toBe('idle 0.00% 0B / 0B 0');

      const none = await docker(['stats', '--no-stream', 'nosuch']);
      expect(none.exitCode).toBe(1);
      expect(none.stderr).toMatch(/No such container: nosuch/);
      expect((await api(svc.socket, 'GET', '/containers/st/stats?stream=1&one-shot=1')).status).toBe(400);
    } finally {
      await removeAll('st', 'idle');
    }
  });

  it('top, pause/unpause, rename', async () => {
    try {
      expect((await docker(['run', '-d', '--name', 'v1', 'busybox', 'sleep', '600'])).exitCode).toBe(0);
      const top = await docker(['top', 'v1']);
      expect(top.exitCode, top.stderr).toBe(0);
      expect(top.stdout).toMatch(/^UID +PID +PPID +C +STIME +TTY +TIME +CMD/);
      expect(top.stdout).toMatch(/sleep 600$/m);
      const comm = await docker(['top', 'v1', '-o', 'pid,comm']);
      expect(comm.stdout).toMatch(/^PID +COMMAND\n\d+ +sleep$/);

      expect(await docker(['pause', 'v1'])).toMatchObject({ stdout: 'v1', exitCode: 0 });
      expect((await docker(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'v1'])).stdout).toBe('paused true');
      const again = await docker(['pause', 'v1']);
      expect(again.exitCode).toBe(1);
      expect(again.stderr).toMatch(/already paused/);
      expect(await docker(['unpause', 'v1'])).toMatchObject({ stdout: 'v1', exitCode: 0 });
      expect((await docker(['inspect', '-f', '{{.State.Status}}', 'v1'])).stdout).toBe('running');
      expect((await docker(['unpause', 'v1'])).stderr).toMatch(/is not paused/);

      expect((await docker(['rename', 'v1', 'v2'])).exitCode).toBe(0);
      expect((await docker(['inspect', '-f', '{{.Name}}', 'v2'])).stdout).toBe('/v2');
      expect((await docker(['top', 'v2'])).stdout).toMatch(/sleep 600$/m);
      expect((await docker(['inspect', 'v1'])).stderr).toMatch(/No such (object|container): v1/);
      // A name in use (409), a bad name (400), no such container (404), not running (409).
      expect((await docker(['create', '--name', 'v3', 'busybox', 'true'])).exitCode).toBe(0);
      const taken = await docker(['rename', 'v2', 'v3']);
      expect(taken.exitCode).toBe(1);
      expect(taken.stderr).toMatch(/already in use/);
      expect((await api(svc.socket, 'POST', '/containers/v2/rename?name=v3')).status).toBe(409);
      expect((await api(svc.socket, 'POST', '/containers/v2/rename?name=bad%20name')).status).toBe(400);
      expect((await docker(['rename', 'v2', 'bad name!'])).stderr).toMatch(/invalid container name/i);
      expect((await docker(['rename', 'nosuch', 'v4'])).stderr).toMatch(/No such container: nosuch/);
      expect((await docker(['pause', 'nosuch'])).stderr).toMatch(/No such container: nosuch/);
      expect((await docker(['top', 'nosuch'])).stderr).toMatch(/No such container: nosuch/);
      const stopped = await api(svc.socket, 'POST', '/containers/v3/pause');
      expect(stopped).toMatchObject({ status: 409, body: { message: expect.stringMatching(/is not running/) } });
      expect((await api(svc.socket, 'GET', '/containers/v3/top')).status).toBe(409);
      // minid has no update verb: docker update says so in one line (501), not "page not found".
      const upd = await docker(['update', '--memory', '100m', 'v2']);
      expect(upd.exitCode).toBe(1);
      expect(upd.stderr).toMatch(/no update verb\): recreate the container/);
      expect((await docker(['update', '--memory', '100m', 'nosuch'])).stderr).toMatch(/No such container: nosuch/);
    } finally {
      await removeAll('v1', 'v2', 'v3');
    }
  });

  it('diff, export, container prune', async () => {
    let created = '';
    try {
      const d = await docker(['run', '--name', 'd', '--label', 'keep=no', 'busybox', 'sh', '-c', 'echo hi > /new-file && rm /bin/ls']);
      expect(d.exitCode, d.stderr).toBe(0);
      const diff = await docker(['diff', 'd']);
      expect(diff.exitCode, diff.stderr).toBe(0);
      expect(diff.stdout.split('\n')).toEqual(expect.arrayContaining(['A /new-file', 'C /bin', 'D /bin/ls']));
      expect((await docker(['diff', 'nosuch'])).stderr).toMatch(/No such container: nosuch/);

      const tar = path.join(suite.tmp, 'd.tar');
      const ex = await docker(['export', '-o', tar, 'd']);
      expect(ex.exitCode, ex.stderr).toBe(0);
      const list = (await execa('tar', ['-tf', tar])).stdout.split('\n');
      expect(list).toEqual(expect.arrayContaining(['./new-file', './bin/sh']));
      expect(list).not.toContain('./bin/ls');
      expect((await execa('tar', ['-xOf', tar, './new-file'])).stdout).toBe('hi');
      expect((await docker(['export', '-o', tar, 'nosuch'])).stderr).toMatch(/No such container: nosuch/);

      // prune: the stopped ones that pass the filters, never a running one.
      created = (await docker(['create', '--label', 'keep=yes', 'busybox', 'true'])).stdout;
      expect((await docker(['run', '-d', '--name', 'up', 'busybox', 'sleep', '600'])).exitCode).toBe(0);
      const bad = await docker(['container', 'prune', '-f', '--filter', 'color=red']);
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toMatch(/Invalid filter 'color'/);
      const some = await docker(['container', 'prune', '-f', '--filter', 'label=keep=no']);
      expect(some.exitCode, some.stderr).toBe(0);
      expect(some.stdout).toMatch(/^Deleted Containers:\n[0-9a-f]{64}\n\nTotal reclaimed space: [\d.]+k?B$/);
      expect((await docker(['ps', '-aq', '--no-trunc'])).stdout.split('\n').sort()).toEqual([created, (await docker(['inspect', '-f', '{{.Id}}', 'up'])).stdout].sort());
      const all = await docker(['container', 'prune', '-f']);
      expect(all.stdout).toBe(`Deleted Containers:\n${created}\n\nTotal reclaimed space: 0B`);
      expect((await docker(['ps', '-a', '--format', '{{.Names}}'])).stdout).toBe('up');
      expect((await docker(['container', 'prune', '-f'])).stdout).toBe('Total reclaimed space: 0B');
    } finally {
      await removeAll('d', 'up', ...(created ? [created] : []));
    }
  });
});
