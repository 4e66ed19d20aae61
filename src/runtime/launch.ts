// How a container starts, as files a person can read (kept in /run/minid/containers/<id>/) and
// unit tests can check:
//
//   shim.sh        the supervisor: one light `sh` per container. It starts the container
//                  through `unshare`, waits for it, records the exit code, and (for -d, or
//                  when a foreground minid has left) calls `minid` once more to release the
//                  network and honour --rm, as docker's daemon does once its CLI is gone.
//   fstab.root     the container's mounts, in fstab format (each line reads as
//   fstab.devproc  `mount -t TYPE -o OPTIONS SOURCE TARGET`); see fstabs.
//   fstab.rest
//
// Inside the new namespaces, minid-init mounts the fstabs, makes /dev, sets the hostname, then
// does pivot_root, the user switch and the exec of the command as PID 1 (see initArgs).
import { quote } from '../sys/exec.js';
import type { Tmpfs, Volume } from './spec.js';
import type { RestartPolicy } from './restart.js';
import { restartLoop } from './restart.js';
import { eventShellFunction } from './events.js';
import type { SupervisorSync } from '../cluster/follow.js';

export interface InitScriptInput {
  id: string;
  name: string;
  runDir: string;
  rootfs: string;
  lowerdirs: string[]; // lowest first, as the image lists them
  upperdir: string;
  workdir: string;
  hostname: string;
  volumes: Volume[];
  /** --tmpfs mounts (options already merged with docker's defaults: see spec.parseTmpfs). */
  tmpfs?: Tmpfs[];
  /** --read-only: the root is remounted read-only once every mount point in it is made. */
  readOnly?: boolean;
  etcFiles: { name: string; source: string }[];
  initBin: string;
  envFile: string;
  uid: number;
  gid: number;
  cwd: string;
  argv: string[];
  loopbackUp: boolean;
  /** The network namespace to join (bridge, none, another container's, CNI's); none: the host's. */
  netns?: string;
  /** minid-init waits for a byte on this fd before it joins the network (the go; see initArgs). */
  waitFd?: number;
  /** minid-init tells on this fd how the start went: "0" or "CODE MESSAGE" (see initArgs). */
  reportFd?: number;
  /** The container's cgroups: minid-init writes itself into each cgroup.procs, then gets a cgroup namespace. */
  cgroupProcs?: string[];
  /** -t: minid-console's socket, where minid-init sends the master of the container's terminal. */
  consoleSocket?: string;
  /** Which of READONLY_PROC, MASKED_PROC and 'acpi' this kernel's /proc has. */
  hostProc: string[];
  hostSysFirmware: boolean;
  security: SecurityInit;
  /** --init: minid-init stays PID 1 (reaps, forwards signals) and runs the command as its child. */
  init?: boolean;
}

/** minid-init's --caps (numbers), --seccomp (the rules file; none: no filter), --no-new-privs. */
export interface SecurityInit {
  caps: string;
  seccomp?: string;
  noNewPrivs: boolean;
  /** --privileged: /proc and /sys neither masked nor read-only. */
  privileged: boolean;
}

const q = quote;

export const READONLY_PROC = ['sys', 'sysrq-trigger', 'irq', 'bus', 'fs'];
export const MASKED_PROC = ['kcore', 'keys', 'timer_list', 'sched_debug'];

