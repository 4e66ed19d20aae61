/*
 * minid-logger: writes a container's output to its log file, one record per line, with the
 * stream it came on and when it came (docker's json-file idea, in the CRI text form that
 * containerd and the kubelet use):
 *
 *   2026-12-06T03:52:27.123456789Z stdout F hello
 *   2026-12-06T03:52:27.123501234Z stderr F oops
 *   2026-12-06T03:52:27.124000000Z stdout P 16 KiB of a line that has no end yet...
 *
 * F: the line ended here (a newline follows the text). P: a partial line, no newline: a line
 * longer than 16 KiB is split into several records (as docker's 16K partial messages), and a
 * stream that ends without a newline ends with a P record. The text is written byte for byte,
 * unescaped (a record ends at its newline), so `cat` shows it as it was and `logs` gives back
 * exactly what the container wrote.
 *
 *   minid-logger [--max-size BYTES] [--max-file N] LOGFILE
 *
 * Reads the container's stdout on fd 0 and its stderr on fd 3 (pipes, read with poll()), and
 * exits when both have ended. With --max-size, a record that would take the file over BYTES
 * first rotates it: LOGFILE.1 becomes LOGFILE.2 and so on, LOGFILE becomes LOGFILE.1, and the
 * oldest beyond --max-file files in all is removed (docker's max-size/max-file).
 *
 * It runs on the host, never in the container: the container's PID 1 holds only the pipes, so
 * it cannot truncate or rewrite its log through /proc/1/fd/1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 16384 /* a longer line is split into P records (docker's 16K) */

struct stream {
  int fd;
  const char *name;
  char line[LINE_MAX_BYTES];
  size_t len;
};

static const char *logfile;
static long long max_size; /* 0: no cap */
static int max_file = 1;
static int out = -1;
static long long size;
static char stamp[64];

static void open_log(void) {
  if (out >= 0) close(out);
  out = open(logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  struct stat st;
  size = (out >= 0 && fstat(out, &st) == 0) ? st.st_size : 0;
}

/* LOGFILE.(N-1) is removed, LOGFILE.i becomes LOGFILE.(i+1), LOGFILE becomes LOGFILE.1. */
static void rotate(void) {
  char from[PATH_MAX], to[PATH_MAX];
  if (max_file <= 1) {
    unlink(logfile); /* one file only: start it again */
  } else {
    snprintf(to, sizeof to, "%s.%d", logfile, max_file - 1);
    unlink(to);
    for (int i = max_file - 2; i >= 1; i--) {
      snprintf(from, sizeof from, "%s.%d", logfile, i);
      snprintf(to, sizeof to, "%s.%d", logfile, i + 1);
      rename(from, to);
    }
    snprintf(to, sizeof to, "%s.1", logfile);
    rename(logfile, to);
  }
  open_log();
}

/* The time a chunk was read, as RFC 3339 with nanoseconds, UTC (docker's `logs -t` form). */
static void take_stamp(void) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(stamp + n, sizeof stamp - n, ".%09ldZ", ts.tv_nsec);
}

/*
 * Records are gathered in `pending` and written together once per chunk read (or when it is
 * full): one write(2) for many short lines. Only whole records are written.
 */
static char pending[4 * LINE_MAX_BYTES];
static size_t npending;

/* Write what is pending; a full disk loses it, never blocks the container. */
static void flush(void) {
  const char *p = pending;
  size_t n = npending;
  npending = 0;
  if (out < 0) open_log();
  while (out >= 0 && n > 0) {
    ssize_t w = write(out, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

static void record(struct stream *s, char tag) {
  char head[128];
  int h = snprintf(head, sizeof head, "%s %s %c ", stamp, s->name, tag);
  size_t n = (size_t)h + s->len + 1;
  if (max_size > 0 && size > 0 && size + (long long)n > max_size) {
    flush();
    rotate();
  }
  if (npending + n > sizeof pending) flush();
  memcpy(pending + npending, head, (size_t)h);
  memcpy(pending + npending + h, s->line, s->len);
  pending[npending + n - 1] = '\n';
  npending += n;
  size += (long long)n;
  s->len = 0;
}

/* A chunk of a stream: each newline ends a record; a line reaching 16 KiB is flushed as a P record. */
static void take(struct stream *s, const char *p, size_t n) {
  while (n > 0) {
    size_t room = LINE_MAX_BYTES - s->len;
    const char *nl = memchr(p, '\n', n < room ? n : room);
    size_t k = nl ? (size_t)(nl - p) : (n < room ? n : room);
    memcpy(s->line + s->len, p, k);
    s->len += k;
    p += k;
    n -= k;
    if (nl) {
      record(s, 'F');
      p++;
      n--;
    } else if (s->len == LINE_MAX_BYTES) {
      record(s, 'P');
    }
  }
}

static long long parse_size(const char *v) {
  char *end;
  long long n = strtoll(v, &end, 10);
  if (end == v || *end || n < 0) {
    fprintf(stderr, "minid-logger: bad --max-size %s\n", v);
    exit(2);
  }
  return n;
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (strcmp(argv[i], "--max-size") == 0) max_size = parse_size(argv[i + 1]);
    else if (strcmp(argv[i], "--max-file") == 0) max_file = atoi(argv[i + 1]) > 0 ? atoi(argv[i + 1]) : 1;
    else break;
  }
  if (i + 1 != argc) {
    fprintf(stderr, "usage: minid-logger [--max-size BYTES] [--max-file N] LOGFILE  (stdout on fd 0, stderr on fd 3)\n");
    return 2;
  }
  logfile = argv[i];
  /* Nothing else its starter had open (the supervisor's pipes to minid, its own log file). */
  for (int fd = 4; fd < 1024; fd++) close(fd);
  open_log();

  static struct stream streams[2] = {{.fd = 0, .name = "stdout"}, {.fd = 3, .name = "stderr"}};
  struct pollfd pfd[2] = {{.fd = 0, .events = POLLIN}, {.fd = 3, .events = POLLIN}};
  static char chunk[65536];
  int open_streams = 2;
  while (open_streams > 0) {
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (int k = 0; k < 2; k++) {
      if (pfd[k].fd < 0 || !(pfd[k].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) continue;
      ssize_t n = read(pfd[k].fd, chunk, sizeof chunk);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      take_stamp();
      if (n > 0) {
        take(&streams[k], chunk, (size_t)n);
        flush();
        continue;
      }
      /* end of this stream: what is left of its last line is a partial record */
      if (streams[k].len) record(&streams[k], 'P');
      flush();
      if (pfd[k].fd >= 0) close(pfd[k].fd);
      pfd[k].fd = -1; /* poll ignores it from now on */
      open_streams--;
    }
  }
  return 0;
}
