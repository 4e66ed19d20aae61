/*
 * minid-console: holds the master side of a container's terminal (`run -t`, `exec -t`) on the
 * host, and lets `minid` attach to it through a unix socket. runc's console socket and
 * containerd-shim's console, in one small process without Node.
 *
 *   minid-console [--wait-client] ATTACH_SOCK PTY_SOCK -- CMD [ARG...]
 *
 * 1. Listens on two unix sockets (mode 0600: root's only): PTY_SOCK, where minid-init sends
 *    the terminal's master fd (SCM_RIGHTS) once it has made the terminal in the container's
 *    own devpts (minid-init --console-socket: the container sees /dev/pts/0 and /dev/console);
 *    ATTACH_SOCK, where `minid` (run -t, attach, exec -t) connects, as many times as it likes.
 * 2. Starts CMD (unshare ... minid-init ..., or minid-init --exec ...) as its child.
 * 3. Relays: what the container writes to its terminal goes to our stdout (the log writer, for
 *    a container) and to every attached client; what a client sends goes to the terminal.
 * 4. Exits with CMD's status (128+N for a signal), once the terminal has no more output.
 *
 * A client speaks in frames: one type byte, a 16-bit big-endian length, the payload.
 *   'd' LEN BYTES      keys typed (written to the terminal as they are)
 *   'w' 4 ROWS COLS    the client's window size (two 16-bit big-endian numbers): TIOCSWINSZ,
 *                      and the kernel sends SIGWINCH to the terminal's foreground group
 * and gets the terminal's output as a plain byte stream. Detaching is closing the socket: the
 * container keeps its terminal (the master stays here), whoever attaches next gets it.
 *
 * --wait-client: read nothing from the terminal until a first client has attached (a
 * foreground `run -t` or `exec -t` would otherwise miss the first output).
 *
 * Why a relay and not the user's terminal itself: a process holding a terminal can push
 * keystrokes into its input (TIOCSTI), read what is typed there and change its settings. The
 * container only ever holds its own terminal; minid relays bytes (src/sys/terminal.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAX_CLIENTS 16

struct client {
  int fd;
  unsigned char buf[3 + 65535]; /* one frame at most */
  size_t have;
};

static struct client clients[MAX_CLIENTS];
static int nclients = 0, seen_client = 0;
static int master = -1;
static struct winsize size = {.ws_row = 24, .ws_col = 80}; /* until a client says its own */

static void fail(const char *what, const char *arg) {
  fprintf(stderr, "minid-console: %s %s: %s\n", what, arg, strerror(errno));
  exit(125);
}

/* A unix socket's address holds 107 bytes of path at most: a longer path (a store deep in
 * /tmp, a 64-digit container id) is named through an fd of its folder, /proc/self/fd/N/NAME. */
static void socket_address(struct sockaddr_un *a, const char *path) {
  a->sun_family = AF_UNIX;
  if (strlen(path) < sizeof a->sun_path) { strcpy(a->sun_path, path); return; }
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash) { errno = ENAMETOOLONG; fail("bind", path); }
  *slash = '\0';
  int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) fail("open", dir);
  if (snprintf(a->sun_path, sizeof a->sun_path, "/proc/self/fd/%d/%s", d, slash + 1) >= (int)sizeof a->sun_path) { errno = ENAMETOOLONG; fail("bind", path); }
}

static int listen_on(const char *path) {
  struct sockaddr_un a;
  socket_address(&a, path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  unlink(path);
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || chmod(path, 0600) < 0 || listen(s, 8) < 0) fail("listen on", path);
  return s;
}

/* Write all of it (the fd is blocking); -1 on error. */
static int write_all(int fd, const unsigned char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void drop_client(int i) {
  close(clients[i].fd);
  clients[i] = clients[--nclients];
}

/* The terminal's master, as minid-init sends it (one byte of data, the fd as SCM_RIGHTS). */
static int receive_master(int listener) {
  int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return -1;
  char byte;
  struct iovec iov = {&byte, 1};
  union { struct cmsghdr h; char space[CMSG_SPACE(sizeof(int))]; } u;
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.space, .msg_controllen = sizeof u.space};
  int fd = -1;
  if (recvmsg(c, &m, MSG_CMSG_CLOEXEC) == 1) {
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(h), sizeof fd);
  }
  close(c);
  if (fd >= 0) ioctl(fd, TIOCSWINSZ, &size); /* a client may have said its size already */
  return fd;
}

