// The Engine API's streams and queries at the HTTP level: logs (multiplexed, tail, timestamps,
// since, follow), exec attached and detached with its inspect, wait conditions, list filters.
import { describe, expect, it } from 'vitest';
import { api as rawApi, demux, engineSuite } from './service.js';

const { suite, svc } = engineSuite('eng-api', ['busybox']);
const api = (method: string, p: string, body?: unknown) => rawApi(svc.socket, method, `/v1.41${p}`, body === undefined ? undefined : JSON.stringify(body));

async function run(name: string, cmd: string[], labels: Record<string, string> = {}): Promise<string> {
  const c = await api('POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: cmd, Labels: labels });
  expect(c.status, JSON.stringify(c.body)).toBe(201);
  suite.ids.push(c.body.Id);
  expect((await api('POST', `/containers/${c.body.Id}/start`)).status).toBe(204);
  return c.body.Id;
}

describe('Engine API streams and queries', () => {
  it('version, info, images: docker\'s shapes', async () => {
    expect((await api('GET', '/version')).body).toMatchObject({ ApiVersion: '1.41', Os: 'linux', Version: expect.any(String) });
    expect((await api('GET', '/info')).body).toMatchObject({ OSType: 'linux', Images: 1, Containers: 0, NCPU: expect.any(Number), DockerRootDir: suite.store.root });
    const images = (await api('GET', '/images/json')).body;
    expect(images).toHaveLength(1);
    expect(images[0]).toMatchObject({ RepoTags: ['busybox:latest'], Id: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), Containers: 0 });
    expect((await api('GET', `/images/json?filters=${encodeURIComponent('{"reference":["nginx"]}')}`)).body).toEqual([]);
    expect((await api('GET', '/images/busybox/json')).body).toMatchObject({ Id: images[0].Id, RepoTags: ['busybox:latest'] });
    expect((await api('GET', `/images/${images[0].Id}/json`)).status).toBe(200);
  });

  it('events: the recorded ones between since and until, filtered, as JSON lines', async () => {
    const from = Date.now() / 1000;
    const id = await run('evented', ['true']);
    expect((await api('POST', `/containers/${id}/wait`)).body.StatusCode).toBe(0);
    const until = (Date.now() / 1000 + 1).toFixed(3);
    const r = await api('GET', `/events?since=${from.toFixed(3)}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ container: [id] }))}`);
    expect(r.status).toBe(200);
    const lines = r.raw.toString().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((e) => e.Action)).toEqual(expect.arrayContaining(['create', 'start', 'die']));
    expect(lines.every((e) => e.Type === 'container' && e.Actor.ID === id)).toBe(true);
    expect(lines.find((e) => e.Action === 'die').Actor.Attributes).toMatchObject({ exitCode: '0', name: 'evented', image: 'busybox' });
    expect((await api('DELETE', `/containers/${id}`)).status).toBe(204);
  });

  it('restart, stop (304 once stopped), and an AutoRemove container waited for until removed', async () => {
    const id = await run('cycler', ['sleep', '600']);
    const pid = (await api('GET', `/containers/${id}/json`)).body.State.Pid;
    expect((await api('POST', `/containers/${id}/restart?t=0`)).status).toBe(204);
    const after = (await api('GET', `/containers/${id}/json`)).body.State;
    expect(after).toMatchObject({ Status: 'running' });
    expect(after.Pid).not.toBe(pid);
    expect((await api('POST', `/containers/${id}/stop?t=0`)).status).toBe(204);
    expect((await api('POST', `/containers/${id}/stop`)).status).toBe(304);
    expect((await api('GET', `/containers/${id}/json`)).body.State).toMatchObject({ Status: 'exited', Running: false });
    expect((await api('DELETE', `/containers/${id}`)).status).toBe(204);

    const c = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'exit 4'], HostConfig: { AutoRemove: true } });
    const removed = api('POST', `/containers/${c.body.Id}/wait?condition=removed`);
    expect((await api('POST', `/containers/${c.body.Id}/start`)).status).toBe(204);
    expect((await removed).body).toEqual({ StatusCode: 4, Error: null });
    expect((await api('GET', `/containers/${c.body.Id}/json`)).status).toBe(404);
  });

  it('logs: stdout and stderr framed apart; tail, timestamps, since; wait returns the exit code', async () => {
    const id = await run('talker', ['sh', '-c', 'echo one; echo two >&2; sleep 0.2; echo three; exit 7']);
    const w = await api('POST', `/containers/${id}/wait`);
    expect(w).toMatchObject({ status: 200, body: { StatusCode: 7 } });
    const all = await api('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
    expect(all.headers['content-type']).toBe('application/vnd.docker.multiplexed-stream');
    // Each stream in its order (between the two, the order is the pipes': not fixed, as with docker).
    const frames = demux(all.raw);
    expect(frames.filter(([n]) => n === 1)).toEqual([[1, 'one\n'], [1, 'three\n']]);
    expect(frames.filter(([n]) => n === 2)).toEqual([[2, 'two\n']]);
    expect(demux((await api('GET', `/containers/${id}/logs?stderr=1`)).raw)).toEqual([[2, 'two\n']]);
    // (tail counts the lines of both streams, as docker's: "three" came last, 0.2 s after the others)
    expect(demux((await api('GET', `/containers/${id}/logs?stdout=1&stderr=1&tail=1`)).raw)).toEqual([[1, 'three\n']]);
    const ts = demux((await api('GET', `/containers/${id}/logs?stdout=1&timestamps=1&tail=1`)).raw);
    expect(ts[0][1]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$/);
    const later = Math.ceil(Date.now() / 1000) + 5;
    expect((await api('GET', `/containers/${id}/logs?stdout=1&since=${later}`)).raw.length).toBe(0);
    // Followed, a stopped container's log ends at once.
    expect(demux((await api('GET', `/containers/${id}/logs?stdout=1&follow=1`)).raw)).toHaveLength(2);
  });

  it('logs follow ends when the container does', async () => {
    const id = await run('ticker', ['sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.2; done']);
    const f = await api('GET', `/containers/${id}/logs?stdout=1&follow=1`);
    expect(demux(f.raw).map(([, t]) => t)).toEqual(['tick 1\n', 'tick 2\n', 'tick 3\n']);
  });

  it('exec: attached (framed, exit code in inspect) and detached', async () => {
    const id = await run('host', ['sleep', '600']);
    const e = await api('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'echo hi; echo there >&2; exit 5'], AttachStdout: true, AttachStderr: true });
    expect(e.status).toBe(201);
    const s = await api('POST', `/exec/${e.body.Id}/start`, { Detach: false, Tty: false });
    expect(demux(s.raw)).toEqual(expect.arrayContaining([[1, 'hi\n'], [2, 'there\n']]));
    expect(demux(s.raw)).toHaveLength(2);
    expect((await api('GET', `/exec/${e.body.Id}/json`)).body).toMatchObject({ Running: false, ExitCode: 5, ContainerID: id });
    expect((await api('POST', `/exec/${e.body.Id}/start`, {})).status).toBe(409); // once only

    const d = await api('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'sleep 0.3; echo done > /tmp/detached'] });
    expect((await api('POST', `/exec/${d.body.Id}/start`, { Detach: true })).status).toBe(200);
    expect((await api('GET', `/exec/${d.body.Id}/json`)).body.Running).toBe(true);
    let info;
    for (let i = 0; i < 100 && (info = (await api('GET', `/exec/${d.body.Id}/json`)).body).Running; i++) await new Promise((r) => setTimeout(r, 50));
    expect(info).toMatchObject({ Running: false, ExitCode: 0 });
    expect((await suite.run(['exec', id, 'cat', '/tmp/detached'])).stdout).toBe('done');
    expect((await api('GET', '/exec/nope/json')).status).toBe(404);
    expect((await api('DELETE', `/containers/${id}?force=1`)).status).toBe(204);
  });

  it('containers/json: running only by default, all=1, filters by label and status', async () => {
    const id = await run('labelled', ['sleep', '600'], { team: 'engine' });
    const running = (await api('GET', '/containers/json')).body;
    expect(running.map((c: any) => c.Names[0])).toEqual(['/labelled']);
    expect(running[0]).toMatchObject({ Id: id, Image: 'busybox', State: 'running', Labels: { team: 'engine' }, Command: 'sleep 600' });
    const all = (await api('GET', '/containers/json?all=1')).body.map((c: any) => c.Names[0]);
    expect(all).toEqual(expect.arrayContaining(['/labelled', '/talker', '/ticker']));
    const f = encodeURIComponent(JSON.stringify({ label: ['team=engine'] }));
    expect((await api('GET', `/containers/json?all=1&filters=${f}`)).body.map((c: any) => c.Id)).toEqual([id]);
    const exited = encodeURIComponent(JSON.stringify({ status: ['exited'], exited: ['7'] }));
    expect((await api('GET', `/containers/json?filters=${exited}`)).body.map((c: any) => c.Names[0])).toEqual(['/talker']);
    expect((await api('GET', `/containers/json?filters=${encodeURIComponent('{"nope":["x"]}')}`)).status).toBe(400);
    expect((await api('GET', '/containers/json?filters=notjson')).status).toBe(400);
    // wait: not-running returns at once for a stopped one; next-exit waits for the stop.
    const wait = api('POST', `/containers/${id}/wait?condition=next-exit`);
    expect((await api('POST', `/containers/${id}/kill?signal=SIGKILL`)).status).toBe(204);
    expect((await wait).body).toEqual({ StatusCode: 137, Error: null });
    for (const n of ['labelled', 'talker', 'ticker']) expect((await api('DELETE', `/containers/${n}`)).status).toBe(204);
  });
});
