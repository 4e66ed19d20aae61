// Hostile images and hostile containers against the host (issue 13), each attack reproduced as
// an attacker would try it, as root, through the CLI. Every test runs a copy of the build
// (bin/, dist/, build/ in a temp dir): the helper-overwrite attack, if it ever succeeds again,
// ruins that copy and not the tree. MINID_TEST_INIT=/path/to/minid-init puts another helper
// into the copy, to check that these tests do catch an unprotected one (an old build).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pty from 'node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBusyboxLayout, type FEntry } from '../../fixtures/image/builder.js';
import { eventually, loadImages, makeStore, mountsUnder, repo, requireRoot, type Store } from '../../helpers/minid.js';

let store: Store;
let tmp: string; // the copy of the build, the images, the victims: all of this file's host files
let cli: string; // the copy's bin/minid
let initCopy: string; // the copy's build/minid-init

const minid = (args: string[], opts: Record<string, unknown> = {}) =>
  execa(cli, args, { env: store.env, reject: false, timeout: 60_000, ...opts });
/** minid started from a shell that holds a directory of the host open on fd 260 (`exec 260</`). */
const withHostFd = (args: string[]) => execa('bash', ['-c', 'exec 260</ && exec "$0" "$@"', cli, ...args], { env: store.env, reject: false, timeout: 60_000 });
const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const listing = (dir: string) => fs.readdirSync(dir).sort();

/** A directory of the host that an image's symlink points at: nothing may appear in it. */
function victim(name: string): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(d, 'keep'), 'host file\n');
  return d;
}

/** A static busybox and the applets the tests call, then `extra` (an image of nothing else). */
const APPLETS = ['sh', 'ls', 'cat', 'echo', 'printf', 'sleep', 'readlink', 'kill', 'seq', 'setsid', 'grep', 'id', 'test'];
async function loadImage(name: string, extra: FEntry[]): Promise<void> {
  const dir = path.join(tmp, `image-${name}`);
  writeBusyboxLayout(dir, name, { applets: APPLETS, base: [{ path: 'tmp/', type: 'dir', mode: 0o1777 }], extra });
  const r = await minid(['load', '-q', '-i', dir]);
  if (r.exitCode !== 0) throw new Error(`minid load ${name} failed: ${r.stderr}`);
}

beforeAll(async () => {
  requireRoot();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-escape-'));
  const copy = path.join(tmp, 'minid');
  fs.mkdirSync(copy);
  for (const d of ['bin', 'dist', 'build', 'package.json']) fs.cpSync(path.join(repo, d), path.join(copy, d), { recursive: true, preserveTimestamps: true });
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(copy, 'node_modules'));
  initCopy = path.join(copy, 'build', 'minid-init');
  if (process.env.MINID_TEST_INIT) fs.copyFileSync(process.env.MINID_TEST_INIT, initCopy);
  cli = path.join(copy, 'bin', 'minid');
  store = makeStore('escape');
  await loadImages(store, ['busybox']);
  // evil:1 has a script whose interpreter is /proc/self/exe: run by minid-init (`minid exec`'s,
  // or PID 1), it makes the kernel run minid-init itself inside the container, where it waits on
  // its stdin: a sure window for the attacker. The image ships the helper's libraries (a glibc,
  // as most images do): the kernel runs minid-init with the container's dynamic loader.
  const libs = [...(await execa('ldd', [initCopy])).stdout.matchAll(/^\s*(?:\S+ => )?(\/\S+)/gm)].map((m) => m[1]);
  if (!libs.length) throw new Error(`ldd found no libraries of ${initCopy}`);
  await loadImage('evil', [
    { path: 'evil', data: '#!/proc/self/exe --wait-fd\n', mode: 0o755 },
    ...libs.map((l): FEntry => ({ path: l.slice(1), data: fs.readFileSync(l), mode: 0o755 })),
  ]);
}, 120_000);

