// Capabilities, seccomp and no-new-privileges, checked from inside real containers (root; CI
// runs it): what a default container may not do, what the flags give back, and that `exec`
// gets the same restrictions as the container's PID 1.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, loadImages, makeStore, minid, mountsUnder, requireRoot, type Store } from '../../helpers/minid.js';

let store: Store;
let tmp: string; // the probe, the profiles
const run = (args: string[]) => minid(store, args);
const box = (flags: string[], script: string) => run(['run', '--rm', '--network', 'none', ...flags, 'busybox', 'sh', '-c', script]);

// A static probe: calls one system call the way an attacker would, prints "NAME OK" or
// "NAME errno=N". busybox has no applet for keyctl, bpf or perf_event_open.
const PROBE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    long r = -1;
    const char *n = argv[i];
    struct perf_event_attr pa;
    memset(&pa, 0, sizeof pa);
    pa.size = sizeof pa; pa.type = PERF_TYPE_SOFTWARE; pa.config = PERF_COUNT_SW_CPU_CLOCK; pa.exclude_kernel = 1;
    if (!strcmp(n, "keyctl")) r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
    else if (!strcmp(n, "add_key")) r = syscall(SYS_add_key, "user", "minid", "x", 1, -3);
    else if (!strcmp(n, "bpf")) { char attr[128] = {0}; r = syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr); }
    else if (!strcmp(n, "perf_event_open")) r = syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
    else if (!strcmp(n, "userfaultfd")) r = syscall(SYS_userfaultfd, 0);
    else if (!strcmp(n, "unshare_user")) r = unshare(CLONE_NEWUSER);
    else if (!strcmp(n, "clone3")) { char args[88] = {0}; r = syscall(SYS_clone3, args, 8); if (r == 0) _exit(0); }
    // Arguments the kernel refuses after its capability check (EINVAL, EFAULT, ENOEXEC) or
    // that are harmless: past the filter, nothing changes on the host.
    else if (!strcmp(n, "kexec_load")) r = syscall(SYS_kexec_load, 0, 1UL << 30 /* too many segments */, NULL, 0);
    else if (!strcmp(n, "init_module")) r = syscall(SYS_init_module, NULL, 0, "");
    else if (!strcmp(n, "clock_settime")) r = syscall(SYS_clock_settime, 0 /* CLOCK_REALTIME */, NULL);
    else if (!strcmp(n, "adjtimex")) r = syscall(SYS_adjtimex, NULL);
    else if (!strcmp(n, "reboot")) r = syscall(SYS_reboot, 0, 0, 0, NULL); /* bad magic */
    else if (!strcmp(n, "swapon")) r = syscall(SYS_swapon, "/nonexistent", 0);
    else if (!strcmp(n, "getpid")) r = getpid();
    else if (!strcmp(n, "euid")) { printf("euid=%d\n", (int)geteuid()); continue; }
    if (r < 0) printf("%s errno=%d\n", n, errno); else printf("%s OK\n", n);
  }
  return 0;
}
`;

beforeAll(async () => {
  requireRoot();
  store = makeStore('sec');
  await loadImages(store);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-sec-'));
  fs.mkdirSync(path.join(tmp, 'bin'));
  fs.writeFileSync(path.join(tmp, 'probe.c'), PROBE);
  await execa('cc', ['-static', '-O2', '-o', path.join(tmp, 'bin', 'probe'), path.join(tmp, 'probe.c')]);
  fs.writeFileSync(path.join(tmp, 'nomkdir.json'), JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
  }));
}, 120_000);

afterAll(async () => {
  await store?.cleanup();
  expect(mountsUnder(store.root)).toEqual([]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const withProbe = () => ['-v', `${path.join(tmp, 'bin')}:/probe:ro`];

describe('the default seccomp profile', () => {
  it('refuses a new user namespace, which seccomp=unconfined allows', async () => {
    const def = await box([], 'unshare -U true && echo made || echo refused');
    expect(def.stdout).toBe('refused');
    expect(def.stderr).toMatch(/Operation not permitted/);
    const open = await box(['--security-opt', 'seccomp=unconfined'], 'unshare -U true && echo made || echo refused');
    expect(open.stdout).toBe('made');
  });

  it('refuses keyrings, bpf, perf_event_open and userfaultfd with EPERM; clone3 gets ENOSYS (libc falls back to clone)', async () => {
    const r = await run(['run', '--rm', '--network', 'none', ...withProbe(), 'busybox', '/probe/probe', 'keyctl', 'add_key', 'bpf', 'perf_event_open', 'userfaultfd', 'unshare_user', 'clone3', 'getpid']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'keyctl errno=1', 'add_key errno=1', 'bpf errno=1', 'perf_event_open errno=1', 'userfaultfd errno=1', 'unshare_user errno=1', 'clone3 errno=38', 'getpid OK',
    ]);
    const open = await run(['run', '--rm', '--network', 'none', '--security-opt', 'seccomp=unconfined', ...withProbe(), 'busybox', '/probe/probe', 'keyctl', 'getpid']);
    expect(open.stdout).toBe('keyctl OK\ngetpid OK'); // the kernel itself would allow it: the filter refused it
  });

  it('refuses kexec, modules, setting the clock, reboot and swap; the capability that guards each opens only its own calls, never kexec or swap', async () => {
    const calls = ['kexec_load', 'init_module', 'clock_settime', 'adjtimex', 'reboot', 'swapon'];
    const probe = async (flags: string[]) => {
      const r = await run(['run', '--rm', '--network', 'none', ...flags, ...withProbe(), 'busybox', '/probe/probe', ...calls]);
      expect(r.exitCode, r.stderr).toBe(0);
      return Object.fromEntries(r.stdout.split('\n').map((l) => l.split(' ')));
    };
    const EPERM = 'errno=1';
    // The default container: refused (the filter, and the missing capabilities behind it).
    expect(await probe([])).toEqual(Object.fromEntries(calls.map((c) => [c, EPERM])));
    // Without the filter, the clock calls reach the kernel (EFAULT, their NULL pointer): it is
    // the filter that refused them, not a capability.
    const open = await probe(['--security-opt', 'seccomp=unconfined']);
    expect([open.clock_settime, open.adjtimex]).toEqual(['errno=14', 'errno=14']);
    // Every capability that guards one of them: the profile opens reboot, modules and the
    // clock (docker's includes.caps), never kexec nor swap.
    const caps = ['--cap-add', 'SYS_BOOT', '--cap-add', 'SYS_MODULE', '--cap-add', 'SYS_TIME', '--cap-add', 'SYS_ADMIN'];
    const capped = await probe(caps);
    const unconfined = await probe([...caps, '--security-opt', 'seccomp=unconfined']);
    expect(capped.kexec_load).toBe(EPERM);
    expect(unconfined.kexec_load).not.toBe(EPERM); // EINVAL (or ENOSYS without kexec): the kernel would take it
    expect(capped.swapon).toBe(EPERM);
    expect(unconfined.swapon).not.toBe(EPERM); // ENOENT: the kernel would take it
    expect(capped.reboot).toBe('errno=22'); // opened by CAP_SYS_BOOT: the bad magic is the kernel's EINVAL
    expect(capped.clock_settime).toBe('errno=14');
    expect(capped.init_module).toBe(unconfined.init_module); // ENOSYS (no modules in this kernel) or ENOEXEC
    expect(capped.init_module).not.toBe(EPERM);
  });

  it('shows in /proc as a filter on the command, and leaves the shell, coreutils and nginx working', async () => {
    const r = await box([], 'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; mkdir -p /a/b && echo hi > /a/b/f && cat /a/b/f && chown 1:1 /a/b/f && ls -ln /a/b | grep -c " 1 *1 "; sleep 0 & wait');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('NoNewPrivs:\t0\nSeccomp:\t2\nhi\n1');
  });

  it('nginx serves its page', async () => {
    const port = 19231;
    const r = await run(['run', '-d', '--name', 'sec-web', '-p', `127.0.0.1:${port}:80`, 'nginx']);
    expect(r.stderr).toBe('');
    try {
      await eventually(async () => {
        const page = await execa('curl', ['-sf', `http://127.0.0.1:${port}/`], { reject: false });
        if (page.exitCode) throw new Error(`curl: ${page.exitCode} ${page.stderr}; log: ${(await run(['logs', 'sec-web'])).stdout}`);
        expect(page.stdout).toMatch(/nginx/i);
      });
      const status = await run(['exec', 'sec-web', 'grep', 'Seccomp:', '/proc/1/status']);
      expect(status.stdout).toBe('Seccomp:\t2');
    } finally {
      await run(['rm', '-f', 'sec-web']);
    }
  });
});

