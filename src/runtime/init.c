/*
 * minid-init: the last step of starting a container, the part a shell cannot do; and the
 * way into a running one (`minid exec`).
 *
 * run mode:   minid-init [SETUP...] -- ROOTFS ENVFILE UID GID CWD CMD [ARG...]
 *   Started by the supervisor (src/runtime/launch.ts) through `unshare`, as PID 1 of fresh PID,
 *   mount, UTS, IPC (and network) namespaces. First the SETUP options, in the order given:
 *     --stderr-fd N     make fd N our stderr (the supervisor keeps unshare's own stderr apart)
 *     --pidfile FILE    write our /proc/self/stat line there: our pid as the host sees it
 *                       (this /proc is still the host's), and our start time
 *     --mount-all FSTAB mount every line of an fstab file, in order: what `mount -a -T FSTAB`
 *                       does (same options; X-mount.mkdir makes the target; a bind mount
 *                       whose target is missing gets a directory or an empty file like its
 *                       source), without a process per file. Targets under ROOTFS are
 *                       resolved inside it (see "Paths inside the container's root")
 *     --make-dev DIR    a minimal /dev in DIR: null zero full random urandom tty (mknod),
 *                       fd stdin stdout stderr ptmx (symlinks), pts and shm (directories)
 *     --make-dir DIR    `mkdir -p DIR`, DIR under ROOTFS resolved inside it: the working
 *                       directory, made before a read-only root (--read-only) would refuse it
 *     --cgroup-procs FILE  `echo 0 > FILE`: move minid-init into the cgroup whose cgroup.procs
 *                       FILE is (the command and its children then start in it); once per
 *                       hierarchy
 *     --cgroupns        unshare(CLONE_NEWCGROUP) (`unshare --cgroup`): a cgroup namespace
 *                       rooted at the cgroups joined so far, so /proc/self/cgroup inside
 *                       shows "/" and the host's cgroup paths stay unknown to the container
 *     --wait-fd N       wait for the runtime's go: one byte on fd N. The runtime sets the
 *                       network up meanwhile (runc's create/start split); end-of-file
 *                       instead means it gave up: exit 125 without a word
 *     --report-fd N     tell the runtime on fd N how the start went, one line: "0" right
 *                       before the command is executed (it was found, the setup is done),
 *                       else "CODE MESSAGE", the exit code and the error also printed on
 *                       stderr. `run -d` waits for it, as `docker run -d` reports a command
 *                       that cannot start. (fd N, like the go's, is not passed to the command.)
 *     --netns PATH      setns(2) into the network namespace PATH (`nsenter --net=PATH`);
 *                       before /sys is mounted, so that /sys/class/net shows its links
 *     --hostname NAME   sethostname(2): this UTS namespace's name
 *     --console-socket PATH  (-t) a terminal of the container's own: opened in the devpts
 *                       just mounted under ROOTFS (so the container sees /dev/pts/0), its
 *                       slave bound over ROOTFS/dev/console (as runc does) and made our
 *                       controlling terminal and stdin, stdout and stderr; its master sent
 *                       (SCM_RIGHTS) to the unix socket PATH, where minid-console holds it
 *                       (see "The container's terminal")
 *     --loopback-up     `ip link set lo up` (a new, empty network namespace)
 *     --caps LIST       the capabilities the container keeps, by number ("0,1,5"; "": none);
 *                       without it, none (see "Capabilities")
 *     --seccomp FILE    read the seccomp rules in FILE (made by src/runtime/security.ts) and
 *                       load them right before the command is executed (see "Seccomp")
 *     --no-new-privs    prctl(PR_SET_NO_NEW_PRIVS): no setuid bit or file capability gives the
 *                       command more than it has
 *     --init            (`run --init`, docker's tini) do not become the command: stay PID 1,
 *                       run the command as a child, pass it every signal we get, reap every
 *                       orphan the kernel hands to PID 1, and exit as the command did
 *   then what must happen in one process:
 *     1. read the container's environment from ENVFILE (NUL-separated KEY=VALUE) while the
 *        host's files are still reachable;
 *     2. pivot_root(2) into ROOTFS and detach the old root, so nothing of the host's
 *        filesystem stays reachable (chroot would leave it reachable through "..", open fds
 *        and /proc);
 *     3. create and enter the working directory;
 *     4. become the container's user with the container's capabilities (below);
 *     5. find the command in the container's PATH (as execvp(3) would) and execute it, so
 *        it becomes PID 1.
 *
 * exec mode:  minid-init [--cgroup-procs FILE]... --exec [--console-socket PATH] [--caps LIST] [--seccomp FILE] [--no-new-privs] PID UID GID CWD CMD [ARG...]
 *   (environment: the container's; the options after --exec as in run mode, the container's
 *   own). Join the container's cgroups (FILE: a cgroup.procs, one per hierarchy, so that the
 *   exec'd process counts against the container's limits), then the IPC, UTS, network, PID,
 *   cgroup and mount namespaces of process PID (joining the mount
 *   namespace also moves us to its root: the container's), enter CWD, become the user with
 *   the container's capabilities, then fork (a joined PID namespace applies to children
 *   only) and run the command; exit with its status. This is `nsenter -t PID -i -u -n -p -m`
 *   plus what nsenter does not do: the capability drop. With --console-socket PATH (-t), the
 *   command gets a new terminal of the container's devpts, as in run mode.
 *
 * in-root mode:  minid-init --in-root DIR|--pid PID START PROGRAM ARG0 [ARG...]   (`minid cp`, src/runtime/cp.ts)
 *   Run the host's PROGRAM (a static busybox: it needs no file of the container's) with DIR as
 *   its root: PROGRAM is opened on the host first, then chroot(DIR), chdir("/") and
 *   fexecve(2). DIR is /proc/PID/root of a running container (the kernel's link to its root,
 *   its mounts included; --pid PID START checks, after opening it, that PID is still the
 *   container's process that started at START, not a recycled pid), or its overlay mounted in
 *   a private mount namespace for a stopped one. Every path the program opens is then
 *   resolved by the kernel inside the container's root, whatever the container does
 *   meanwhile: an absolute symlink of the container's (/x -> /etc) leads to the container's
 *   /etc, never the host's, and ".." stops at its root.
 *   No fd but stdin, stdout and stderr goes with it (none of them a directory of the host's).
 *
 * Capabilities: root in a container must not be root of the host. Every capability outside
 * the container's set (--caps; by default docker's set, computed in security.ts) is dropped
 * from the bounding set (so nothing, not even a setuid binary, gets it back), and root keeps
 * only that set: no CAP_SYS_ADMIN (mount, namespaces), no CAP_NET_ADMIN, no CAP_SYS_MODULE...
 * A user other than root keeps none (the kernel clears them at setuid), as in docker.
 *
 * Seccomp: a filter the kernel runs on every system call of the command and its children:
 * calls a container never needs (new namespaces, keyrings, bpf, kernel modules, the clock...)
 * fail with EPERM even where a capability would allow them. It is loaded last, right before
 * execve, so that minid-init's own setup is not filtered. Loading one needs no_new_privs or
 * CAP_SYS_ADMIN: without --no-new-privs, minid-init keeps its capabilities over the user
 * switch (PR_SET_KEEPCAPS), loads the filter, and only then drops to the container's set
 * (capset, which the filter must allow: docker's profile and minid's do).
 *
 * What a container must not reach of the host, in both modes:
 *   - this binary: minid-init runs from a sealed memfd copy of itself and is not dumpable
 *     (see run_from_sealed_copy);
 *   - the caller's open files: every fd above 2 is closed on exec (see main);
 *   - the caller's terminal: `exec`'s command runs in a session of its own (see exec_mode);
 *   - host paths through the image's symlinks (see "Paths inside the container's root").
 *
 * The container's terminal (-t): the container never holds a terminal of the host's (a
 * process holding a terminal can type into it with TIOCSTI, read what is typed there,
 * change its settings). Its terminal is made in its own devpts instance and only the master
 * side leaves the container, to minid-console (src/runtime/console.c), which relays bytes.
 *
 * Exit codes follow docker: 127 command not found, 126 not executable, 125 setup failed
 * ("minid: container setup failed: ..." on stderr).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The start handshake (--wait-fd, --report-fd) is minid's protocol of src/runtime/protocol.ts:
 * these bytes must stay as that module names them ("0\n"; "CODE MESSAGE\n"; any one byte for
 * the go). */