afterAll(async () => {
  await store?.cleanup();
  expect(mountsUnder(store.root)).toEqual([]);
  expect(mountsUnder(tmp)).toEqual([]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the helper cannot be overwritten from a container (runc CVE-2019-5736 class)', () => {
  it('a container that holds /proc/PID/exe of minid-init cannot write to it, and exec still works', async () => {
    const before = sha256(initCopy);
    const id = (await minid(['run', '-d', '--network', 'none', 'evil:1', 'sleep', '300'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const waiting = minid(['exec', '-i', id, '/evil'], { stdin: 'pipe' });
    try {
      // The attacker: finds the process, opens its exe, kills it (nobody runs the file any more:
      // no ETXTBSY), then writes through the fd for a few seconds. It runs on its own
      // (setsid, in the background) so that no `minid exec` of ours keeps the file busy, and
      // logs to /tmp in the container, read here from the container's upper layer.
      const attack = [
        'for i in $(seq 100); do',
        '  for d in /proc/[0-9]*; do',
        '    case "$(readlink $d/exe 2>/dev/null)" in *minid-init*) p=${d#/proc/};; esac',
        '    case "$(cat $d/cmdline 2>/dev/null)" in /proc/self/exe*) p=${d#/proc/};; esac',
        '  done',
        '  [ -n "$p" ] && break; sleep 0.05',
        'done',
        'echo "pid=$p"',
        '[ -n "$p" ] || { echo end: no-pid; exit; }',
        // (A failed redirection of `exec` would end the shell: try it in a subshell first.)
        '(exec 3</proc/$p/exe) 2>/dev/null || { echo end: open-denied; exit; }',
        'exec 3</proc/$p/exe',
        'kill -9 $p',
        'for i in $(seq 40); do printf PWNED 2>/dev/null >/proc/self/fd/3 && { echo end: overwritten; exit; }; sleep 0.1; done',
        'echo end: write-failed',
      ].join('\n');
      const started = await minid(['exec', id, 'sh', '-c', 'setsid sh -c "$0" </dev/null >/tmp/attack.log 2>&1 &', attack]);
      expect(started.exitCode).toBe(0);
      const log = path.join(store.root, 'containers', id, 'upper', 'tmp', 'attack.log');
      await eventually(() => expect(fs.readFileSync(log, 'utf8')).toMatch(/end: /), 20_000);
      const text = fs.readFileSync(log, 'utf8');
      expect(text).toMatch(/^pid=\d+$/m); // the attacker did find minid-init in the container
      expect(text).not.toContain('overwritten');
      expect(sha256(initCopy)).toBe(before);
      const later = await minid(['exec', id, 'echo', 'still works']);
      expect([later.exitCode, later.stdout]).toEqual([0, 'still works']);
    } finally {
      waiting.stdin?.end(); // end-of-file: the waiting minid-init gives up (if it still lives)
      await waiting;
      await minid(['rm', '-f', id]);
    }
  }, 60_000);

  it('minid-init runs from a sealed memfd and is not dumpable, as PID 1 and as the exec waiter', async () => {
    const before = sha256(initCopy);
    // PID 1 runs the image's #!/proc/self/exe script: minid-init again, waiting on its stdin
    // (-i: a FIFO kept open), so it stays to be looked at.
    const id = (await minid(['run', '-di', '--network', 'none', 'evil:1', '/evil'])).stdout.trim();
    const cmdline = (p: string) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      } catch {
        return ''; // gone meanwhile
      }
    };
    const fromMemfd = (p: string) => {
      expect(fs.readlinkSync(`/proc/${p}/exe`)).toMatch(/^\/memfd:minid-init/);
      expect(fs.readFileSync(`/proc/${p}/status`, 'utf8')).toMatch(/^Name:\tminid-init$/m);
    };
    try {
      const pid1 = String(parseInt(fs.readFileSync(path.join(store.run, 'containers', id, 'pid'), 'utf8'), 10));
      await eventually(() => expect(cmdline(pid1)).toBe('/proc/self/exe\0--wait-fd\0/evil\0'));
      fromMemfd(pid1);
      // Root in the container tries PID 1's exe as the exec attack does: to read it, to write it.
      const exec = minid(['exec', id, 'sh', '-c', 'readlink /proc/1/exe || echo denied; (printf PWNED >/proc/1/exe) 2>/dev/null && echo written || echo write-refused; sleep 3']);
      await eventually(() => {
        const waiters = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && cmdline(p).startsWith(`${initCopy}\0`) && cmdline(p).includes('\0--exec\0'));
        expect(waiters.length).toBe(1);
        fromMemfd(waiters[0]);
      });
      const r = await exec;
      expect(r.stdout).toBe('denied\nwrite-refused'); // root in the container cannot look into minid-init
      expect(sha256(initCopy)).toBe(before);
    } finally {
      await minid(['rm', '-f', id]);
    }
  }, 30_000);
});

describe("the caller's open files do not reach the container (CVE-2024-21626 class)", () => {
  // Only 0, 1, 2 and the directory ls itself opens to list /proc/self/fd.
  const fds = (out: string) => out.trim().split(/\s+/).sort();

  it('not in `run`, nor in `exec`', async () => {
    const r = await withHostFd(['run', '--rm', '--network', 'none', 'busybox', 'ls', '/proc/self/fd']);
    expect(r.stderr).toBe('');
    expect(fds(r.stdout)).toEqual(['0', '1', '2', '3']);
    const id = (await minid(['run', '-d', '--network', 'none', 'busybox', 'sleep', '300'])).stdout.trim();
    try {
      const e = await withHostFd(['exec', id, 'ls', '/proc/self/fd']);
      expect(fds(e.stdout)).toEqual(['0', '1', '2', '3']);
      const dir = await withHostFd(['exec', id, 'ls', '/proc/self/fd/260/']);
      expect(dir.exitCode).not.toBe(0);
    } finally {
      await minid(['rm', '-f', id]);
    }
  }, 60_000);

  it('nor as the working directory (-w /proc/self/fd/N, the CVE-2024-21626 way in), for run and exec', async () => {
    const id = (await minid(['run', '-d', '--network', 'none', 'busybox', 'sleep', '300'])).stdout.trim();
    try {
      for (const fd of ['3', '4', '5', '6', '7', '8', '9', '260']) {
        for (const args of [['run', '--rm', '--network', 'none', '-w', `/proc/self/fd/${fd}`, 'busybox'], ['exec', '-w', `/proc/self/fd/${fd}`, id]]) {
          const r = await withHostFd([...args, 'sh', '-c', 'ls -d ../../../*/ 2>/dev/null; cat ../../../etc/keep 2>/dev/null']);
          // (run: 125, it fails before the container starts; exec: docker's 126, in runc's words)
          expect(r.exitCode, `${args[0]} -w /proc/self/fd/${fd}: ${r.stdout}`).toBe(args[0] === 'run' ? 125 : 126);
          expect(r.stdout).toBe('');
          if (args[0] === 'run') expect(r.stderr).toMatch(new RegExp(`^minid: chdir /proc/self/fd/${fd}: (No such file or directory|Not a directory)$`));
          else expect(r.stderr).toMatch(new RegExp(`^minid: chdir to cwd \\("/proc/self/fd/${fd}"\\) failed: (no such file or directory|not a directory): give -w a directory of the container$`));
        }
      }
    } finally {
      await minid(['rm', '-f', id]);
    }
  }, 60_000);

  it('not in `run -t`, nor in `exec -t`', async () => {
    const onTerminal = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        const t = pty.spawn('bash', ['-c', 'exec 260</ && exec "$0" "$@"', cli, ...args], { cols: 100, rows: 30, cwd: tmp, env: { ...process.env, ...store.env } as Record<string, string> });
        let out = '';
        t.onData((d) => (out += d));
        t.onExit((e) => resolve({ code: e.exitCode, out }));
      });
    const r = await onTerminal(['run', '-t', '--rm', '--network', 'none', 'busybox', 'ls', '/proc/self/fd']);
    expect(r.code).toBe(0);
    expect(fds(r.out)).toEqual(['0', '1', '2', '3']);
    const id = (await minid(['run', '-d', '--network', 'none', 'busybox', 'sleep', '300'])).stdout.trim();
    try {
      const e = await onTerminal(['exec', '-t', id, 'ls', '/proc/self/fd']);
      expect(e.code).toBe(0);
      expect(fds(e.out)).toEqual(['0', '1', '2', '3']);
    } finally {
      await minid(['rm', '-f', id]);
    }
  }, 60_000);
});

