// What a container's processes may do beyond their namespaces: capabilities, the seccomp filter
// and no-new-privileges, from `--cap-add`, `--cap-drop`, `--privileged` and `--security-opt`,
// in docker's syntax. Pure: the profile's JSON is checked and turned here into a plain rule
// file that minid-init reads and hands to libseccomp (src/runtime/init.c, "Seccomp"), so that
// every mistake in a profile is found, and said in one line, before the host changes.
import { fail } from '../errors.js';
import defaultProfile from './seccomp/default.json' with { type: 'json' };

/** Capability names by number (linux/capability.h), CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40. */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** docker's default set: what root in a container keeps (everything else is dropped, bounding set included). */
export const DOCKER_DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/**
 * The default set for a container. docker keeps CAP_MKNOD because its devices cgroup stops a
 * container from opening the nodes it makes, and so does minid where its device policy holds
 * (cgroup.ts devicePolicyHolds: v1's devices controller, v2's device program). Without one, a
 * node made for the host's disk would open the disk: CAP_MKNOD stays out (FIFOs and sockets
 * need no capability).
 */
export function defaultCaps(o: { devicePolicy: boolean }): string[] {
  return DOCKER_DEFAULT_CAPS.filter((c) => o.devicePolicy || c !== 'CAP_MKNOD');
}

/** `--cap-add net_admin` -> CAP_NET_ADMIN (docker: any case, with or without CAP_; ALL). */
export function normalizeCap(name: string, flag: string): string {
  const up = name.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  const full = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!(CAPABILITIES as readonly string[]).includes(full))
    fail(`invalid ${flag}: unknown capability: "${full}" (see \`man 7 capabilities\`; e.g. NET_ADMIN, SYS_ADMIN, or ALL)`);
  return full;
}

/**
 * The container's capabilities, by docker's rule: --privileged gives all; `--cap-add ALL`
 * gives all but the dropped ones; `--cap-drop ALL` gives only the added ones; otherwise the
 * default set less the dropped ones plus the added ones (an added one wins over its drop).
 */
export function computeCaps(o: { add: string[]; drop: string[]; privileged: boolean; base: string[] }): string[] {
  const add = o.add.map((c) => normalizeCap(c, '--cap-add'));
  const drop = o.drop.map((c) => normalizeCap(c, '--cap-drop'));
  let caps: string[];
  if (o.privileged) caps = [...CAPABILITIES];
  else if (add.includes('ALL')) caps = CAPABILITIES.filter((c) => !drop.includes(c));
  else if (drop.includes('ALL')) caps = add;
  else caps = [...o.base.filter((c) => !drop.includes(c)), ...add];
  return CAPABILITIES.filter((c) => caps.includes(c)); // in number order, once each
}

/** minid-init's `--caps` value: the numbers, comma-separated ("" keeps none). */
export const capNumbers = (caps: string[]): string => caps.map((c) => (CAPABILITIES as readonly string[]).indexOf(c)).join(',');

export interface SecurityOpts {
  /** 'default' (minid's profile), 'unconfined', or a profile given as its JSON text. */
  seccomp: 'default' | 'unconfined' | { file: string; json: string };
  noNewPrivileges: boolean;
}

/**
 * `--security-opt` values, docker's syntax: `seccomp=PROFILE.json|unconfined`,
 * `no-new-privileges[=true|false]` (":" works as "=", as docker still accepts). `read`
 * reads a profile file (its text is kept with the container: a later change of the file
 * does not change a running container, nor its `exec`s).
 */
export function parseSecurityOpts(opts: string[], read: (file: string) => string): SecurityOpts {
  const out: SecurityOpts = { seccomp: 'default', noNewPrivileges: false };
  for (const opt of opts) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(opt);
    const key = m?.[1];
    const val = m?.[2];
    if (key === 'no-new-privileges') {
      if (val === undefined || val === 'true') out.noNewPrivileges = true;
      else if (val === 'false') out.noNewPrivileges = false;
      else fail(`invalid --security-opt "${opt}": use no-new-privileges, no-new-privileges=true or no-new-privileges=false`);
    } else if (key === 'seccomp' && val) {
      if (val === 'unconfined') out.seccomp = 'unconfined';
      else {
        let json: string;
        try {
          json = read(val);
        } catch {
          fail(`invalid --security-opt "${opt}": cannot read the seccomp profile ${val}: check the path`);
        }
        out.seccomp = { file: val, json };
      }
    } else if (key === 'seccomp') fail(`invalid --security-opt "${opt}": use seccomp=PROFILE.json or seccomp=unconfined`);
    else if (key === 'apparmor')
      fail(`--security-opt ${opt} is not supported: minid does not use AppArmor; it confines containers with namespaces, capabilities and seccomp`);
    else if (key === 'label')
      fail(`--security-opt ${opt} is not supported: minid does not use SELinux labels; it confines containers with namespaces, capabilities and seccomp`);
    else if (key === 'systempaths')
      fail(`--security-opt ${opt} is not supported: /proc and /sys are masked unless --privileged`);
    else fail(`invalid --security-opt "${opt}": minid knows seccomp=PROFILE.json|unconfined and no-new-privileges[=true|false]`);
  }
  return out;
}

