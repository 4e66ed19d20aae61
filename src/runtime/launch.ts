// The two small shell scripts that start a container, built as text so that a person can read
// them (they are kept in /run/minid/containers/<id>/) and unit tests can check them.
//
//   shim.sh  the supervisor: one light `sh` per container. It starts the container through
//            `unshare`, waits for it, records the exit code and time, and (for -d) calls
//            `minid` once more to release the network and honour --rm.
//   init.sh  runs inside the new namespaces: mounts the overlay root, /proc, /dev, /sys, the
//            volumes and the /etc files, sets the hostname, then hands over to minid-init for
//            pivot_root, the user switch and the exec of the command as PID 1.
import { quote } from '../sys/exec.js';
import type { Volume } from './spec.js';

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
  etcFiles: { name: string; source: string }[];
  initBin: string;
  envFile: string;
  uid: number;
  gid: number;
  cwd: string;
  argv: string[];
  loopbackUp: boolean;
  /** Where the /dev template is kept (under /run/minid). */
  devTemplate: string;
  /** Which of READONLY_PROC, MASKED_PROC and 'acpi' this kernel's /proc has. */
  hostProc: string[];
  hostSysFirmware: boolean;
}

const q = quote;

export const READONLY_PROC = ['sys', 'sysrq-trigger', 'irq', 'bus'];
export const MASKED_PROC = ['kcore', 'keys', 'timer_list', 'sched_debug'];

