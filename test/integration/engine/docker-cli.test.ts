// The docker CLI (Debian's docker.io client, /usr/bin/docker) against minid's Engine API:
// run --rm, run -d -p, ps, logs, exec, inspect -f, cp, rm -f.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { freePort } from '../network/helpers.js';
import { engineSuite } from './service.js';
import { programTerminal, typeUntil } from '../../helpers/terminal.js';

const { suite, svc } = engineSuite('eng-cli', ['busybox', 'nginx']);
// /usr/local/bin/docker (a newer CLI) may come first in PATH: the test names Debian's.
const docker = (args: string[]) => execa('/usr/bin/docker', args, { env: { DOCKER_HOST: svc.host }, reject: false, timeout: 60_000 });

/** `stty size` typed until it shows `size` (a resize arrives by a request of its own, a moment later). */
const sizeSeen = (t: ReturnType<typeof programTerminal>, size: string) => typeUntil(t, 'stty size\r', new RegExp(`^${size}\\r?$`, 'm'));

describe('docker CLI against minid system service', () => {
  it('run --rm: the output on stdout and stderr, the exit code, and the container gone', async () => {
    const r = await docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r.stdout).toBe('out');
    expect(r.stderr).toBe('err');
    expect(r.exitCode).toBe(3);
    expect((await suite.run(['ps', '-aq'])).stdout).toBe('');
  });

  it('run -d -p, ps, logs, exec, inspect -f, cp, rm -f', async () => {
    const port = await freePort();
    const run = await docker(['run', '-d', '-p', `${port}:80`, '--name', 'web', 'nginx']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^[0-9a-f]{64}$/);
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(page).toContain('Welcome to nginx');

    const ps = await docker(['ps']);
    expect(ps.stdout).toMatch(new RegExp(`${run.stdout.slice(0, 12)} +nginx .*0\\.0\\.0\\.0:${port}->80/tcp +web`));

    // nginx logs each request on stdout, its notices on stderr.
    const logs = await docker(['logs', 'web']);
    expect(logs.stdout).toContain('"GET / HTTP/1.1" 200');

    const ex = await docker(['exec', 'web', 'sh', '-c', 'echo in-exec; echo oops >&2; exit 4']);
    expect(ex).toMatchObject({ stdout: 'in-exec', stderr: 'oops', exitCode: 4 });

    const insp = await docker(['inspect', '-f', '{{.State.Status}} {{.Name}} {{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', 'web']);
    expect(insp.stdout).toBe(`running /web ${port}`);

    // cp both ways (HEAD, GET and PUT /containers/{id}/archive): a folder out, a file in.
    const out = path.join(suite.tmp, 'out');
    expect((await docker(['cp', 'web:/etc/nginx', out])).exitCode).toBe(0);
    expect(fs.readFileSync(path.join(out, 'nginx.conf'), 'utf8')).toContain('worker_processes');
    fs.writeFileSync(path.join(suite.tmp, 'in.txt'), 'copied in\n');
    expect((await docker(['cp', path.join(suite.tmp, 'in.txt'), 'web:/tmp/'])).exitCode).toBe(0);
    expect((await docker(['exec', 'web', 'cat', '/tmp/in.txt'])).stdout).toBe('copied in');
    expect((await docker(['cp', 'web:/no/such', out])).stderr).toMatch(/No such container:path/);

    const rm = await docker(['rm', '-f', 'web']);
    expect(rm).toMatchObject({ stdout: 'web', exitCode: 0 });
    expect((await suite.run(['ps', '-aq'])).stdout).toBe('');
  });

  it('run -i --rm: piped input goes to the container through the hijacked attach, its end ends it', async () => {
    const env = { DOCKER_HOST: svc.host };
    const cat = await execa('/usr/bin/docker', ['run', '-i', '--rm', 'busybox', 'cat'], { env, input: 'hello\nworld\n', reject: false, timeout: 60_000 });
    expect(cat).toMatchObject({ stdout: 'hello\nworld', exitCode: 0 });
    // More than a pipe's worth: the container reads while the client still sends.
    const wc = await execa('/usr/bin/docker', ['run', '-i', '--rm', 'busybox', 'wc', '-c'], { env, input: 'x'.repeat(200_000), reject: false, timeout: 60_000 });
    expect(wc).toMatchObject({ stdout: '200000', exitCode: 0 });
    // Without -i the container's stdin is empty; created with -i and started without a client
    // attached, too (the service itself ends its input).
    const none = await execa('/usr/bin/docker', ['run', '--rm', 'busybox', 'cat'], { env, input: 'ignored\n', reject: false, timeout: 60_000 });
    expect(none).toMatchObject({ stdout: '', exitCode: 0 });
    const id = (await docker(['create', '-i', 'busybox', 'cat'])).stdout;
    try {
      expect((await docker(['start', id])).exitCode).toBe(0);
      expect((await docker(['wait', id])).stdout).toBe('0');
    } finally {
      await docker(['rm', '-f', id]);
    }
    expect((await suite.run(['ps', '-aq'])).stdout).toBe('');
  });

  it('run -it: a terminal through the hijacked attach (the prompt, keys, window size, resize, exit code); detach keys and docker attach', async () => {
    const env = { DOCKER_HOST: svc.host };
    const t = programTerminal('/usr/bin/docker', ['run', '-it', '--rm', 'busybox', 'sh'], env);
    try {
      await t.wait(/\/ # /); // the shell's first prompt: kept by minid-console until the client connected
      t.t.write('echo "sum=$((40+2))"\r');
      await t.wait(/sum=42/);
      await sizeSeen(t, '30 100'); // the CLI's window size, sent by POST /resize after the start
      t.t.resize(120, 40); // the CLI sends the new size on SIGWINCH
      await sizeSeen(t, '40 120');
      t.t.write('exit 7\r');
      expect(await t.exited).toBe(7);
    } finally {
      t.t.kill();
    }
    expect((await suite.run(['ps', '-aq'])).stdout).toBe('');

    // ctrl-p ctrl-q leave it running; `docker attach` finds the terminal again.
    const a = programTerminal('/usr/bin/docker', ['run', '-it', '--name', 'tty', 'busybox', 'sh'], env);
    try {
      await a.wait(/\/ # /);
      a.t.write('\x10\x11');
      expect(await a.exited).toBe(0);
      expect((await docker(['inspect', '-f', '{{.State.Status}}', 'tty'])).stdout).toBe('running');
      const b = programTerminal('/usr/bin/docker', ['attach', 'tty'], env);
      try {
        await new Promise((r) => setTimeout(r, 500));
        b.t.write('echo "back=$((6*7))"\r');
        await b.wait(/back=42/);
        b.t.write('exit 3\r');
        expect(await b.exited).toBe(3);
      } finally {
        b.t.kill();
      }
      expect((await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'tty'])).stdout).toBe('exited 3');
    } finally {
      a.t.kill();
      await docker(['rm', '-f', 'tty']);
    }
    // exec -it: a terminal of its own (window size, keys, exit code), its own detach keys.
    const sleeper = (await docker(['run', '-d', 'busybox', 'sleep', '600'])).stdout;
    try {
      const x = programTerminal('/usr/bin/docker', ['exec', '-it', sleeper, 'sh'], env);
      try {
        await x.wait(/\/ # /);
        await sizeSeen(x, '30 100');
        x.t.write('tty; echo "in=$((2*21))"; exit 5\r');
        expect(await x.wait(/in=42/)).toMatch(/\/dev\/pts\/\d+/);
        expect(await x.exited).toBe(5);
      } finally {
        x.t.kill();
      }
    } finally {
      await docker(['rm', '-f', sleeper]);
    }
    // Bad sizes: docker's 400.
    const id = (await docker(['run', '-dt', 'busybox', 'sleep', '60'])).stdout;
    try {
      const bad = await execa('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', svc.socket, '-X', 'POST', `http://x/containers/${id}/resize?h=x&w=80`], { reject: false });
      expect(bad.stdout).toBe('400');
    } finally {
      await docker(['rm', '-f', id]);
    }
  });

  it('exec -i: piped input goes to the command through the hijacked connection, its end ends it', async () => {
    const run = await docker(['run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '600']);
    expect(run.exitCode, run.stderr).toBe(0);
    try {
    // 200 KB: more than one pipe's worth, so the command reads while the client still sends.
    const big = 'x'.repeat(200_000);
    const wc = await execa('/usr/bin/docker', ['exec', '-i', 'sleeper', 'wc', '-c'], { env: { DOCKER_HOST: svc.host }, input: big, reject: false, timeout: 60_000 });
    expect(wc).toMatchObject({ stdout: '200000', exitCode: 0 });
    const cat = await execa('/usr/bin/docker', ['exec', '-i', 'sleeper', 'sh', '-c', 'cat; echo done >&2; exit 5'], { env: { DOCKER_HOST: svc.host }, input: 'one\ntwo\n', reject: false, timeout: 60_000 });
    expect(cat).toMatchObject({ stdout: 'one\ntwo', stderr: 'done', exitCode: 5 });
    // Without -i the command's stdin is empty: it does not wait for the client's input.
    const none = await execa('/usr/bin/docker', ['exec', 'sleeper', 'cat'], { env: { DOCKER_HOST: svc.host }, input: 'ignored\n', reject: false, timeout: 60_000 });
    expect(none).toMatchObject({ stdout: '', exitCode: 0 });
    } finally {
      expect((await docker(['rm', '-f', 'sleeper'])).exitCode).toBe(0);
    }
    expect((await suite.run(['ps', '-aq'])).stdout).toBe('');
  });
});
