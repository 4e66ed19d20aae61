/*
 * minid-spawner: starts the commands minid runs (`ip`, `iptables-restore`...), cheaply.
 *
 * Every external command goes through src/sys/exec.ts. Started from Node, a process costs
 * minid ~1.5-2 ms of its own time: fork(2) copies the page tables of a large process (Node's
 * heap and code), then Node waits until the child has exec'd. `minid run -p` starts six.
 * This helper, a small process started once per minid command (src/sys/spawner.ts), starts
 * them with posix_spawn(3) (a vfork: nothing to copy) and hands back what they printed and
 * how they ended. minid writes requests on its stdin and reads results on its stdout (minid's
 * side of these messages: src/sys/spawner-protocol.ts; keep the two in step):
 *
 *   request  u32 id, u32 argc, argc x (u32 len, bytes), u32 input_len, input bytes
 *            (input_len 0xffffffff: no input, stdin is /dev/null)
 *   result   u32 id, i32 status, u32 out_len, out bytes, u32 err_len, err bytes
 *            status: the exit code; 128+N for a command killed by signal N; -errno when it
 *            could not be started (-ENOENT: not installed)
 *
 * Integers are little-endian. A request whose argv[0] is empty (no command has that name) is
 * a question for the helper itself rather than a command:
 *
 *   "", "bind", "tcp"|"udp", IPV4, PORT   can IPV4:PORT be bound now? status 0: yes; else
 *            -errno of bind(2) (-EADDRINUSE: something holds it; -EADDRNOTAVAIL: not an
 *            address of this host). The socket is closed at once.
 *
 *   "", "start", SETSID, FD0, FD1..., "--", ARGV...
 *            start a process minid does not wait for here (a container's supervisor): its
 *            fd K is FDK: "null" (/dev/null), "read" (a pipe it reads and minid writes),
 *            "write" (a pipe it writes and minid reads) or "append:PATH" (PATH, opened for
 *            appending); SETSID "1": in a session of its own. status: its pid, or -errno;
 *            out: "HELPER_PID K:FD...", the helper's ends of the pipes, which minid opens
 *            through /proc/HELPER_PID/fd/FD (the pipes themselves cannot cross a pipe) and
 *            then gives back:
 *   "", "close", FD...   the helper closes those ends. status 0.
 *   "", "wait", PID      answered when the process PID (started by "start") has ended:
 *            status its exit code, 128+N if killed by signal N; -ECHILD if it is not one.
 *
 * minid asks it before publishing a port: Node can only bind through its net module, whose
 * first listen() loads the cluster and dns modules (~3 ms), and reading the kernel's socket
 * tables (/proc/net/tcp) walks its whole connection hash (~3 ms per file on this machine).
 *
 * Started by minid's launcher (bin/minid runs `minid-spawner --launch NODE ARGS...`), the
 * helper is ready before minid needs it and Node never forks at all (loading Node's
 * child_process module and the first fork cost ~5 ms): two pipes and a fork, then this
 * process becomes NODE, and its child serves, with the request pipe as its stdin and the
 * result pipe as its stdout. MINID_SPAWNER_FDS="W,R" tells minid its ends (write requests,
 * read results); src/sys/spawner.ts starts a helper of its own when it finds none.
 *
 * Commands run side by side,
 * each with the helper's environment (minid's, as it started the helper) and signal
 * dispositions reset. The helper ignores SIGINT and SIGQUIT (Ctrl-C is for minid, which
 * forwards it to the container) and exits when minid closes its stdin and every command has
 * ended.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct buf {
  char *p;
  size_t len, cap;
};

static void add(struct buf *b, const void *d, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    if (!(b->p = realloc(b->p, cap))) { perror("minid-spawner: realloc"); exit(1); }
    b->cap = cap;
  }
  memcpy(b->p + b->len, d, n);
  b->len += n;
}

struct job {
  uint32_t id;
  pid_t pid;
  int in, out, err; /* our ends of the child's stdin, stdout, stderr; -1 once closed */
  char *input;
  size_t input_len, input_off;
  struct buf o, e;
  int status, reaped;
  struct job *next;
};

