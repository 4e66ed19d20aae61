// A container's life as docker users and CI scripts rely on it (root; CI runs it): --init
// (a PID 1 that reaps and passes signals on), --restart (the supervisor's policies, a user's
// stop, a reboot) and `minid events` (what happened, filtered, formatted, followed).
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, eventually, suiteStore, type Store } from '../../helpers/minid.js';
import { namespaceProcesses } from '../../helpers/procs.js';
import { freeSubnet } from '../../helpers/subnet.js';

const suite = suiteStore('lifecycle');
let store: Store;
beforeAll(() => void ({ store } = suite));
const run = suite.run;
const ids = suite.ids;

const detached = suite.detached;

const inspect = async (ref: string, f: string) => (await run(['inspect', '-f', f, ref])).stdout.trim();

describe('--init', () => {
  // Each subshell forks a `sleep 0.5` and exits: the sleep is orphaned, handed to PID 1, and
  // ends once sh has become `sleep 300`, which never waits for it: a zombie. minid-init as
  // PID 1 reaps it.
  const orphans = ['busybox', 'sh', '-c', '(sleep 0.5 &); (sleep 0.5 &); exec sleep 300'];

  it('reaps the orphans PID 1 is handed (without it, they stay zombies)', async () => {
    const plain = await detached(orphans);
    const withInit = await detached(['--init', ...orphans]);
    const pidOf = async (id: string) => Number(await inspect(id, '{{.State.Pid}}'));
    await eventually(async () => expect(namespaceProcesses(await pidOf(plain)).filter((p) => p.state === 'Z').length).toBe(2));
    const ps = namespaceProcesses(await pidOf(withInit));
    expect(ps.filter((p) => p.state === 'Z')).toEqual([]);
    // minid-init and the command: nothing else is left.
    await eventually(() => expect(namespaceProcesses(ps[0].pid).length).toBe(2));
    expect(await inspect(withInit, '{{json .HostConfig.Init}}')).toBe('true');
  });

  it("passes `stop`'s signal on to the command (a plain PID 1 ignores SIGTERM)", async () => {
    const id = await detached(['--init', 'busybox', 'sleep', '300']);
    const t0 = Date.now();
    const r = await run(['stop', '-t', '20', id]);
    expect(r.exitCode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000); // not the 20 s of a SIGKILL after the timeout
    expect(await inspect(id, '{{.State.ExitCode}}')).toBe('143');
  });

  it("exits with the command's code, and reports a command that cannot start", async () => {
    const r = await run(['run', '--rm', '--init', '--network', 'none', 'busybox', 'sh', '-c', 'exit 7']);
    expect(r.exitCode).toBe(7);
    const missing = await run(['run', '-d', '--init', '--network', 'none', '--name', 'init-nosuch', 'busybox', 'nosuchcommand']);
    ids.push('init-nosuch');
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toContain('nosuchcommand');
  });
});