/** A static probe compiled from C SOURCE into a folder of its own (mounted into containers as /p): its path. */
async function compileProbe(name: string, source: string): Promise<string> {
  const bin = path.join(tmp, `${name}-bin`);
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(tmp, `${name}.c`), source);
  await execa('cc', ['-static', '-O2', '-o', path.join(bin, 'sti'), path.join(tmp, `${name}.c`)]);
  return bin;
}

/** minid ARGS... on a terminal of its own, then the shell reads what may have been typed there. */
function typedOnTerminal(args: string[]): Promise<string> {
  return new Promise<string>((resolve) => {
    const script = '"$0" "$@" </dev/tty; read -t 1 line; echo "typed=[$line]"';
    const t = pty.spawn('bash', ['-c', script, cli, ...args], { cols: 100, rows: 30, cwd: tmp, env: { ...process.env, ...store.env } as Record<string, string> });
    let out = '';
    t.onData((d) => (out += d));
    t.onExit(() => resolve(out.replace(/\r/g, '')));
  });
}

describe("the caller's terminal does not reach the container (TIOCSTI: typing into the host's shell)", () => {
  // A static probe: which of fds 0-2 are terminals, and whether TIOCSTI can push a command
  // into one (on a controlling terminal it needs no capability; else CAP_SYS_ADMIN).
  const STI = String.raw`
#include <stdio.h>
#include <unistd.h>
#include <sys/ioctl.h>
int main(void) {
  const char *cmd = "echo PWNED\n";
  for (int fd = 0; fd < 3; fd++) {
    if (!isatty(fd)) continue;
    printf("fd%d is a terminal\n", fd);
    for (const char *c = cmd; *c; c++) if (ioctl(fd, TIOCSTI, c) < 0) break; else if (!c[1]) printf("injected on fd%d\n", fd);
  }
  printf("probe done\n");
  return 0;
}
`;
  let bin: string;
  beforeAll(async () => {
    bin = await compileProbe('sti', STI);
  });
  const onTerminal = typedOnTerminal;

  it.each([
    ['run -i', ['run', '-i', '--rm', '--network', 'none']],
    ['run -i --cap-add SYS_ADMIN', ['run', '-i', '--rm', '--network', 'none', '--cap-add', 'SYS_ADMIN']],
    ['run -i --privileged', ['run', '-i', '--rm', '--network', 'none', '--privileged']],
  ])('%s: the container gets a pipe, not the terminal', async (_what, flags) => {
    const out = await onTerminal([...flags, '-v', `${bin}:/p:ro`, 'busybox', '/p/sti']);
    expect(out).toContain('probe done');
    expect(out).not.toMatch(/is a terminal|injected|PWNED/);
    expect(out).toContain('typed=[]');
  });

  it.each([
    ['exec', []],
    ['exec -i', ['-i']],
    ['exec --privileged', ['--privileged']],
  ])("%s: neither the terminal nor a session on it", async (_what, flags) => {
    const id = (await minid(['run', '-d', '--network', 'none', '-v', `${bin}:/p:ro`, 'busybox', 'sleep', '300'])).stdout.trim();
    try {
      const out = await onTerminal(['exec', ...flags, id, 'sh', '-c', '/p/sti; cut -d" " -f7 /proc/self/stat']);
      expect(out).toContain('probe done');
      expect(out).not.toMatch(/is a terminal|injected|PWNED/);
      expect(out).toMatch(/^0$/m); // tty_nr: no controlling terminal
      expect(out).toContain('typed=[]');
    } finally {
      await minid(['rm', '-f', id]);
    }
  });
});

