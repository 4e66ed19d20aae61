// minid-spawner (src/sys/spawner.c) through its client: what a command prints and how it ends
// come back as they would from Node's own spawn. No root needed; `make build` builds the helper.
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { bindProbe, spawnerPath, spawnVia } from '../../../src/sys/spawner.js';

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
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => spawnVia(['sh', '-c', `sleep 0.3; echo ${i}`])));
    expect(rs.map((r) => r!.stdout)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}\n`));
    expect(Date.now() - t0).toBeLessThan(2000);
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
});
