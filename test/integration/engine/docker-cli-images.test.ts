// The docker CLI's image and system commands (Debian's docker.io client, /usr/bin/docker)
// against minid's Engine API: tag, images, rmi (and its refusal while a container uses the
// image), image prune, history, save and load, network prune, system df, and bad input.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { api, engineSuite } from './service.js';
import { loadImages } from '../../helpers/minid.js';

const { suite, svc } = engineSuite('eng-img', ['busybox']);
// /usr/local/bin/docker (a newer CLI) may come first in PATH: the test names Debian's.
const docker = (args: string[]) => execa('/usr/bin/docker', args, { env: { DOCKER_HOST: svc.host }, reject: false, timeout: 60_000 });
/** The names `docker images` shows, as REPOSITORY:TAG. */
const names = async () => (await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n').filter(Boolean);

describe('docker CLI image and system commands against minid system service', () => {
  it('tag shows in images; rmi untags, then deletes; refused while a container uses the image, then -f', async () => {
    const t = await docker(['tag', 'busybox', 'eimg/box:1']);
    expect(t.exitCode, t.stderr).toBe(0);
    expect(await names()).toEqual(expect.arrayContaining(['busybox:latest', 'eimg/box:1']));

    // A second name goes with an untag only: the image stays under its other name.
    const un = await docker(['rmi', 'eimg/box:1']);
    expect(un).toMatchObject({ stdout: 'Untagged: eimg/box:1', exitCode: 0 });
    expect(await names()).toEqual(['busybox:latest']);

    // A container (even a created one) keeps its image: rmi is docker's 409, -f untags.
    const since = (Date.now() / 1000).toFixed(3);
    expect((await docker(['tag', 'busybox', 'eimg/used:1'])).exitCode).toBe(0);
    const c = await docker(['create', '--name', 'eimg-user', 'eimg/used:1', 'true']);
    expect(c.exitCode, c.stderr).toBe(0);
    try {
      expect((await docker(['rmi', 'busybox'])).exitCode).toBe(0); // one of two names: an untag
      const refused = await docker(['rmi', 'eimg/used:1']);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toMatch(/Error response from daemon: conflict: .*used by container eimg-user/);
      expect(await names()).toEqual(['eimg/used:1']);
      const forced = await docker(['rmi', '-f', 'eimg/used:1']);
      expect(forced).toMatchObject({ stdout: 'Untagged: eimg/used:1', exitCode: 0 });
      expect(await names()).toEqual(['<none>:<none>']); // kept, dangling, for its container
      // The refused rmi untagged nothing, and says so in the events too.
      const ev = await docker(['events', '--since', since, '--until', (Date.now() / 1000 + 0.1).toFixed(3), '--filter', 'type=image', '--format', '{{.Action}} {{.Actor.Attributes.name}}']);
      expect(ev.stdout.split('\n')).toEqual(['tag eimg/used:1', 'untag busybox:latest', 'untag eimg/used:1']);
    } finally {
      await docker(['rm', '-f', 'eimg-user']);
    }
    // Named again for the tests below (by its ID: the dangling image is the only one).
    const id = (await docker(['images', '-q'])).stdout.trim();
    expect((await docker(['tag', id, 'busybox:latest'])).exitCode).toBe(0);

    // The last name of an image no container uses: untagged and deleted, with its layers.
    expect((await docker(['tag', 'busybox', 'eimg/gone:1'])).exitCode).toBe(0);
    const api1 = await api(svc.socket, 'DELETE', '/v1.41/images/busybox:latest');
    expect(api1.status).toBe(200);
    expect(api1.body).toEqual([{ Untagged: 'busybox:latest' }]);
    const del = await docker(['rmi', 'eimg/gone:1']);
    expect(del.exitCode, del.stderr).toBe(0);
    expect(del.stdout).toMatch(/^Untagged: eimg\/gone:1\nDeleted: sha256:[0-9a-f]{64}/);
    expect(await names()).toEqual([]);
    // Back for the other tests (they share the suite's store).
    await loadImages(suite.store, ['busybox']);
    expect(await names()).toEqual(['busybox:latest']);
  });

  it('image prune removes a dangling image; -a every image without a container', async () => {
    expect((await docker(['tag', 'busybox', 'eimg/dangle:1'])).exitCode).toBe(0);
    // Made dangling as docker leaves one: its name moved to another image (here: untagged with -f while used).
    const c = await docker(['create', '--name', 'eimg-keep', 'eimg/dangle:1', 'true']);
    expect(c.exitCode, c.stderr).toBe(0);
    try {
      // Nothing dangling yet.
      const none = await docker(['image', 'prune', '-f']);
      expect(none).toMatchObject({ stdout: 'Total reclaimed space: 0B', exitCode: 0 });
      // The image a container uses is kept by -a.
      const keep = await docker(['image', 'prune', '-a', '-f']);
      expect(keep.exitCode, keep.stderr).toBe(0);
      expect(await names()).toEqual(expect.arrayContaining(['busybox:latest', 'eimg/dangle:1']));
    } finally {
      await docker(['rm', '-f', 'eimg-keep']);
    }
    // Saved, removed, loaded back under no name: a dangling image.
    const tar = path.join(suite.tmp, 'by-id.tar');
    const id = (await docker(['images', '-q', 'busybox'])).stdout.trim();
    expect((await docker(['save', '-o', tar, id])).exitCode).toBe(0); // by ID: no name in the tar
    expect((await docker(['rmi', 'eimg/dangle:1'])).exitCode).toBe(0);
    expect((await docker(['rmi', 'busybox'])).exitCode).toBe(0);
    const ld = await docker(['load', '-i', tar]);
    expect(ld.stdout).toMatch(/^Loaded image ID: sha256:[0-9a-f]{64}$/);
    expect(await names()).toEqual(['<none>:<none>']);
    const pr = await docker(['image', 'prune', '-f']);
    expect(pr.exitCode, pr.stderr).toBe(0);
    expect(pr.stdout).toMatch(/^Deleted Images:\ndeleted: sha256:[0-9a-f]{64}\n[\s\S]*\nTotal reclaimed space: [1-9][\d.]*[kM]?B$/);
    expect(await names()).toEqual([]);
    await loadImages(suite.store, ['busybox']);
  });

  it('history lists the layers, newest first', async () => {
    const h = await docker(['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}', 'busybox']);
    expect(h.exitCode, h.stderr).toBe(0);
    const rows = h.stdout.split('\n').map((l) => l.split('|'));
    const inspect = JSON.parse((await docker(['image', 'inspect', 'busybox'])).stdout)[0];
    expect(rows[0][0]).toBe(inspect.Id); // the newest step carries the image's ID
    expect(rows.length).toBeGreaterThanOrEqual(inspect.RootFS.Layers.length);
    expect(rows.some((r) => r[2] !== '0B')).toBe(true); // a step that made a layer has its size
    expect((await docker(['history', 'eimg/none'])).stderr).toMatch(/No such image: eimg\/none/);
  });

  it('save, rmi, load: the image comes back under its name and runs', async () => {
    const tar = path.join(suite.tmp, 'busybox.tar');
    const s = await docker(['save', '-o', tar, 'busybox']);
    expect(s.exitCode, s.stderr).toBe(0);
    expect(fs.statSync(tar).size).toBeGreaterThan(100_000);
    expect((await docker(['rmi', 'busybox'])).exitCode).toBe(0);
    expect(await names()).toEqual([]);
    const l = await docker(['load', '-i', tar]);
    expect(l).toMatchObject({ stdout: 'Loaded image: busybox:latest', exitCode: 0 });
    const run = await docker(['run', '--rm', 'busybox', 'echo', 'loaded']);
    expect(run).toMatchObject({ stdout: 'loaded', exitCode: 0 });

    // Not an image: docker's 400 with minid load's reason, and nothing of it in the store.
    const bad = path.join(suite.tmp, 'bad.tar');
    fs.writeFileSync(bad, 'not a tar at all'.repeat(100));
    const lb = await docker(['load', '-i', bad]);
    expect(lb.exitCode).toBe(1);
    expect(lb.stderr).toMatch(/Error response from daemon: the archive sent is not a valid image/);
    expect(lb.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await names()).toEqual(['busybox:latest']);
  });

  it('network create, then prune removes it', async () => {
    const name = `eimg-${process.pid}`;
    const c = await docker(['network', 'create', name]);
    expect(c.exitCode, c.stderr).toBe(0);
    try {
      const p = await docker(['network', 'prune', '-f']);
      expect(p).toMatchObject({ exitCode: 0 });
      expect(p.stdout).toContain(`Deleted Networks:\n${name}`);
      expect((await docker(['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n')).not.toContain(name);
    } finally {
      await docker(['network', 'rm', name]);
    }
  });

  it('system df shows the images and containers', async () => {
    const c = await docker(['create', '--name', 'eimg-df', 'busybox', 'true']);
    expect(c.exitCode, c.stderr).toBe(0);
    try {
      const df = await docker(['system', 'df']);
      expect(df.exitCode, df.stderr).toBe(0);
      expect(df.stdout).toMatch(/^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE/);
      expect(df.stdout).toMatch(/\nImages +1 +1 +[1-9][\d.]*MB +0B \(0%\)/);
      expect(df.stdout).toMatch(/\nContainers +1 +0 +/);
      expect(df.stdout).toMatch(/\nBuild Cache +0 +0 +0B +0B/);
      const r = await api(svc.socket, 'GET', '/v1.41/system/df');
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ LayersSize: expect.any(Number), BuildCache: [], Volumes: [] });
      expect(r.body.Images[0]).toMatchObject({ RepoTags: ['busybox:latest'], Containers: 1 });
      expect(r.body.Containers[0]).toMatchObject({ Names: ['/eimg-df'], SizeRw: expect.any(Number) });
    } finally {
      await docker(['rm', '-f', 'eimg-df']);
    }
    // build prune (docker system prune asks it): nothing, as minid keeps no build cache.
    expect((await api(svc.socket, 'POST', '/build/prune')).body).toEqual({ CachesDeleted: null, SpaceReclaimed: 0 });
  });

  it('system prune -f: stopped containers and unused networks go, a running container and its image stay', async () => {
    const net = `eimg-sp-${Math.random().toString(16).slice(2, 8)}`;
    expect((await docker(['network', 'create', net])).exitCode).toBe(0);
    const stopped = await docker(['run', '--name', 'eimg-done', 'busybox', 'true']);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    const up = await docker(['run', '-d', '--name', 'eimg-up', 'busybox', 'sleep', '600']);
    expect(up.exitCode, up.stderr).toBe(0);
    try {
      const p = await docker(['system', 'prune', '-f']);
      expect(p.exitCode, p.stderr).toBe(0);
      expect(p.stdout).toMatch(/Deleted Containers:\n[0-9a-f]{64}/);
      expect(p.stdout).toContain(`Deleted Networks:\n${net}`);
      expect(p.stdout).toMatch(/Total reclaimed space: /);
      expect((await docker(['ps', '-a', '--format', '{{.Names}}'])).stdout).toBe('eimg-up');
      expect((await docker(['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n')).not.toContain(net);
      expect(await names()).toContain('busybox:latest');
    } finally {
      await docker(['rm', '-f', 'eimg-up', 'eimg-done']);
      await docker(['network', 'rm', net]);
    }
  });

  it('bad input: docker\'s errors, no stack trace', async () => {
    const rmi = await docker(['rmi', 'eimg/nothing:1']);
    expect(rmi.exitCode).toBe(1);
    expect(rmi.stderr).toBe('Error: No such image: eimg/nothing:1');
    const tag = await api(svc.socket, 'POST', '/images/eimg%2Fnothing/tag?repo=x&tag=1');
    expect(tag).toMatchObject({ status: 404, body: { message: 'No such image: eimg/nothing' } });
    const badRef = await api(svc.socket, 'POST', '/images/busybox/tag?repo=Upper&tag=1');
    expect(badRef.status).toBe(400);
    expect(badRef.body.message).toMatch(/^invalid reference format/);
    const badFilter = await api(svc.socket, 'POST', `/images/prune?filters=${encodeURIComponent('{"until":["1h"]}')}`);
    expect(badFilter.status).toBe(400);
    const save = await api(svc.socket, 'GET', '/images/get?names=eimg%2Fnothing');
    expect(save).toMatchObject({ status: 404, body: { message: 'No such image: eimg/nothing' } });
    const empty = await api(svc.socket, 'POST', '/images/load');
    expect(empty.status).toBe(400);
    expect(await names()).toEqual(['busybox:latest']);
  });
});