describe('--restart', () => {
  it('on-failure:3 restarts a failing container three times, counted in RestartCount', async () => {
    const id = await detached(['--restart', 'on-failure:3', 'busybox', 'sh', '-c', 'echo ran; exit 3']);
    expect(await inspect(id, '{{json .HostConfig.RestartPolicy}}')).toBe('{"Name":"on-failure","MaximumRetryCount":3}');
    // 100 + 200 + 400 ms of back-off, then it stays exited.
    await eventually(async () => expect(await inspect(id, '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}')).toBe('exited 3 3'), 20_000);
    expect((await run(['logs', id])).stdout.split('\n')).toEqual(['ran', 'ran', 'ran', 'ran']);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await inspect(id, '{{.RestartCount}}')).toBe('3');
  });

  it('on-failure does not restart a container that exits 0', async () => {
    const id = await detached(['--restart', 'on-failure', 'busybox', 'true']);
    await eventually(async () => expect(await inspect(id, '{{.State.Status}} {{.RestartCount}}')).toBe('exited 0'));
  });

  it('always: restarts with a growing back-off (State.Restarting meanwhile); a stop ends it', async () => {
    const id = await detached(['--restart', 'always', 'busybox', 'true']);
    // 100, 200, 400, 800, 1600 ms: at the fifth restart the wait is long enough to see.
    await eventually(async () => expect(await inspect(id, '{{.State.Status}} {{.State.Running}} {{.State.Restarting}}')).toBe('restarting true true'), 20_000, 50);
    expect(Number(await inspect(id, '{{.RestartCount}}'))).toBeGreaterThanOrEqual(1);
    const r = await run(['stop', id]);
    expect(r.exitCode).toBe(0);
    const count = await inspect(id, '{{.RestartCount}}');
    expect(await inspect(id, '{{.State.Status}}')).toBe('exited');
    await new Promise((r) => setTimeout(r, 2000));
    expect(await inspect(id, '{{.State.Status}} {{.RestartCount}}')).toBe(`exited ${count}`);
  });

  it('stop and rm -f at any moment of the restart loop: exited (no more restarts) or gone, its supervisor ended', async () => {
    // The supervisor may be starting a run, in one, just past its end, or waiting, as the stop
    // comes: 0 to 700 ms after the start cover runs and back-offs of 100 to 400 ms.
    for (const [i, ms] of [0, 60, 130, 200, 290, 370, 450, 540, 620, 700].entries()) {
      const id = await detached(['--restart', 'always', 'busybox', 'true']);
      const shim = Number(fs.readFileSync(path.join(store.run, 'containers', id, 'shim.pid'), 'utf8'));
      await new Promise((r) => setTimeout(r, ms));
      if (i % 2 === 0) {
        expect((await run(['stop', '-t', '1', id])).exitCode).toBe(0);
        const count = await inspect(id, '{{.RestartCount}}');
        expect(await inspect(id, '{{.State.Status}}')).toBe('exited');
        await new Promise((r) => setTimeout(r, 500));
        expect(await inspect(id, '{{.State.Status}} {{.RestartCount}}')).toBe(`exited ${count}`);
      } else {
        expect((await run(['rm', '-f', id])).exitCode).toBe(0);
        await new Promise((r) => setTimeout(r, 500));
        expect((await run(['inspect', id])).exitCode).toBe(1);
      }
      // The supervisor has ended: it is not waiting to run the container again.
      await eventually(() => expect(fs.existsSync(`/proc/${shim}`) && !/\) Z/.test(fs.readFileSync(`/proc/${shim}/stat`, 'utf8'))).toBe(false));
    }
  });

  it("a user's stop or kill is not followed by a restart (docker's rule); start makes it apply again", async () => {
    for (const verb of [['stop', '-t', '1'], ['kill']]) {
      const id = await detached(['--restart', 'always', 'busybox', 'sleep', '300']);
      expect((await run([...verb, id])).exitCode).toBe(0);
      await eventually(async () => expect(await inspect(id, '{{.State.Status}}')).toBe('exited'));
      await new Promise((r) => setTimeout(r, 1000));
      expect(await inspect(id, '{{.State.Status}} {{.RestartCount}}')).toBe('exited 0');
    }
    // Started again, a crash (its PID 1 killed from outside minid) is restarted.
    const id = ids[ids.length - 1];
    expect((await run(['start', id])).exitCode).toBe(0);
    const pid = Number(await inspect(id, '{{.State.Pid}}'));
    process.kill(pid, 'SIGKILL');
    await eventually(async () => expect(await inspect(id, '{{.State.Status}} {{.RestartCount}}')).toBe('running 1'));
    expect(Number(await inspect(id, '{{.State.Pid}}'))).not.toBe(pid);
  });

  it('refuses bad input in one line, exit 125, nothing created', async () => {
    for (const verb of ['run', 'create']) {
      await suite.refused([verb, '--restart', 'sometimes', 'busybox', 'true'], 'invalid restart policy "sometimes"');
      await suite.refused([verb, '--restart', 'on-failure:x', 'busybox', 'true'], 'whole number');
      await suite.refused([verb, '--restart', 'always:2', 'busybox', 'true'], 'only for on-failure');
      await suite.refused([verb, '--restart', 'always', '--rm', 'busybox', 'true'], '--rm');
    }
  });

  it('after a reboot, the first minid command starts always and unless-stopped containers again', async () => {
    const always = await detached(['--restart', 'always', 'busybox', 'sleep', '300']);
    const unless = await detached(['--restart', 'unless-stopped', 'busybox', 'sleep', '300']);
    const unlessStopped = await detached(['--restart', 'unless-stopped', 'busybox', 'sleep', '300']);
    const alwaysStopped = await detached(['--restart', 'always', 'busybox', 'sleep', '300']);
    const plain = await detached(['busybox', 'sleep', '300']);
    for (const id of [unlessStopped, alwaysStopped]) expect((await run(['stop', '-t', '0', id])).exitCode).toBe(0);
    // The reboot, as the store sees it: every supervisor and container gone (the supervisor
    // first, or it would restart its container), /run emptied, another boot id.
    for (const id of [always, unless, plain]) {
      const dir = path.join(store.run, 'containers', id);
      const shim = Number(fs.readFileSync(path.join(dir, 'shim.pid'), 'utf8'));
      const pid = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8').split(' ')[0]);
      process.kill(shim, 'SIGKILL');
      process.kill(pid, 'SIGKILL');
      await eventually(() => expect(fs.existsSync(`/proc/${pid}`)).toBe(false));
    }
    for (const id of [always, unless, unlessStopped, alwaysStopped, plain]) fs.rmSync(path.join(store.run, 'containers', id), { recursive: true, force: true });
    fs.writeFileSync(path.join(store.run, 'boot'), 'another-boot\n');
    const ps = await run(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.State}}']);
    expect(ps.exitCode).toBe(0);
    const state = Object.fromEntries(ps.stdout.split('\n').map((l) => l.split(' ')));
    expect([state[always], state[unless], state[alwaysStopped]]).toEqual(['running', 'running', 'running']);
    expect([state[unlessStopped], state[plain]]).toEqual(['exited', 'exited']);
    // Once a boot: the next command changes nothing.
    expect((await run(['system', 'boot'])).stdout).toBe('');
  });
});