/* --report-fd: where the outcome of the start goes (-1: nowhere). */
static int report_fd = -1;

static void report(const char *line) {
  if (report_fd < 0) return;
  /* The runtime may have stopped listening (a foreground run does not read it): no SIGPIPE. */
  void (*old)(int) = signal(SIGPIPE, SIG_IGN);
  ssize_t n = write(report_fd, line, strlen(line));
  (void)n;
  signal(SIGPIPE, old);
}

/* The one way out when the container cannot start: "minid: MESSAGE" on stderr (the log or
 * the terminal), "CODE MESSAGE" to the runtime, exit CODE. */
static void give_up(int code, const char *fmt, ...) {
  char msg[4096], line[4200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "minid: %s\n", msg);
  snprintf(line, sizeof line, "%d %s\n", code, msg);
  report(line);
  exit(code);
}

static void die(int code, const char *what, const char *arg) {
  give_up(code, "%s%s%s: %s", what, arg ? " " : "", arg ? arg : "", strerror(errno));
}

static char **read_env(const char *file) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(125, "open env file", file);
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len == cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0) die(125, "read env file", file);
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  size_t count = 0;
  for (size_t i = 0; i < len; i++) if (buf[i] == '\0') count++;
  char **env = calloc(count + 1, sizeof(char *));
  size_t k = 0, start = 0;
  for (size_t i = 0; i < len; i++)
    if (buf[i] == '\0') { env[k++] = buf + start; start = i + 1; }
  env[k] = NULL;
  return env;
}

static void mkdir_p(const char *dir) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') { *p = '\0'; mkdir(tmp, 0755); *p = '/'; }
  mkdir(tmp, 0755);
}

/* --- setup: the container's mounts, /dev, hostname, loopback ------------------------------ */

static void setup_fail(const char *what, const char *arg) {
  give_up(125, "container setup failed: %s%s%s: %s", what, arg ? " " : "", arg ? arg : "", strerror(errno));
}

/* fstab fields: \040 (space), \011 (tab), \012 (newline), \134 (backslash). In place. */
static void unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

static const struct { const char *name; unsigned long flag; } mount_flags[] = {
  {"ro", MS_RDONLY}, {"nosuid", MS_NOSUID}, {"nodev", MS_NODEV}, {"noexec", MS_NOEXEC},
  {"strictatime", MS_STRICTATIME}, {"relatime", MS_RELATIME}, {"noatime", MS_NOATIME},
  {"bind", MS_BIND}, {"rbind", MS_BIND | MS_REC}, {"remount", MS_REMOUNT},
};

/* --- paths inside the container's root -------------------------------------------------- */
/*
 * Before pivot_root, the container's paths are host paths under ROOTFS, and the image decides
 * what they lead to: an image whose /etc is a symlink to a host directory would make a bind
 * mount's target (and the directories made for it) land on the host. So, as runc's securejoin
 * does, every mount target under ROOTFS, and --make-dev's directory, is resolved inside the
 * root: openat2(RESOLVE_IN_ROOT) makes absolute symlinks and ".." stop at ROOTFS (no magic
 * links: /proc/self/fd/N would lead anywhere); what is missing is made one component at a
 * time relative to an fd resolved the same way; and the mount goes onto /proc/self/fd/N of
 * the fd found, never through the path again. The kernel's own /proc, /sys and /dev must be
 * real directories of the image (runc refuses proc on a symlink, CVE-2019-19921).
 */

/* run mode: ROOTFS, the first argument after "--" (NULL in exec mode: no root to resolve in). */
static const char *rootfs;

/* DST as a path inside the root ("/etc/hosts"), or NULL when DST is not under ROOTFS. */
static const char *in_rootfs(const char *dst) {
  size_t n = rootfs ? strlen(rootfs) : 0;
  if (!n || strncmp(dst, rootfs, n) != 0 || dst[n] != '/') return NULL;
  return dst + n;
}

/* An O_PATH fd of PATH resolved inside the directory ROOT, or -1 and errno. */
static int open_in_root(int root, const char *path, unsigned long long resolve) {
  struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve};
  return (int)syscall(SYS_openat2, root, path, &how, sizeof how);
}

/* PATH (absolute, inside ROOT) made if missing: directories on the way, and at the end a
 * directory (dir) or an empty file, each made relative to its parent's fd resolved inside the
 * root. A dangling symlink on the way is followed inside the root and its target made there
 * (securejoin's MkdirAll). An O_PATH fd, or -1 and errno. */