describe("-t: the container's terminal is its own, never the caller's (TIOCSTI)", () => {
  const STI = String.raw`
#include <stdio.h>
#include <unistd.h>
#include <sys/ioctl.h>
int main(void) {
  const char *cmd = "echo PWNED\n";
  for (int fd = 0; fd < 3; fd++) {
    if (!isatty(fd)) continue;
    printf("fd%d is %s\n", fd, ttyname(fd));
    for (const char *c = cmd; *c; c++) if (ioctl(fd, TIOCSTI, c) < 0) break;
  }
  printf("probe done\n");
  return 0;
}
`;
  let bin: string;
  beforeAll(async () => {
    bin = await compileProbe('sti-t', STI);
  });
  const onTerminal = typedOnTerminal;

  it.each([
    ['run -it', ['run', '-it', '--rm', '--network', 'none']],
    ['run -it --privileged', ['run', '-it', '--rm', '--network', 'none', '--privileged']],
  ])("%s: the container's own /dev/pts/0 takes what it pushes; the caller's shell gets nothing", async (_what, flags) => {
    const out = await onTerminal([...flags, '-v', `${bin}:/p:ro`, 'busybox', '/p/sti']);
    expect(out).toContain('fd0 is /dev/pts/0');
    expect(out).toContain('probe done');
    expect(out).toContain('typed=[]');
  });

  it('exec -it: a new terminal of the container\'s devpts; the caller\'s shell gets nothing', async () => {
    const id = (await minid(['run', '-d', '--network', 'none', '-v', `${bin}:/p:ro`, 'busybox', 'sleep', '300'])).stdout.trim();
    try {
      const out = await onTerminal(['exec', '-it', id, '/p/sti']);
      expect(out).toContain('fd0 is /dev/pts/0');
      expect(out).toContain('probe done');
      expect(out).toContain('typed=[]');
    } finally {
      await minid(['rm', '-f', id]);
    }
  });
});