describe('events', () => {
  /** Every event of one container since `since`, as ACTION or a template. */
  const eventsOf = async (ref: string, since: string, format = '{{.Action}}') =>
    (await run(['events', '--since', since, '--until', String(Date.now() / 1000), '--filter', `container=${ref}`, '--format', format])).stdout.split('\n').filter(Boolean);

  it("records a container's life: create, start, die (exitCode), destroy; in docker's line shape", async () => {
    const since = String(Date.now() / 1000 - 1);
    const r = await run(['run', '--rm', '--name', 'ev-rm', '--network', 'none', '-l', 'tier=front', 'busybox', 'sh', '-c', 'exit 4']);
    expect(r.exitCode).toBe(4);
    await eventually(async () => expect(await eventsOf('ev-rm', since)).toEqual(['create', 'start', 'die', 'destroy']));
    const lines = (await run(['events', '--since', since, '--until', String(Date.now() / 1000), '--filter', 'container=ev-rm', '--filter', 'event=die'])).stdout.split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) container die [0-9a-f]{64} \(exitCode=4, image=busybox, name=ev-rm, .*tier=front\)$/);
    const json = JSON.parse((await eventsOf('ev-rm', since, '{{json .}}'))[2]);
    expect(json).toMatchObject({ status: 'die', from: 'busybox', Type: 'container', Action: 'die', scope: 'local', Actor: { Attributes: { exitCode: '4', name: 'ev-rm', tier: 'front' } } });
    expect(typeof json.timeNano).toBe('number');
    expect((await run(['events', '--since', since, '--until', String(Date.now() / 1000), '--filter', 'label=tier=back', '--filter', 'container=ev-rm'])).stdout).toBe('');
    expect((await run(['events', '--since', since, '--until', String(Date.now() / 1000), '--filter', 'image=busybox', '--filter', 'event=destroy', '--format', '{{.Actor.Attributes.name}}'])).stdout).toBe('ev-rm');
  });

  it('records stop (kill with its signal, die, stop), kill, pause, unpause, rename, restart', async () => {
    const since = String(Date.now() / 1000 - 1);
    const id = await detached(['--name', 'ev-verbs', 'busybox', 'sleep', '300']);
    for (const args of [['pause', id], ['unpause', id], ['rename', 'ev-verbs', 'ev-renamed'], ['stop', '-t', '1', id], ['restart', '-t', '1', id], ['kill', id]])
      expect((await run(args)).exitCode).toBe(0);
    await eventually(async () =>
      expect(await eventsOf(id, since, '{{.Action}}{{with index .Actor.Attributes "signal"}} {{.}}{{end}}')).toEqual([
        // (restart of a stopped container: it starts)
        'create', 'start', 'pause', 'unpause', 'rename', 'kill 15', 'die', 'stop', 'start', 'restart', 'kill 9', 'die',
      ]),
    );
    // The die events carry the name of the moment.
    expect((await eventsOf(id, since, '{{.Action}} {{.Actor.Attributes.name}}')).filter((l) => l.startsWith('die'))).toEqual(['die ev-renamed', 'die ev-renamed']);
  });

  it('records each restart of --restart: die and start again', async () => {
    const since = String(Date.now() / 1000 - 1);
    const id = await detached(['--restart', 'on-failure:2', 'busybox', 'false']);
    await eventually(async () => expect(await eventsOf(id, since, '{{.Action}} {{index .Actor.Attributes "exitCode"}}')).toEqual(['create ', 'start ', 'die 1', 'start ', 'die 1', 'start ', 'die 1']), 20_000);
  });

  it('records an OOM kill (oom, after die: the supervisor reads the cgroup once the container ended)', async () => {
    const since = String(Date.now() / 1000 - 1);
    const id = await detached(['-m', '8m', '--memory-swap', '8m', 'busybox', 'sh', '-c', 'x=$(head -c 64m /dev/zero | tr "\\0" a); echo ${#x}']);
    await eventually(async () => expect(await eventsOf(id, since)).toEqual(['create', 'start', 'die', 'oom']), 20_000);
    expect(await inspect(id, '{{.State.OOMKilled}} {{.State.ExitCode}}')).toBe('true 137');
  });

  it('records network connect and disconnect (type network: the container, the network)', async () => {
    const since = String(Date.now() / 1000 - 1);
    const net = `lcy${Math.random().toString(16).slice(2, 8)}`;
    const subnet = freeSubnet((a, b) => `10.${160 + a}.${b}.0/24`);
    expect((await run(['network', 'create', '--subnet', subnet, net])).exitCode).toBe(0);
    try {
      const r = await run(['run', '-d', '--name', 'ev-net', 'busybox', 'sleep', '300']);
      expect(r.exitCode).toBe(0);
      const id = r.stdout.trim();
      ids.push(id);
      expect((await run(['network', 'connect', net, 'ev-net'])).exitCode).toBe(0);
      expect((await run(['network', 'disconnect', net, 'ev-net'])).exitCode).toBe(0);
      const lines = (await run(['events', '--since', since, '--until', String(Date.now() / 1000), '--filter', 'type=network', '--filter', `network=${net}`, '--format', '{{.Action}} {{.Actor.Attributes.container}} {{.Actor.Attributes.name}}'])).stdout;
      expect(lines.split('\n')).toEqual([`connect ${id} ${net}`, `disconnect ${id} ${net}`]);
      expect((await run(['rm', '-f', id])).exitCode).toBe(0);
    } finally {
      await run(['network', 'rm', net]);
    }
  });

  it('records image tag and untag (type image)', async () => {
    const since = String(Date.now() / 1000 - 1);
    expect((await run(['tag', 'busybox', 'evbox:1'])).exitCode).toBe(0);
    expect((await run(['rmi', 'evbox:1'])).exitCode).toBe(0);
    const r = await run(['events', '--since', since, '--until', String(Date.now() / 1000), '--filter', 'type=image', '--filter', 'image=evbox:1', '--format', '{{.Action}} {{.Actor.Attributes.name}}']);
    expect(r.stdout.split('\n')).toEqual(['tag evbox:1', 'untag evbox:1']);
  });

  it('follows new events until --until (without it: until stopped)', async () => {
    const until = String(Date.now() / 1000 + 6);
    const follower = execa(cli, ['events', '--until', until, '--filter', 'event=start', '--filter', 'container=ev-live', '--format', '{{.Actor.Attributes.name}}'], { env: store.env, reject: false, timeout: 30_000 });
    try {
      await new Promise((r) => setTimeout(r, 1500)); // the follower is reading (it shows no past without --since)
      await detached(['--name', 'ev-live', 'busybox', 'true']);
      const r = await follower;
      expect([r.exitCode, r.stdout]).toEqual([0, 'ev-live']);
    } finally {
      if (follower.pid && follower.exitCode === null) process.kill(follower.pid, 'SIGKILL');
    }
  });

  it('refuses bad input in one line (docker: exit 1; a template that does not parse: 64)', async () => {
    for (const [args, code, says] of [
      [['--since', 'yesterday'], 1, '--since yesterday'],
      [['--until', '12:00'], 1, '--until 12:00'],
      [['--filter', 'colour=red'], 1, 'invalid filter "colour"'],
      [['--format', '{{.Action'], 64, 'template'],
    ] as const) {
      const r = await run(['events', '--since', '1s', '--until', '0s', ...args]);
      expect([r.exitCode, r.stdout]).toEqual([code, '']);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(says);
    }
  });

  it('keeps the events file to itself: the store stays a minid store', async () => {
    expect(fs.existsSync(path.join(store.root, 'events'))).toBe(true);
    expect((fs.statSync(path.join(store.root, 'events')).mode & 0o777).toString(8)).toBe('600');
  });
});