static int make_in_root(int root, const char *path, int dir, int depth) {
  int fd = open_in_root(root, path, 0);
  if (fd >= 0 || errno != ENOENT) return fd;
  if (depth > 64) return errno = ELOOP, -1;
  char parent[4096];
  if (snprintf(parent, sizeof parent, "%s", path) >= (int)sizeof parent) return errno = ENAMETOOLONG, -1;
  for (size_t n = strlen(parent); n > 1 && parent[n - 1] == '/'; n--) parent[n - 1] = '\0';
  char *slash = strrchr(parent, '/'), *name = slash + 1;
  *slash = '\0';
  int pfd = make_in_root(root, parent[0] ? parent : "/", 1, depth + 1);
  if (pfd < 0) return -1;
  int made;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) made = 0; /* there once the parent is */
  else if (dir) made = mkdirat(pfd, name, 0755);
  else if ((made = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) >= 0) made = close(made);
  if (made < 0 && errno == EEXIST) {
    char target[4096], next[8192];
    ssize_t n = readlinkat(pfd, name, target, sizeof target - 1);
    close(pfd);
    if (n < 0) return errno = EEXIST, -1; /* not a symlink: something else appeared meanwhile */
    target[n] = '\0';
    snprintf(next, sizeof next, "%s/%s", target[0] == '/' ? "" : parent, target);
    return make_in_root(root, next, dir, depth + 1);
  }
  close(pfd);
  return made < 0 ? -1 : open_in_root(root, path, 0);
}

/* An O_PATH fd of DST (under ROOTFS) resolved inside the root; made if missing and kind is 'd'
 * (a directory) or 'f' (a file); 0: it must exist. */
static int open_target(const char *dst, int kind) {
  const char *rel = in_rootfs(dst);
  int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) setup_fail("open the container's root", rootfs);
  /* The kernel's directories: no symlink anywhere on the way, and a directory at the end. */
  int kernel = strcmp(rel, "/proc") == 0 || strcmp(rel, "/sys") == 0 || strcmp(rel, "/dev") == 0;
  int fd = open_in_root(root, rel, kernel ? RESOLVE_NO_SYMLINKS : 0);
  if (fd < 0 && errno == ENOENT && kind) {
    fd = make_in_root(root, rel, kind == 'd', 0);
    if (fd >= 0 && kernel) { close(fd); fd = open_in_root(root, rel, RESOLVE_NO_SYMLINKS); }
  }
  if (fd < 0 && kernel && errno == ELOOP)
    give_up(125, "container setup failed: %s is a symlink in the image: refusing to mount over it", rel);
  if (fd < 0) setup_fail(kind ? "create the mount point" : "find the mount point", rel);
  struct stat st;
  if (kernel && (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)))
    give_up(125, "container setup failed: %s is not a directory in the image: refusing to mount over it", rel);
  close(root);
  return fd;
}

/* A bind mount needs a target of the source's kind (targets outside ROOTFS: host paths). */
static void make_target(const char *src, const char *dst, unsigned long flags) {
  struct stat st;
  if (!(flags & MS_BIND) || lstat(dst, &st) == 0) return;
  if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) { mkdir_p(dst); return; }
  char parent[4096];
  snprintf(parent, sizeof parent, "%s", dst);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) { *slash = '\0'; mkdir_p(parent); }
  int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) setup_fail("create the mount point", dst);
  close(fd);
}

/* "/proc/self/fd/N": the path of an O_PATH fd, for mount(2). */
static const char *fd_path(char buf[32], int fd) {
  snprintf(buf, 32, "/proc/self/fd/%d", fd);
  return buf;
}

static void mount_line(char *line) {
  char *f[6] = {0};
  int n = 0;
  for (char *tok = strtok(line, " \t"); tok && n < 6; tok = strtok(NULL, " \t")) f[n++] = tok;
  if (n == 0 || f[0][0] == '#') return;
  if (n < 4) { errno = EINVAL; setup_fail("read an fstab line for", f[0]); }
  char *src = f[0], *dst = f[1], *type = f[2], *opts = f[3];
  unescape(src);
  unescape(dst);
  unsigned long flags = 0;
  int mkdir_target = 0;
  char data[8192] = "";
  size_t dlen = 0;
  for (char *o = strtok(opts, ","); o; o = strtok(NULL, ",")) {
    size_t i;
    for (i = 0; i < sizeof mount_flags / sizeof mount_flags[0]; i++)
      if (strcmp(o, mount_flags[i].name) == 0) { flags |= mount_flags[i].flag; break; }
    if (i < sizeof mount_flags / sizeof mount_flags[0] || strcmp(o, "defaults") == 0 || strcmp(o, "rw") == 0) continue;
    if (strcmp(o, "X-mount.mkdir") == 0) { mkdir_target = 1; continue; }
    dlen += (size_t)snprintf(data + dlen, sizeof data - dlen, "%s%s", dlen ? "," : "", o);
    if (dlen >= sizeof data) { errno = E2BIG; setup_fail("mount", dst); }
  }
  /* A source in the root (a bind of /proc/sys onto itself) is resolved there too. */
  char sbuf[32], tbuf[32];
  const char *source = src, *target = dst;
  int sfd = -1, tfd = -1;
  if ((flags & MS_BIND) && in_rootfs(src)) source = fd_path(sbuf, sfd = open_target(src, 0));
  if (in_rootfs(dst)) {
    struct stat st;
    int kind = mkdir_target || ((flags & MS_BIND) && stat(source, &st) == 0 && S_ISDIR(st.st_mode)) ? 'd' : (flags & MS_BIND) ? 'f' : 0;
    target = fd_path(tbuf, tfd = open_target(dst, kind));
  } else {
    if (mkdir_target) mkdir_p(dst);
    make_target(src, dst, flags);
  }
  if (flags & MS_BIND) {
    /* As mount(8): bind first, then a remount for ro/nosuid/... (a bind ignores them).
     * "bind,remount,ro" changes a mount that is there already (--read-only: the root). */
    if (!(flags & MS_REMOUNT) && mount(source, target, NULL, flags & (MS_BIND | MS_REC), NULL) < 0) setup_fail("mount", dst);
    unsigned long extra = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (extra) {
      /* The fd is of the directory under the new mount: find the mount itself, the same way. */
      if (tfd >= 0) { close(tfd); target = fd_path(tbuf, tfd = open_target(dst, 0)); }
      /* The remount sets the flags whole: keep the ones the mount has (a bind of /proc/sys is
       * nosuid,nodev,noexec like /proc), add ours. */
      struct statvfs sv;
      if (statvfs(target, &sv) < 0) setup_fail("statvfs", dst);
      static const struct { unsigned long st, ms; } keep_flags[] = {
        {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC}, {ST_RDONLY, MS_RDONLY},
        {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
      };
      for (size_t i = 0; i < sizeof keep_flags / sizeof keep_flags[0]; i++)
        if (sv.f_flag & keep_flags[i].st) extra |= keep_flags[i].ms;
      if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | extra, NULL) < 0) setup_fail("remount", dst);
    }
  } else if (mount(src, target, type, flags, dlen ? data : NULL) < 0) setup_fail("mount", dst);
  if (sfd >= 0) close(sfd);
  if (tfd >= 0) close(tfd);
}