static struct job *jobs;

static void write_all(const void *d, size_t n) {
  const char *p = d;
  while (n) {
    ssize_t w = write(1, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) exit(0); /* minid is gone */
    p += w;
    n -= (size_t)w;
  }
}

static void reply(uint32_t id, int32_t status, const struct buf *o, const struct buf *e) {
  struct buf r = {0};
  uint32_t ol = o ? (uint32_t)o->len : 0, el = e ? (uint32_t)e->len : 0;
  uint32_t x;
  x = htole32(id), add(&r, &x, 4);
  x = htole32((uint32_t)status), add(&r, &x, 4);
  x = htole32(ol), add(&r, &x, 4);
  if (ol) add(&r, o->p, ol);
  x = htole32(el), add(&r, &x, 4);
  if (el) add(&r, e->p, el);
  write_all(r.p, r.len);
  free(r.p);
}

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* The child starts with no signal blocked and every disposition at its default (ours
 * ignore SIGINT, SIGQUIT and SIGPIPE, and block SIGCHLD); with setsid, in a new session. */
static void spawn_attr(posix_spawnattr_t *at, int setsid) {
  posix_spawnattr_init(at);
  sigset_t none, all;
  sigemptyset(&none);
  sigemptyset(&all);
  for (int s = 1; s < 32; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaddset(&all, s);
  posix_spawnattr_setsigmask(at, &none);
  posix_spawnattr_setsigdefault(at, &all);
  posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (setsid ? POSIX_SPAWN_SETSID : 0));
}