/** docker's SecurityOpt list as inspect shows it (a profile by its JSON text, as docker keeps it). */
export function securityOptList(s: SecurityOpts): string[] {
  const l: string[] = [];
  if (s.seccomp === 'unconfined') l.push('seccomp=unconfined');
  else if (s.seccomp !== 'default') l.push(`seccomp=${s.seccomp.json}`);
  if (s.noNewPrivileges) l.push('no-new-privileges');
  return l;
}

// --- seccomp profiles -----------------------------------------------------------------------

/** Profile actions and minid-init's word for each (docker's SCMP_ACT_KILL kills the thread). */
const ACTIONS: Record<string, string> = {
  SCMP_ACT_ALLOW: 'allow', SCMP_ACT_ERRNO: 'errno', SCMP_ACT_KILL: 'kill_thread', SCMP_ACT_KILL_THREAD: 'kill_thread',
  SCMP_ACT_KILL_PROCESS: 'kill_process', SCMP_ACT_TRAP: 'trap', SCMP_ACT_TRACE: 'trace', SCMP_ACT_LOG: 'log',
};
const OPS: Record<string, string> = {
  SCMP_CMP_NE: 'ne', SCMP_CMP_LT: 'lt', SCMP_CMP_LE: 'le', SCMP_CMP_EQ: 'eq', SCMP_CMP_GE: 'ge', SCMP_CMP_GT: 'gt', SCMP_CMP_MASKED_EQ: 'masked_eq',
};
/** Profile architectures and libseccomp's names for them. */
const ARCHES: Record<string, string> = {
  SCMP_ARCH_X86: 'x86', SCMP_ARCH_X86_64: 'x86_64', SCMP_ARCH_X32: 'x32', SCMP_ARCH_ARM: 'arm', SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips', SCMP_ARCH_MIPS64: 'mips64', SCMP_ARCH_MIPS64N32: 'mips64n32', SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPSEL64: 'mipsel64', SCMP_ARCH_MIPSEL64N32: 'mipsel64n32', SCMP_ARCH_PPC: 'ppc', SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le', SCMP_ARCH_S390: 's390', SCMP_ARCH_S390X: 's390x', SCMP_ARCH_RISCV64: 'riscv64',
  SCMP_ARCH_LOONGARCH64: 'loongarch64',
};

export interface Host {
  /** The profile's name for this machine: SCMP_ARCH_X86_64... */
  arch: string;
  /** docker's name in includes/excludes.arches: amd64, arm64, x86... */
  goArch: string;
  /** `uname -r`: "6.18.44-..." */
  kernel: string;
}

/** This machine as profiles name it (called when a container is created, not at load time). */
export function thisHost(arch: string = process.arch, kernel = ''): Host {
  const map: Record<string, [string, string]> = {
    x64: ['SCMP_ARCH_X86_64', 'amd64'], arm64: ['SCMP_ARCH_AARCH64', 'arm64'], ia32: ['SCMP_ARCH_X86', 'x86'], arm: ['SCMP_ARCH_ARM', 'arm'],
    s390x: ['SCMP_ARCH_S390X', 's390x'], ppc64: ['SCMP_ARCH_PPC64LE', 'ppc64le'], riscv64: ['SCMP_ARCH_RISCV64', 'riscv64'],
    loong64: ['SCMP_ARCH_LOONGARCH64', 'loong64'],
  };
  const [a, g] = map[arch] ?? ['', arch];
  return { arch: a, goArch: g, kernel };
}

type Json = any;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

function kernelAtLeast(running: string, min: string): boolean {
  const [a, b] = running.split(/[.-]/).map(Number);
  const [x, y] = min.split('.').map(Number);
  return a > x || (a === x && b >= y);
}