static void mount_all(const char *fstab) {
  FILE *f = fopen(fstab, "re");
  if (!f) setup_fail("open", fstab);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] == '\n') line[len - 1] = '\0';
    mount_line(line);
  }
  free(line);
  fclose(f);
}

static void make_dev(const char *dir) {
  static const struct { const char *name; unsigned maj, min; } nodes[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
  };
  static const struct { const char *name, *to; } links[] = {
    {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
  };
  /* Everything is made relative to the directory's fd: ROOT/dev resolved inside the root. */
  int d = in_rootfs(dir) ? open_target(dir, 0) : open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) setup_fail("open", dir);
  char p[4096];
  for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, nodes[i].name);
    if (mknodat(d, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0 || fchmodat(d, nodes[i].name, 0666, 0) < 0)
      setup_fail("mknod", p);
  }
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, links[i].name);
    if (symlinkat(links[i].to, d, links[i].name) < 0) setup_fail("symlink", p);
  }
  for (const char *const *s = (const char *const[]){"pts", "shm", NULL}; *s; s++) {
    snprintf(p, sizeof p, "%s/%s", dir, *s);
    if (mkdirat(d, *s, 0755) < 0 && errno != EEXIST) setup_fail("mkdir", p);
  }
  close(d);
}

static void write_pidfile(const char *file) {
  char buf[1024];
  int in = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  ssize_t n = in < 0 ? -1 : read(in, buf, sizeof buf);
  if (n <= 0) setup_fail("read", "/proc/self/stat");
  close(in);
  int out = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || write(out, buf, (size_t)n) != n) setup_fail("write", file);
  close(out);
}

static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) setup_fail("read the flags of", "lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) setup_fail("bring up", "lo");
  close(s);
}

/* Not passed on to the command. */
static void keep_from_command(int fd) { fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC); }

/* --wait-fd: the go (protocol.ts's GO; any byte will do), or end-of-file: minid gave up. */
static void wait_go(int fd) {
  char c;
  ssize_t n;
  while ((n = read(fd, &c, 1)) < 0 && errno == EINTR) {}
  if (n != 1) exit(125); /* the runtime failed and says why itself */
  if (fd == report_fd) keep_from_command(fd);
  else close(fd);
}

/* --cgroup-procs: `echo 0 > FILE`, "0" being the writer itself. */
static void join_cgroup(const char *file) {
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "0\n", 2) != 2) setup_fail("join the cgroup of", file);
  close(fd);
}

static void join_netns(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) setup_fail("open the network namespace", path);
  if (setns(fd, CLONE_NEWNET) < 0) setup_fail("join the network namespace", path);
  close(fd);
}

/* --- the container's terminal (-t) ------------------------------------------------------ */

/* A connection to minid-console's unix socket PATH (connected while the host's path is
 * reachable). */
static int console_connect(const char *path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  /* An address holds 107 bytes of path: a longer one is named through its folder's fd. */
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  int d = -1;
  if (strlen(path) < sizeof a.sun_path) strcpy(a.sun_path, path);
  else if (slash) {
    *slash = '\0';
    if ((d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) setup_fail("open", dir);
    snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/%s", d, slash + 1);
  }
  if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) setup_fail("connect to the console socket", path);
  if (d >= 0) close(d); /* no fd of a host folder stays with us */
  return s;
}

/* A new terminal of the devpts at PTMX's directory: its master (sent on SOCK, then closed
 * here) and its slave (returned). TIOCGPTPEER opens the slave without a path lookup. */
static int new_terminal(const char *ptmx, int sock) {
  struct open_how how = {.flags = O_RDWR | O_NOCTTY | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  int m = (int)syscall(SYS_openat2, AT_FDCWD, ptmx, &how, sizeof how);
  struct statfs fs;
  int unlock = 0;
  if (m < 0 || fstatfs(m, &fs) < 0 || fs.f_type != 0x1cd1 /* DEVPTS_SUPER_MAGIC */ || ioctl(m, TIOCSPTLCK, &unlock) < 0)
    setup_fail("open a terminal at", ptmx);
  int slave = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) setup_fail("open the terminal of", ptmx);
  char byte = 't';
  struct iovec iov = {&byte, 1};
  union { struct cmsghdr h; char space[CMSG_SPACE(sizeof(int))]; } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.space, .msg_controllen = sizeof u.space};
  struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(h), &m, sizeof m);
  if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1) setup_fail("send the terminal to", "minid-console");
  close(m);
  close(sock);
  return slave;
}

/* The terminal as our controlling terminal (a session of our own) and stdin, stdout, stderr. */
static void take_terminal(int slave) {
  if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) setup_fail("make the terminal ours", "");
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) setup_fail("dup2", "the terminal");
  close(slave);
}

/* --console-socket (run mode): ROOTFS/dev/pts is the container's devpts (fstab.devproc). */
static int made_console = 0;
static void make_console(const char *sock_path) {
  made_console = 1;
  char ptmx[4096], console[4096], from[32], to[32];
  snprintf(ptmx, sizeof ptmx, "%s/dev/pts/ptmx", rootfs);
  snprintf(console, sizeof console, "%s/dev/console", rootfs);
  int slave = new_terminal(ptmx, console_connect(sock_path));
  /* /dev/console: the terminal bound over an empty file (`mount --bind /dev/pts/0 /dev/console`). */
  int target = open_target(console, 'f');
  if (mount(fd_path(from, slave), fd_path(to, target), NULL, MS_BIND, NULL) < 0) setup_fail("bind the terminal on", console);
  close(target);
  take_terminal(slave);
}

/* --init: stay PID 1 as a tiny init (see init_loop) and run the command as our child. */
static int init_mode = 0;

/* Options without a value. */
static int is_flag(const char *opt) {
  return strcmp(opt, "--loopback-up") == 0 || strcmp(opt, "--no-new-privs") == 0 || strcmp(opt, "--cgroupns") == 0 ||
         strcmp(opt, "--init") == 0;
}

static int security_option(const char *opt, const char *val);

/* The index of the "--" that ends the SETUP options (argc: none), read as setup() reads them. */
static int end_of_setup(int argc, char **argv) {
  int i = 1;
  while (i < argc && strcmp(argv[i], "--") != 0) i += is_flag(argv[i]) ? 1 : 2;
  return i < argc ? i : argc;
}