static void start(uint32_t id, char **argv, char *input, size_t input_len, int has_input) {
  int in[2] = {-1, -1}, out[2], err[2];
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || (has_input && pipe2(in, O_CLOEXEC) < 0)) {
    reply(id, -errno, NULL, NULL);
    free(input);
    return;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (has_input) posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawnattr_t at;
  spawn_attr(&at, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(out[1]);
  close(err[1]);
  if (in[0] >= 0) close(in[0]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    if (in[1] >= 0) close(in[1]);
    reply(id, -rc, NULL, NULL);
    free(input);
    return;
  }
  struct job *j = calloc(1, sizeof *j);
  if (!j) { perror("minid-spawner: calloc"); exit(1); }
  j->id = id;
  j->pid = pid;
  j->out = out[0];
  j->err = err[0];
  j->in = in[1];
  j->input = input;
  j->input_len = input_len;
  nonblock(j->out);
  nonblock(j->err);
  if (j->in >= 0) {
    nonblock(j->in);
    if (input_len == 0) { close(j->in); j->in = -1; }
  }
  j->next = jobs;
  jobs = j;
}

/* Processes started with "start": reaped here, their status kept until asked ("wait"). */
struct started {
  pid_t pid;
  int status, reaped, waiting;
  uint32_t wait_id;
  struct started *next;
};
static struct started *started;

/* The pipe ends handed to minid ("start"), until it gives them back ("close"). */
#define MAX_HANDED 64
static int handed[MAX_HANDED];
static int nhanded;

/* fd moved to 32 or above: the file actions' dup2 onto 0..K cannot overwrite it. */
static int high(int fd) {
  if (fd < 0 || fd >= 32) return fd;
  int h = fcntl(fd, F_DUPFD_CLOEXEC, 32), e = errno;
  close(fd);
  errno = e; /* (fcntl's, when it failed) */
  return h;
}

#define MAX_FDS 16
static void start_process(uint32_t id, char **argv, uint32_t argc) {
  uint32_t dd = 3;
  while (dd < argc && strcmp(argv[dd], "--")) dd++;
  uint32_t nfd = dd - 3;
  int setsid = !strcmp(argv[2], "1");
  if (dd + 1 >= argc || nfd > MAX_FDS || (!setsid && strcmp(argv[2], "0")) || nhanded + nfd > MAX_HANDED) {
    reply(id, -EINVAL, NULL, NULL);
    return;
  }
  int theirs[MAX_FDS], mine[MAX_FDS], err = 0;
  for (uint32_t k = 0; k < nfd; k++) theirs[k] = mine[k] = -1;
  for (uint32_t k = 0; k < nfd && !err; k++) {
    const char *spec = argv[3 + k];
    int rd = !strcmp(spec, "read"), pp[2];
    if (!strcmp(spec, "null")) theirs[k] = open("/dev/null", O_RDWR | O_CLOEXEC);
    else if (!strncmp(spec, "append:", 7)) theirs[k] = open(spec + 7, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    else if (rd || !strcmp(spec, "write")) {
      if (pipe2(pp, O_CLOEXEC) == 0) {
        theirs[k] = pp[!rd];
        if ((mine[k] = high(pp[rd])) < 0) err = errno; /* (theirs[k] is closed below) */
      }
    } else err = EINVAL;
    if (!err && (theirs[k] = high(theirs[k])) < 0) err = errno;
  }
  pid_t pid = -1;
  if (!err) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (uint32_t k = 0; k < nfd; k++) posix_spawn_file_actions_adddup2(&fa, theirs[k], (int)k);
    posix_spawnattr_t at;
    spawn_attr(&at, setsid);
    err = posix_spawnp(&pid, argv[dd + 1], &fa, &at, argv + dd + 1, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
  }
  for (uint32_t k = 0; k < nfd; k++)
    if (theirs[k] >= 0) close(theirs[k]);
  if (err) {
    for (uint32_t k = 0; k < nfd; k++)
      if (mine[k] >= 0) close(mine[k]);
    reply(id, -err, NULL, NULL);
    return;
  }
  struct buf o = {0};
  char t[32];
  add(&o, t, (size_t)snprintf(t, sizeof t, "%d", (int)getpid()));
  for (uint32_t k = 0; k < nfd; k++)
    if (mine[k] >= 0) {
      add(&o, t, (size_t)snprintf(t, sizeof t, " %u:%d", k, mine[k]));
      handed[nhanded++] = mine[k];
    }
  struct started *p = calloc(1, sizeof *p);
  if (!p) { perror("minid-spawner: calloc"); exit(1); }
  p->pid = pid;
  p->next = started;
  started = p;
  reply(id, pid, &o, NULL);
  free(o.p);
}

static int32_t close_handed(char **argv, uint32_t argc) {
  for (uint32_t i = 2; i < argc; i++) {
    int fd = atoi(argv[i]);
    for (int h = 0; h < nhanded; h++)
      if (handed[h] == fd) {
        close(fd);
        handed[h] = handed[--nhanded];
        break;
      }
  }
  return 0;
}

/* Answers the "wait" for p (and forgets it) once it has been reaped and asked about. */
static void settle(struct started *p) {
  if (!p->reaped || !p->waiting) return;
  reply(p->wait_id, p->status, NULL, NULL);
  for (struct started **pp = &started; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      free(p);
      return;
    }
}

static void wait_started(uint32_t id, char **argv, uint32_t argc) {
  pid_t pid = argc == 3 ? (pid_t)atoi(argv[2]) : -1;
  for (struct started *p = started; p; p = p->next)
    if (p->pid == pid && !p->waiting) {
      p->waiting = 1;
      p->wait_id = id;
      settle(p);
      return;
    }
  reply(id, -ECHILD, NULL, NULL);
}

/* The bind question (see the top): 0 or -errno. */
static int32_t bind_probe(char **argv, uint32_t argc) {
  if (argc != 5 || strcmp(argv[1], "bind")) return -EINVAL;
  int udp = !strcmp(argv[2], "udp");
  if (!udp && strcmp(argv[2], "tcp")) return -EINVAL;
  struct sockaddr_in sa = {.sin_family = AF_INET};
  char *end;
  long port = strtol(argv[4], &end, 10);
  if (inet_pton(AF_INET, argv[3], &sa.sin_addr) != 1 || *end || port < 1 || port > 65535) return -EINVAL;
  sa.sin_port = htons((uint16_t)port);
  int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  /* As a server would bind it (nginx, Node): connections in TIME_WAIT do not hold the port. */
  int one = 1;
  if (!udp) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int32_t rc = bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0;
  close(fd);
  return rc;
}

/* Takes one whole request off the front of `req` and starts it; 0 when it is not all there yet. */
static uint32_t u32(const char *p) {
  uint32_t x;
  memcpy(&x, p, 4);
  return le32toh(x);
}

static size_t take(struct buf *req) {
  size_t at = 0;
  uint32_t id, argc, len;
#define NEED(n) do { if (req->len - at < (n)) return 0; } while (0)
  NEED(8);
  id = u32(req->p);
  argc = u32(req->p + 4);
  at = 8;
  for (uint32_t i = 0; i < argc; i++) {
    NEED(4);
    len = u32(req->p + at);
    at += 4;
    NEED(len);
    at += len;
  }
  NEED(4);
  len = u32(req->p + at);
  at += 4;
  int has_input = len != UINT32_MAX;
  if (has_input) NEED(len);
  /* It is all there: copy it out. */
  char **argv = calloc(argc + 1, sizeof *argv);
  if (!argv) { perror("minid-spawner: calloc"); exit(1); }
  size_t p = 8;
  for (uint32_t i = 0; i < argc; i++) {
    len = u32(req->p + p);
    p += 4;
    argv[i] = strndup(req->p + p, len);
    p += len;
  }
  len = u32(req->p + p);
  p += 4;
  char *input = NULL;
  size_t input_len = 0;
  if (has_input) {
    input_len = len;
    input = malloc(len ? len : 1);
    if (!input) { perror("minid-spawner: malloc"); exit(1); }
    memcpy(input, req->p + p, len);
    p += len;
  }
  if (argc == 0) reply(id, -EINVAL, NULL, NULL), free(input);
  else if (argv[0][0] == '\0') {
    free(input);
    if (argc >= 3 && !strcmp(argv[1], "start")) start_process(id, argv, argc);
    else if (argc >= 2 && !strcmp(argv[1], "close")) reply(id, close_handed(argv, argc), NULL, NULL);
    else if (argc >= 2 && !strcmp(argv[1], "wait")) wait_started(id, argv, argc);
    else reply(id, bind_probe(argv, argc), NULL, NULL);
  }
  else start(id, argv, input, input_len, has_input);
  for (uint32_t i = 0; i < argc; i++) free(argv[i]);
  free(argv);
  return p;
#undef NEED
}

static void drain(int *fd, struct buf *b) {
  char chunk[65536];
  for (;;) {
    ssize_t n = read(*fd, chunk, sizeof chunk);
    if (n > 0) { add(b, chunk, (size_t)n); continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    close(*fd); /* end of file (or an error: the same for us) */
    *fd = -1;
    return;
  }
}

static void feed(struct job *j) {
  while (j->input_off < j->input_len) {
    ssize_t n = write(j->in, j->input + j->input_off, j->input_len - j->input_off);
    if (n > 0) { j->input_off += (size_t)n; continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    break; /* EPIPE: the command exited without reading it all */
  }
  close(j->in);
  j->in = -1;
}

/*
 * --launch PROG ARGS...: returns in the child, which goes on to serve; this process becomes
 * PROG. If the pipes or the fork fail, PROG runs without a helper (minid starts its own).
 */
static void launch(char **argv) {
  int req[2], res[2];
  if (pipe2(req, O_CLOEXEC) == 0) {
    if (pipe2(res, O_CLOEXEC) == 0) {
      pid_t pid = fork();
      if (pid == 0) {
        /* The helper: requests on stdin, results on stdout; nothing else of the caller's
         * held open (its stdin, stdout, other fds: a reader waiting for minid's output to
         * end must not wait for the helper). stderr stays: the helper's own errors. */
        if (dup2(req[0], 0) < 0 || dup2(res[1], 1) < 0) _exit(1);
        close_range(3, ~0U, 0);
        return;
      }
      if (pid > 0) {
        char fds[32];
        snprintf(fds, sizeof fds, "%d,%d", req[1], res[0]);
        fcntl(req[1], F_SETFD, 0); /* these two cross the exec */
        fcntl(res[0], F_SETFD, 0);
        setenv("MINID_SPAWNER_FDS", fds, 1);
      }
      /* (the pipes' other ends close at the exec) */
    }
  }
  execvp(argv[0], argv);
  fprintf(stderr, "minid: cannot run %s: %s\n", argv[0], strerror(errno));
  exit(errno == ENOENT ? 127 : 126);
}

int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "--launch") == 0) launch(argv + 2);
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) { perror("minid-spawner: signalfd"); return 1; }
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);
  nonblock(0);

  struct buf req = {0};
  int requests_open = 1;
  for (;;) {
    size_t njobs = 0;
    for (struct job *j = jobs; j; j = j->next) njobs++;
    if (!requests_open && njobs == 0) return 0;
    struct pollfd *fds = calloc(2 + 3 * njobs, sizeof *fds);
    struct job **owner = calloc(2 + 3 * njobs, sizeof *owner);
    if (!fds || !owner) { perror("minid-spawner: calloc"); return 1; }
    nfds_t n = 0;
    fds[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    if (requests_open) fds[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
    for (struct job *j = jobs; j; j = j->next) {
      if (j->out >= 0) owner[n] = j, fds[n++] = (struct pollfd){.fd = j->out, .events = POLLIN};
      if (j->err >= 0) owner[n] = j, fds[n++] = (struct pollfd){.fd = j->err, .events = POLLIN};
      if (j->in >= 0) owner[n] = j, fds[n++] = (struct pollfd){.fd = j->in, .events = POLLOUT};
    }
    if (poll(fds, n, -1) < 0 && errno != EINTR) { perror("minid-spawner: poll"); return 1; }
    for (nfds_t i = 0; i < n; i++) {
      if (!fds[i].revents) continue;
      struct job *j = owner[i];
      if (fds[i].fd == sfd) {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {}
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
          int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          for (struct job *k = jobs; k; k = k->next)
            if (k->pid == pid) k->status = status, k->reaped = 1;
          for (struct started *p = started; p; p = p->next)
            if (p->pid == pid) {
              p->status = status, p->reaped = 1;
              settle(p);
              break;
            }
        }
      } else if (!j) {
        char chunk[65536];
        ssize_t r;
        while ((r = read(0, chunk, sizeof chunk)) > 0) add(&req, chunk, (size_t)r);
        if (r == 0) requests_open = 0;
        size_t used;
        while (req.len && (used = take(&req)) > 0) {
          memmove(req.p, req.p + used, req.len - used);
          req.len -= used;
        }
      } else if (fds[i].fd == j->out) drain(&j->out, &j->o);
      else if (fds[i].fd == j->err) drain(&j->err, &j->e);
      else if (fds[i].fd == j->in) feed(j);
    }
    free(fds);
    free(owner);
    /* A command is done when it has ended and both its outputs are closed. */
    for (struct job **pp = &jobs; *pp;) {
      struct job *j = *pp;
      if (j->reaped && j->out < 0 && j->err < 0) {
        if (j->in >= 0) close(j->in);
        reply(j->id, j->status, &j->o, &j->e);
        *pp = j->next;
        free(j->o.p);
        free(j->e.p);
        free(j->input);
        free(j);
      } else {
        pp = &j->next;
      }
    }
  }
}
