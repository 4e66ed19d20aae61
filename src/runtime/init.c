/*
 * minid-init: the last step of starting a container, the part a shell cannot do.
 *
 * The container's init script (see src/runtime/launch.ts) has already, inside fresh PID, mount,
 * UTS, IPC (and network) namespaces made by `unshare`, mounted the overlay root, /proc, /dev,
 * /sys and the volumes under ROOTFS. What is left must happen in one process, in this order:
 *
 *   1. read the container's environment from ENVFILE (NUL-separated KEY=VALUE), while the
 *      host's files are still reachable;
 *   2. pivot_root(2) into ROOTFS and detach the old root, so nothing of the host's filesystem
 *      stays reachable (chroot would leave it reachable through "..", open fds and /proc);
 *   3. create and enter the working directory;
 *   4. drop to the container's user: setgroups, then setgid, then setuid (in that order: once
 *      uid is not 0 we could no longer change groups);
 *   5. execvp(3) the command with the container's PATH, so it becomes PID 1 of the container.
 *
 * A shell after pivot_root could only exec files of the container, and no shell builtin can
 * change the user: hence this small helper, loaded before the pivot.
 *
 * Exit codes follow docker: 127 command not found, 126 not executable, 125 setup failed.
 *
 * usage: minid-init ROOTFS ENVFILE UID GID CWD CMD [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

int main(int argc, char **argv) {
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

  gid_t groups[1] = {gid};
  if (setgroups(1, groups) < 0) die(125, "setgroups", NULL);
  if (setgid(gid) < 0) die(125, "setgid", argv[4]);
  if (setuid(uid) < 0) die(125, "setuid", argv[3]);

  environ = env; /* execvp searches the container's PATH, not the host's */
  execvp(argv[6], argv + 6);
  int err = errno;
  if (err == ENOENT || err == ENOTDIR) {
    fprintf(stderr, "minid: exec: \"%s\": %s\n", argv[6],
            strchr(argv[6], '/') ? "no such file or directory" : "executable file not found in $PATH");
    return 127;
  }
  fprintf(stderr, "minid: exec: \"%s\": %s\n", argv[6], strerror(err));
  return 126;
}
