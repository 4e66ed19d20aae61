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
 *                       source), without a process per file
 *     --make-dev DIR    a minimal /dev in DIR: null zero full random urandom tty (mknod),
 *                       fd stdin stdout stderr ptmx (symlinks), pts and shm (directories)
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
 *     --loopback-up     `ip link set lo up` (a new, empty network namespace)
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
 * exec mode:  minid-init --exec PID UID GID CWD CMD [ARG...]   (environment: the container's)
 *   Join the IPC, UTS, network, PID and mount namespaces of process PID (joining the mount
 *   namespace also moves us to its root: the container's), enter CWD, become the user with
 *   the container's capabilities, then fork (a joined PID namespace applies to children
 *   only) and run the command; exit with its status. This is `nsenter -t PID -i -u -n -p -m`
 *   plus what nsenter does not do: the capability drop.
 *
 * Capabilities: root in a container must not be root of the host. Every capability outside
 * docker's default set is dropped from the bounding set (so nothing, not even a setuid
 * binary, gets it back), and root keeps only that set: no CAP_SYS_ADMIN (mount, namespaces),
 * no CAP_NET_ADMIN, no CAP_SYS_MODULE... Docker also keeps CAP_MKNOD and relies on the devices
 * cgroup to stop a container from making and opening the host's disks; minid uses no cgroups,
 * so it drops CAP_MKNOD too (FIFOs and sockets need no capability).
 *
 * Exit codes follow docker: 127 command not found, 126 not executable, 125 setup failed
 * ("minid: container setup failed: ..." on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

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
  {"bind", MS_BIND}, {"rbind", MS_BIND | MS_REC},
};

/* A bind mount needs a target of the source's kind. */
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
  if (mkdir_target) mkdir_p(dst);
  make_target(src, dst, flags);
  if (flags & MS_BIND) {
    /* As mount(8): bind first, then a remount for ro/nosuid/... (a bind ignores them). */
    if (mount(src, dst, NULL, flags & (MS_BIND | MS_REC), NULL) < 0) setup_fail("mount", dst);
    unsigned long extra = flags & ~(MS_BIND | MS_REC);
    if (extra) {
      /* The remount sets the flags whole: keep the ones the mount has (a bind of /proc/sys is
       * nosuid,nodev,noexec like /proc), add ours. */
      struct statvfs sv;
      if (statvfs(dst, &sv) < 0) setup_fail("statvfs", dst);
      static const struct { unsigned long st, ms; } keep_flags[] = {
        {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC}, {ST_RDONLY, MS_RDONLY},
        {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
      };
      for (size_t i = 0; i < sizeof keep_flags / sizeof keep_flags[0]; i++)
        if (sv.f_flag & keep_flags[i].st) extra |= keep_flags[i].ms;
      if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | extra, NULL) < 0) setup_fail("remount", dst);
    }
    return;
  }
  if (mount(src, dst, type, flags, dlen ? data : NULL) < 0) setup_fail("mount", dst);
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
  char p[4096];
  for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, nodes[i].name);
    if (mknod(p, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0 || chmod(p, 0666) < 0) setup_fail("mknod", p);
  }
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, links[i].name);
    if (symlink(links[i].to, p) < 0) setup_fail("symlink", p);
  }
  for (const char *const *d = (const char *const[]){"pts", "shm", NULL}; *d; d++) {
    snprintf(p, sizeof p, "%s/%s", dir, *d);
    if (mkdir(p, 0755) < 0 && errno != EEXIST) setup_fail("mkdir", p);
  }
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

static void wait_go(int fd) {
  char c;
  ssize_t n;
  while ((n = read(fd, &c, 1)) < 0 && errno == EINTR) {}
  if (n != 1) exit(125); /* the runtime failed and says why itself */
  if (fd == report_fd) keep_from_command(fd);
  else close(fd);
}

static void join_netns(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) setup_fail("open the network namespace", path);
  if (setns(fd, CLONE_NEWNET) < 0) setup_fail("join the network namespace", path);
  close(fd);
}

