import { describe, expect, it } from 'vitest';
import {
  CAPABILITIES, DOCKER_DEFAULT_CAPS, capNumbers, compileProfile, computeCaps, defaultCaps, defaultProfileRules, normalizeCap,
  parseSecurityOpts, securityOptList, seccompRules, thisHost,
} from '../../../src/runtime/security.js';
import { fstabs, type InitScriptInput } from '../../../src/runtime/launch.js';
import { userError } from '../../helpers/errors.js';

const err = (fn: () => unknown): string => userError(fn);

const host = thisHost('x64', '6.18.44-fc');
const base = defaultCaps({ devicePolicy: false });
const compile = (p: unknown, caps = base) => compileProfile(typeof p === 'string' ? p : JSON.stringify(p), 'p.json', caps, host);

describe('capabilities', () => {
  it("numbers every capability as linux/capability.h does", () => {
    expect(CAPABILITIES.indexOf('CAP_SYS_ADMIN')).toBe(21);
    expect(CAPABILITIES.indexOf('CAP_MKNOD')).toBe(27);
    expect(CAPABILITIES.indexOf('CAP_CHECKPOINT_RESTORE')).toBe(40);
  });
  it("keeps docker's default set, CAP_MKNOD only with a device policy", () => {
    expect(DOCKER_DEFAULT_CAPS).toHaveLength(14);
    expect(defaultCaps({ devicePolicy: true })).toContain('CAP_MKNOD');
    expect(base).not.toContain('CAP_MKNOD');
    expect(base).toHaveLength(13);
  });
  it("takes docker's spellings: any case, with or without CAP_, ALL", () => {
    expect(normalizeCap('net_admin', '--cap-add')).toBe('CAP_NET_ADMIN');
    expect(normalizeCap('CAP_SYS_TIME', '--cap-add')).toBe('CAP_SYS_TIME');
    expect(normalizeCap('all', '--cap-drop')).toBe('ALL');
    expect(err(() => normalizeCap('FOO', '--cap-add'))).toMatch(/invalid --cap-add: unknown capability: "CAP_FOO"/);
  });
  it("adds and drops by docker's rule", () => {
    expect(computeCaps({ add: [], drop: ['chown'], privileged: false, base })).not.toContain('CAP_CHOWN');
    expect(computeCaps({ add: ['SYS_ADMIN'], drop: [], privileged: false, base })).toContain('CAP_SYS_ADMIN');
    expect(computeCaps({ add: ['NET_ADMIN'], drop: ['ALL'], privileged: false, base })).toEqual(['CAP_NET_ADMIN']);
    expect(computeCaps({ add: ['ALL'], drop: ['SYS_ADMIN'], privileged: false, base })).toHaveLength(CAPABILITIES.length - 1);
    expect(computeCaps({ add: ['CHOWN'], drop: ['CHOWN'], privileged: false, base })).toContain('CAP_CHOWN'); // add wins
    expect(computeCaps({ add: [], drop: [], privileged: true, base })).toHaveLength(CAPABILITIES.length);
    expect(capNumbers(['CAP_CHOWN', 'CAP_KILL'])).toBe('0,5');
  });
});