/* Runs the SETUP options; returns the index of the first argument after "--". */
static int setup(int argc, char **argv) {
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *opt = argv[i];
    if (strcmp(opt, "--loopback-up") == 0) { loopback_up(); continue; }
    if (strcmp(opt, "--init") == 0) { init_mode = 1; continue; }
    if (strcmp(opt, "--cgroupns") == 0) { if (unshare(CLONE_NEWCGROUP) < 0) setup_fail("unshare", "the cgroup namespace"); continue; }
    if (security_option(opt, i + 1 < argc ? argv[i + 1] : NULL)) { i += !is_flag(opt); continue; }
    if (i + 1 >= argc) { fprintf(stderr, "minid-init: %s needs a value\n", opt); exit(125); }
    const char *val = argv[++i];
    if (strcmp(opt, "--stderr-fd") == 0) {
      int fd = atoi(val);
      if (dup2(fd, 2) < 0) die(125, "dup2", val);
      close(fd);
    } else if (strcmp(opt, "--pidfile") == 0) write_pidfile(val);
    else if (strcmp(opt, "--mount-all") == 0) mount_all(val);
    else if (strcmp(opt, "--make-dev") == 0) make_dev(val);
    else if (strcmp(opt, "--make-dir") == 0) {
      if (!in_rootfs(val)) { errno = EINVAL; setup_fail("make a directory (not under the root)", val); }
      close(open_target(val, 'd'));
    }
    else if (strcmp(opt, "--wait-fd") == 0) wait_go(atoi(val));
    else if (strcmp(opt, "--report-fd") == 0) keep_from_command(report_fd = atoi(val));
    else if (strcmp(opt, "--netns") == 0) join_netns(val);
    else if (strcmp(opt, "--cgroup-procs") == 0) join_cgroup(val);
    else if (strcmp(opt, "--hostname") == 0) { if (sethostname(val, strlen(val)) < 0) setup_fail("sethostname", val); }
    else if (strcmp(opt, "--console-socket") == 0) make_console(val);
    else { fprintf(stderr, "minid-init: unknown option %s\n", opt); exit(125); }
  }
  return i < argc ? i + 1 : 1;
}

/* --- capabilities, seccomp, no_new_privs ----------------------------------------------- */

static int keep[64], nkeep = 0;     /* --caps */
static scmp_filter_ctx filter;      /* --seccomp: built while the rule file is reachable */
static uint32_t filter_default;
static int no_new_privs = 0;        /* --no-new-privs */
static int caps_deferred = 0;       /* capabilities still held for the filter's load */

static int kept(int c) {
  for (int i = 0; i < nkeep; i++) if (keep[i] == c) return 1;
  return 0;
}

static void parse_caps(const char *list) {
  nkeep = 0;
  for (const char *p = list; *p;) {
    char *end;
    long c = strtol(p, &end, 10);
    if (end == p || c < 0 || c > 63 || nkeep == 64) { fprintf(stderr, "minid-init: bad --caps %s\n", list); exit(125); }
    keep[nkeep++] = (int)c;
    p = *end == ',' ? end + 1 : end;
  }
}

/* "allow", "errno:N", "kill_thread", "kill_process", "trap", "trace:N", "log". */
static int parse_action(const char *w, uint32_t *act) {
  if (strcmp(w, "allow") == 0) *act = SCMP_ACT_ALLOW;
  else if (strncmp(w, "errno:", 6) == 0) *act = SCMP_ACT_ERRNO((uint16_t)atoi(w + 6));
  else if (strncmp(w, "trace:", 6) == 0) *act = SCMP_ACT_TRACE((uint16_t)atoi(w + 6));
  else if (strcmp(w, "kill_thread") == 0) *act = SCMP_ACT_KILL;
  else if (strcmp(w, "kill_process") == 0) *act = SCMP_ACT_KILL_PROCESS;
  else if (strcmp(w, "trap") == 0) *act = SCMP_ACT_TRAP;
  else if (strcmp(w, "log") == 0) *act = SCMP_ACT_LOG;
  else return -1;
  return 0;
}

static const struct { const char *name; enum scmp_compare op; } compare_ops[] = {
  {"ne", SCMP_CMP_NE}, {"lt", SCMP_CMP_LT}, {"le", SCMP_CMP_LE}, {"eq", SCMP_CMP_EQ},
  {"ge", SCMP_CMP_GE}, {"gt", SCMP_CMP_GT}, {"masked_eq", SCMP_CMP_MASKED_EQ},
};

/* One line of the rule file (see security.ts compileProfile): default, arch or rule. */
static void seccomp_line(char *line, const char *file, int n) {
  char *w[10];
  int k = 0;
  for (char *t = strtok(line, " "); t && k < 10; t = strtok(NULL, " ")) w[k++] = t;
  if (k == 0 || w[0][0] == '#') return;
  uint32_t act;
  if (strcmp(w[0], "default") == 0 && k == 2 && !filter && parse_action(w[1], &act) == 0) {
    filter_default = act;
    if (!(filter = seccomp_init(act))) give_up(125, "container setup failed: seccomp_init failed");
    /* libseccomp would set no_new_privs itself when loading: that is --no-new-privs' call. */
    if (seccomp_attr_set(filter, SCMP_FLTATR_CTL_NNP, 0) < 0) give_up(125, "container setup failed: seccomp_attr_set failed");
    /* A binary search over the call numbers, not one test after another (~350 rules). */
    seccomp_attr_set(filter, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    return;
  }
  if (!filter) give_up(125, "container setup failed: %s:%d: the first rule must be \"default ACTION\"", file, n);
  if (strcmp(w[0], "arch") == 0 && k == 2) {
    uint32_t a = seccomp_arch_resolve_name(w[1]);
    int rc = a ? seccomp_arch_add(filter, a) : -EINVAL;
    if (rc < 0 && rc != -EEXIST) give_up(125, "container setup failed: seccomp architecture %s: %s", w[1], strerror(-rc));
    return;
  }
  if (strcmp(w[0], "rule") != 0 || k < 3 || parse_action(w[2], &act) < 0)
    give_up(125, "container setup failed: %s:%d: not a seccomp rule", file, n);
  /* A name this libseccomp does not know (a system call newer than it) is left out, as runc
   * does: such calls get the default action. A rule like the default adds nothing. */
  int nr = seccomp_syscall_resolve_name(w[1]);
  if (nr == __NR_SCMP_ERROR || act == filter_default) return;
  struct scmp_arg_cmp args[6];
  int nargs = 0;
  for (int i = 3; i < k && nargs < 6; i++) {
    char op[16];
    unsigned idx;
    unsigned long long v1, v2 = 0;
    if (sscanf(w[i], "%u:%15[a-z_]:%llu:%llu", &idx, op, &v1, &v2) < 3) give_up(125, "container setup failed: %s:%d: bad condition %s", file, n, w[i]);
    size_t j = 0;
    while (j < sizeof compare_ops / sizeof compare_ops[0] && strcmp(op, compare_ops[j].name) != 0) j++;
    if (j == sizeof compare_ops / sizeof compare_ops[0]) give_up(125, "container setup failed: %s:%d: bad operator %s", file, n, op);
    args[nargs++] = (struct scmp_arg_cmp){.arg = idx, .op = compare_ops[j].op, .datum_a = v1, .datum_b = v2};
  }
  int rc = seccomp_rule_add_array(filter, act, nr, (unsigned)nargs, args);
  if (rc < 0) give_up(125, "container setup failed: seccomp rule for %s: %s", w[1], strerror(-rc));
}

static void read_seccomp(const char *file) {
  FILE *f = fopen(file, "re");
  if (!f) setup_fail("open the seccomp rules", file);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  for (int n = 1; (len = getline(&line, &cap, f)) > 0; n++) {
    if (line[len - 1] == '\n') line[len - 1] = '\0';
    seccomp_line(line, file, n);
  }
  free(line);
  fclose(f);
  if (!filter) give_up(125, "container setup failed: %s has no seccomp rules", file);
}

/* The options both modes take: 1 if OPT was one (VAL its value, if it takes one). */
static int security_option(const char *opt, const char *val) {
  if (strcmp(opt, "--no-new-privs") == 0) { no_new_privs = 1; return 1; }
  if (strcmp(opt, "--caps") != 0 && strcmp(opt, "--seccomp") != 0) return 0;
  if (!val) { fprintf(stderr, "minid-init: %s needs a value\n", opt); exit(125); }
  if (strcmp(opt, "--caps") == 0) parse_caps(val);
  else read_seccomp(val);
  return 1;
}

/* root keeps its set (of what minid-init holds itself: --privileged cannot give a capability
 * that the host's bounding set lacks); another user none. */
static void set_caps(uid_t uid) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct have[2], data[2];
  if (syscall(SYS_capget, &hdr, have) < 0) die(125, "capget", NULL);
  memset(data, 0, sizeof data);
  for (int i = 0; uid == 0 && i < nkeep; i++) {
    data[keep[i] / 32].effective |= 1u << (keep[i] % 32);
    data[keep[i] / 32].permitted |= 1u << (keep[i] % 32);
  }
  for (int i = 0; i < 2; i++) {
    data[i].permitted &= have[i].permitted;
    data[i].effective &= have[i].permitted;
  }
  if (syscall(SYS_capset, &hdr, data) < 0) die(125, "capset", NULL);
}