/* The terminal's output: to our stdout and to every client. 0: it has ended. */
static int pump_output(void) {
  unsigned char buf[65536];
  ssize_t n = read(master, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (n <= 0) return 0; /* EIO: no process holds the terminal any more */
  write_all(1, buf, (size_t)n); /* the log: an error there stops nothing */
  for (int i = nclients - 1; i >= 0; i--)
    if (write_all(clients[i].fd, buf, (size_t)n) < 0) drop_client(i);
  return 1;
}

/* A client's frames. 0: it has gone. */
static int read_client(struct client *c) {
  ssize_t n = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (n <= 0) return 0;
  c->have += (size_t)n;
  for (;;) {
    if (c->have < 3) return 1;
    size_t len = ((size_t)c->buf[1] << 8) | c->buf[2];
    if (c->have < 3 + len) return 1;
    unsigned char *p = c->buf + 3;
    if (c->buf[0] == 'd' && master >= 0) write_all(master, p, len);
    else if (c->buf[0] == 'w' && len == 4) {
      size = (struct winsize){.ws_row = (unsigned short)(p[0] << 8 | p[1]), .ws_col = (unsigned short)(p[2] << 8 | p[3])};
      if (master >= 0) ioctl(master, TIOCSWINSZ, &size);
    } else if (c->buf[0] != 'd' && c->buf[0] != 'w') return 0; /* not our protocol */
    memmove(c->buf, c->buf + 3 + len, c->have - 3 - len);
    c->have -= 3 + len;
  }
}

int main(int argc, char **argv) {
  int a = 1, wait_client = 0;
  if (a < argc && strcmp(argv[a], "--wait-client") == 0) wait_client = 1, a++;
  if (argc - a < 4 || strcmp(argv[a + 2], "--") != 0) {
    fprintf(stderr, "usage: minid-console [--wait-client] ATTACH_SOCK PTY_SOCK -- CMD [ARG...]\n");
    return 125;
  }
  const char *attach_path = argv[a], *pty_path = argv[a + 1];
  int attach = listen_on(attach_path), pty = listen_on(pty_path);

  pid_t child = fork();
  if (child < 0) fail("fork", argv[a + 3]);
  if (child == 0) {
    execvp(argv[a + 3], argv + a + 3);
    fail("exec", argv[a + 3]);
  }
  /* Signals a terminal would send (Ctrl-C, a hang-up) are the container's business, not ours;
   * a client that has gone is seen as EPIPE. */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
  if (pidfd < 0) fail("pidfd_open", argv[a + 3]);

  int status = 0, exited = 0;
  while (!exited) {
    struct pollfd p[4 + MAX_CLIENTS];
    int n = 0, i_master = -1, i_pty = -1, i_attach = -1;
    p[n++] = (struct pollfd){pidfd, POLLIN, 0};
    if (pty >= 0) i_pty = n, p[n++] = (struct pollfd){pty, POLLIN, 0};
    if (nclients < MAX_CLIENTS) i_attach = n, p[n++] = (struct pollfd){attach, POLLIN, 0};
    if (master >= 0 && (seen_client || !wait_client)) i_master = n, p[n++] = (struct pollfd){master, POLLIN, 0};
    int first_client = n;
    for (int i = 0; i < nclients; i++) p[n++] = (struct pollfd){clients[i].fd, POLLIN, 0};
    if (poll(p, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll", "");
    }
    if (p[0].revents) {
      while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
      exited = 1;
    }
    if (i_pty >= 0 && p[i_pty].revents) {
      master = receive_master(pty);
      close(pty);
      unlink(pty_path);
      pty = -1;
    }
    if (i_attach >= 0 && p[i_attach].revents) {
      int c = accept4(attach, NULL, NULL, SOCK_CLOEXEC);
      if (c >= 0) {
        clients[nclients].fd = c;
        clients[nclients++].have = 0;
        seen_client = 1;
      }
    }
    if (i_master >= 0 && p[i_master].revents && !pump_output()) {
      close(master);
      master = -1;
    }
    /* Clients last, from the end: drop_client moves the last one into the gap. */
    for (int i = n - 1; i >= first_client; i--) {
      int k = i - first_client;
      if (k < nclients && p[i].revents && !read_client(&clients[k])) drop_client(k);
    }
  }
  /* CMD has ended: what it wrote last is still in the terminal. */
  if (master >= 0) {
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    while (pump_output()) {
      struct pollfd m = {master, POLLIN, 0};
      if (poll(&m, 1, 20) <= 0) break;
    }
  }
  unlink(attach_path);
  if (pty >= 0) unlink(pty_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