/* Runs the SETUP options; returns the index of the first argument after "--". */
static int setup(int argc, char **argv) {
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *opt = argv[i];
    if (strcmp(opt, "--loopback-up") == 0) { loopback_up(); continue; }
    if (i + 1 >= argc) { fprintf(stderr, "minid-init: %s needs a value\n", opt); exit(125); }
    const char *val = argv[++i];
    if (strcmp(opt, "--stderr-fd") == 0) {
      int fd = atoi(val);
      if (dup2(fd, 2) < 0) die(125, "dup2", val);
      close(fd);
    } else if (strcmp(opt, "--pidfile") == 0) write_pidfile(val);
    else if (strcmp(opt, "--mount-all") == 0) mount_all(val);
    else if (strcmp(opt, "--make-dev") == 0) make_dev(val);
    else if (strcmp(opt, "--wait-fd") == 0) wait_go(atoi(val));
    else if (strcmp(opt, "--report-fd") == 0) keep_from_command(report_fd = atoi(val));
    else if (strcmp(opt, "--netns") == 0) join_netns(val);
    else if (strcmp(opt, "--hostname") == 0) { if (sethostname(val, strlen(val)) < 0) setup_fail("sethostname", val); }
    else { fprintf(stderr, "minid-init: unknown option %s\n", opt); exit(125); }
  }
  return i < argc ? i + 1 : 1;
}

/* docker's default capability set, less CAP_MKNOD (see above). */
static const int keep[] = {
  CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID, CAP_SETUID,
  CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_NET_RAW, CAP_SYS_CHROOT, CAP_AUDIT_WRITE, CAP_SETFCAP,
};

static int kept(int c) {
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) if (keep[i] == c) return 1;
  return 0;
}

/* Bounding set first (needs CAP_SETPCAP, which we keep); then the user (needs SETGID and
 * SETUID, kept); then what root keeps. A non-root uid lost all its capabilities at setuid. */
static void become(uid_t uid, gid_t gid) {
  int last = CAP_LAST_CAP;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
  if (f) { if (fscanf(f, "%d", &last) != 1) last = CAP_LAST_CAP; fclose(f); }
  for (int c = 0; c <= last; c++)
    if (!kept(c) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) die(125, "drop capability from the bounding set", NULL);

  gid_t groups[1] = {gid};
  if (setgroups(1, groups) < 0) die(125, "setgroups", NULL);
  if (setgid(gid) < 0) die(125, "setgid", NULL);
  if (setuid(uid) < 0) die(125, "setuid", NULL);

  if (uid == 0) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
      data[keep[i] / 32].effective |= 1u << (keep[i] % 32);
      data[keep[i] / 32].permitted |= 1u << (keep[i] % 32);
    }
    if (syscall(SYS_capset, &hdr, data) < 0) die(125, "capset", NULL);
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

static int exec_command(char **argv) {
  char *file = find_command(argv[0]);
  if (!file && (errno == ENOENT || errno == ENOTDIR))
    give_up(127, "exec: \"%s\": %s", argv[0], strchr(argv[0], '/') ? "no such file or directory" : "executable file not found in $PATH");
  if (!file) give_up(126, "exec: \"%s\": %s", argv[0], strerror(errno));
  report("0\n");
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
  give_up(errno == ENOENT ? 127 : 126, "exec: \"%s\": %s", file, strerror(errno));
  return 126;
}

static pid_t child = 0;
static void forward(int sig) { if (child > 0) kill(child, sig); }

static int exec_mode(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: minid-init --exec PID UID GID CWD CMD [ARG...]\n");
    return 125;
  }
  const char *pid = argv[2], *cwd = argv[5];
  uid_t uid = (uid_t)strtoul(argv[3], NULL, 10);
  gid_t gid = (gid_t)strtoul(argv[4], NULL, 10);
  /* Open them all first: once in the mount namespace, /proc/PID is the container's view. */
  const char *names[] = {"ipc", "uts", "net", "pid", "mnt"};
  int fds[5];
  for (int i = 0; i < 5; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, names[i]);
    if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) die(125, "open", path);
  }
  for (int i = 0; i < 5; i++)
    if (setns(fds[i], 0) < 0) die(125, "setns", names[i]);
  if (chdir(cwd) < 0) die(125, "chdir", cwd);
  become(uid, gid);

  child = fork();
  if (child < 0) die(125, "fork", NULL);
  if (child == 0) return exec_command(argv + 6);
  /* The waiter: pass signals on (a terminal's Ctrl-C reaches the child directly). */
  struct sigaction sa = {0};
  sa.sa_handler = forward;
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD && s != SIGINT && s != SIGQUIT && s != SIGTSTP) sigaction(s, &sa, NULL);
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) die(125, "waitpid", NULL);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--exec") == 0) return exec_mode(argc, argv);
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

  become(uid, gid);
  environ = env; /* the command is searched in the container's PATH, not the host's */
  return exec_command(argv + 6);
}
