// Each container in its own cgroup: memory, pids and CPU limits hold, the device allow-list
// holds (cgroup v1: this machine), `stats` shows them, and nothing is left after rm, --rm,
// a failed start and `system prune`. Every stress runs under its own limit.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import pty from 'node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, eventually, loadImages, makeStore, minid, repo, requireRoot, type Store } from '../../helpers/minid.js';

let store: Store;
let other: Store;
const run = (args: string[], opts = {}) => minid(store, args, opts);
const CG = '/sys/fs/cgroup';
const HIERARCHIES = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'devices', 'blkio', 'freezer'];
const dirsOf = (id: string) => HIERARCHIES.map((h) => path.join(CG, h, 'minid', id)).filter((d) => fs.existsSync(d));
const read = (f: string) => fs.readFileSync(f, 'utf8').trim();
/** Every container cgroup under minid/, in every hierarchy. */
const allContainerCgroups = () =>
  HIERARCHIES.flatMap((h) => {
    try {
      return fs.readdirSync(path.join(CG, h, 'minid')).filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `${h}/${n}`);
    } catch {
      return [];
    }
  });
const idOf = async (name: string): Promise<string> => JSON.parse((await run(['inspect', name])).stdout)[0].Id;

beforeAll(async () => {
  requireRoot();
  store = makeStore('cg-limits');
  other = makeStore('cg-other');
  await loadImages(store, ['busybox']);
  await loadImages(other, ['busybox']);
});

afterAll(async () => {
  await store?.cleanup();
  await other?.cleanup();
});

