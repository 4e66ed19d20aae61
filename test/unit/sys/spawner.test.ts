// minid-spawner (src/sys/spawner.c) through its client: what a command prints and how it ends
// come back as they would from Node's own spawn. No root needed; `make build` builds the helper.
import { execFileSync, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bindProbe, spawnerPath, spawnVia, startVia, type StartedProcess } from '../../../src/sys/spawner.js';
import { NO_INPUT, QUESTIONS, SpawnerProtocolError, decodeResult, encodeRequest, encodeResult, question } from '../../../src/sys/spawner-protocol.js';

describe("minid-spawner's protocol (spawner-protocol.ts)", () => {
  it('lays a request out as spawner.c reads it: id, argc, each (len, bytes), input_len, input', () => {
    const b = encodeRequest(7, ['ip', 'é'], 'x\n');
    const u32 = (o: number) => b.readUInt32LE(o);
    expect([u32(0), u32(4), u32(8), b.toString('utf8', 12, 14), u32(14), b.toString('utf8', 18, 20), u32(20), b.toString('utf8', 24)]).toEqual([7, 2, 2, 'ip', 2, 'é', 2, 'x\n']);
    expect(encodeRequest(1, ['true']).readUInt32LE(4 + 4 + 4 + 4)).toBe(NO_INPUT);
    expect(question(QUESTIONS.wait, '42')).toEqual(['', 'wait', '42']);
  });

  it('decodes a result once it is whole, and says what came when it is not one minid asked for', () => {
    const pending = new Set([3]);
    const r = encodeResult({ id: 3, status: -2, stdout: 'out', stderr: 'err' });
    expect(decodeResult(r.subarray(0, 10), pending)).toBeNull();
    expect(decodeResult(r.subarray(0, r.length - 1), pending)).toBeNull();
    expect(decodeResult(Buffer.concat([r, Buffer.from([1])]), pending)).toEqual({ id: 3, status: -2, stdout: 'out', stderr: 'err', used: r.length });
    const stray = encodeResult({ id: 9, status: 0, stdout: '', stderr: '' });
    expect(() => decodeResult(stray, pending)).toThrow(SpawnerProtocolError);
    expect(() => decodeResult(stray, pending)).toThrow("minid-spawner's result: expected the result of a request minid sent, got one for request 9");
  });
});