describe('--security-opt', () => {
  const read = (f: string) => {
    if (f === 'p.json') return '{"defaultAction":"SCMP_ACT_ALLOW"}';
    throw new Error('ENOENT');
  };
  it('takes seccomp=FILE, seccomp=unconfined and no-new-privileges in its forms', () => {
    expect(parseSecurityOpts([], read)).toEqual({ seccomp: 'default', noNewPrivileges: false });
    expect(parseSecurityOpts(['seccomp=unconfined'], read).seccomp).toBe('unconfined');
    expect(parseSecurityOpts(['seccomp=p.json'], read).seccomp).toEqual({ file: 'p.json', json: '{"defaultAction":"SCMP_ACT_ALLOW"}' });
    for (const o of ['no-new-privileges', 'no-new-privileges=true', 'no-new-privileges:true'])
      expect(parseSecurityOpts([o], read).noNewPrivileges).toBe(true);
    expect(parseSecurityOpts(['no-new-privileges', 'no-new-privileges=false'], read).noNewPrivileges).toBe(false);
  });
  it('refuses what minid does not do, saying what it does', () => {
    expect(err(() => parseSecurityOpts(['apparmor=unconfined'], read))).toMatch(/does not use AppArmor/);
    expect(err(() => parseSecurityOpts(['label=disable'], read))).toMatch(/does not use SELinux/);
    expect(err(() => parseSecurityOpts(['no-new-privileges=yes'], read))).toMatch(/no-new-privileges=true or/);
    expect(err(() => parseSecurityOpts(['seccomp=missing.json'], read))).toMatch(/cannot read the seccomp profile missing.json/);
    expect(err(() => parseSecurityOpts(['seccomp'], read))).toMatch(/seccomp=PROFILE.json or seccomp=unconfined/);
    expect(err(() => parseSecurityOpts(['bogus'], read))).toMatch(/invalid --security-opt "bogus"/);
  });
  it('lists them as docker inspect does', () => {
    expect(securityOptList({ seccomp: 'default', noNewPrivileges: true })).toEqual(['no-new-privileges']);
    expect(securityOptList({ seccomp: { file: 'p', json: '{}' }, noNewPrivileges: false })).toEqual(['seccomp={}']);
  });
});

describe("seccomp profiles in docker's format", () => {
  it('compiles to one libseccomp call a line', () => {
    const r = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
        { name: 'kill', action: 'SCMP_ACT_KILL_PROCESS' },
      ],
    });
    expect(r.split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      'default errno:1', 'arch x86_64', 'arch x86', 'rule read allow', 'rule write allow', 'rule clone3 errno:38',
      'rule clone allow 0:masked_eq:2114060288:0', 'rule kill kill_process', '',
    ]);
  });
  it("takes this machine's archMap entry with its sub-architectures", () => {
    const r = compile({ defaultAction: 'SCMP_ACT_ALLOW', archMap: [
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    ] });
    expect(r).toContain('arch x86_64\narch x86\narch x32\n');
    expect(r).not.toContain('aarch64');
  });
  it('keeps or leaves out rules by includes/excludes: caps, arches, minKernel', () => {
    const p = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
      { names: ['cacheflush'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
      { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
      { names: ['future'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '7.0' } },
    ] };
    const plain = compile(p);
    expect(plain).not.toContain('rule mount');
    expect(plain).toContain('rule clone3 errno:38');
    expect(plain).toContain('rule arch_prctl');
    expect(plain).not.toContain('cacheflush');
    expect(plain).toContain('rule ptrace');
    expect(plain).not.toContain('future');
    const admin = compile(p, [...base, 'CAP_SYS_ADMIN']);
    expect(admin).toContain('rule mount allow');
    expect(admin).not.toContain('clone3');
  });
  it('splits conditions on one argument into rules of their own (as runc does)', () => {
    const r = compile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [
      { index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' },
    ] }] });
    expect(r).toContain('rule personality allow 0:eq:0\nrule personality allow 0:eq:8\n');
  });
  it('refuses every bad profile with one line naming the problem', () => {
    const bad = (p: unknown) => err(() => compile(p));
    expect(bad('{oops')).toMatch(/^invalid seccomp profile p.json: not JSON/);
    expect(bad('[]')).toMatch(/must be a JSON object/);
    expect(bad({ syscalls: [] })).toMatch(/defaultAction is missing/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALOW' })).toMatch(/defaultAction: unknown action "SCMP_ACT_ALOW"/);
    expect(bad({ defaultAction: 'SCMP_ACT_NOTIFY' })).toMatch(/seccomp agent/);
    expect(bad({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: -1 })).toMatch(/defaultErrnoRet must be a number/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['X'], archMap: [] })).toMatch(/both 'architectures' and 'archMap'/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_Z80'] })).toMatch(/architectures\[0\]: unknown architecture "SCMP_ARCH_Z80"/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: {} })).toMatch(/syscalls must be a list/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] })).toMatch(/syscalls\[0\]: names must be a non-empty list/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ERRNO' }] })).toMatch(/both 'name' and 'names'/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['rm -rf'], action: 'SCMP_ACT_ERRNO' }] })).toMatch(/is not a system call name/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'] }] })).toMatch(/syscalls\[0\].action: unknown action undefined/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW', errnoRet: 1 }] })).toMatch(/errnoRet is only for/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] })).toMatch(/args\[0\].index must be 0 to 5/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }] })).toMatch(/args\[0\].value must be a whole number/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'EQ' }] }] })).toMatch(/unknown operator "EQ"/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['SYS_ADMIN'] } }] })).toMatch(/includes.caps: unknown capability "SYS_ADMIN"/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', excludes: { minKernel: '4' } }] })).toMatch(/excludes.minKernel must be "<kernel>.<major>"/);
  });
});

