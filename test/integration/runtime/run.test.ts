// `minid run` in real namespaces on the real busybox and nginx images (root; CI runs it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, eventually, loadImages, makeStore, minid, mountsUnder, repo, requireRoot, type Store } from '../../helpers/minid.js';

let store: Store;
const run = (args: string[], opts = {}) => minid(store, args, opts);

beforeAll(async () => {
  requireRoot();
  store = makeStore('run');
  await loadImages(store);
});

afterAll(async () => {
  await store?.cleanup();
  expect(mountsUnder(store.root)).toEqual([]);
});

describe('isolation', () => {
  it('runs the command as PID 1 with its own hostname, processes and root', async () => {
    const r = await run(['run', '--rm', '--network', 'none', '-h', 'box1', 'busybox', 'sh', '-c', 'echo pid=$$; hostname; ps -o pid,comm | wc -l; ls /']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('pid=1');
    expect(lines[1]).toBe('box1');
    expect(Number(lines[2])).toBeLessThanOrEqual(4); // header, sh, ps, wc: nothing of the host
    expect(r.stdout).not.toMatch(/\bwork\b/); // the host's /work is invisible
  });

  it('sees nothing of the host filesystem, and a minimal /dev', async () => {
    const marker = path.join(repo, 'package.json');
    const r = await run(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', `test -e ${marker} || echo host-files-invisible; ls /dev | tr '\\n' ' '; cat /proc/1/cmdline | tr '\\0' ' '; echo; grep -c . /proc/mounts; touch /sys/x 2>/dev/null || echo sys-ro`]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('host-files-invisible');
    for (const d of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm']) expect(r.stdout).toContain(d);
    expect(r.stdout).toContain('sys-ro');
  });

  it("gives root in the container docker's capabilities, not the host's (and exec too)", async () => {
    // CAP_MKNOD is docker's, but the devices cgroup lets no node of a host disk open, even in
    // minid's own /dev (a tmpfs without nodev).
    const script = 'grep CapBnd /proc/self/status; mknod /dev/disk b 8 0 && echo mknod-ok; head -c 1 /dev/disk >/dev/null 2>&1 || echo disk-refused; mount -t tmpfs x /tmp 2>/dev/null || echo no-mount; ' +
      '(echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null || echo sys-ro; ip link add d0 type dummy 2>/dev/null || echo no-netadmin; mkfifo /tmp/f && chown 1000 /tmp/f && echo fifo-chown-ok';
    const r = await run(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', script]);
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
    expect(r.stdout.split('\n')).toEqual(['CapBnd:\t00000000a80425fb', 'mknod-ok', 'disk-refused', 'no-mount', 'sys-ro', 'no-netadmin', 'fifo-chown-ok']);
    const id = (await run(['run', '-d', '--network', 'none', 'busybox', 'sleep', '30'])).stdout.trim();
    const ex = await run(['exec', id, 'sh', '-c', 'grep CapEff /proc/self/status; mount -t tmpfs x /tmp 2>/dev/null || echo no-mount']);
    expect(ex.stdout.split('\n')).toEqual(['CapEff:\t00000000a80425fb', 'no-mount']);
    const user = await run(['exec', '-u', '1000', id, 'grep', 'CapEff', '/proc/self/status']);
    expect(user.stdout.trim()).toBe('CapEff:\t0000000000000000');
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
  });

  it('runs as the user asked for, in the working directory asked for, with the environment', async () => {
    const envFile = path.join(os.tmpdir(), `minid-env-${process.pid}`);
    fs.writeFileSync(envFile, '# comment\nFROM_FILE=yes\n');
    try {
      const r = await run(['run', '--rm', '--network', 'none', '-u', '1000:1000', '-w', '/tmp/work', '-e', 'A=1', '--env-file', envFile, 'busybox', 'sh', '-c', 'id -u; id -g; pwd; echo $A $FROM_FILE $HOSTNAME; echo $PATH']);
      expect(r.exitCode).toBe(0);
      const [uid, gid, cwd, env, p] = r.stdout.split('\n');
      expect([uid, gid, cwd]).toEqual(['1000', '1000', '/tmp/work']);
      expect(env).toMatch(/^1 yes [0-9a-f]{12}$/);
      expect(p).toContain('/bin');
    } finally {
      fs.rmSync(envFile, { force: true });
    }
  });

  it('bind mounts volumes, read-only when asked', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-vol-'));
    fs.writeFileSync(path.join(dir, 'hello'), 'from host\n');
    try {
      const r = await run(['run', '--rm', '--network', 'none', '-v', `${dir}:/data:ro`, '-v', `${dir}:/rw`, 'busybox', 'sh', '-c', 'cat /data/hello; touch /data/x 2>/dev/null || echo ro; echo made > /rw/made']);
      expect(r.stdout).toBe('from host\nro');
      expect(fs.readFileSync(path.join(dir, 'made'), 'utf8')).toBe('made\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the nginx image', () => {
  it('honours every whiteout and opaque directory of its layers', async () => {
    const lines = fs
      .readFileSync(path.join(repo, 'images', 'nginx', 'WHITEOUTS'), 'utf8')
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter(Boolean)
      .map((l) => l.split(/\s+/));
    const script = lines
      .map(([kind, p]) => (kind === 'kept' || kind === 'opaque-dir' ? `test -e ${p} && echo ok ${p} || echo MISSING ${p}` : `test -e ${p} -o -L ${p} && echo PRESENT ${p} || echo ok ${p}`))
      .join('; ');
    const r = await run(['run', '--rm', '--network', 'none', '--entrypoint', 'sh', 'nginx', '-c', script]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toMatch(/MISSING|PRESENT/);
    expect(r.stdout.split('\n').length).toBe(lines.length);
  });
});

describe('exit codes like docker', () => {
  it('passes the container code through', async () => {
    expect((await run(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'exit 7'])).exitCode).toBe(7);
  });
  it('127 when the command is not found, 126 when it is not executable', async () => {
    const nf = await run(['run', '--rm', '--network', 'none', 'busybox', 'no-such-cmd']);
    expect(nf.exitCode).toBe(127);
    expect(nf.stderr).toContain('executable file not found');
    expect((await run(['run', '--rm', '--network', 'none', 'busybox', '/etc/passwd'])).exitCode).toBe(126);
  });
  it("finds the command in the container's PATH as execvp does, a script without #! included", async () => {
    const v = path.join(os.tmpdir(), `minid-bin-${process.pid}`);
    fs.mkdirSync(v, { recursive: true });
    fs.writeFileSync(path.join(v, 'hello'), 'echo "hello $1 from $0"\n', { mode: 0o755 });
    fs.writeFileSync(path.join(v, 'nox'), 'echo never\n', { mode: 0o644 });
    try {
      const r = await run(['run', '--rm', '--network', 'none', '-v', `${v}:/opt/x:ro`, '-e', 'PATH=/nowhere:/opt/x:/bin', 'busybox', 'hello', 'you']);
      expect([r.exitCode, r.stdout]).toEqual([0, 'hello you from /opt/x/hello']);
      const nox = await run(['run', '--rm', '--network', 'none', '-v', `${v}:/opt/x:ro`, '-e', 'PATH=/opt/x', 'busybox', 'nox']);
      expect(nox.exitCode).toBe(126);
    } finally {
      fs.rmSync(v, { recursive: true, force: true });
    }
  });
  it('-d reports a command that cannot start as docker does: its error and code, no id; the container stays, exited', async () => {
    const cases: [string[], number, RegExp][] = [
      [['busybox', 'no-such-cmd'], 127, /^minid: exec: "no-such-cmd": executable file not found in \$PATH$/],
      [['busybox', '/etc/passwd'], 126, /^minid: exec: "\/etc\/passwd": permission denied$/i],
      [['-v', '/etc/hostname:/bin', 'busybox', 'true'], 125, /^minid: container setup failed: mount .*\/bin: Not a directory$/],
    ];
    // (--network none, as everywhere in this file: it leaves no network behind)
    for (const [args, code, message] of cases) {
      const name = `bad-${code}`;
      const r = await run(['run', '-d', '--name', name, '--network', 'none', ...args]);
      expect(r.exitCode, name).toBe(code);
      expect(r.stdout, name).toBe('');
      expect(r.stderr.trim(), name).toMatch(message);
      expect((await run(['wait', name])).stdout.trim(), name).toBe(String(code));
      const logs = await run(['logs', name]);
      expect(logs.stdout + logs.stderr, name).toMatch(message);
      expect((await run(['rm', name])).exitCode, name).toBe(0);
    }
    // --rm: nothing stays behind
    const r = await run(['run', '-d', '--rm', '--name', 'bad-rm', '--network', 'none', 'busybox', 'no-such-cmd']);
    expect(r.exitCode).toBe(127);
    await eventually(async () => expect((await run(['inspect', 'bad-rm'])).exitCode).toBe(1));
  });
  it('a reader that goes away (`| head`) ends the container as it would end `yes`, with no stack trace and nothing left', async () => {
    const sh = (cmd: string) => execa('sh', ['-c', cmd], { env: { ...process.env, ...store.env }, reject: false, timeout: 30_000 });
    for (const flags of ['', '-t']) {
      const r = await sh(`${cli} run --rm --network none --name piped${flags ? '-t' : ''} ${flags} busybox yes | head -n 2`);
      expect(r.stdout.split('\n').slice(0, 2).map((l) => l.trim()), flags).toEqual(['y', 'y']);
      expect(r.stderr, flags).not.toMatch(/\bat |EPIPE|internal error/);
      await eventually(async () => expect((await run(['inspect', `piped${flags ? '-t' : ''}`])).exitCode, flags).toBe(1));
    }
    // Other commands stop quietly (141, as a shell reports SIGPIPE).
    await run(['run', '-d', '--name', 'chatty', '--network', 'none', 'busybox', 'sh', '-c', 'while :; do echo hi; done']);
    const logs = await sh(`${cli} logs -f chatty | head -n 1`);
    expect(logs.stdout).toBe('hi');
    expect(logs.stderr).toBe('');
    expect((await run(['rm', '-f', 'chatty'])).exitCode).toBe(0);
  });
  it('125 and one line for minid errors', async () => {
    for (const args of [
      ['run', '--rm', '--pull', 'never', 'no-such-image'],
      ['run', '--rm', '-v', './relative:/x', 'busybox'], // (relative:/x names a volume now, as in docker)
      ['run', '--rm', '-e', '=x', 'busybox'],
      ['run', '--rm', '-u', 'a:b:c', 'busybox'],
      ['run', '--rm', '--bogus-flag', 'busybox'],
    ]) {
      const r = await run(args);
      expect(r.exitCode, args.join(' ')).toBe(125);
      expect(r.stderr.trim().split('\n')[0], args.join(' ')).toMatch(/^minid: /);
      expect(r.stderr, args.join(' ')).not.toMatch(/\n\s+at /); // no stack trace
    }
    // Other commands: what docker's daemon would refuse exits 1, as docker's CLI does.
    const stop = await run(['stop', 'no-such-container']);
    expect([stop.exitCode, stop.stderr]).toEqual([1, 'minid: no such container: no-such-container (see `minid ps -a`)']);
    // A missing image is pulled first, as docker does; this suite is offline, so the pull fails.
    const missing = await run(['run', '--rm', 'no-such-image']);
    expect(missing.exitCode).toBe(125);
    const lines = missing.stderr.trim().split('\n');
    expect(lines[0]).toBe("Unable to find image 'no-such-image:latest' locally");
    expect(lines.slice(1)).toHaveLength(1);
    expect(lines[1]).toMatch(/^minid: refusing to connect to registry-1\.docker\.io .*offline/);
  });
  it('hands every byte of output on to a slow reader (minid exits only once it is written)', async () => {
    const { execa } = await import('execa');
    const big = await execa('sh', ['-c', `${cli} run --rm --network none busybox sh -c 'head -c 300000 /dev/zero | tr "\\0" a' | (sleep 1; wc -c)`], { env: store.env });
    expect(big.stdout.trim()).toBe('300000');
  });
  it('starts through the installed launcher (bin/minid), which needs no extra CA bundle', async () => {
    const { execa } = await import('execa');
    const r = await execa(path.join(repo, 'bin', 'minid'), ['--version'], { reject: false, env: store.env });
    expect(r.stdout).toBe('minid 0.1.0');
  });

  it('refuses to run as an ordinary user, saying how', async () => {
    const { execa } = await import('execa');
    const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', cli, 'ps'], { reject: false, env: store.env });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toBe('minid: must be run as root (it creates namespaces, mounts and iptables rules): try `sudo minid ...`');
  });

  it('refuses a name already in use', async () => {
    expect((await run(['run', '-d', '--name', 'dup', '--network', 'none', 'busybox', 'sleep', '30'])).exitCode).toBe(0);
    const r = await run(['run', '--name', 'dup', '--network', 'none', 'busybox', 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/name "dup" is already in use/);
    expect((await run(['rm', '-f', 'dup'])).exitCode).toBe(0);
  });
});

describe('lifecycle', () => {
  it('-d, logs, exec, stop, rm', async () => {
    const d = await run(['run', '-d', '--name', 'life', '--network', 'none', 'busybox', 'sh', '-c', 'echo started; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done']);
    expect(d.exitCode).toBe(0);
    const id = d.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = await run(['ps']);
    expect(ps.stdout).toContain('life');
    expect(ps.stdout).toMatch(/Up /);
    await eventually(async () => expect((await run(['logs', 'life'])).stdout).toContain('started'));
    const ex = await run(['exec', 'life', 'sh', '-c', 'hostname; cat /proc/1/cmdline | head -c 2; echo; exit 3']);
    expect(ex.exitCode).toBe(3);
    expect(ex.stdout.split('\n')[0]).toBe(id.slice(0, 12));
    expect(ex.stdout).toContain('sh');
    expect((await run(['exec', 'life', 'no-such-cmd'])).exitCode).toBe(127);
    const stop = await run(['stop', '-t', '5', id.slice(0, 8)]);
    expect(stop.exitCode).toBe(0);
    const ins = JSON.parse((await run(['inspect', 'life'])).stdout)[0];
    expect(ins.State.Status).toBe('exited');
    expect(ins.State.ExitCode).toBe(0);
    expect((await run(['logs', 'life'])).stdout).toContain('bye');
    expect((await run(['ps', '-a'])).stdout).toMatch(/Exited \(0\)/);
    expect((await run(['rm', 'life'])).exitCode).toBe(0);
    expect((await run(['ps', '-aq'])).stdout).not.toContain(id.slice(0, 12));
    expect(fs.existsSync(path.join(store.root, 'containers', id))).toBe(false);
  });

  it('-dit keeps an interactive shell running, ready for exec', async () => {
    const id = (await run(['run', '-dit', '--network', 'none', 'busybox', 'sh'])).stdout.trim();
    await new Promise((r) => setTimeout(r, 500));
    expect(JSON.parse((await run(['inspect', id])).stdout)[0].State.Status).toBe('running');
    expect((await run(['exec', id, 'echo', 'inside'])).stdout.trim()).toBe('inside');
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
  });

  it('stop falls back to SIGKILL (137) for a PID 1 that ignores SIGTERM; rm refuses a running container', async () => {
    const id = (await run(['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).stdout.trim();
    const rm = await run(['rm', id]);
    expect(rm.exitCode).toBe(1); // docker's: the daemon refused
    expect(rm.stderr).toMatch(/is running: stop it first/);
    expect((await run(['stop', '-t', '1', id])).exitCode).toBe(0);
    expect((await run(['wait', id])).stdout.trim()).toBe('137');
    expect((await run(['rm', id])).exitCode).toBe(0);
  });

  it('rmi refuses an image a container uses, naming the container', async () => {
    expect((await run(['run', '-d', '--name', 'user-of-busybox', '--network', 'none', 'busybox', 'sleep', '30'])).exitCode).toBe(0);
    const r = await run(['rmi', 'busybox']);
    expect(r.exitCode).toBe(1); // docker's: the daemon refused
    expect(r.stderr).toMatch(/user-of-busybox/);
    expect((await run(['rm', '-f', 'user-of-busybox'])).exitCode).toBe(0);
    expect((await run(['images', '-q'])).stdout.trim().split('\n')).toHaveLength(2);
  });

  it('--rm with -d removes the container when it exits on its own', async () => {
    const id = (await run(['run', '-d', '--rm', '--network', 'none', 'busybox', 'true'])).stdout.trim();
    for (let i = 0; i < 100 && fs.existsSync(path.join(store.root, 'containers', id)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.existsSync(path.join(store.root, 'containers', id))).toBe(false);
  });

  it('ps is right after a container dies on its own and after kill -9 of its supervisor', async () => {
    const id = (await run(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'sleep 0.2; exit 5'])).stdout.trim();
    await eventually(async () => expect((await run(['ps', '-a'])).stdout).toMatch(/Exited \(5\)/));
    const id2 = (await run(['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).stdout.trim();
    const shim = Number(fs.readFileSync(path.join(store.run, 'containers', id2, 'shim.pid'), 'utf8'));
    process.kill(shim, 'SIGKILL');
    const pid = JSON.parse((await run(['inspect', id2])).stdout)[0].State.Pid;
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, 'SIGKILL');
    await eventually(async () => expect(JSON.parse((await run(['inspect', id2])).stdout)[0].State.Status).toBe('exited'));
    expect((await run(['rm', id, id2])).exitCode).toBe(0);
  });

  it('is right after a reboot: /run wiped, processes and namespaces gone', async () => {
    const id = (await run(['run', '-d', '--name', 'reboot', '--network', 'none', 'busybox', 'sleep', '60'])).stdout.trim();
    const ins = JSON.parse((await run(['inspect', id])).stdout)[0];
    // What a reboot does: every process ends, /run (runtime state, /run/netns) is empty again.
    const shim = Number(fs.readFileSync(path.join(store.run, 'containers', id, 'shim.pid'), 'utf8'));
    process.kill(shim, 'SIGKILL');
    process.kill(ins.State.Pid, 'SIGKILL');
    fs.rmSync(store.run, { recursive: true, force: true });
    const { execa } = await import('execa');
    await execa('ip', ['netns', 'del', path.basename(ins.Minid.NetnsPath)]);
    const ps = await run(['ps', '-a']);
    expect(ps.stdout).toMatch(/Exited \(\d+\).*reboot/);
    const rm = await run(['rm', 'reboot']);
    expect(rm.exitCode, rm.stderr).toBe(0);
    expect((await run(['ps', '-aq'])).stdout).not.toContain(id.slice(0, 12));
  });

  it('10 runs at once: all succeed, each with its own name and id', async () => {
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => run(['run', '-d', '--name', `par${i}`, '--network', 'none', 'busybox', 'sleep', '30'])));
    for (const r of rs) expect(r.exitCode, r.stderr).toBe(0);
    expect(new Set(rs.map((r) => r.stdout.trim())).size).toBe(10);
    const ps = (await run(['ps', '-q'])).stdout.trim().split('\n');
    expect(ps.length).toBeGreaterThanOrEqual(10);
    const rm = await run(['rm', '-f', ...rs.map((_, i) => `par${i}`)]);
    expect(rm.exitCode, rm.stderr).toBe(0);
    expect((await run(['ps', '-aq'])).stdout.trim()).toBe('');
  });
});