describe('minid-spawner', () => {
  it('is built', () => expect(fs.existsSync(spawnerPath())).toBe(true));

  it('hands back the exit code, stdout and stderr apart', async () => {
    const r = await spawnVia(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('gives the command its input, or /dev/null without', async () => {
    expect((await spawnVia(['cat'], 'a\nb\n'))!.stdout).toBe('a\nb\n');
    expect((await spawnVia(['cat'], ''))!.stdout).toBe('');
    expect((await spawnVia(['sh', '-c', 'cat; readlink /proc/self/fd/0']))!.stdout).toBe('/dev/null\n');
  });

  it('reports a command killed by a signal as 128+N, like a shell', async () =>
    expect((await spawnVia(['sh', '-c', 'kill -TERM $$']))!.exitCode).toBe(143));

  it('says which command is not installed', async () =>
    await expect(spawnVia(['minid-no-such-command'])).rejects.toThrow('`minid-no-such-command` is not installed'));

  it('resets the signals it blocks and ignores (SIGCHLD; SIGINT, SIGQUIT, SIGPIPE) for the command', async () => {
    const r = await spawnVia(['sh', '-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status']);
    const [blk, ign] = r!.stdout.trim().split('\n').map((l) => BigInt('0x' + l.split('\t')[1]));
    expect(blk).toBe(0n);
    // Signals 1-31. (glibc's posix_spawn leaves its own two, 32 and 33, ignored across the
    // exec; a program that uses threads installs its handlers for them at start.)
    expect(ign & 0x7fffffffn).toBe(0n);
  });

  it('runs commands side by side, each result to its caller', async () => {
    // A barrier instead of a stopwatch: each command marks that it started, then waits until all
    // ten have. Run one after the other, the first would wait alone and say so.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-spawner-'));
    try {
      const wait = 'touch "$0/$1"; i=0; while [ "$(ls "$0" | wc -l)" -lt 10 ]; do i=$((i+1)); [ $i -gt 300 ] && { echo alone; exit 1; }; sleep 0.05; done; echo $1';
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => spawnVia(['sh', '-c', wait, dir, String(i)])));
      expect(rs.map((r) => r!.stdout)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}\n`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('carries large outputs and inputs whole', async () => {
    const big = 'x'.repeat(1 << 20) + '\n';
    const r = await spawnVia(['sh', '-c', 'cat; head -c 3000000 /dev/zero | tr "\\0" y >&2'], big);
    expect(r!.stdout).toBe(big);
    expect(r!.stderr.length).toBe(3_000_000);
  });

  it('keeps the arguments as they are: spaces, quotes, UTF-8', async () => {
    const args = ['a b', "it's", '"q"', 'ünï', ''];
    expect((await spawnVia(['printf', '%s|', ...args]))!.stdout).toBe(args.join('|') + '|');
  });

  describe('answers whether a port can be bound (the check before publishing one)', () => {
    it('free: null; held by a TCP listener: EADDRINUSE, on its address and on 0.0.0.0', async () => {
      const srv = net.createServer();
      await new Promise<void>((r) => srv.listen({ host: '127.0.0.1', port: 0 }, r));
      const port = (srv.address() as net.AddressInfo).port;
      try {
        expect(await bindProbe('tcp', '127.0.0.1', port)).toBe('EADDRINUSE');
        expect(await bindProbe('tcp', '0.0.0.0', port)).toBe('EADDRINUSE');
        expect(await bindProbe('udp', '0.0.0.0', port)).toBe(null); // another protocol
      } finally {
        await new Promise((r) => srv.close(r));
      }
      expect(await bindProbe('tcp', '0.0.0.0', port)).toBe(null);
    });

    it('held by a UDP socket: EADDRINUSE', async () => {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind({ address: '127.0.0.1', port: 0 }, r));
      try {
        expect(await bindProbe('udp', '0.0.0.0', s.address().port)).toBe('EADDRINUSE');
      } finally {
        s.close();
      }
    });

    it('an address this host does not have: EADDRNOTAVAIL', async () => {
      // (unless the host allows binding any address: net.ipv4.ip_nonlocal_bind=1)
      const nonlocal = fs.readFileSync('/proc/sys/net/ipv4/ip_nonlocal_bind', 'utf8').trim() === '1';
      expect(await bindProbe('tcp', '192.0.2.77', 8080)).toBe(nonlocal ? null : 'EADDRNOTAVAIL');
    });

    it('refuses a malformed question (EINVAL) instead of guessing', async () => {
      expect(await bindProbe('tcp', 'not-an-address', 8080)).toBe('EINVAL');
      expect(await bindProbe('tcp', '127.0.0.1', 70000)).toBe('EINVAL');
    });
  });

  describe('started by the launcher (`minid-spawner --launch NODE ...`, as bin/minid does)', () => {
    // A Node process started the way bin/minid starts minid, running the client as built
    // (`make build`): what it printed, as JSON.
    const launched = (script: string): any => {
      const client = path.resolve('dist/src/sys/spawner.js');
      const code = `import fs from 'node:fs'; const s = await import(${JSON.stringify(client)}); ${script}`;
      const out = execFileSync(spawnerPath(), ['--launch', process.execPath, '--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, MINID_SPAWNER: '' } });
      return JSON.parse(out);
    };
    const gone = (pid: number): boolean => {
      try {
        return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z');
      } catch {
        return true;
      }
    };
    const waitGone = async (pid: number): Promise<boolean> => {
      for (let i = 0; i < 200 && !gone(pid); i++) await new Promise((r) => setTimeout(r, 10));
      return gone(pid);
    };

    it("serves Node through the pipes it was given: Node never forks, the helper is Node's child", () => {
      const r = launched(`
        const res = await s.spawnVia(['sh', '-c', 'echo $PPID; ls /proc/self/fd']);
        const [helper, ...fds] = res.stdout.trim().split('\\n');
        const helperParent = +fs.readFileSync('/proc/' + helper + '/stat', 'utf8').split(') ')[1].split(' ')[1];
        console.log(JSON.stringify({ helperParent, me: process.pid, fds, env: process.env.MINID_SPAWNER_FDS ?? null,
          forked: process.moduleLoadList.some((m) => m.endsWith(' child_process')) }));`);
      expect(r.helperParent).toBe(r.me);
      expect(r.forked).toBe(false); // Node's child_process module was never loaded
      expect(r.env).toBe(null); // not passed on to the processes minid starts
      expect(r.fds.sort()).toEqual(['0', '1', '2', '3']); // the command holds none of the helper's pipes (3: ls's own)
    });

    it('goes when Node goes, even if a process Node started itself lives on', async () => {
      const r = launched(`
        const res = await s.spawnVia(['sh', '-c', 'echo $PPID']);
        const { spawn } = await import('node:child_process');
        const c = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
        c.unref();
        console.log(JSON.stringify({ helper: +res.stdout.trim(), sleeper: c.pid }));`);
      try {
        expect(await waitGone(r.helper)).toBe(true);
      } finally {
        process.kill(r.sleeper, 'SIGKILL');
      }
    });

    it('says so when the program cannot be run (exit 127, as a shell)', () => {
      const r = spawnSync(spawnerPath(), ['--launch', 'minid-no-such-program'], { encoding: 'utf8' });
      expect(r.status).toBe(127);
      expect(r.stderr).toContain('minid: cannot run minid-no-such-program');
    });
  });

  describe('starts a process it does not wait for (a container\'s supervisor)', () => {
    const read = (x: NodeJS.ReadableStream | null): Promise<string> =>
      new Promise((res) => {
        let t = '';
        x!.setEncoding('utf8');
        x!.on('data', (d) => (t += d));
        x!.on('end', () => res(t));
      });
    const closed = (p: StartedProcess): Promise<number | null> => new Promise((res) => p.on('close', (code: number | null) => res(code)));

    it('with its fds as asked: pipes both ways, /dev/null, a file to append to; its exit code once it ends', async () => {
      const log = `/tmp/minid-spawner-test-${process.pid}.log`;
      fs.writeFileSync(log, 'before\n');
      try {
        const p = (await startVia(['sh', '-c', 'read x <&4; echo "got $x"; echo "to the log" >&2; echo report >&5; readlink /proc/self/fd/0 /proc/self/fd/3; exit 7'], ['null', 'write', { append: log }, 'null', 'read', 'write'], false))!;
        expect(p.pid).toBeGreaterThan(0);
        const out = read(p.stdout);
        const report = read(p.stdio[5] as NodeJS.ReadableStream);
        const done = closed(p);
        (p.stdio[4] as import('node:net').Socket).end('go\n');
        expect(await out).toBe('got go\n/dev/null\n/dev/null\n');
        expect(await report).toBe('report\n');
        expect(await done).toBe(7);
        expect(p.exitCode).toBe(7);
        expect(fs.readFileSync(log, 'utf8')).toBe('before\nto the log\n');
      } finally {
        fs.rmSync(log, { force: true });
      }
    });

    it('in a session of its own when asked (as Node\'s detached), and 128+N when killed by signal N', async () => {
      const p = (await startVia(['sh', '-c', 'cut -d" " -f6 /proc/self/stat; kill -KILL $$'], ['null', 'write', 'null'], true))!;
      const out = read(p.stdout);
      const done = closed(p);
      expect(Number(await out)).toBe(p.pid); // cut runs in the shell's session: the shell's pid
      expect(await done).toBe(137);
    });

    it('lets go of the pipes it made once minid has its ends', async () => {
      const helper = Number((await spawnVia(['sh', '-c', 'echo $PPID']))!.stdout.trim());
      const fds = () => fs.readdirSync(`/proc/${helper}/fd`).sort();
      const before = fds();
      const p = (await startVia(['sh', '-c', 'sleep 0.2'], ['null', 'write', 'write', 'null', 'read', 'write'], false))!;
      const done = closed(p);
      for (let i = 0; i < 100 && fds().length !== before.length; i++) await new Promise((r) => setTimeout(r, 10)); // ("close" is not waited for)
      expect(fds()).toEqual(before);
      (p.stdio[4] as import('node:net').Socket).destroy();
      await done;
    });

    it('says what is wrong: a program that is not installed, a malformed request', async () => {
      await expect(startVia(['minid-no-such-command'], ['null', 'null', 'null'], false)).rejects.toThrow('`minid-no-such-command` is not installed');
      await expect(startVia(['true'], ['null', 'sideways' as never], false)).rejects.toThrow('EINVAL');
    });
  });
});