describe("an image's symlinks never lead minid to the host", () => {
  it('/etc -> a host directory: the /etc files land inside the container, nothing on the host', async () => {
    const v = victim('victim-etc');
    await loadImage('etclink', [{ path: 'etc', type: 'symlink', linkpath: v }]);
    const r = await minid(['run', '--rm', '--network', 'none', '-h', 'inside', 'etclink:1', 'sh', '-c', 'cat /etc/hostname; cat /etc/keep 2>/dev/null || echo no-host-file']);
    expect(r.stderr).toBe('');
    expect([r.exitCode, r.stdout]).toEqual([0, 'inside\nno-host-file']);
    expect(listing(v)).toEqual(['keep']);
  });

  it('/data -> a host directory with -v SRC:/data/new: the volume is inside, nothing on the host', async () => {
    const v = victim('victim-data');
    const src = path.join(tmp, 'src-data');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'marker'), 'volume\n');
    await loadImage('datalink', [{ path: 'data', type: 'symlink', linkpath: v }]);
    const r = await minid(['run', '--rm', '--network', 'none', '-v', `${src}:/data/new`, 'datalink:1', 'cat', '/data/new/marker']);
    expect(r.stderr).toBe('');
    expect([r.exitCode, r.stdout]).toEqual([0, 'volume']);
    expect(listing(v)).toEqual(['keep']);
  });

  it("/data -> a host directory with -v NAME:/data: the volume's copy of the image's files is read inside the root, the mount lands inside", async () => {
    const v = victim('victim-named');
    await loadImage('namedlink', [{ path: 'data', type: 'symlink', linkpath: v }]);
    const r = await minid(['run', '--rm', '--network', 'none', '-v', 'escvol:/data', 'namedlink:1', 'sh', '-c', 'echo in > /data/f; ls /data']);
    expect(r.stderr).toBe('');
    expect([r.exitCode, r.stdout]).toEqual([0, 'f']);
    // Not the host's /…/victim-named/keep copied into the store, nothing written beside it.
    expect(fs.readdirSync(path.join(store.root, 'volumes', 'escvol', '_data'))).toEqual(['f']);
    expect(listing(v)).toEqual(['keep']);
    await minid(['volume', 'rm', 'escvol']);
  });

  it.each(['dev', 'proc', 'sys'])('/%s -> a host directory: refused, nothing made on the host', async (dir) => {
    const v = victim(`victim-${dir}`);
    await loadImage(`${dir}link`, [{ path: dir, type: 'symlink', linkpath: v }]);
    const r = await minid(['run', '--rm', '--network', 'none', `${dir}link:1`, 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toBe(`minid: container setup failed: /${dir} is a symlink in the image: refusing to mount over it`);
    expect(listing(v)).toEqual(['keep']);
  });

  it('a dangling relative symlink (/etc/hostname -> ../run/x/hostname, as systemd images have) gets its target made inside', async () => {
    await loadImage('dangling', [{ path: 'etc/', type: 'dir' }, { path: 'etc/hostname', type: 'symlink', linkpath: '../run/x/hostname' }]);
    const r = await minid(['run', '--rm', '--network', 'none', '-h', 'dangle', 'dangling:1', 'cat', '/run/x/hostname']);
    expect(r.stderr).toBe('');
    expect([r.exitCode, r.stdout]).toEqual([0, 'dangle']);
  });

  it('a relative symlink out of the root (../../..) stays inside it too', async () => {
    const v = victim('victim-rel');
    await loadImage('rellink', [{ path: 'etc', type: 'symlink', linkpath: `../../../../../../../../..${v}` }]);
    const r = await minid(['run', '--rm', '--network', 'none', '-h', 'rel', 'rellink:1', 'cat', '/etc/hostname']);
    expect([r.exitCode, r.stdout]).toEqual([0, 'rel']);
    expect(listing(v)).toEqual(['keep']);
  });
});