/**
 * A docker profile (its JSON text) as minid-init's rule file, for a container with `caps` on
 * `host`. Each line is one libseccomp call:
 *   default ACTION                       seccomp_init
 *   arch NAME                            seccomp_arch_add (none: this machine's only)
 *   rule NAME ACTION [I:OP:V[:V2]]...    seccomp_rule_add, the conditions ANDed
 * ACTION is allow, errno:N, kill_thread, kill_process, trap, trace:N or log. Rules whose
 * includes/excludes (caps, arches, minKernel) leave them out here are left out, as docker
 * does. Conditions on the same argument become separate rules (runc's rule: libseccomp takes
 * one comparison per argument in a rule). Every problem fails with a message naming it.
 */
export function compileProfile(text: string, source: string, caps: string[], host: Host): string {
  const bad = (what: string): never => fail(`invalid seccomp profile ${source}: ${what}`);
  let p: Json;
  try {
    p = JSON.parse(text);
  } catch (e) {
    bad(`not JSON (${(e as Error).message})`);
  }
  if (!isObj(p)) bad('the profile must be a JSON object with defaultAction and syscalls');
  const action = (a: unknown, errno: unknown, where: string, deflt: number): string => {
    if (typeof a !== 'string' || !(a in ACTIONS)) {
      if (a === 'SCMP_ACT_NOTIFY') bad(`${where}: SCMP_ACT_NOTIFY needs a seccomp agent listening, and minid runs none`);
      bad(`${where}: unknown action ${JSON.stringify(a)}: use one of ${Object.keys(ACTIONS).join(', ')}`);
    }
    const w = ACTIONS[a as string];
    if (errno !== undefined && w !== 'errno' && w !== 'trace') bad(`${where}: errnoRet is only for SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not ${a}`);
    if (errno !== undefined && !isUint(errno, 4095)) bad(`${where}: errnoRet must be a number from 0 to 4095, not ${JSON.stringify(errno)}`);
    return w === 'errno' || w === 'trace' ? `${w}:${errno ?? deflt}` : w;
  };
  if (p.defaultAction === undefined) bad('defaultAction is missing (docker\'s is "SCMP_ACT_ERRNO")');
  const defaultErrno = p.defaultErrnoRet ?? 1; // EPERM
  if (!isUint(defaultErrno, 4095)) bad(`defaultErrnoRet must be a number from 0 to 4095, not ${JSON.stringify(p.defaultErrnoRet)}`);
  const lines = [`# seccomp rules for minid-init, from ${source.replace(/\n/g, ' ')}`];
  lines.push(`default ${action(p.defaultAction, p.defaultErrnoRet, 'defaultAction', 1)}`);

  // Architectures: a flat list, or docker's archMap (this machine's entry with its sub-architectures).
  if (p.architectures !== undefined && p.archMap !== undefined) bad("both 'architectures' and 'archMap' are given: use one of them");
  const arch = (a: unknown, where: string): string => {
    if (typeof a !== 'string' || !(a in ARCHES)) bad(`${where}: unknown architecture ${JSON.stringify(a)}: use names like SCMP_ARCH_X86_64`);
    return a as string;
  };
  let arches: string[] = [];
  if (p.architectures !== undefined) {
    if (!Array.isArray(p.architectures)) bad('architectures must be a list of names like "SCMP_ARCH_X86_64"');
    arches = p.architectures.map((a: unknown, i: number) => arch(a, `architectures[${i}]`));
  }
  if (p.archMap !== undefined) {
    if (!Array.isArray(p.archMap)) bad('archMap must be a list of {"architecture": ..., "subArchitectures": [...]}');
    p.archMap.forEach((m: Json, i: number) => {
      if (!isObj(m)) bad(`archMap[${i}] must be an object with "architecture"`);
      const main = arch(m.architecture, `archMap[${i}].architecture`);
      const subs = m.subArchitectures ?? [];
      if (!Array.isArray(subs)) bad(`archMap[${i}].subArchitectures must be a list`);
      const subNames = subs.map((s: unknown, j: number) => arch(s, `archMap[${i}].subArchitectures[${j}]`));
      if (main === host.arch) arches = [main, ...subNames];
    });
  }
  for (const a of arches) lines.push(`arch ${ARCHES[a]}`);

  if (p.syscalls !== undefined && !Array.isArray(p.syscalls)) bad('syscalls must be a list of {"names": [...], "action": ...}');
  const filter = (f: unknown, where: string): { caps: string[]; arches: string[]; minKernel?: string } => {
    if (f === undefined) return { caps: [], arches: [] };
    if (!isObj(f)) bad(`${where} must be an object with caps, arches or minKernel`);
    const o = f as Record<string, unknown>;
    const list = (k: string): string[] => {
      const v = o[k] ?? [];
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) bad(`${where}.${k} must be a list of names`);
      return v as string[];
    };
    const c = list('caps');
    for (const x of c) if (!(CAPABILITIES as readonly string[]).includes(x)) bad(`${where}.caps: unknown capability ${JSON.stringify(x)}: use names like "CAP_SYS_ADMIN"`);
    const mk = o.minKernel;
    if (mk !== undefined && (typeof mk !== 'string' || !/^\d+\.\d+$/.test(mk) || mk === '0.0'))
      bad(`${where}.minKernel must be "<kernel>.<major>", e.g. "4.8", not ${JSON.stringify(mk)}`);
    return { caps: c, arches: list('arches'), minKernel: mk as string | undefined };
  };
  (p.syscalls ?? []).forEach((s: Json, i: number) => {
    const where = `syscalls[${i}]`;
    if (!isObj(s)) bad(`${where} must be an object with names and action`);
    if (s.name !== undefined && s.names !== undefined) bad(`${where}: both 'name' and 'names' are given: use 'names'`);
    const names: unknown = s.names ?? (s.name !== undefined ? [s.name] : undefined);
    if (!Array.isArray(names) || !names.length) bad(`${where}: names must be a non-empty list of system call names`);
    for (const n of names as unknown[])
      if (typeof n !== 'string' || !/^[a-z_][a-z0-9_]*$/.test(n)) bad(`${where}: ${JSON.stringify(n)} is not a system call name`);
    const act = action(s.action, s.errnoRet, `${where}.action`, defaultErrno);
    const args: string[] = [];
    if (s.args !== undefined && s.args !== null) {
      if (!Array.isArray(s.args)) bad(`${where}.args must be a list of {"index", "value", "op"}`);
      if (s.args.length > 6) bad(`${where}.args: a system call has at most 6 arguments`);
      s.args.forEach((a: Json, j: number) => {
        const w = `${where}.args[${j}]`;
        if (!isObj(a)) bad(`${w} must be an object with index, value and op`);
        if (!isUint(a.index, 5)) bad(`${w}.index must be 0 to 5, not ${JSON.stringify(a.index)}`);
        if (!isUint(a.value)) bad(`${w}.value must be a whole number from 0 to 2^53, not ${JSON.stringify(a.value)}`);
        if (a.valueTwo !== undefined && !isUint(a.valueTwo)) bad(`${w}.valueTwo must be a whole number from 0 to 2^53, not ${JSON.stringify(a.valueTwo)}`);
        if (typeof a.op !== 'string' || !(a.op in OPS)) bad(`${w}.op: unknown operator ${JSON.stringify(a.op)}: use one of ${Object.keys(OPS).join(', ')}`);
        args.push(`${a.index}:${OPS[a.op]}:${a.value}${a.op === 'SCMP_CMP_MASKED_EQ' ? `:${a.valueTwo ?? 0}` : ''}`);
      });
    }
    const inc = filter(s.includes, `${where}.includes`);
    const exc = filter(s.excludes, `${where}.excludes`);
    // docker's conditions: every included cap held, none of the excluded ones; arch and kernel likewise.
    if (inc.arches.length && !inc.arches.includes(host.goArch)) return;
    if (inc.caps.some((c) => !caps.includes(c))) return;
    if (inc.minKernel && !kernelAtLeast(host.kernel, inc.minKernel)) return;
    if (exc.arches.includes(host.goArch)) return;
    if (exc.caps.some((c) => caps.includes(c))) return;
    if (exc.minKernel && kernelAtLeast(host.kernel, exc.minKernel)) return;
    const indexes = args.map((a) => a.split(':')[0]);
    const split = new Set(indexes).size < indexes.length;
    for (const n of names as string[]) {
      if (split) for (const a of args) lines.push(`rule ${n} ${act} ${a}`);
      else lines.push(['rule', n, act, ...args].join(' '));
    }
  });
  return lines.join('\n') + '\n';
}

/** minid's own default profile (seccomp/default.json), compiled for this container. */
export function defaultProfileRules(caps: string[], host: Host): string {
  return compileProfile(JSON.stringify(defaultProfile), 'minid default', caps, host);
}

/** The seccomp rules for a container, or undefined for none (unconfined, --privileged). */
export function seccompRules(s: SecurityOpts, o: { caps: string[]; privileged: boolean; host: Host }): string | undefined {
  if (o.privileged || s.seccomp === 'unconfined') return undefined;
  if (s.seccomp === 'default') return defaultProfileRules(o.caps, o.host);
  return compileProfile(s.seccomp.json, s.seccomp.file, o.caps, o.host);
}