/** fstab fields: spaces, tabs, newlines and backslashes are written as octal escapes. */
function fsField(s: string): string {
  return s.replace(/[\\ \t\n]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

/**
 * The container's mounts, as three fstab files that `mount -a -T FILE` mounts in order, one
 * process for all (each line reads as `mount -t TYPE -o OPTIONS SOURCE TARGET`):
 *   fstab.root     the overlay root (image layers + this container's upper dir; nodev), /proc,
 *                  and a tmpfs for /dev;
 *   fstab.devproc  (after /dev is filled) devpts, /dev/shm, /proc's kernel knobs read-only
 *                  and its host secrets masked (as runc does);
 *   fstab.rest     (in the container's network namespace: sysfs shows the links of the
 *                  namespace it is mounted in) a read-only /sys, the volumes (nodev) and the
 *                  /etc files, each a bind mount.
 * Every target is a path under the rootfs; minid-init resolves it inside the container's root
 * (an image's symlinks never lead to the host: see init.c).
 * The first two are mounted while minid sets the network up (see initArgs).
 */
export function fstabs(i: InitScriptInput): { root: string; devproc: string; rest: string; ro: string } {
  const R = i.rootfs;
  // --privileged: the kernel's knobs and secrets in /proc and /sys are left as they are.
  const hostProc = i.security.privileged ? [] : i.hostProc;
  const line = (src: string, dst: string, type: string, opts: string) => `${fsField(src)} ${fsField(dst)} ${type} ${opts} 0 0`;
  // overlayfs lists lowerdirs top-most first.
  const lower = [...i.lowerdirs].reverse().join(':');
  const root = [
    // nodev: a device node shipped in an image layer opens nothing of the host's (setuid
    // binaries of images keep working, as in docker). minid's own /dev is a tmpfs of its own.
    line('overlay', R, 'overlay', `nodev,lowerdir=${lower},upperdir=${i.upperdir},workdir=${i.workdir}`),
    line('proc', `${R}/proc`, 'proc', 'nosuid,nodev,noexec,X-mount.mkdir'),
    line('tmpfs', `${R}/dev`, 'tmpfs', 'nosuid,strictatime,mode=755,size=65536k,X-mount.mkdir'),
  ];
  const devproc = [
    line('devpts', `${R}/dev/pts`, 'devpts', 'newinstance,ptmxmode=0666,mode=0620'),
    line('shm', `${R}/dev/shm`, 'tmpfs', 'nosuid,nodev,noexec,mode=1777,size=65536k'),
    // What runc hides of /proc and /sys: kernel knobs read-only, host secrets masked (only
    // those this kernel has: a bind mount needs its target).
    ...READONLY_PROC.filter((f) => hostProc.includes(f)).map((f) => line(`${R}/proc/${f}`, `${R}/proc/${f}`, 'none', 'bind,ro')),
    ...MASKED_PROC.filter((f) => hostProc.includes(f)).map((f) => line('/dev/null', `${R}/proc/${f}`, 'none', 'bind')),
    ...(hostProc.includes('acpi') ? [line('tmpfs', `${R}/proc/acpi`, 'tmpfs', 'ro')] : []),
  ];
  const rest = [
    line('sysfs', `${R}/sys`, 'sysfs', `${i.security.privileged ? 'rw' : 'ro'},nosuid,nodev,noexec,X-mount.mkdir`),
    ...(i.hostSysFirmware && !i.security.privileged ? [line('tmpfs', `${R}/sys/firmware`, 'tmpfs', 'ro')] : []),
    // Volumes and tmpfs mounts, a parent before what is mounted in it (docker sorts them so).
    ...mountsByDepth(i).map((m) => m.line),
    ...i.etcFiles.map((f) => line(f.source, `${R}/etc/${f.name}`, 'none', 'bind')),
  ];
  // --read-only (as runc): last, once every mount point in the root and the working directory
  // are made, the root's own mount turns read-only; the mounts on it (/dev, /dev/shm, volumes,
  // tmpfs, /etc files) keep their own flags.
  const ro = i.readOnly ? [line('none', R, 'none', 'bind,remount,ro')] : [];
  const text = (l: string[]) => l.join('\n') + '\n';
  return { root: text(root), devproc: text(devproc), rest: text(rest), ro: ro.length ? text(ro) : '' };
}

/** The -v and --tmpfs lines of fstab.rest, fewest path components first (stable: as typed otherwise). */
function mountsByDepth(i: InitScriptInput): { depth: number; line: string }[] {
  const R = i.rootfs;
  const line = (src: string, dst: string, type: string, opts: string) => `${fsField(src)} ${fsField(dst)} ${type} ${opts} 0 0`;
  const depth = (p: string) => p.split('/').filter(Boolean).length;
  return [
    // nodev: a device node in a host directory given with -v opens nothing in the container.
    // A --mount type=tmpfs: the container's own memory, as docker's (nosuid, nodev, noexec).
    ...i.volumes.map((v) => ({
      depth: depth(v.container),
      line:
        v.type === 'tmpfs'
          ? line('tmpfs', `${R}${v.container}`, 'tmpfs', ['nosuid,nodev,noexec,X-mount.mkdir', v.readonly ? 'ro' : '', v.tmpfsOptions ?? ''].filter(Boolean).join(','))
          : line(v.host, `${R}${v.container}`, 'none', `bind,nodev${v.readonly ? ',ro' : ''}`),
    })),
    ...(i.tmpfs ?? []).map((t) => ({ depth: depth(t.container), line: line('tmpfs', `${R}${t.container}`, 'tmpfs', `${t.options ? `${t.options},` : ''}X-mount.mkdir`) })),
  ].sort((a, b) => a.depth - b.depth);
}

/**
 * What runs inside the new namespaces: minid-init (src/runtime/init.c), as PID 1, with its
 * setup options in the order it carries them out. Each option is what a person would type as
 * a command (noted beside it); minid-init does them with system calls, in one process:
 *   --stderr-fd 3          exec 2>&3 3>&-   the container's stderr (the supervisor keeps
 *                                            unshare's own apart)
 *   --report-fd 5          (no command) one line to minid on fd 5 when the command is about
 *                                          to run ("0") or cannot ("127 exec: ..."): how
 *                                          `run -d` knows the start went well
 *   --cgroup-procs FILE    echo 0 > FILE   (join the container's cgroup, one per hierarchy,
 *                                          before anything else: the setup counts too)
 *   --cgroupns             unshare --cgroup   (/proc/self/cgroup inside shows "/")
 *   --pidfile RUN/pid      cat /proc/self/stat > RUN/pid   (our pid as the host sees it)
 *   --mount-all fstab.root mount -a -T fstab.root   (the overlay root, /proc, /dev's tmpfs)
 *   --make-dev ROOT/dev    mknod -m 666 null c 1 3 ... ; ln -s /proc/self/fd fd ...
 *   --mount-all fstab.devproc  mount -a -T fstab.devproc   (devpts, shm, /proc masks)
 *   --console-socket S     (-t) open /dev/pts/ptmx of that devpts: the container's terminal
 *                                 (/dev/pts/0), bound on /dev/console, our stdio; its master
 *                                 sent to minid-console on socket S (see console.c)
 *   --wait-fd 4            read -n 1 <&4   wait for minid's go: minid starts the supervisor
 *                                          first and sets the network up meanwhile (runc's
 *                                          create/start split); end-of-file: minid gave up
 *   --netns PATH           nsenter --net=PATH   (the namespace the network steps prepared,
 *                                                as the supervisor sees it: netnsAsSeenByInit)
 *   --mount-all fstab.rest mount -a -T fstab.rest   (/sys, volumes, /etc files)
 *   --make-dir ROOT/CWD    mkdir -p ROOT/CWD   (--read-only: the working directory, made
 *                                              while the root can still be written)
 *   --mount-all fstab.ro   mount -o bind,remount,ro ROOT   (--read-only)
 *   --hostname NAME        hostname NAME
 *   --loopback-up          ip link set lo up   (a new, empty network namespace only)
 *   --caps 0,1,3,...       (no command) the capabilities root keeps (capsh --caps=...)
 *   --seccomp RUN/seccomp  (no command) the seccomp rules to load right before the exec
 *   --no-new-privs         setpriv --no-new-privs
 *   --init                 (docker's --init, tini) minid-init stays PID 1 and runs the command
 *                                          as its child: it reaps orphans, passes signals on
 * then, after `--`: pivot_root into ROOT, the user switch and the exec of the command.
 */
export function initArgs(i: InitScriptInput): string[] {
  return [
    i.initBin,
    '--stderr-fd', '3',
    ...(i.reportFd !== undefined ? ['--report-fd', String(i.reportFd)] : []),
    ...(i.cgroupProcs ?? []).flatMap((f) => ['--cgroup-procs', f]),
    ...(i.cgroupProcs?.length ? ['--cgroupns'] : []),
    '--pidfile', `${i.runDir}/pid`,
    '--mount-all', `${i.runDir}/fstab.root`,
    '--make-dev', `${i.rootfs}/dev`,
    '--mount-all', `${i.runDir}/fstab.devproc`,
    ...(i.consoleSocket ? ['--console-socket', i.consoleSocket] : []),
    ...(i.waitFd !== undefined ? ['--wait-fd', String(i.waitFd)] : []),
    ...(i.netns ? ['--netns', netnsAsSeenByInit(i.netns)] : []),
    '--mount-all', `${i.runDir}/fstab.rest`,
    ...(i.readOnly && i.cwd !== '/' ? ['--make-dir', `${i.rootfs}${i.cwd}`] : []),
    ...(i.readOnly ? ['--mount-all', `${i.runDir}/fstab.ro`] : []),
    '--hostname', i.hostname,
    ...(i.loopbackUp ? ['--loopback-up'] : []),
    '--caps', i.security.caps,
    ...(i.security.seccomp ? ['--seccomp', i.security.seccomp] : []),
    ...(i.security.noNewPrivs ? ['--no-new-privs'] : []),
    ...(i.init ? ['--init'] : []),
    '--',
    i.rootfs, i.envFile, String(i.uid), String(i.gid), i.cwd, ...i.argv,
  ];
}

export interface ShimInput {
  id: string;
  name: string;
  runDir: string;
  exitFile: string;
  /** unshare and its flags. */
  launch: string[];
  /** What unshare runs: minid-init and its arguments (initArgs). */
  init: string[];
  /** Command run after the container ended: releases the network, honours --rm. */
  hook?: string[];
  /** Run the hook only if this file exists: a foreground minid that has left (see attach.ts). */
  hookIf?: string;
  /** -d: the log writer's command (minid-logger ... LOGFILE), which reads the container's stdout and stderr from two pipes. */
  logger?: string[];
  /**
   * -d with -i/-t: give the container a stdin that stays open (a FIFO nobody closes); 'once'
   * (the Engine API's StdinOnce): a FIFO whose only writer is the attached client.
   */
  keepStdin?: boolean | 'once';
  /** -t: minid-console and its arguments up to `--`: it runs unshare, holds the terminal's master, serves `attach`. */
  console?: string[];
  /** minid-init's arguments for a restart (--restart): no handshake with minid (initArgs without waitFd, reportFd). */
  initAgain?: string[];
  restart?: RestartPolicy;
  /** The store's events file and the container's image: the supervisor records each exit (die) and restart (start). */
  events?: { file: string; image: string };
  /** restart.ts's stoppedMarker: the user stopped the container, no restart. */
  stoppedFile?: string;
  /** A cluster node's container: re-sync the cluster's services when it exits or restarts (src/cluster/follow.ts). */
  serviceSync?: SupervisorSync;
  /** A health check: the health monitor's command (`minid _health ID`), run beside each run of the container. */
  health?: string[];
  /** Where the health monitor's own failures go (a file of the run dir). */
  healthLog?: string;
}

/**
 * The supervisor's `hcstart` and `hcstop` (a container with a health check): the monitor
 * (runtime/healthmonitor.ts) is a background job of the supervisor, started right before a
 * run of the container and ended (SIGTERM, then waited for) right after it: it never outlives
 * the run, and a restart starts a new one. It holds none of the supervisor's stdio, the log
 * relay's pipes or the start handshake's fds. It is told the supervisor's pid ($$): if its
 * parent is ever another, the supervisor is gone and so does the monitor.
 */
export function healthShellFunctions(argv: string[], log: string): string[] {
  return [
    `hcstart() { ${argv.map(q).join(' ')} $$ </dev/null >/dev/null 2>>${q(log)} 3>&- 4<&- 5>&- & hc=$!; }`,
    `hcstop() { [ -n "$hc" ] && { kill $hc 2>/dev/null; wait $hc 2>/dev/null; hc=; }; return 0; }`,
  ];
}

/**
 * The supervisor's `svcsync WHAT` (a node's container; src/cluster/follow.ts): when the cluster
 * has services, `minid service sync` in the background, all of its stdio and the start
 * handshake's fds closed (it holds neither the log relay's pipes nor the terminal, and the exit
 * record does not wait for it); a failure appended as one line to the log.
 */
export function serviceSyncFunction(s: SupervisorSync): string {
  const fail = `printf '%s %s %s: \`minid service sync\` failed: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" ${q(s.who)} "$1" "$(printf '%s\\n' "$out" | tail -n 1)" >> ${q(s.log)}`;
  return `svcsync() { [ -e ${q(s.record)} ] || return 0; ( out=$(${s.argv.map(q).join(' ')} 2>&1 >/dev/null) || ${fail} ) </dev/null >/dev/null 2>&1 3>&- 4<&- 5>&- & }`;
}

/**
 * A network namespace as minid-init must name it. `ip netns add` mounts the namespace on
 * /run/netns/NAME in the host's mount namespace, after the supervisor has started (see
 * startContainer): the container's mount namespace, a private copy made earlier, only has the
 * empty file. Through /proc/SUPERVISOR/root, the path resolves in the supervisor's (the
 * host's) mount namespace: the shim writes it as "/proc/$$/root/run/netns/NAME".
 */
export function netnsAsSeenByInit(p: string): string {
  return p.startsWith('/proc/') ? p : `/proc/$$/root${p}`;
}

/** The shell expands $$ (the supervisor's pid) in a path made by netnsAsSeenByInit. */
const shimQuote = (arg: string): string => (/^\/proc\/\$\$\/root\/[\w./-]+$/.test(arg) ? `"${arg}"` : q(arg));

export function shimScript(s: ShimInput): string {
  const L: string[] = [];
  L.push(`# minid: supervisor for container ${s.name} (${s.id.slice(0, 12)})`);
  L.push(`echo $$ > ${q(s.runDir)}/shim.pid`);
  // A handler (not "ignore", which children would inherit) keeps Ctrl-C on a terminal from
  // killing the supervisor before it has recorded the exit code.
  L.push(`trap true INT`);
  if (s.keepStdin === 'once') {
    // `docker run -i` through the Engine API: the container only reads this FIFO, and its one
    // writer is the client attached to its stdin (src/engine/containers.ts), so the container
    // sees end-of-file when that input ends. Opening it waits for that writer.
    L.push(`mkfifo ${q(s.runDir)}/stdin && exec 0< ${q(s.runDir)}/stdin`);
  } else if (s.keepStdin) {
    // `run -dit busybox sh` must keep running like docker's: its stdin is a FIFO this script
    // holds open for reading and writing, so it never sees end-of-file.
    L.push(`mkfifo ${q(s.runDir)}/stdin && exec 0<> ${q(s.runDir)}/stdin`);
  }
  if (s.logger) {
    // The container's stdout and stderr are two pipes (FIFOs) that a host-side writer,
    // minid-logger, reads and records line by line with their stream and time: PID 1 never
    // holds the log file, so it cannot truncate or rewrite it through /proc/1/fd/1. (A
    // background job of a script ignores SIGINT: Ctrl-C leaves the relay.) Each open of a FIFO
    // waits for the other end: the writer opens stdout then stderr, in the order `exec` does.
    const out = `${q(s.runDir)}/stdout.fifo`;
    const err = `${q(s.runDir)}/stderr.fifo`;
    L.push(`mkfifo ${out} ${err} || exit 125`);
    L.push(`${s.logger.map(q).join(' ')} < ${out} 3< ${err} >/dev/null 2>&1 & relay=$!`);
    L.push(`exec > ${out} 2> ${err}`);
  }
  const err = `${q(s.runDir)}/unshare.err`;
  // `run ARGV...`: the container, from unshare to its end; its exit code in $code.
  // util-linux 2.38's unshare cannot re-raise SIGKILL on itself (signal(SIGKILL) fails) and
  // exits 1 instead: report what really happened, 128+9, like any shell would.
  L.push(`run() {`);
  L.push(`  "$@" 3>&2 2>${err}`);
  L.push(`  code=$?`);
  L.push(`  if [ $code = 1 ] && grep -q 'sigprocmask unblock failed' ${err}; then code=137; elif [ -s ${err} ]; then cat ${err} >&2; fi`);
  L.push(`}`);
  if (s.health) L.push(...healthShellFunctions(s.health, s.healthLog ?? '/dev/null'));
  // With a health check, each run has the monitor beside it (hcstart before, hcstop after).
  const around = (line: string) => (s.health ? `hcstart; ${line}; hcstop` : line);
  const first = around(`run ${[...(s.console ?? []), ...s.launch, ...s.init].map(shimQuote).join(' ')}`);
  // Each exit is recorded (die), once minid gave the go (it wrote the environment just before).
  const die = s.events ? `[ -e ${q(s.runDir)}/env ] && ev die ',"exitCode":"'$code'"'` : ':';
  if (s.events) L.push(eventShellFunction(s.id, s.events.image, s.runDir, s.events.file));
  // A cluster node's container: the services follow it (kube-proxy's endpoints), each time once
  // what `ps` says has changed: restarting (the back-off's wait file is there), running again,
  // exited (the exit record is written).
  if (s.serviceSync) L.push(serviceSyncFunction(s.serviceSync));
  const sync = (what: string) => (s.serviceSync ? `svcsync ${q(what)}` : ':');
  if (s.restart && s.restart.Name !== 'no' && s.initAgain) {
    // --restart: the supervisor runs the container again as its policy says (runtime/restart.ts);
    // the network, cgroup and mounts' files stay as they are between runs.
    const again = around(`run ${[...(s.console ?? []), ...s.launch, ...s.initAgain].map(shimQuote).join(' ')}`);
    const files = { count: `${s.runDir}/restart-count`, wait: `${s.runDir}/restart-wait`, stopped: s.stoppedFile! };
    const onStart = [s.events ? `ev start ""` : '', s.serviceSync ? sync('restarted') : ''].filter(Boolean).join('; ');
    L.push(...restartLoop(s.restart, files, `${first}; exec 4<&- 5>&-`, again, onStart ? `[ $cmd = again ] && { ${onStart}; }` : ':', die, sync('exited, restarting')));
  } else {
    L.push(first);
    L.push(die);
  }
  // The log is complete once the relay has read the last byte (no writer is left but us).
  if (s.logger) L.push(`exec >/dev/null 2>&1; wait $relay`);
  // The exit record, in one write(2) of a few bytes (readers take an empty file for "not yet";
  // a rename would cost an `mv` process); when it was written is its mtime.
  L.push(`printf '{"exitCode":%d}\\n' "$code" > ${q(s.exitFile)}`);
  if (s.serviceSync) L.push(sync('exited'));
  if (s.hook) L.push(`${s.hookIf ? `[ -e ${q(s.hookIf)} ] && ` : ''}${s.hook.map(q).join(' ')} </dev/null >/dev/null 2>&1`);
  L.push(`exit $code`);
  return L.join('\n') + '\n';
}

/**
 * The unshare invocation: new PID, mount, UTS and IPC namespaces (+ a new, empty network
 * namespace with newNet; a prepared one is joined by minid-init --netns, after the go).
 */
export function unshareArgs(opts: { newNet: boolean }): string[] {
  const a: string[] = [];
  a.push('unshare', '--pid', '--fork', '--kill-child', '--mount', '--uts', '--ipc');
  if (opts.newNet) a.push('--net');
  a.push('--propagation', 'private', '--');
  return a;
}