static uid_t final_uid;

/* Bounding set first (needs CAP_SETPCAP, which we still have); then the user (SETGID and
 * SETUID); then what root keeps. With a filter to load and no no_new_privs, the capabilities
 * stay until it is loaded (see "Seccomp"): PR_SET_KEEPCAPS keeps the permitted set over
 * setuid, and capset makes it effective again. */
static void become(uid_t uid, gid_t gid) {
  int last = CAP_LAST_CAP;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
  if (f) { if (fscanf(f, "%d", &last) != 1) last = CAP_LAST_CAP; fclose(f); }
  for (int c = 0; c <= last; c++)
    if (!kept(c) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) die(125, "drop capability from the bounding set", NULL);
  if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die(125, "prctl PR_SET_NO_NEW_PRIVS", NULL);
  caps_deferred = filter && !no_new_privs;
  if (caps_deferred && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) die(125, "prctl PR_SET_KEEPCAPS", NULL);

  gid_t groups[1] = {gid};
  if (setgroups(1, groups) < 0) die(125, "setgroups", NULL);
  if (setgid(gid) < 0) die(125, "setgid", NULL);
  if (setuid(uid) < 0) die(125, "setuid", NULL);
  final_uid = uid;

  if (caps_deferred) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) < 0) die(125, "capget", NULL);
    data[0].effective = data[0].permitted;
    data[1].effective = data[1].permitted;
    if (syscall(SYS_capset, &hdr, data) < 0) die(125, "capset", NULL);
  } else if (uid == 0) {
    set_caps(uid);
  }
}

/* The last step before execve: the filter, then (if they were kept for it) the capabilities. */
static void confine(void) {
  if (filter) {
    int rc = seccomp_load(filter);
    if (rc < 0) give_up(125, "container setup failed: load the seccomp filter: %s", strerror(-rc));
  }
  if (caps_deferred) {
    set_caps(final_uid);
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) die(125, "prctl PR_SET_KEEPCAPS", NULL);
  }
}

/* The command's file, searched as execvp(3) does: a name with a slash as is, else the
 * first executable regular file of that name in the container's PATH. NULL and errno when
 * there is none (EACCES: one was found but cannot be executed). */
static char *find_command(const char *name) {
  static char found[4096];
  struct stat st;
  if (strchr(name, '/')) {
    if (stat(name, &st) < 0) return NULL;
    if (access(name, X_OK) < 0 || !S_ISREG(st.st_mode)) return errno = EACCES, NULL;
    return strcpy(found, name);
  }
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int denied = 0;
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    int dirlen = end == p ? 1 : (int)(end - p); /* an empty entry is the working directory */
    snprintf(found, sizeof found, "%.*s/%s", dirlen, end == p ? "." : p, name);
    if (stat(found, &st) == 0) {
      if (S_ISREG(st.st_mode) && access(found, X_OK) == 0) return found;
      denied = 1;
    }
    if (!*end) break;
    p = end;
  }
  errno = denied ? EACCES : ENOENT;
  return NULL;
}

/* An errno as Go (and so docker and runc) words it: strerror's text, lower case ("permission denied"). */
static const char *go_strerror(int e) {
  static char text[256];
  snprintf(text, sizeof text, "%s", strerror(e));
  text[0] = (char)tolower((unsigned char)text[0]);
  return text;
}

static int exec_command(char **argv) {
  char *file = find_command(argv[0]);
  /* runc's words: `exec: "x": executable file not found in $PATH`, `exec: "/x": stat /x: no such file or directory` */
  if (!file && (errno == ENOENT || errno == ENOTDIR)) {
    if (strchr(argv[0], '/')) give_up(127, "exec: \"%s\": stat %s: %s", argv[0], argv[0], go_strerror(errno));
    give_up(127, "exec: \"%s\": executable file not found in $PATH", argv[0]);
  }
  if (!file) give_up(126, "exec: \"%s\": %s", argv[0], go_strerror(errno));
  /* Nothing of ours (nor of whoever started us) goes to the command: see main. */
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) give_up(125, "container setup failed: close_range: %s", strerror(errno));
  confine();
  report("0\n"); /* protocol.ts's STARTED */
  execv(file, argv);
  if (errno == ENOEXEC) { /* no #! line: a shell script, run as execvp(3) runs it */
    int n = 0;
    while (argv[n]) n++;
    char **sh = calloc((size_t)n + 2, sizeof *sh);
    sh[0] = "/bin/sh";
    sh[1] = file;
    memcpy(sh + 2, argv + 1, (size_t)n * sizeof *sh);
    execv(sh[0], sh);
    errno = ENOEXEC;
  }
  /* Found, yet not executed: ENOENT here is a missing interpreter (#! line or ELF loader). */
  give_up(errno == ENOENT ? 127 : 126, "exec: \"%s\": %s", file, go_strerror(errno));
  return 126;
}

