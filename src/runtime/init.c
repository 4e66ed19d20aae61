/*
 * minid-init: the last step of starting a container, the part a shell cannot do; and the
 * way into a running one (`minid exec`).
 *
 * run mode:   minid-init ROOTFS ENVFILE UID GID CWD CMD [ARG...]
 *   The container's init script (src/runtime/launch.ts) has already, inside fresh PID, mount,
 *   UTS, IPC (and network) namespaces made by `unshare`, mounted the overlay root, /proc, /dev,
 *   /sys, the volumes and the /etc files under ROOTFS. What is left must happen in one process:
 *     1. read the container's environment from ENVFILE (NUL-separated KEY=VALUE) while the
 *        host's files are still reachable;
 *     2. pivot_root(2) into ROOTFS and detach the old root, so nothing of the host's
 *        filesystem stays reachable (chroot would leave it reachable through "..", open fds
 *        and /proc);
 *     3. create and enter the working directory;
 *     4. become the container's user with the container's capabilities (below);
 *     5. execvp(3) the command with the container's PATH, so it becomes PID 1.
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
 * Exit codes follow docker: 127 command not found, 126 not executable, 125 setup failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void die(int code, const char *what, const char *arg) {
  fprintf(stderr, "minid: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
  exit(code);
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

static int exec_command(char **argv) {
  execvp(argv[0], argv);
  int err = errno;
  if (err == ENOENT || err == ENOTDIR) {
    fprintf(stderr, "minid: exec: \"%s\": %s\n", argv[0],
            strchr(argv[0], '/') ? "no such file or directory" : "executable file not found in $PATH");
    return 127;
  }
  fprintf(stderr, "minid: exec: \"%s\": %s\n", argv[0], strerror(err));
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
  if (argc < 7) {
    fprintf(stderr, "usage: minid-init ROOTFS ENVFILE UID GID CWD CMD [ARG...]\n");
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
  environ = env; /* execvp searches the container's PATH, not the host's */
  return exec_command(argv + 6);
}