/** fstab fields: spaces, tabs, newlines and backslashes are written as octal escapes. */
function fsField(s: string): string {
  return s.replace(/[\\ \t\n]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

/**
 * The container's mounts, as two fstab files that `mount -a -T FILE` mounts in order, one
 * process for all (each line reads as `mount -t TYPE -o OPTIONS SOURCE TARGET`):
 *   fstab.root  the overlay root (image layers + this container's upper dir), /proc, and a
 *               tmpfs for /dev;
 *   fstab.rest  (after /dev is filled) devpts, /dev/shm, a read-only /sys, /proc's kernel
 *               knobs read-only and its host secrets masked (as runc does), the volumes and
 *               the /etc files, each a bind mount.
 */
export function fstabs(i: InitScriptInput): { root: string; rest: string } {
  const R = i.rootfs;
  const line = (src: string, dst: string, type: string, opts: string) => `${fsField(src)} ${fsField(dst)} ${type} ${opts} 0 0`;
  // overlayfs lists lowerdirs top-most first.
  const lower = [...i.lowerdirs].reverse().join(':');
  const root = [
    line('overlay', R, 'overlay', `lowerdir=${lower},upperdir=${i.upperdir},workdir=${i.workdir}`),
    line('proc', `${R}/proc`, 'proc', 'nosuid,nodev,noexec,X-mount.mkdir'),
    line('tmpfs', `${R}/dev`, 'tmpfs', 'nosuid,strictatime,mode=755,size=65536k,X-mount.mkdir'),
  ];
  const rest = [
    line('devpts', `${R}/dev/pts`, 'devpts', 'newinstance,ptmxmode=0666,mode=0620'),
    line('shm', `${R}/dev/shm`, 'tmpfs', 'nosuid,nodev,noexec,mode=1777,size=65536k'),
    line('sysfs', `${R}/sys`, 'sysfs', 'ro,nosuid,nodev,noexec,X-mount.mkdir'),
    // What runc hides of /proc and /sys: kernel knobs read-only, host secrets masked (only
    // those this kernel has: a bind mount needs its target).
    ...READONLY_PROC.filter((f) => i.hostProc.includes(f)).map((f) => line(`${R}/proc/${f}`, `${R}/proc/${f}`, 'none', 'bind,ro')),
    ...MASKED_PROC.filter((f) => i.hostProc.includes(f)).map((f) => line('/dev/null', `${R}/proc/${f}`, 'none', 'bind')),
    ...(i.hostProc.includes('acpi') ? [line('tmpfs', `${R}/proc/acpi`, 'tmpfs', 'ro')] : []),
    ...(i.hostSysFirmware ? [line('tmpfs', `${R}/sys/firmware`, 'tmpfs', 'ro')] : []),
    ...i.volumes.map((v) => line(v.host, `${R}${v.container}`, 'none', `bind${v.readonly ? ',ro' : ''}`)),
    ...i.etcFiles.map((f) => line(f.source, `${R}/etc/${f.name}`, 'none', 'bind')),
  ];
  return { root: root.join('\n') + '\n', rest: rest.join('\n') + '\n' };
}

export function initScript(i: InitScriptInput): string {
  const R = '"$R"';
  const L: string[] = [];
  L.push(`# minid: init for container ${i.name} (${i.id.slice(0, 12)}), run by unshare in its new namespaces`);
  L.push(`exec 2>&3 3>&-  # the container's stderr (the supervisor kept unshare's own apart)`);
  L.push(`fail() { echo "minid: container setup failed: $*" >&2; exit 125; }`);
  L.push(`# our pid as the host sees it: this /proc is still the host's`);
  L.push(`read -r stat < /proc/self/stat; echo "$stat" > ${q(i.runDir)}/pid`);
  L.push(`R=${q(i.rootfs)}`);
  L.push(`# the overlay root, /proc and /dev: see fstab.root beside this script`);
  L.push(`mount -a -T ${q(i.runDir)}/fstab.root || fail "mount the root, /proc, /dev (fstab.root)"`);
  // A minimal /dev: its device nodes and links are made once per boot in a template (T)
  // and copied: one process instead of eleven. Containers starting together each build their
  // own copy (named after their host pid: $$ is 1 in every new PID namespace) and the first
  // rename wins.
  const T = q(i.devTemplate);
  const devs: [string, number, number][] = [['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0]];
  L.push(`T=${T}`);
  L.push(
    `[ -d "$T" ] || { t="$T.\${stat%% *}" && mkdir -p "$t" && ` +
      devs.map(([n, ma, mi]) => `mknod -m 666 "$t/${n}" c ${ma} ${mi}`).join(' && ') +
      ` && ln -s /proc/self/fd "$t/fd" && ln -s /proc/self/fd/0 "$t/stdin" && ln -s /proc/self/fd/1 "$t/stdout" && ln -s /proc/self/fd/2 "$t/stderr"` +
      ` && ln -s pts/ptmx "$t/ptmx" && mkdir "$t/pts" "$t/shm" && { mv -T "$t" "$T" 2>/dev/null || rm -rf "$t"; }; } || fail "make the /dev template"`,
  );
  L.push(`cp -a "$T/." ${R}/dev/ || fail "fill /dev"`);
  // Bind mounts need their target to exist: directories for directories, files for files.
  for (const v of i.volumes) {
    const t = `${R}${q(v.container)}`;
    L.push(`if [ -d ${q(v.host)} ]; then [ -d ${t} ] || mkdir -p ${t}; else [ -e ${t} ] || { mkdir -p "$(dirname ${t})" && : > ${t}; }; fi || fail "volume ${v.container}"`);
  }
  L.push(`[ -d ${R}/etc ] || mkdir ${R}/etc`);
  for (const f of i.etcFiles) L.push(`[ -e ${R}/etc/${f.name} ] || : > ${R}/etc/${f.name}`);
  L.push(`# devpts, /dev/shm, /sys (read-only), volumes, /etc files: see fstab.rest`);
  L.push(`mount -a -T ${q(i.runDir)}/fstab.rest || fail "mount devpts, shm, /sys, volumes, /etc files (fstab.rest)"`);
  // = `hostname NAME`, without a process: the sysctl is per UTS namespace.
  L.push(`printf %s ${q(i.hostname)} > /proc/sys/kernel/hostname || fail "hostname"`);
  if (i.loopbackUp) L.push(`ip link set lo up || fail "loopback up"`);
  L.push(`# pivot_root, user switch and exec: see src/runtime/init.c`);
  L.push(`exec ${[i.initBin, '$R', i.envFile, String(i.uid), String(i.gid), i.cwd, ...i.argv].map((a) => (a === '$R' ? R : q(a))).join(' ')}`);
  return L.join('\n') + '\n';
}

export interface ShimInput {
  id: string;
  name: string;
  runDir: string;
  exitFile: string;
  /** nsenter prefix (to enter a prepared network namespace) + unshare flags. */
  launch: string[];
  /** Command run after the container ended (detached mode): releases the network, honours --rm. */
  hook?: string[];
  /** -d with -i/-t: give the container a stdin that stays open (a FIFO nobody closes). */
  keepStdin?: boolean;
}

export function shimScript(s: ShimInput): string {
  const L: string[] = [];
  L.push(`# minid: supervisor for container ${s.name} (${s.id.slice(0, 12)})`);
  L.push(`echo $$ > ${q(s.runDir)}/shim.pid`);
  // A handler (not "ignore", which children would inherit) keeps Ctrl-C on a terminal from
  // killing the supervisor before it has recorded the exit code.
  L.push(`trap true INT`);
  if (s.keepStdin) {
    // `run -dit busybox sh` must keep running like docker's: its stdin is a FIFO this script
    // holds open for reading and writing, so it never sees end-of-file.
    L.push(`mkfifo ${q(s.runDir)}/stdin && exec 0<> ${q(s.runDir)}/stdin`);
  }
  const err = `${q(s.runDir)}/unshare.err`;
  L.push(`${s.launch.map(q).join(' ')} /bin/sh ${q(s.runDir)}/init.sh 3>&2 2>${err}`);
  L.push(`code=$?`);
  // util-linux 2.38's unshare cannot re-raise SIGKILL on itself (signal(SIGKILL) fails) and
  // exits 1 instead: report what really happened, 128+9, like any shell would.
  L.push(`if [ $code = 1 ] && grep -q 'sigprocmask unblock failed' ${err}; then code=137; elif [ -s ${err} ]; then cat ${err} >&2; fi`);
  L.push(`printf '{"exitCode":%d,"finishedAt":"%s"}\\n' "$code" "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" > ${q(s.exitFile)}.tmp && mv ${q(s.exitFile)}.tmp ${q(s.exitFile)}`);
  if (s.hook) L.push(`${s.hook.map(q).join(' ')} </dev/null >/dev/null 2>&1`);
  L.push(`exit $code`);
  return L.join('\n') + '\n';
}

/** The unshare invocation: new PID, mount, UTS and IPC namespaces (+ network unless joined). */
export function unshareArgs(opts: { newNet: boolean; joinNetns?: string }): string[] {
  const a: string[] = [];
  if (opts.joinNetns) a.push('nsenter', `--net=${opts.joinNetns}`);
  a.push('unshare', '--pid', '--fork', '--kill-child', '--mount', '--uts', '--ipc');
  if (opts.newNet) a.push('--net');
  a.push('--propagation', 'private', '--');
  return a;
}