describe('--security-opt seccomp=PROFILE.json', () => {
  it("applies a user's profile in docker's format", async () => {
    const r = await box(['--security-opt', `seccomp=${path.join(tmp, 'nomkdir.json')}`], 'mkdir /x || echo refused; touch /y && echo touched');
    expect(r.stdout).toBe('refused\ntouched');
    expect(r.stderr).toMatch(/Permission denied/); // errnoRet 13
  });

  it('refuses a malformed profile in one line, exit 125, before anything is made', async () => {
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_DENY' }] }));
    const before = (await run(['ps', '-aq'])).stdout;
    const r = await run(['run', '--rm', '--security-opt', `seccomp=${bad}`, '-p', '127.0.0.1:19232:80', 'busybox', 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toBe(`minid: invalid seccomp profile ${bad}: syscalls[0].action: unknown action "SCMP_ACT_DENY": use one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG`);
    expect((await run(['ps', '-aq'])).stdout).toBe(before);
    for (const opt of ['apparmor=unconfined', 'label=disable', `seccomp=${path.join(tmp, 'missing.json')}`]) {
      const o = await run(['run', '--rm', '--security-opt', opt, 'busybox', 'true']);
      expect(o.exitCode).toBe(125);
      expect(o.stderr.split('\n')).toHaveLength(1);
    }
  });
});

describe('capabilities', () => {
  it('--cap-drop ALL: root cannot chown; --cap-drop CHOWN alone does the same', async () => {
    for (const flags of [['--cap-drop', 'ALL'], ['--cap-drop', 'chown']]) {
      const r = await box(flags, 'touch /f; chown 1 /f && echo chowned || echo refused');
      expect(r.stdout).toBe('refused');
    }
    expect((await box([], 'touch /f; chown 1 /f && echo chowned')).stdout).toBe('chowned');
  });

  it('--cap-add SYS_ADMIN lets mount work (the profile opens mount for that capability too); the default does not', async () => {
    expect((await box([], 'mount -t tmpfs t /tmp 2>/dev/null && echo mounted || echo refused')).stdout).toBe('refused');
    expect((await box(['--cap-add', 'sys_admin'], 'mount -t tmpfs t /tmp && echo mounted')).stdout).toBe('mounted');
  });

  it('refuses an unknown capability as docker does', async () => {
    const r = await run(['run', '--rm', '--cap-add', 'NOPE', 'busybox', 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/^minid: invalid --cap-add: unknown capability: "CAP_NOPE"/);
  });

  it('--privileged: all capabilities, no filter, /proc and /sys writable', async () => {
    const r = await box(['--privileged'], 'grep -E "^(CapEff|Seccomp):" /proc/self/status; unshare -U true && echo userns; mount -t tmpfs t /tmp && echo mounted; grep " /sys " /proc/mounts | cut -d" " -f4 | cut -d, -f1; grep -c " /proc/sys " /proc/mounts');
    expect(r.stdout).toMatch(/^CapEff:\t0*1fffeffffff\nSeccomp:\t0\nuserns\nmounted\nrw\n0$/); // all but CAP_SYS_RESOURCE, which this host's bounding set lacks
  });
});

describe('no-new-privileges', () => {
  it('a setuid-root binary gives a user no root', async () => {
    // A copy of the probe, setuid root, in the container's own layer, run as nobody.
    const script = 'cp /probe/probe /suid && chmod 4755 /suid && su -s /bin/sh nobody -c "grep NoNewPrivs /proc/self/status; /suid euid"';
    const plain = await box(withProbe(), script);
    expect(plain.stdout).toBe('NoNewPrivs:\t0\neuid=0'); // setuid works
    for (const opt of ['no-new-privileges', 'no-new-privileges:true', 'no-new-privileges=true']) {
      const nnp = await box(['--security-opt', opt, ...withProbe()], script);
      expect(nnp.stdout).toBe('NoNewPrivs:\t1\neuid=65534');
    }
  });
});

describe('exec', () => {
  it("gets the container's capabilities, filter and no-new-privileges; --privileged gives all capabilities", async () => {
    const r = await run(['run', '-d', '--name', 'sec-x', '--network', 'none', '--cap-drop', 'CHOWN', '--security-opt', 'no-new-privileges', 'busybox', 'sleep', '300']);
    expect(r.exitCode).toBe(0);
    try {
      const pid1 = await run(['exec', 'sec-x', 'grep', '-E', '^(CapEff|Seccomp|NoNewPrivs):', '/proc/1/status']);
      const mine = await run(['exec', 'sec-x', 'grep', '-E', '^(CapEff|Seccomp|NoNewPrivs):', '/proc/self/status']);
      expect(mine.stdout).toBe(pid1.stdout);
      expect(mine.stdout).toMatch(/NoNewPrivs:\t1\nSeccomp:\t2/);
      expect((await run(['exec', 'sec-x', 'sh', '-c', 'unshare -U true || echo refused'])).stdout).toBe('refused');
      expect((await run(['exec', 'sec-x', 'sh', '-c', 'touch /f; chown 1 /f || echo refused'])).stdout).toBe('refused');
      const priv = await run(['exec', '--privileged', 'sec-x', 'grep', '^CapEff:', '/proc/self/status']);
      expect(priv.stdout).toMatch(/^CapEff:\t0*1fffeffffff$/);
      const insp = JSON.parse((await run(['inspect', 'sec-x'])).stdout)[0].HostConfig;
      expect(insp).toMatchObject({ CapAdd: null, CapDrop: ['CHOWN'], Privileged: false, SecurityOpt: ['no-new-privileges'] });
    } finally {
      await run(['rm', '-f', 'sec-x']);
    }
  });
});