describe('device nodes of images and volumes open nothing (nodev)', () => {
  it('a device node in a volume cannot be opened, as root in the container', async () => {
    const dir = path.join(tmp, 'vol-dev');
    fs.mkdirSync(dir);
    await execa('mknod', [path.join(dir, 'null'), 'c', '1', '3']);
    fs.chmodSync(path.join(dir, 'null'), 0o666);
    fs.readFileSync(path.join(dir, 'null')); // on the host it opens: the volume's mount is what forbids it
    const r = await minid(['run', '--rm', '--network', 'none', '-v', `${dir}:/v`, 'busybox', 'cat', '/v/null']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/'\/v\/null': Permission denied/);
  });

  it('a device node shipped in an image layer cannot be opened, by root or another user', async () => {
    // null (c 1:3) is on the device allow-list: only nodev stands in its way. vda (b 254:0) is
    // this host's disk, opened read-write as the attacker would (a node made 0666 for uid 1000).
    await loadImage('devnode', [
      { path: 'disk/', type: 'dir' },
      { path: 'disk/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      { path: 'disk/vda', type: 'block', devmajor: 254, devminor: 0, mode: 0o666 },
    ]);
    for (const user of ['0', '1000']) {
      const r = await minid(['run', '--rm', '--network', 'none', '-u', user, 'devnode:1', 'sh', '-c', 'id -u; cat /disk/null; (exec 3<>/disk/vda) || echo vda refused']);
      expect(r.stdout).toBe(`${user}\nvda refused`);
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toMatch(/'\/disk\/null': Permission denied/);
      expect(r.stderr).toMatch(/\/disk\/vda: Permission denied/);
    }
    // minid's own /dev still works.
    const ok = await minid(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'cat /dev/null && echo ok']);
    expect(ok.stdout).toBe('ok');
  });

  it("a device node the image ships, copied into a new named volume, opens nothing there either", async () => {
    await loadImage('devvol', [{ path: 'disk/', type: 'dir' }, { path: 'disk/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 }]);
    const r = await minid(['run', '--rm', '--network', 'none', '-v', 'devvol:/disk', 'devvol:1', 'cat', '/disk/null']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/'\/disk\/null': Permission denied/);
    await minid(['volume', 'rm', 'devvol']);
  });

  it("a node the container makes itself (CAP_MKNOD, as docker's) of a host disk, kvm, fuse, tun or loop-control opens nothing: the devices cgroup", async () => {
    // In minid's own /dev: a tmpfs without nodev, so only the device policy stands in the way.
    const nodes = [['disk', 'b 8 0'], ['loop0', 'b 7 0'], ['kvm', 'c 10 232'], ['fuse', 'c 10 229'], ['tun', 'c 10 200'], ['loopctl', 'c 10 237']];
    const script = nodes.map(([n, dev]) => `mknod /dev/x-${n} ${dev} && (head -c 1 /dev/x-${n} >/dev/null 2>&1 || echo ${n} refused)`).join('; ');
    const r = await minid(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', script]);
    expect(r.stdout.split('\n')).toEqual(nodes.map(([n]) => `${n} refused`));
  });
});

describe('/proc is not for volumes', () => {
  it.each(['/proc', '/proc/sys/kernel'])('-v DIR:%s is refused with one line', async (target) => {
    const r = await minid(['run', '--rm', '--network', 'none', '-v', `${tmp}:${target}`, 'busybox', 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toBe(`minid: invalid volume "${tmp}:${target}": cannot mount over /proc or anything in it`);
  });

  it('/proc/fs and /proc/sys are read-only', async () => {
    const r = await minid(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'grep -E " /proc/(fs|sys) " /proc/mounts | cut -d" " -f2,4 | cut -d, -f1']);
    expect(r.stdout.split('\n').sort()).toEqual(['/proc/fs ro', '/proc/sys ro']);
  });
});