describe('the container in its own cgroup', () => {
  it('has a directory in every hierarchy, and a cgroup namespace: /proc/self/cgroup shows "/", for run and exec', async () => {
    const id = (await run(['run', '-d', '--network', 'none', '--name', 'cg-ns', 'busybox', 'sleep', '60'])).stdout.trim();
    expect(dirsOf(id)).toHaveLength(HIERARCHIES.length);
    const pid = Number(JSON.parse((await run(['inspect', id])).stdout)[0].State.Pid);
    expect(read(path.join(CG, 'memory/minid', id, 'cgroup.procs')).split('\n')).toContain(String(pid));
    const ex = await run(['exec', id, 'sh', '-c', 'cat /proc/self/cgroup; sleep 1']);
    for (const h of ['memory', 'pids', 'cpu']) expect(ex.stdout).toMatch(new RegExp(`^\\d+:${h}:/$`, 'm'));
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
    expect(dirsOf(id)).toEqual([]);
  });

  it('counts exec processes against the limits (they join the cgroups)', async () => {
    const id = (await run(['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).stdout.trim();
    const ex = execa(cli, ['exec', id, 'sleep', '3'], { env: store.env, reject: false });
    // PID 1, minid-init --exec (the waiter) and its sleep
    await eventually(() => expect(Number(read(path.join(CG, 'pids/minid', id, 'pids.current')))).toBe(3));
    await ex;
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
  });
});

describe('limits', () => {
  it('a memory hog under --memory 32m ends 137 with OOMKilled true', async () => {
    const r = await run(['run', '--network', 'none', '--name', 'cg-oom', '-m', '32m', 'busybox', 'sh', '-c', 'x=aaaaaaaa; while true; do x=$x$x; done']);
    expect(r.exitCode).toBe(137);
    const s = JSON.parse((await run(['inspect', 'cg-oom'])).stdout)[0];
    expect(s.State.ExitCode).toBe(137);
    expect(s.State.OOMKilled).toBe(true);
    expect(s.HostConfig.Memory).toBe(32 * 1024 * 1024);
    expect(s.HostConfig.MemorySwap).toBe(64 * 1024 * 1024);
    const id = s.Id as string;
    expect(read(path.join(CG, 'memory/minid', id, 'memory.limit_in_bytes'))).toBe(String(32 * 1024 * 1024));
    expect((await run(['rm', 'cg-oom'])).exitCode).toBe(0);
    expect(dirsOf(id)).toEqual([]);
  });

  it('a fork loop stops at --pids-limit 64: the host never sees more than 64 of its processes', async () => {
    // 200 background sleeps at most: the loop ends by itself, refused past 64.
    const script = 'i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done; echo never';
    const id = (await run(['run', '-d', '--network', 'none', '--pids-limit', '64', 'busybox', 'sh', '-c', script])).stdout.trim();
    await eventually(() => expect(Number(read(path.join(CG, 'pids/minid', id, 'pids.events')).split(' ')[1])).toBeGreaterThan(0));
    const peak = Number(read(path.join(CG, 'pids/minid', id, 'pids.peak')));
    expect(peak).toBeLessThanOrEqual(64);
    expect(peak).toBeGreaterThan(32);
    expect(read(path.join(CG, 'pids/minid', id, 'pids.max'))).toBe('64');
    expect(JSON.parse((await run(['inspect', id])).stdout)[0].HostConfig.PidsLimit).toBe(64);
    const logs = await run(['logs', id]);
    expect(logs.stdout + logs.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
    expect(dirsOf(id)).toEqual([]);
  });

  it('--cpus 0.5 holds a busy loop near half a core', async () => {
    const id = (await run(['run', '-d', '--network', 'none', '--cpus', '0.5', 'busybox', 'sh', '-c', 'while :; do :; done'])).stdout.trim();
    const usage = () => Number(read(path.join(CG, 'cpuacct/minid', id, 'cpuacct.usage')));
    await new Promise((r) => setTimeout(r, 500));
    const u0 = usage();
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 3000));
    const cores = (usage() - u0) / Number(process.hrtime.bigint() - t0);
    expect(cores).toBeGreaterThan(0.3);
    expect(cores).toBeLessThan(0.6);
    expect(read(path.join(CG, 'cpu/minid', id, 'cpu.cfs_quota_us'))).toBe('50000');
    expect(JSON.parse((await run(['inspect', id])).stdout)[0].HostConfig.NanoCpus).toBe(5e8);
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
  });

  it('--explain prints the files and values it writes; --memory-swap, --cpu-shares and --cpuset-cpus hold in them and inside', async () => {
    const flags = ['-m', '32m', '--memory-swap', '48m', '--cpus', '0.5', '--cpu-shares', '512', '--cpuset-cpus', '1', '--pids-limit', '50'];
    const r = await run(['run', '-d', '--explain', '--network', 'none', '--name', 'cg-explain', ...flags, 'busybox', 'sh', '-c', 'grep Cpus_allowed_list /proc/self/status; sleep 60']);
    expect(r.exitCode, r.stderr).toBe(0);
    const id = await idOf('cg-explain');
    try {
      const explained = [...r.stderr.split('\n'), ...r.stdout.split('\n')];
      const wrote = (h: string, file: string, value: string) => {
        const f = path.join(CG, h, 'minid', id, file);
        expect(explained, `--explain shows ${f}`).toContain(`echo ${value} > ${f}`);
        expect(read(f), f).toBe(value);
      };
      expect(explained).toContain(`# cgroups for container cg-explain (${id.slice(0, 12)}), cgroup v1`);
      expect(explained).toContain(`mkdir ${path.join(CG, 'memory/minid', id)}`);
      wrote('memory', 'memory.limit_in_bytes', String(32 << 20));
      wrote('memory', 'memory.memsw.limit_in_bytes', String(48 << 20));
      wrote('cpu', 'cpu.cfs_quota_us', '50000');
      wrote('cpu', 'cpu.shares', '512');
      wrote('cpuset', 'cpuset.cpus', '1');
      wrote('pids', 'pids.max', '50');
      expect(explained).toContain(`echo a > ${path.join(CG, 'devices/minid', id, 'devices.deny')}`);
      // The container's own view: only CPU 1.
      await eventually(async () => expect((await run(['logs', id])).stdout).toBe('Cpus_allowed_list:\t1'));
      const h = JSON.parse((await run(['inspect', id])).stdout)[0].HostConfig;
      expect(h).toMatchObject({ Memory: 32 << 20, MemorySwap: 48 << 20, NanoCpus: 5e8, CpuShares: 512, CpusetCpus: '1', PidsLimit: 50 });
    } finally {
      expect((await run(['rm', '-f', id])).exitCode).toBe(0);
    }
    expect(dirsOf(id)).toEqual([]);
  });

  it('--memory-swap equal to --memory: a hog cannot swap its way past the limit either (OOMKilled)', async () => {
    const r = await run(['run', '--network', 'none', '--name', 'cg-noswap', '-m', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c', 'x=aaaaaaaa; while true; do x=$x$x; done']);
    expect(r.exitCode).toBe(137);
    const s = JSON.parse((await run(['inspect', 'cg-noswap'])).stdout)[0];
    expect(s.State.OOMKilled).toBe(true);
    expect(read(path.join(CG, 'memory/minid', s.Id, 'memory.memsw.limit_in_bytes'))).toBe(String(16 << 20));
    expect((await run(['rm', 'cg-noswap'])).exitCode).toBe(0);
  });

  it('refuses bad limits with docker messages and code 125, before anything is made', async () => {
    const before = allContainerCgroups();
    for (const [args, msg] of [
      [['-m', '4m'], 'Minimum memory limit allowed is 6MB'],
      [['--memory-swap', '64m'], 'You should always set the Memory limit when using Memoryswap limit'],
      [['--cpus', '99'], 'Range of CPUs is from 0.01 to'],
      [['--cpuset-cpus', '0-99'], 'Requested CPUs are not available'],
      [['-m', '32x'], `invalid argument "32x" for "-m, --memory" flag: invalid size: '32x'`],
    ] as [string[], string][]) {
      const r = await run(['run', '--rm', '--network', 'none', ...args, 'busybox', 'true']);
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toContain(msg);
      expect(r.stderr.split('\n')).toHaveLength(1);
    }
    expect(allContainerCgroups()).toEqual(before);
  });
});

describe('the device allow-list (cgroup v1 devices controller)', () => {
  it("refuses a host block device to a process in the container's devices cgroup; /dev/null and /dev/urandom work", async () => {
    const id = (await run(['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).stdout.trim();
    // Host devices a root shell here can open (read-only): a block device, and character ones.
    const host = ['/dev/loop0', '/dev/zram0', '/dev/loop-control', '/dev/fuse', '/dev/net/tun', '/dev/kvm'].filter((d) => fs.existsSync(d));
    expect(host.length).toBeGreaterThan(2);
    // A host process (root, every capability: no CAP_MKNOD question), opening each read-only.
    const probe = host.map((d) => `(exec 3<${d}) 2>/dev/null && echo ${d}-opened || echo ${d}-refused; `).join('') +
      'head -c 4 /dev/urandom | wc -c; echo x > /dev/null && echo null-ok';
    const outside = await execa('sh', ['-c', probe], { reject: false });
    expect(outside.stdout.split('\n')).toEqual([...host.map((d) => `${d}-opened`), '4', 'null-ok']); // the same commands work on the host
    const devices = path.join(CG, 'devices/minid', id);
    const inCgroup = await execa('sh', ['-c', `echo $$ > ${devices}/cgroup.procs; ${probe}`], { reject: false });
    expect(inCgroup.stdout.split('\n')).toEqual([...host.map((d) => `${d}-refused`), '4', 'null-ok']);
    expect(read(path.join(devices, 'devices.list')).split('\n')).toContain('c 136:* rwm');
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
    expect(dirsOf(id)).toEqual([]);
  });

  it('inside a container: /dev/null, /dev/zero, /dev/full, /dev/urandom work', async () => {
    const r = await run(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c',
      'echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c; (echo x > /dev/full) 2>&1 | grep -q "No space" && echo full-ok']);
    expect(r.stdout.split('\n')).toEqual(['null-ok', '4', '4', 'full-ok']);
    expect(r.exitCode).toBe(0);
  });

  it('inside a container: a terminal works (run -t: /dev/tty, the pts)', async () => {
    const t = pty.spawn(cli, ['run', '-it', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'test -t 0 && ls -l /proc/self/fd/0; echo hi > /dev/tty && echo tty-ok; stty size'], {
      cols: 90, rows: 20, cwd: repo, env: { ...process.env, ...store.env } as Record<string, string>,
    });
    let out = '';
    t.onData((d) => (out += d));
    const code = await new Promise<number>((res) => t.onExit((e) => res(e.exitCode)));
    expect(out).toMatch(/-> \/dev\/pts\/\d+/); // the terminal minid's pty gives (c 136:N)
    expect(out).toContain('tty-ok');
    expect(out).toContain('20 90');
    expect(code).toBe(0);
  });
});

describe('stats', () => {
  it('`stats --no-stream` shows the container with its memory limit and processes', async () => {
    const id = (await run(['run', '-d', '--network', 'none', '--name', 'cg-stats', '-m', '64m', 'busybox', 'sleep', '60'])).stdout.trim();
    const r = await run(['stats', '--no-stream', 'cg-stats']);
    expect(r.exitCode).toBe(0);
    const [head, row] = r.stdout.split('\n');
    expect(head).toMatch(/^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
    expect(row).toMatch(new RegExp(`^${id.slice(0, 12)}\\s+cg-stats\\s+\\d+\\.\\d\\d%\\s+[\\d.]+[KMG]?i?B / 64MiB\\s+[\\d.]+%\\s+\\S+ / \\S+\\s+\\S+ / \\S+\\s+1$`));
    expect((await run(['stats', '--no-stream', '--no-trunc'])).stdout).toContain(id);
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
  });

  it('`stats` redraws every second: a busy loop under --cpus 0.5 shows near 50% CPU; traffic to it shows as NET I/O', async () => {
    // On this store's own bridge; the host pings the container (an address of our own namespace).
    const id = (await run(['run', '-d', '--name', 'cg-busy', '--cpus', '0.5', 'busybox', 'sh', '-c', 'while :; do :; done'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    try {
      const ip = JSON.parse((await run(['inspect', id])).stdout)[0].NetworkSettings.Networks.bridge.IPAddress as string;
      expect(ip).toMatch(/^10\.\d+\.\d+\.\d+$/);
      expect((await execa('busybox', ['ping', '-c', '3', '-W', '2', ip], { reject: false })).exitCode).toBe(0); // busybox-static: the host has no ping
      const stream = execa(cli, ['stats', 'cg-busy'], { env: store.env, reject: false });
      let out = '';
      stream.stdout!.on('data', (d) => (out += d));
      await eventually(() => expect(out.split('\x1b[2J\x1b[H').length).toBeGreaterThan(3), 15_000); // 3 frames
      stream.kill('SIGINT');
      await stream;
      const frames = out.split('\x1b[2J\x1b[H').slice(1, 4);
      for (const f of frames) {
        const [head, row] = f.split('\n');
        expect(head).toMatch(/^CONTAINER ID\s+NAME\s+CPU %/);
        const cols = row.split(/\s{2,}/);
        expect(cols.slice(0, 2)).toEqual([id.slice(0, 12), 'cg-busy']);
        const cpu = parseFloat(cols[2]);
        expect(cpu, row).toBeGreaterThan(25); // generous: the host is shared
        expect(cpu, row).toBeLessThan(70);
        expect(cols[5], row).toMatch(/^[1-9][\d.]*[kMG]?B \/ [1-9][\d.]*[kMG]?B$/); // the pings, in and out
        expect(cols[7], row).toBe('1');
      }
    } finally {
      expect((await run(['rm', '-f', id])).exitCode).toBe(0);
    }
  });
});

describe('nothing left behind', () => {
  it('--rm removes the cgroups when the container ends', async () => {
    const id = (await run(['run', '-d', '--rm', '--network', 'none', 'busybox', 'true'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    await eventually(() => expect(dirsOf(id)).toEqual([]));
    const fg = await run(['run', '--rm', '--network', 'none', '--name', 'cg-fg', 'busybox', 'true']);
    expect(fg.exitCode).toBe(0);
  });

  it('a start that fails after the cgroup was made undoes it', async () => {
    expect((await run(['run', '--network', 'none', '--name', 'cg-gone', 'busybox', 'true'])).exitCode).toBe(0);
    const before = allContainerCgroups();
    // The network step fails (the other container is not running): after the cgroups were made.
    const r = await run(['run', '--rm', '--network', 'container:cg-gone', '-m', '32m', 'busybox', 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/cannot join the network of container cg-gone: it is not running/);
    expect(allContainerCgroups()).toEqual(before);
    expect((await run(['rm', 'cg-gone'])).exitCode).toBe(0);
  });

  it("system prune removes what a crash half-way left, and never another store's cgroups", async () => {
    const theirs = (await minid(other, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).stdout.trim();
    const stopped = (await minid(other, ['run', '-d', '--network', 'none', 'busybox', 'true'])).stdout.trim();
    await eventually(async () => expect(JSON.parse((await minid(other, ['inspect', stopped])).stdout)[0].State.Status).toBe('exited'));
    const crashed = await run(['run', '-d', '--network', 'none', '--name', 'cg-crash', 'busybox', 'sleep', '60'], { env: { ...store.env, MINID_CRASH_AT: 'after-network' } });
    expect(crashed.exitCode).not.toBe(0);
    const id = await idOf('cg-crash');
    expect(dirsOf(id).length).toBeGreaterThan(0); // the crash left them
    expect((await run(['system', 'prune'])).exitCode).toBe(0);
    expect(dirsOf(id)).toEqual([]);
    expect(dirsOf(theirs)).toHaveLength(HIERARCHIES.length); // the other store's, running
    expect(dirsOf(stopped)).toHaveLength(HIERARCHIES.length); // and stopped: its own prune's business
    expect((await minid(other, ['system', 'prune'])).exitCode).toBe(0);
    expect(dirsOf(stopped)).toEqual([]);
    expect((await minid(other, ['rm', '-f', theirs])).exitCode).toBe(0);
    expect(dirsOf(theirs)).toEqual([]);
  });
});
