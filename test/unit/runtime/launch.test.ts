import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { READONLY_PROC, fstabs, initArgs, shimScript, unshareArgs } from '../../../src/runtime/launch.js';

const input = {
  id: 'f'.repeat(64), name: 'web', runDir: '/run/minid/containers/x', rootfs: '/var/lib/minid/containers/x/rootfs',
  lowerdirs: ['/l/base', '/l/libs', '/l/app'], upperdir: '/u', workdir: '/w', hostname: 'web',
  volumes: [{ host: '/srv/data', container: '/data', readonly: true }],
  etcFiles: [{ name: 'hosts', source: '/var/lib/minid/containers/x/hosts' }],
  initBin: '/opt/minid/build/minid-init', envFile: '/run/minid/containers/x/env', uid: 33, gid: 33, cwd: '/', argv: ['nginx', '-g', 'daemon off;'],
  loopbackUp: true,
  hostProc: ['sys', 'kcore'],
  hostSysFirmware: true,
  security: { caps: '0,1,3', seccomp: '/run/minid/containers/x/seccomp', noNewPrivs: true, privileged: false },
};

describe('what runs in the new namespaces: minid-init and its fstabs', () => {
  const a = initArgs(input);
  const t = fstabs(input);
  it('stacks layers top-most first for overlayfs, before anything else', () =>
    expect(t.root.split('\n')[0]).toBe(`overlay ${input.rootfs} overlay nodev,lowerdir=/l/app:/l/libs:/l/base,upperdir=/u,workdir=/w 0 0`));
  it("mounts the image's root and every volume nodev (a device node there opens nothing), minid's own /dev not", () => {
    expect(t.root.split('\n')[0]).not.toMatch(/nosuid/); // setuid binaries of images work, as in docker
    const vols = fstabs({ ...input, volumes: [{ host: '/a', container: '/x', readonly: false }, { host: '/b', container: '/y', readonly: true }] }).rest;
    expect(vols).toContain(`/a ${input.rootfs}/x none bind,nodev 0 0`);
    expect(vols).toContain(`/b ${input.rootfs}/y none bind,nodev,ro 0 0`);
    expect(t.root).toMatch(/^tmpfs \S+\/dev tmpfs nosuid,strictatime,/m);
  });
  it('names every mount target under the rootfs, the overlay exactly on it (minid-init resolves them inside it)', () => {
    for (const l of [t.root, t.devproc, t.rest].join('').trim().split('\n')) expect(l.split(' ')[1]).toMatch(new RegExp(`^${input.rootfs}(/|$)`));
  });
  it('gives the container its own /proc, a minimal /dev and a read-only /sys', () => {
    expect(t.root).toContain(`proc ${input.rootfs}/proc proc nosuid,nodev,noexec`);
    expect(t.root).toContain(`tmpfs ${input.rootfs}/dev tmpfs nosuid,strictatime,mode=755`);
    expect(t.devproc).toContain('newinstance');
    expect(t.rest).toContain(`sysfs ${input.rootfs}/sys sysfs ro,`);
  });
  it("makes /proc's kernel knobs read-only and masks host secrets, for what the kernel has", () => {
    expect(t.devproc).toContain(`${input.rootfs}/proc/sys ${input.rootfs}/proc/sys none bind,ro 0 0`);
    expect(t.devproc).toContain(`/dev/null ${input.rootfs}/proc/kcore none bind 0 0`);
    expect(t.devproc).not.toContain('sysrq-trigger');
    // /proc/fs too, as runc, where the kernel has it.
    expect(READONLY_PROC).toContain('fs');
    expect(fstabs({ ...input, hostProc: ['fs'] }).devproc).toContain(`${input.rootfs}/proc/fs ${input.rootfs}/proc/fs none bind,ro 0 0`);
    expect(t.rest).toContain(`tmpfs ${input.rootfs}/sys/firmware tmpfs ro 0 0`);
  });
  it('mounts read-only volumes read-only, and the /etc files', () => {
    expect(t.rest).toContain(`/srv/data ${input.rootfs}/data none bind,nodev,ro 0 0`);
    expect(t.rest).toContain(`/var/lib/minid/containers/x/hosts ${input.rootfs}/etc/hosts none bind 0 0`);
  });
  it('mounts --tmpfs with its options, volumes and tmpfs a parent first', () => {
    const rest = fstabs({ ...input, volumes: [{ host: '/a', container: '/run/x', readonly: false }], tmpfs: [{ container: '/run', typed: 'size=1m', options: 'noexec,nosuid,nodev,size=1m' }] }).rest.split('\n');
    const tmpfs = rest.indexOf(`tmpfs ${input.rootfs}/run tmpfs noexec,nosuid,nodev,size=1m,X-mount.mkdir 0 0`);
    expect(tmpfs).toBeGreaterThan(-1);
    expect(rest.indexOf(`/a ${input.rootfs}/run/x none bind,nodev 0 0`)).toBeGreaterThan(tmpfs);
  });
  it('--read-only: remounts the root read-only last, once every mount point and the working directory are made', () => {
    const ro = { ...input, readOnly: true, cwd: '/srv/app' };
    expect(fstabs(ro).ro).toBe(`none ${input.rootfs} none bind,remount,ro 0 0\n`);
    expect(t.ro).toBe('');
    const args = initArgs(ro);
    const rest = args.indexOf(`${input.runDir}/fstab.rest`);
    expect(args.slice(rest + 1, rest + 5)).toEqual(['--make-dir', `${input.rootfs}/srv/app`, '--mount-all', `${input.runDir}/fstab.ro`]);
    expect(a).not.toContain('--make-dir');
    expect(initArgs({ ...ro, cwd: '/' })).not.toContain('--make-dir');
  });
  it('escapes spaces in fstab fields', () =>
    expect(fstabs({ ...input, volumes: [{ host: '/my dir', container: '/in here', readonly: false }] }).rest).toContain('/my\\040dir'));
  it('sets up in order: stderr, pid file, the root, /dev, devpts & /proc masks, the rest, hostname, loopback; then the command', () => {
    const setup = a.slice(1, a.indexOf('--')).filter((x) => x.startsWith('--'));
    expect(setup).toEqual(['--stderr-fd', '--pidfile', '--mount-all', '--make-dev', '--mount-all', '--mount-all', '--hostname', '--loopback-up', '--caps', '--seccomp', '--no-new-privs']);
    expect(a.filter((x) => x.includes('fstab.'))).toEqual([`${input.runDir}/fstab.root`, `${input.runDir}/fstab.devproc`, `${input.runDir}/fstab.rest`]);
    expect(a).toContain(`${input.rootfs}/dev`);
    expect(a.slice(a.indexOf('--') + 1)).toEqual([input.rootfs, input.envFile, '33', '33', '/', 'nginx', '-g', 'daemon off;']);
    expect(initArgs({ ...input, loopbackUp: false })).not.toContain('--loopback-up');
  });
  it("waits for minid's go after /dev, then joins the network namespace, before mounting the rest (/sys)", () => {
    const b = initArgs({ ...input, loopbackUp: false, waitFd: 4, reportFd: 5, netns: '/run/netns/minid-abc' });
    const setup = b.slice(1, b.indexOf('--')).filter((x) => x.startsWith('--'));
    // The report fd first: a failure of any later step is reported on it.
    expect(setup).toEqual(['--stderr-fd', '--report-fd', '--pidfile', '--mount-all', '--make-dev', '--mount-all', '--wait-fd', '--netns', '--mount-all', '--hostname', '--caps', '--seccomp', '--no-new-privs']);
    expect(b.slice(b.indexOf('--wait-fd'), b.indexOf('--wait-fd') + 4)).toEqual(['--wait-fd', '4', '--netns', '/proc/$$/root/run/netns/minid-abc']);
    expect(b[b.indexOf('--netns') + 3]).toBe(`${input.runDir}/fstab.rest`);
    // The supervisor's shell expands $$: the path resolves in its (the host's) mount namespace.
    const sh = shimScript({ id: 'a'.repeat(64), name: 'n', runDir: '/r', exitFile: '/c/exit.json', launch: unshareArgs({ newNet: false }), init: b });
    expect(sh).toContain(' --netns "/proc/$$/root/run/netns/minid-abc" ');
    expect(execFileSync('sh', ['-c', `pid=$$; ${sh.split('\n').find((l) => l.includes('--netns'))!.replace(/^.*?(--netns "[^"]*").*$/, 'echo $1')}`]).toString()).toMatch(/^--netns \/proc\/\d+\/root\/run\/netns\/minid-abc\n$/);
    // Another container's namespace, by its process: as is.
    expect(initArgs({ ...input, netns: '/proc/42/ns/net' })).toContain('/proc/42/ns/net');
  });
  it('joins the cgroups first (the setup counts against the limits), then gets a cgroup namespace', () => {
    const b = initArgs({ ...input, cgroupProcs: ['/sys/fs/cgroup/memory/minid/x/cgroup.procs', '/sys/fs/cgroup/pids/minid/x/cgroup.procs'] });
    expect(b.slice(3, 8)).toEqual(['--cgroup-procs', '/sys/fs/cgroup/memory/minid/x/cgroup.procs', '--cgroup-procs', '/sys/fs/cgroup/pids/minid/x/cgroup.procs', '--cgroupns']);
    expect(b.indexOf('--cgroupns')).toBeLessThan(b.indexOf('--mount-all'));
    expect(initArgs(input)).not.toContain('--cgroupns');
  });
});