describe("minid's default profile", () => {
  const rules = defaultProfileRules(base, host);
  const allowed = (name: string) => rules.split('\n').some((l) => l.startsWith(`rule ${name} allow`));
  it('is an allow-list returning EPERM, for x86_64 and 32-bit x86 (not x32)', () => {
    expect(rules).toContain('default errno:1\narch x86_64\narch x86\nrule ');
  });
  it("lets a container's own work through", () => {
    for (const n of ['read', 'openat', 'execve', 'socket', 'bind', 'epoll_wait', 'futex', 'setuid', 'capset', 'chown', 'mkdirat', 'sendfile', 'rt_sigaction', 'wait4', 'chroot'])
      expect(allowed(n), n).toBe(true);
  });
  it('refuses new namespaces, keyrings, bpf, perf, kernel and clock changes', () => {
    for (const n of ['unshare', 'setns', 'mount', 'umount2', 'pivot_root', 'add_key', 'keyctl', 'request_key', 'bpf', 'perf_event_open', 'userfaultfd',
      'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'clock_settime', 'settimeofday', 'adjtimex', 'clock_adjtime', 'reboot',
      'swapon', 'swapoff', 'open_by_handle_at', 'iopl', 'ioperm', 'acct', 'lookup_dcookie', 'quotactl', 'nfsservctl', 'io_uring_setup'])
      expect(allowed(n), n).toBe(false);
    expect(rules).toContain('rule clone3 errno:38');
    expect(rules).toContain('rule clone allow 0:masked_eq:2114060288:0'); // no CLONE_NEW* flag
    expect(rules).toContain('rule personality allow 0:eq:0');
    expect(rules).not.toMatch(/^rule personality allow$/m);
  });
  it('opens what a granted capability is for, as docker does', () => {
    const admin = defaultProfileRules([...base, 'CAP_SYS_ADMIN'], host);
    expect(admin).toMatch(/^rule mount allow$/m);
    expect(admin).toMatch(/^rule unshare allow$/m);
    expect(admin).not.toContain('clone3 errno');
    expect(defaultProfileRules([...base, 'CAP_SYS_TIME'], host)).toMatch(/^rule clock_settime allow$/m);
  });
  it('is not used with --privileged or seccomp=unconfined', () => {
    expect(seccompRules({ seccomp: 'default', noNewPrivileges: false }, { caps: base, privileged: true, host })).toBeUndefined();
    expect(seccompRules({ seccomp: 'unconfined', noNewPrivileges: false }, { caps: base, privileged: false, host })).toBeUndefined();
  });
});

describe('--privileged mounts', () => {
  it('leaves /proc and /sys unmasked and writable', () => {
    const i = {
      rootfs: '/r', lowerdirs: ['/l'], upperdir: '/u', workdir: '/w', volumes: [], etcFiles: [], hostProc: ['sys', 'kcore', 'acpi'], hostSysFirmware: true,
      security: { caps: '', noNewPrivs: false, privileged: true },
    } as unknown as InitScriptInput;
    const t = fstabs(i);
    expect(t.devproc).not.toContain('/proc/sys');
    expect(t.devproc).not.toContain('kcore');
    expect(t.rest).toContain('sysfs /r/sys sysfs rw,');
    expect(fstabs({ ...i, security: { ...i.security, privileged: false } }).rest).toContain('sysfs /r/sys sysfs ro,');
  });
});