static pid_t child = 0;
static int own_session = 0; /* exec mode: we lead a session (-t: the terminal minid made) */
/* The signals a terminal sends its foreground process group go to the child's group, which
 * is its own session's (see exec_mode): as the caller's Ctrl-C would reach it. */
static void forward(int sig) {
  if (child <= 0) return;
  int terminal = sig == SIGINT || sig == SIGQUIT || sig == SIGHUP;
  kill(terminal && !own_session ? -child : child, sig);
}

static int exec_mode(int argc, char **argv) {
  /* The container's own options first, read while the host's files are reachable. */
  int o = 2;
  const char *console_sock = NULL;
  for (; o < argc && strncmp(argv[o], "--", 2) == 0; o += is_flag(argv[o]) ? 1 : 2) {
    if (strcmp(argv[o], "--console-socket") == 0 && o + 1 < argc) console_sock = argv[o + 1];
    else if (!security_option(argv[o], o + 1 < argc ? argv[o + 1] : NULL)) break;
  }
  argc -= o - 2;
  argv += o - 2;
  if (argc < 7) {
    fprintf(stderr, "usage: minid-init --exec [--console-socket PATH] [--caps LIST] [--seccomp FILE] [--no-new-privs] PID UID GID CWD CMD [ARG...]\n");
    return 125;
  }
  const char *pid = argv[2], *cwd = argv[5];
  uid_t uid = (uid_t)strtoul(argv[3], NULL, 10);
  gid_t gid = (gid_t)strtoul(argv[4], NULL, 10);
  /* Open them all first: once in the mount namespace, /proc/PID is the container's view. The
   * cgroup namespace after the cgroups were joined (main): its root is the container's. */
  const char *names[] = {"ipc", "uts", "net", "pid", "cgroup", "mnt"};
  int fds[6];
  for (int i = 0; i < 6; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, names[i]);
    if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) die(125, "open", path);
  }
  int sock = console_sock ? console_connect(console_sock) : -1; /* a host path: before setns */
  for (int i = 0; i < 6; i++)
    if (setns(fds[i], 0) < 0) die(125, "setns", names[i]);
  /* docker's exec: a command that cannot be started exits 126 (runc's wording) */
  if (chdir(cwd) < 0) give_up(126, "chdir to cwd (\"%s\") failed: %s: give -w a directory of the container", cwd, go_strerror(errno));
  /* -t: a new terminal of the container's devpts (the mount namespace's /dev/pts). */
  int slave = sock >= 0 ? new_terminal("/dev/pts/ptmx", sock) : -1;
  if (slave >= 0 && fchown(slave, uid, (gid_t)-1) < 0) die(125, "chown", "the terminal");
  become(uid, gid);

  /* The caller's terminal must not be the command's controlling terminal: TIOCSTI (push
   * keystrokes into a terminal's input) needs no capability on one's controlling terminal, so
   * a command of the container could type into the shell that ran `minid exec` once it exits.
   * The command gets a session of its own, as runc's always does; with -t (--console-socket),
   * with the container's new terminal as its controlling one (take_terminal). */
  own_session = getsid(0) == getpid();
  child = fork();
  if (child < 0) die(125, "fork", NULL);
  if (child == 0) {
    if (slave >= 0) take_terminal(slave);
    else if (!own_session && setsid() < 0) die(125, "setsid", NULL);
    return exec_command(argv + 6);
  }
  if (slave >= 0) close(slave);
  if (caps_deferred) set_caps(final_uid); /* the waiter keeps nothing it does not need */
  /* The waiter: pass signals on. On our own terminal (-t) its Ctrl-C and Ctrl-\ reach the
   * child directly; in a session of its own, the child gets them from us. */
  struct sigaction sa = {0};
  sa.sa_handler = forward;
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD && s != SIGTSTP && (!own_session || (s != SIGINT && s != SIGQUIT))) sigaction(s, &sa, NULL);
  if (own_session) {
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
  }
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) die(125, "waitpid", NULL);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * --init: what docker's tini does as PID 1 of a container, in a few lines. A PID 1 must reap:
 * every process whose parent dies is handed to it, and one that ends stays a zombie (a slot
 * in the process table, its pid taken) until PID 1 waits for it; a shell or a server run as
 * PID 1 rarely does. And a PID 1 gets no signal it has no handler for (the kernel protects
 * init), so `minid stop` of a plain `sleep` waits its whole timeout and ends in SIGKILL.
 *
 * So: every signal is blocked, the command forked (in a process group of its own that owns
 * the terminal, if there is one, as a shell's job would), and the loop takes signals one at a
 * time with sigtimedwait(2): SIGCHLD reaps every child that ended (waitpid(-1, WNOHANG)); any
 * other signal is passed on to the command. When the command ends, we end with its status;
 * the kernel then kills whatever is left in the PID namespace.
 */
static int init_loop(char **argv) {
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t cmd = fork();
  if (cmd < 0) die(125, "fork", NULL);
  if (cmd == 0) {
    setpgid(0, 0);
    if (isatty(0)) tcsetpgrp(0, getpid()); /* SIGTTOU is blocked: allowed from the background */
    sigprocmask(SIG_SETMASK, &old, NULL);
    return exec_command(argv);
  }
  /* The waiter holds nothing the command does not: the report pipe and the like closed. */
  if (close_range(3, ~0U, 0) < 0) die(125, "close_range", NULL);
  report_fd = -1;
  if (caps_deferred) set_caps(final_uid);
  for (;;) {
    siginfo_t si;
    struct timespec tick = {1, 0}; /* a lost SIGCHLD (coalesced) is caught at the next tick */
    int sig = sigtimedwait(&all, &si, &tick);
    if (sig > 0 && sig != SIGCHLD) {
      kill(cmd, sig);
      continue;
    }
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0)
      if (p == cmd) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
}

/*
 * The runc CVE-2019-5736 class: while minid-init runs in a container's namespaces (exec mode
 * after setns; or run by the kernel itself inside a container for a script "#!/proc/self/exe"),
 * a container process can open its file through /proc/PID/exe and, once nobody runs it any
 * more, reopen that fd for writing: every later start would run the container's payload as
 * host root. So minid-init never runs from its file: it copies itself into a memfd, seals it
 * (no write, no resize, no more seals: the kernel refuses any change) and executes that, with
 * the same arguments and environment. The copy finds itself already sealed and goes on.
 */
static void run_from_sealed_copy(char **argv) {
  const int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) give_up(125, "cannot run minid-init from a sealed copy: open /proc/self/exe: %s", strerror(errno));
  int has = fcntl(self, F_GET_SEALS); /* EINVAL: a plain file, not a memfd */
  if (has >= 0 && (has & seals) == seals) { close(self); return; }
  struct stat st;
  if (fstat(self, &st) < 0) give_up(125, "cannot run minid-init from a sealed copy: stat /proc/self/exe: %s", strerror(errno));
  int mem = memfd_create("minid-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) give_up(125, "cannot run minid-init from a sealed copy: memfd_create: %s", strerror(errno));
  for (off_t done = 0; done < st.st_size;) {
    ssize_t n = sendfile(mem, self, NULL, (size_t)(st.st_size - done));
    if (n <= 0) give_up(125, "cannot run minid-init from a sealed copy: copy: %s", n < 0 ? strerror(errno) : "short read");
    done += n;
  }
  if (fcntl(mem, F_ADD_SEALS, seals) < 0) give_up(125, "cannot run minid-init from a sealed copy: seal: %s", strerror(errno));
  close(self);
  fexecve(mem, argv, environ);
  give_up(125, "cannot run minid-init from a sealed copy: fexecve: %s", strerror(errno));
}

/* Field 22 of /proc/PID/stat (the start time), or "" (the comm field may hold spaces). */
static void start_time(const char *pid, char *out, size_t size) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%s/stat", pid);
  out[0] = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');
  if (!p) return;
  snprintf(out, size, "%.*s", (int)strcspn(p + 1, " "), p + 1);
}