describe('the supervisor', () => {
  it('records the exit code in one write and calls the hook', () => {
    const s = shimScript({ id: 'a'.repeat(64), name: 'n', runDir: '/r', exitFile: '/c/exit.json', launch: unshareArgs({ newNet: true }), init: ['/b/minid-init', '--hostname', 'my host', '--', '/root', 'sh', '-c', 'echo "$X"'], hook: ['minid', '_exited', 'a'] });
    // `run ARGV`: the container, its unshare's own stderr kept apart (see shimScript).
    expect(s).toContain(`run unshare --pid --fork --kill-child --mount --uts --ipc --net --propagation private -- /b/minid-init --hostname 'my host' -- /root sh -c 'echo "$X"'\n`);
    expect(s).toContain(`"$@" 3>&2 2>/r/unshare.err`);
    expect(s).toContain(`printf '{"exitCode":%d}\\n' "$code" > /c/exit.json`);
    expect(s).not.toContain('mv ');
    expect(execFileSync('sh', ['-n', '-c', s]).toString()).toBe('');
    expect(s).toContain('minid _exited a');
  });
  it('-d: gives the container two pipes that a log writer reads, and records the exit once the log is complete', () => {
    const logger = ['/b/minid-logger', '--max-size', '100', '--max-file', '2', '/c/container.log'];
    const s = shimScript({ id: 'a'.repeat(64), name: 'n', runDir: '/r', exitFile: '/c/exit.json', launch: unshareArgs({ newNet: true }), init: ['/b/minid-init'], logger });
    const lines = s.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(lines).toContain('/b/minid-logger --max-size 100 --max-file 2 /c/container.log < /r/stdout.fifo 3< /r/stderr.fifo >/dev/null 2>&1 & relay=$!');
    expect(at(/^exec > \/r\/stdout.fifo 2> \/r\/stderr.fifo$/)).toBeGreaterThan(at(/^\/b\/minid-logger /));
    expect(at(/^exec > \/r\/stdout.fifo/)).toBeLessThan(at(/^run unshare /));
    expect(at(/wait \$relay/)).toBeLessThan(at(/^printf /));
    expect(execFileSync('sh', ['-n', '-c', s]).toString()).toBe('');
  });
  it('a foreground run: the hook runs only if minid has left (its mark), after the exit record', () => {
    const s = shimScript({ id: 'a'.repeat(64), name: 'n', runDir: '/r', exitFile: '/c/exit.json', launch: unshareArgs({ newNet: true }), init: ['/b/minid-init'], hook: ['minid', '_exited', 'a'], hookIf: '/r/left' });
    const lines = s.split('\n');
    expect(lines).toContain('[ -e /r/left ] && minid _exited a </dev/null >/dev/null 2>&1');
    expect(lines.findIndex((l) => l.startsWith('[ -e /r/left ]'))).toBeGreaterThan(lines.findIndex((l) => l.startsWith('printf ')));
    expect(s).not.toContain('.fifo');
  });
  it('keeps stdin open for -d with -i/-t (a FIFO it holds both ends of)', () => {
    const s = shimScript({ id: 'a'.repeat(64), name: 'n', runDir: '/r', exitFile: '/c/exit.json', launch: unshareArgs({ newNet: true }), init: ['/b/minid-init'], keepStdin: true });
    expect(s).toContain('mkfifo /r/stdin && exec 0<> /r/stdin');
    expect(execFileSync('sh', ['-n', '-c', s]).toString()).toBe('');
  });
  it('-t: minid-console runs unshare and holds the terminal; minid-init makes it once devpts is mounted', () => {
    const init = initArgs({ ...input, consoleSocket: '/r/pty.sock' });
    const at = init.indexOf('--console-socket');
    expect(init[at + 1]).toBe('/r/pty.sock');
    expect(init[at - 1]).toMatch(/fstab\.devproc$/);
    expect(initArgs(input)).not.toContain('--console-socket');
    const s = shimScript({ id: 'a'.repeat(64), name: 'n', runDir: '/r', exitFile: '/c/exit.json', launch: unshareArgs({ newNet: true }), init, console: ['/b/minid-console', '/r/attach.sock', '/r/pty.sock', '--'] });
    expect(s).toMatch(/^run \/b\/minid-console \/r\/attach\.sock \/r\/pty\.sock -- unshare --pid /m);
    expect(execFileSync('sh', ['-n', '-c', s]).toString()).toBe('');
  });
  it('makes new PID, mount, UTS and IPC namespaces, and a network one only when asked', () => {
    expect(unshareArgs({ newNet: false })).toEqual(['unshare', '--pid', '--fork', '--kill-child', '--mount', '--uts', '--ipc', '--propagation', 'private', '--']);
    expect(unshareArgs({ newNet: true })).toContain('--net');
  });
});
