/* bench/tools/dnsq.c — a tiny DNS query loop for the dns section of the benchmarks.
 *
 *   dnsq SERVER NAME COUNT       COUNT A queries over UDP, one after the other; prints
 *                                "median_us p99_us answered" (round trip of each query)
 *   dnsq -u SERVER NAME MS       asks until an answer with an address comes (every 1 ms),
 *                                at most MS ms; prints the ms it took (exit 1: none came)
 *
 * A NAME starting with "*." gets a fresh label per query ("q17.fwd.test"), so a forwarded
 * name is never answered from the server's cache. Run it in a container's network namespace
 * (nsenter --net=...): it is one static binary with no other files.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* Build a query for name (type A) with id; returns its length. */
static int build(unsigned char *q, const char *name, unsigned short id) {
  int n = 0;
  q[n++] = id >> 8; q[n++] = id & 255;
  q[n++] = 1; q[n++] = 0; /* RD */
  q[n++] = 0; q[n++] = 1; /* one question */
  memset(q + n, 0, 6); n += 6;
  const char *p = name;
  while (*p) {
    const char *dot = strchr(p, '.');
    int len = dot ? (int)(dot - p) : (int)strlen(p);
    q[n++] = len;
    memcpy(q + n, p, len); n += len;
    p += len + (dot ? 1 : 0);
  }
  q[n++] = 0;
  q[n++] = 0; q[n++] = 1; q[n++] = 0; q[n++] = 1;
  return n;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int until = argc > 1 && strcmp(argv[1], "-u") == 0;
  if (argc != 4 + until) {
    fprintf(stderr, "usage: dnsq [-u] SERVER NAME COUNT|MS\n");
    return 2;
  }
  const char *server = argv[1 + until], *name = argv[2 + until];
  long count = atol(argv[3 + until]);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
  if (inet_pton(AF_INET, server, &a.sin_addr) != 1 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
    perror("dnsq: server");
    return 2;
  }
  struct timeval tv = {.tv_sec = until ? 0 : 1, .tv_usec = until ? 1000 : 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  unsigned char q[512], r[1500];
  char qname[300];
  double *rtt = calloc(count > 0 ? count : 1, sizeof *rtt);
  long answered = 0;
  double start = now_us();
  for (long i = 0; until || i < count; i++) {
    if (until && now_us() - start > count * 1000.0) return 1;
    if (strncmp(name, "*.", 2) == 0) snprintf(qname, sizeof qname, "q%ld.%s", i, name + 2);
    else snprintf(qname, sizeof qname, "%s", name);
    unsigned short id = (unsigned short)(i * 7919 + 1);
    int n = build(q, qname, id);
    double t0 = now_us();
    if (send(s, q, n, 0) < 0) continue;
    for (;;) {
      ssize_t got = recv(s, r, sizeof r, 0);
      if (got < 12) break; /* timeout (or an ICMP error) */
      if (((r[0] << 8) | r[1]) != id) continue; /* a late answer to an earlier query */
      int ancount = (r[6] << 8) | r[7], rcode = r[3] & 15;
      if (until) {
        if (rcode == 0 && ancount > 0) {
          printf("%.1f\n", (now_us() - start) / 1000.0);
          return 0;
        }
      } else if (rcode == 0 && ancount > 0) {
        rtt[answered++] = now_us() - t0;
      }
      break;
    }
  }
  if (!answered) {
    printf("0 0 0\n");
    return 1;
  }
  qsort(rtt, answered, sizeof *rtt, cmp);
  printf("%.1f %.1f %ld\n", rtt[answered / 2], rtt[(long)(answered * 0.99)], answered);
  return 0;
}