static int in_root_mode(int argc, char **argv) {
  /* --pid PID START: the root of process PID, if it is still the one that started at START
   * (not a recycled pid): the root is opened first, then the process checked. */
  char dir[64];
  const char *root_dir = argc > 2 ? argv[2] : NULL, *pid = NULL, *start = NULL;
  if (argc > 4 && strcmp(argv[2], "--pid") == 0) {
    pid = argv[3];
    start = argv[4];
    snprintf(dir, sizeof dir, "/proc/%s/root", pid);
    root_dir = dir;
    argv += 2;
    argc -= 2;
  }
  if (argc < 5) {
    fprintf(stderr, "usage: minid-init --in-root DIR|--pid PID START PROGRAM ARG0 [ARG...]\n");
    return 125;
  }
  int prog = open(argv[3], O_RDONLY | O_CLOEXEC);
  if (prog < 0) die(125, "open", argv[3]);
  int root = open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) give_up(1, "the container is not running any more (%s: %s)", root_dir, strerror(errno));
  if (pid) {
    char now[32];
    start_time(pid, now, sizeof now);
    if (strcmp(now, start) != 0) give_up(1, "the container is not running any more (process %s is another one now)", pid);
  }
  if (fchdir(root) < 0 || chroot(".") < 0) die(125, "chroot", root_dir);
  if (chdir("/") < 0) die(125, "chdir", "/");
  char *env[] = {"PATH=/bin:/usr/bin", "LC_ALL=C", NULL};
  fexecve(prog, argv + 4, env);
  die(125, "fexecve", argv[3]);
  return 125;
}

int main(int argc, char **argv) {
  run_from_sealed_copy(argv);
  /* Not dumpable: a container process (root without CAP_SYS_PTRACE) can then open none of
   * /proc/PID/{exe,fd,root,...} of ours. The execve of the command makes it dumpable again. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) die(125, "prctl PR_SET_DUMPABLE", NULL);
  prctl(PR_SET_NAME, "minid-init", 0, 0, 0); /* fexecve named us after the fd's number */
  /* exec mode: the container's cgroups first, while the host's /sys/fs/cgroup is reachable. */
  int lead = 1;
  while (lead + 1 < argc && strcmp(argv[lead], "--cgroup-procs") == 0) lead += 2;
  int exec = lead < argc && strcmp(argv[lead], "--exec") == 0;
  /* The CVE-2024-21626 class: an fd the caller left open (a directory of the host's) would be
   * a way out of the container's root for the command. Exec mode needs none of them: closed
   * before we join anything. Run mode's setup options name some (stderr, go, report): closed
   * on exec, they work until the command starts. */
  int in_root = argc > 1 && strcmp(argv[1], "--in-root") == 0;
  if (close_range(3, ~0U, exec || in_root ? 0 : CLOSE_RANGE_CLOEXEC) < 0) die(125, "close_range", NULL);
  if (in_root) return in_root_mode(argc, argv);
  if (exec) {
    for (int i = 1; i < lead; i += 2) join_cgroup(argv[i + 1]);
    argv[lead - 1] = argv[0];
    return exec_mode(argc - (lead - 1), argv + (lead - 1));
  }
  int end = end_of_setup(argc, argv);
  if (end + 1 < argc) rootfs = argv[end + 1]; /* mount targets under it are resolved inside it */
  int a = argc > 1 && strncmp(argv[1], "--", 2) == 0 ? setup(argc, argv) : 1;
  argc -= a - 1;
  argv += a - 1;
  if (argc < 7) {
    fprintf(stderr, "usage: minid-init [SETUP...] -- ROOTFS ENVFILE UID GID CWD CMD [ARG...]\n");
    return 125;
  }
  const char *rootfs = argv[1], *cwd = argv[5];
  uid_t uid = (uid_t)strtoul(argv[3], NULL, 10);
  gid_t gid = (gid_t)strtoul(argv[4], NULL, 10);
  char **env = read_env(argv[2]);

  /* pivot_root(".", ".") stacks the old root on top of the new one; unmounting "." then
   * detaches the old root (lazily: busy mounts go when their last user does). */
  if (chdir(rootfs) < 0) die(125, "chdir", rootfs);
  if (syscall(SYS_pivot_root, ".", ".") < 0) die(125, "pivot_root", rootfs);
  if (umount2(".", MNT_DETACH) < 0) die(125, "umount old root", NULL);
  if (chdir("/") < 0) die(125, "chdir", "/");

  /* Like docker, a missing working directory is created (as root, before dropping). */
  mkdir_p(cwd);
  if (chdir(cwd) < 0) die(125, "chdir", cwd);

  if (made_console && fchown(0, uid, (gid_t)-1) < 0) die(125, "chown", "the terminal"); /* the user's terminal, as runc's */
  become(uid, gid);
  environ = env; /* the command is searched in the container's PATH, not the host's */
  return init_mode ? init_loop(argv + 6) : exec_command(argv + 6);
}
