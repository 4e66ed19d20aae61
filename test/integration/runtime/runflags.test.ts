// `run` flags as docker has them: --read-only, --tmpfs, --stop-signal, --stop-timeout, --cidfile, --expose, -p with
// --network host (root; CI runs it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImages, makeStore, minid, mountsUnder, requireRoot, type Store } from '../../helpers/minid.js';

let store: Store;
let tmp: string;
const run = (args: string[], opts = {}) => minid(store, args, opts);
const inspect = async (id: string) => JSON.parse((await run(['inspect', id])).stdout)[0];
const containers = async () => (await run(['ps', '-aq'])).stdout.split('\n').filter(Boolean);

beforeAll(async () => {
  requireRoot();
  store = makeStore('runflags');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-runflags-'));
  await loadImages(store, ['busybox', 'nginx']);
});

afterAll(async () => {
  await store?.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  expect(mountsUnder(store.root)).toEqual([]);
});

describe('--read-only and --tmpfs', () => {
  it('--read-only: the root refuses writes; /dev, /dev/shm, /proc and the /etc files do not', async () => {
    const script = [
      'touch /x 2>/dev/null || echo root-ro', 'touch /tmp/x 2>/dev/null || echo tmp-ro',
      'echo hi > /dev/shm/x && echo shm-rw', 'echo hi > /dev/null && mkdir /dev/d && echo dev-rw',
      'echo "1.2.3.4 extra" >> /etc/hosts && echo hosts-rw', 'grep -q " / overlay ro," /proc/mounts && echo mounted-ro',
    ].join('; ');
    const r = await run(['run', '--rm', '--network', 'none', '--read-only', 'busybox', 'sh', '-c', script]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['root-ro', 'tmp-ro', 'shm-rw', 'dev-rw', 'hosts-rw', 'mounted-ro']);
    expect(r.exitCode).toBe(0);
  });

  it('--read-only: a working directory the image lacks is still made (before the root turns read-only)', async () => {
    const r = await run(['run', '--rm', '--network', 'none', '--read-only', '-w', '/new/wd', 'busybox', 'sh', '-c', 'pwd; touch x 2>/dev/null || echo ro']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/new/wd\nro');
  });

  it('--tmpfs: a writable tmpfs, noexec,nosuid,nodev unless told, with its size and mode; ReadonlyRootfs and Tmpfs in inspect', async () => {
    const script = 'grep " /tmp " /proc/mounts; grep " /run/a " /proc/mounts; stat -c %a /run/a; echo hi > /tmp/f && echo tmp-rw; ' +
      'cp /bin/busybox /tmp/bb && (/tmp/bb true 2>/dev/null || echo noexec); touch /etc/x 2>/dev/null || echo etc-ro';
    const id = (await run(['create', '--network', 'none', '--read-only', '--tmpfs', '/tmp', '--tmpfs', '/run/a:size=1m,mode=700,exec', 'busybox', 'sh', '-c', script])).stdout.trim();
    const i = await inspect(id);
    expect(i.HostConfig.ReadonlyRootfs).toBe(true);
    expect(i.HostConfig.Tmpfs).toEqual({ '/tmp': '', '/run/a': 'size=1m,mode=700,exec' });
    const r = await run(['start', '-a', id]);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^tmpfs \/tmp tmpfs rw,nosuid,nodev,noexec,/);
    expect(lines[1]).toMatch(/^tmpfs \/run\/a tmpfs rw,nosuid,nodev,relatime,size=1024k,mode=700/);
    expect(lines.slice(2)).toEqual(['700', 'tmp-rw', 'noexec', 'etc-ro']);
    expect((await run(['rm', id])).exitCode).toBe(0);
  });

  it('cp refuses the read-only root (1), not a writable --tmpfs of a running container', async () => {
    const f = path.join(tmp, 'cp-src');
    fs.writeFileSync(f, 'copied\n');
    const id = (await run(['run', '-d', '--network', 'none', '--read-only', '--tmpfs', '/scratch', 'busybox', 'sleep', '60'])).stdout.trim();
    const refused = await run(['cp', f, `${id}:/etc/`]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^minid: container \S+'s root is read-only \(--read-only\)/)]);
    expect((await run(['cp', f, `${id}:/scratch/`])).exitCode).toBe(0);
    expect((await run(['exec', id, 'cat', '/scratch/cp-src'])).stdout).toBe('copied');
    // Started again, it is read-only again, with a fresh tmpfs.
    expect((await run(['restart', '-t', '0', id])).exitCode).toBe(0);
    const again = await run(['exec', id, 'sh', '-c', 'ls /scratch | wc -l; touch /x 2>/dev/null || echo root-ro']);
    expect(again.stdout).toBe('0\nroot-ro');
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
  });

  it('--tmpfs without --read-only: the rest of the root stays writable; the mount point is not in diff', async () => {
    const id = (await run(['run', '-d', '--network', 'none', '--tmpfs', '/newdir/t:ro', 'busybox', 'sh', '-c', 'touch /newdir/t/x 2>/dev/null || echo t-ro; touch /y && echo root-rw'])).stdout.trim();
    expect((await run(['wait', id])).stdout).toBe('0');
    expect((await run(['logs', id])).stdout).toBe('t-ro\nroot-rw');
    expect((await run(['diff', id])).stdout.split('\n')).not.toContain('A /newdir/t');
    expect((await run(['rm', id])).exitCode).toBe(0);
  });
});

describe('--stop-signal and --stop-timeout', () => {
  it('stop sends the stop signal given', async () => {
    // PID 1 takes only the signals it handles: the trap says which one came.
    const script = 'trap "echo got-usr1; exit 3" USR1; echo ready; while :; do sleep 0.1; done';
    const id = (await run(['run', '-d', '--network', 'none', '--stop-signal', 'USR1', 'busybox', 'sh', '-c', script])).stdout.trim();
    expect((await inspect(id)).Config.StopSignal).toBe('USR1');
    const t0 = Date.now();
    expect((await run(['stop', id])).exitCode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await run(['logs', id])).stdout).toBe('ready\ngot-usr1');
    expect((await inspect(id)).State.ExitCode).toBe(3);
    expect((await run(['rm', id])).exitCode).toBe(0);
  });

  it('stop waits --stop-timeout seconds, not 10, before SIGKILL; -t still wins', async () => {
    // sleep as PID 1 ignores SIGTERM: only the SIGKILL ends it.
    const id = (await run(['run', '-d', '--network', 'none', '--stop-timeout', '1', 'busybox', 'sleep', '60'])).stdout.trim();
    expect((await inspect(id)).Config.StopTimeout).toBe(1);
    let t0 = Date.now();
    expect((await run(['stop', id])).exitCode).toBe(0);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(6000);
    expect((await inspect(id)).State.ExitCode).toBe(137);
    expect((await run(['start', id])).exitCode).toBe(0);
    t0 = Date.now();
    expect((await run(['stop', '-t', '0', id])).exitCode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(900);
    expect((await run(['rm', id])).exitCode).toBe(0);
  });

  it("the image's StopSignal is the default (nginx: SIGQUIT); --stop-signal wins", async () => {
    const a = (await run(['create', '--network', 'none', 'nginx'])).stdout.trim();
    const b = (await run(['create', '--network', 'none', '--stop-signal', 'SIGTERM', 'nginx'])).stdout.trim();
    expect((await inspect(a)).Config.StopSignal).toBe('SIGQUIT');
    expect((await inspect(b)).Config.StopSignal).toBe('SIGTERM');
    expect((await run(['rm', a, b])).exitCode).toBe(0);
  });
});

describe('--cidfile', () => {
  it("writes the container's id, and refuses a file that exists (125, nothing made)", async () => {
    const f = path.join(tmp, 'cid');
    const id = (await run(['run', '-d', '--network', 'none', '--cidfile', f, 'busybox', 'sleep', '60'])).stdout.trim();
    expect(fs.readFileSync(f, 'utf8')).toBe(id);
    expect((await inspect(id)).HostConfig.ContainerIDFile).toBe(f);
    const again = await run(['run', '--rm', '--network', 'none', '--cidfile', f, 'busybox', 'true']);
    expect(again.exitCode).toBe(125);
    expect(again.stderr).toMatch(/^minid: container ID file found, make sure the other container isn't running or delete .*cid\n?$/);
    expect(await containers()).toEqual([id.slice(0, 12)]);
    expect(fs.readFileSync(f, 'utf8')).toBe(id);
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
  });
});

describe('--expose', () => {
  it('adds the ports to Config.ExposedPorts, a range port by port', async () => {
    const id = (await run(['create', '--network', 'none', '--expose', '7000', '--expose', '7100-7101/udp', 'busybox', 'true'])).stdout.trim();
    expect(Object.keys((await inspect(id)).Config.ExposedPorts).sort()).toEqual(['7000/tcp', '7100/udp', '7101/udp']);
    expect((await run(['rm', id])).exitCode).toBe(0);
  });
});

describe('-p with --network host', () => {
  it('warns that the ports are discarded, as docker does, and runs', async () => {
    const r = await run(['run', '--rm', '--network', 'host', '-p', '8080:80', 'busybox', 'echo', 'ran']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('ran');
    expect(r.stderr.trim()).toBe('WARNING: Published ports are discarded when using host network mode');
  });
});

describe('bad input', () => {
  const cases: [string, string[]][] = [
    ['--stop-signal', ['--stop-signal', 'SIGNOPE']],
    ['--stop-timeout', ['--stop-timeout', 'soon']],
    ['--expose', ['--expose', '80/sctp']],
    ['--expose range', ['--expose', '90-80']],
    ['--cidfile dir', ['--cidfile', '/nonexistent-minid/cid']],
    ['--tmpfs path', ['--tmpfs', 'tmp']],
    ['--tmpfs option', ['--tmpfs', '/tmp:size=lots']],
    ['--tmpfs on /proc', ['--tmpfs', '/proc/sys']],
    ['--tmpfs twice', ['--tmpfs', '/tmp', '--tmpfs', '/tmp/']],
  ];
  for (const [what, flags] of cases)
    it(`${what}: one line, exit 125, nothing left`, async () => {
      const r = await run(['run', '--rm', '--network', 'none', ...flags, 'busybox', 'true']);
      expect(r.exitCode).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^minid: /);
      expect(await containers()).toEqual([]);
    });

  it('stop -t with a bad value: one line', async () => {
    const r = await run(['stop', '-t', 'x', 'nosuch']);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.exitCode).not.toBe(0);
  });
});
