// Bad input to minid's Engine API: docker's status codes and {"message": ...}, never a hang;
// the socket root's only; the service gone when idle. Nothing is left afterwards.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cli } from '../../helpers/minid.js';
import { api as rawApi, engineSuite } from './service.js';

const { suite, svc } = engineSuite('eng-bad', ['busybox']);

const api = (method: string, p: string, body?: string, socket = svc.socket) => rawApi(socket, method, p, body);

describe('Engine API: bad input', () => {
  it('answers any /vX.Y prefix, and an unknown endpoint with 404 and docker\'s error JSON', async () => {
    for (const p of ['/_ping', '/v1.41/_ping', '/v1.24/_ping']) expect(await api('GET', p)).toMatchObject({ status: 200, body: 'OK' });
    const r = await api('GET', '/v1.41/swarm');
    expect(r.status).toBe(404);
    expect(r.body.message).toMatch(/no GET \/swarm/);
    expect((await api('PATCH', '/v1.41/containers/json')).status).toBe(405);
    expect(await api('GET', '/v1.41/events?since=yesterday')).toMatchObject({ status: 400, body: { message: expect.stringMatching(/invalid since "yesterday"/) } });
    expect((await api('GET', `/v1.41/events?until=1&filters=${encodeURIComponent('{"colour":["red"]}')}`)).status).toBe(400);
    // Connection: Upgrade where nothing hijacks: a plain answer on that connection, not a hang.
    const raw = await new Promise<string>((resolve, reject) => {
      const c = net.connect(svc.socket, () => c.write('GET /v1.41/nope HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n'));
      let text = '';
      c.on('data', (d) => (text += d));
      c.on('end', () => resolve(text));
      c.on('error', reject);
      c.setTimeout(10_000, () => c.destroy(new Error('no answer (a hang)')));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 404 /);
    expect(raw).toContain('{"message":"page not found');
  });

  it('malformed JSON is 400, an unknown image 404, a name in use 409', async () => {
    const bad = await api('POST', '/v1.41/containers/create', '{"Image": ');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/invalid JSON/);
    expect((await api('POST', '/v1.41/containers/create', '[1]')).status).toBe(400);
    expect(await api('POST', '/v1.41/containers/create', '{"Image":"no-such-image"}')).toMatchObject({ status: 404, body: { message: 'No such image: no-such-image' } });
    expect(await api('GET', '/v1.41/images/no-such-image/json')).toMatchObject({ status: 404, body: { message: 'No such image: no-such-image' } });

    const first = await api('POST', '/v1.41/containers/create?name=taken', '{"Image":"busybox","Cmd":["sleep","60"]}');
    expect(first.status).toBe(201);
    suite.ids.push(first.body.Id);
    const again = await api('POST', '/v1.41/containers/create?name=taken', '{"Image":"busybox"}');
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/"taken" is already in use/);
  });

  it('a missing container is 404; removing a running one without force, or exec in a stopped one, 409', async () => {
    for (const [m, p] of [['GET', '/containers/nope/json'], ['POST', '/containers/nope/start'], ['POST', '/containers/nope/stop'], ['DELETE', '/containers/nope'], ['GET', '/containers/nope/logs?stdout=1']] as const)
      expect(await api(m, `/v1.41${p}`)).toMatchObject({ status: 404, body: { message: 'No such container: nope' } });
    const c = await api('POST', '/v1.41/containers/create?name=busy', '{"Image":"busybox","Cmd":["sleep","60"]}');
    suite.ids.push(c.body.Id);
    expect((await api('POST', `/v1.41/containers/${c.body.Id}/exec`, '{"Cmd":["true"]}')).status).toBe(409); // created, not running
    expect((await api('POST', '/v1.41/containers/busy/start')).status).toBe(204);
    expect((await api('POST', '/v1.41/containers/busy/start')).status).toBe(304);
    const rm = await api('DELETE', '/v1.41/containers/busy');
    expect(rm.status).toBe(409);
    expect(rm.body.message).toMatch(/running/);
    expect((await api('GET', '/v1.41/containers/busy/logs')).status).toBe(400); // no stream chosen
    expect((await api('POST', '/v1.41/containers/busy/exec', '{"Cmd":[]}')).status).toBe(400);
    expect((await api('POST', '/v1.41/containers/busy/kill?signal=SIGNOPE')).status).toBe(400);
    expect((await api('DELETE', '/v1.41/containers/busy?force=1')).status).toBe(204);
    expect((await api('DELETE', '/v1.41/containers/taken?force=1')).status).toBe(204);
    expect((await suite.run(['ps', '-aq'])).stdout).toBe('');
  });

  it('volumes: created (idempotent), listed, filtered, inspected; a bad name or filter 400, none such 404, in use 409, then removed and pruned', async () => {
    const made = await api('POST', '/v1.41/volumes/create', '{"Name":"engvol","Labels":{"team":"a"}}');
    expect(made).toMatchObject({ status: 201, body: { Name: 'engvol', Driver: 'local', Labels: { team: 'a' }, Scope: 'local' } });
    expect((await api('POST', '/v1.41/volumes/create', '{"Name":"engvol"}')).status).toBe(201); // there already: the same volume
    const anon = await api('POST', '/v1.41/volumes/create', '{}');
    expect(anon.body.Name).toMatch(/^[0-9a-f]{64}$/);
    expect((await api('GET', '/v1.41/volumes')).body.Volumes.map((v: { Name: string }) => v.Name).sort()).toEqual([anon.body.Name, 'engvol'].sort());
    expect((await api('GET', `/v1.41/volumes?filters=${encodeURIComponent('{"label":["team=a"]}')}`)).body.Volumes.map((v: { Name: string }) => v.Name)).toEqual(['engvol']);
    expect((await api('GET', `/v1.41/volumes?filters=${encodeURIComponent('{"colour":["red"]}')}`)).status).toBe(400);
    expect((await api('POST', '/v1.41/volumes/create', '{"Name":"../etc"}')).status).toBe(400);
    expect((await api('POST', '/v1.41/volumes/create', '{"Name":"x1","Driver":"nfs"}')).status).toBe(400);
    expect((await api('GET', '/v1.41/volumes/nope')).status).toBe(404);
    expect((await api('DELETE', '/v1.41/volumes/nope')).status).toBe(404);
    // In use by a container (any state): 409, as docker.
    const c = await api('POST', '/v1.41/containers/create', '{"Image":"busybox","Cmd":["true"],"HostConfig":{"Mounts":[{"Type":"volume","Source":"engvol","Target":"/data"}]}}');
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    expect((await api('DELETE', '/v1.41/volumes/engvol')).status).toBe(409);
    expect((await api('DELETE', `/v1.41/containers/${c.body.Id}`)).status).toBe(204);
    expect((await api('DELETE', '/v1.41/volumes/engvol')).status).toBe(204);
    const pruned = await api('POST', '/v1.41/volumes/prune');
    expect(pruned).toMatchObject({ status: 200, body: { VolumesDeleted: [anon.body.Name] } });
    expect((await api('GET', '/v1.41/volumes')).body.Volumes).toEqual([]);
  });

  it('the socket is root\'s only: a request from another user is refused', async () => {
    const st = fs.statSync(svc.socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(0);
    // As nobody (65534): connect(2) to the socket is denied.
    const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'curl', '-sS', '--unix-socket', svc.socket, 'http://engine/_ping'], { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/Permission denied|Couldn't connect/i);
  });

  it('started on demand, the service exits on its own after --timeout idle; its default socket is in the run folder', async () => {
    const p = execa(cli, ['system', 'service', '--timeout', '1'], { env: suite.store.env, reject: false });
    const sock = path.join(suite.store.run, 'engine.sock');
    const end = Date.now() + 15_000;
    while (!fs.existsSync(sock) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect((await api('GET', '/_ping', undefined, sock)).status).toBe(200);
    const r = await p; // returns: it went idle and exited
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(`DOCKER_HOST=unix://${sock}`);
    expect(fs.existsSync(sock)).toBe(false);
    // SIGTERM ends it at once, also with a hijacked attach open (docker run's, here by hand).
    const q = execa(cli, ['system', 'service', '--timeout', '0'], { env: suite.store.env, reject: false });
    while (!fs.existsSync(sock)) await new Promise((r) => setTimeout(r, 20));
    const c = await api('POST', '/v1.41/containers/create?name=attached', '{"Image":"busybox","Cmd":["sleep","60"]}', sock);
    suite.ids.push(c.body.Id);
    const hijacked = net.connect(sock, () => hijacked.write(`POST /v1.41/containers/attached/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`));
    const upgraded = new Promise<string>((resolve) => hijacked.once('data', (d) => resolve(String(d))));
    const closed = new Promise((resolve) => hijacked.on('close', resolve));
    expect(await upgraded).toMatch(/^HTTP\/1\.1 101 /);
    expect((await api('POST', '/v1.41/containers/attached/start', undefined, sock)).status).toBe(204);
    const t0 = Date.now();
    process.kill(q.pid!, 'SIGTERM');
    expect((await q).exitCode).toBe(0);
    await closed;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(fs.existsSync(sock)).toBe(false);
    await suite.run(['rm', '-f', 'attached']);
    // A bad --timeout: one line, exit 1.
    const bad = await execa(cli, ['system', 'service', '--timeout', 'soon'], { env: suite.store.env, reject: false });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/^minid: invalid --timeout "soon"/);
  }, 30_000);
});
