/*
 * minid-loopback: minid's CNI plugin that brings "lo" up inside a container's network namespace.
 *
 * A CNI plugin is a program the runtime (minid, libcni, containerd's CRI) starts once per
 * operation. The operation comes in the environment, the network configuration as JSON on stdin:
 *
 *   CNI_COMMAND      ADD, DEL, CHECK, GC, STATUS or VERSION
 *   CNI_CONTAINERID  the container (ADD, DEL, CHECK)
 *   CNI_NETNS        the path of its network namespace, e.g. /run/netns/NAME (ADD, CHECK; DEL may
 *                    lack it: the namespace can be gone)
 *   CNI_IFNAME       the interface to set up ("lo" here; the spec requires it all the same)
 *   CNI_PATH         where to find plugins (this one delegates to none, but it is required)
 *
 * The plugin answers on stdout: ADD prints a result (interfaces, ips), VERSION the versions it
 * speaks, the others nothing; a failure prints an error result {cniVersion, code, msg, details}
 * and exits 1. ADD in a chain gets the previous plugin's result as "prevResult" in the config,
 * and must pass it on: loopback adds nothing to it, so it prints it unchanged.
 *
 * What it does: ADD sets lo up (a new network namespace has lo, down: 127.0.0.1 does not answer
 * until it is up), DEL sets it down (a namespace that is gone is fine: DEL must succeed when
 * there is nothing left to remove), CHECK tells whether lo is up. In the namespace, not by running
 * `ip`: setns(2) moves this process into it, and two ioctls on a socket made there read and
 * write lo's flags (SIOCGIFFLAGS, SIOCSIFFLAGS with IFF_UP), as `ip link set lo up` does.
 *
 * Why C: the plugin runs for every container, and the rest of minid's plugins are one Node
 * program (cni-plugins/main.ts) whose start costs tens of milliseconds. This one needs no more
 * than a JSON scanner, and a C program starts in about a millisecond.
 *
 * The behaviour is the skeleton's of minid's other plugins (cni-plugins/lib/skel.ts): the same
 * versions, environment checks, messages and error codes (src/cni/spec.ts ErrorCode).
 * cni-plugins/bin/minid-loopback (sh) runs this program, built as build/minid-loopback.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME "minid-loopback"

/* The error codes this plugin reports (src/cni/spec.ts ErrorCode: the spec's, libcni's, minid's). */
enum {
  INCOMPATIBLE_CNI_VERSION = 1,      /* the config's cniVersion, or a command it does not allow */
  UNKNOWN_CONTAINER = 3,             /* CHECK: no lo there (the namespace is gone) */
  INVALID_ENVIRONMENT_VARIABLES = 4, /* a CNI_ variable is missing or invalid */
  IO_FAILURE = 5,                    /* stdin could not be read */
  DECODING_FAILURE = 6,              /* the config (or its prevResult) is not the JSON it must be */
  INVALID_NETWORK_CONFIG = 7,        /* the config decodes but does not validate */
  INVALID_NETNS = 8,                 /* CNI_NETNS is this plugin's own namespace */
  INTERFACE_FAILURE = 100,           /* lo could not be set up */
  CHECK_MISMATCH = 105,              /* CHECK: lo is down */
};

/* The spec versions this plugin speaks; VERSION lists them, a config must use one. */
static const char *const VERSIONS[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
#define NVERSIONS (sizeof VERSIONS / sizeof VERSIONS[0])

/* The config is small (a loopback entry, maybe a prevResult): more than this is refused. */
#define MAX_STDIN (1 << 20)
/* Arrays and objects nested deeper than this are refused (the scanner recurses once per level). */
#define MAX_DEPTH 64

static const char *command = ""; /* CNI_COMMAND, for the log line of an error */
static const char *version = "1.1.0"; /* an error result's cniVersion: the config's once known */

/* ---------------------------------------------------------------------------------------------
 * Output: JSON strings, error results */

/* s as a JSON string (quotes, \" \\ and control characters escaped, as JSON.stringify does). */
static void put_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\b': fputs("\\b", f); break;
    case '\f': fputs("\\f", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    default:
      if (*p < 0x20) fprintf(f, "\\u%04x", *p);
      else fputc(*p, f);
    }
  }
  fputc('"', f);
}

/* The end of every failure: the error result on stdout, one line on stderr, exit status 1. */
static void fail(int code, const char *details, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("{\"cniVersion\":\"%s\",\"code\":%d,\"msg\":", version, code);
  put_json_string(stdout, msg);
  if (details && *details) {
    fputs(",\"details\":", stdout);
    put_json_string(stdout, details);
  }
  fputs("}\n", stdout);
  fprintf(stderr, "%s: %s failed: %s", NAME, command, msg);
  if (details && *details) fprintf(stderr, " (%s)", details);
  fputc('\n', stderr);
  exit(1);
}

/* MINID_DEBUG=1: a mark on stderr, as minid's runner writes one (src/sys/exec.ts debugMark). */
static struct timespec started;
static void debug_mark(const char *what) {
  if (!getenv("MINID_DEBUG") || !*getenv("MINID_DEBUG")) return;
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  double ms = (t.tv_sec - started.tv_sec) * 1e3 + (t.tv_nsec - started.tv_nsec) / 1e6;
  fprintf(stderr, "[minid %7.1f] -- %s %s%s\n", ms, NAME, command, what);
}

/* ---------------------------------------------------------------------------------------------
 * A JSON scanner. It checks the whole input is one valid JSON text (RFC 8259, as strictly as
 * JavaScript's JSON.parse: no comments, no trailing commas, no leading zeros) and finds members
 * of objects; values stay where they are in the input, as spans. Every read is bounded by the
 * span's end; nesting is bounded by MAX_DEPTH. */

struct span { const char *p, *end; }; /* the text of one JSON value, [p, end) */

static const char *ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* A string starting at p (its opening quote): the position after its closing quote, or NULL. */
static const char *scan_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"') return p + 1;
    if (c < 0x20) return NULL; /* control characters must be escaped */
    if (c != '\\') continue;
    if (++p >= end) return NULL;
    if (*p == 'u') {
      for (int i = 0; i < 4; i++)
        if (++p >= end || hexval(*p) < 0) return NULL;
    } else if (!strchr("\"\\/bfnrt", *p) || !*p) {
      return NULL;
    }
  }
  return NULL; /* no closing quote */
}

/* A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static const char *scan_number(const char *p, const char *end) {
#define DIGITS(p) ((p) < end && *(p) >= '0' && *(p) <= '9')
  if (p < end && *p == '-') p++;
  if (!DIGITS(p)) return NULL;
  if (*p == '0') p++;
  else while (DIGITS(p)) p++;
  if (p < end && *p == '.') {
    p++;
    if (!DIGITS(p)) return NULL;
    while (DIGITS(p)) p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (!DIGITS(p)) return NULL;
    while (DIGITS(p)) p++;
  }
  return p;
#undef DIGITS
}

static const char *scan_literal(const char *p, const char *end, const char *word) {
  size_t n = strlen(word);
  return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* One value starting at p (no leading whitespace): the position after it, or NULL. */
static const char *scan_value(const char *p, const char *end, int depth) {
  if (p >= end) return NULL;
  switch (*p) {
  case '"': return scan_string(p, end);
  case 't': return scan_literal(p, end, "true");
  case 'f': return scan_literal(p, end, "false");
  case 'n': return scan_literal(p, end, "null");
  case '{':
  case '[': {
    if (depth >= MAX_DEPTH) return NULL;
    char close = *p == '{' ? '}' : ']';
    p = ws(p + 1, end);
    if (p < end && *p == close) return p + 1; /* {} or [] */
    for (;;) {
      if (close == '}') { /* "key": */
        if (p >= end || *p != '"' || !(p = scan_string(p, end))) return NULL;
        p = ws(p, end);
        if (p >= end || *p != ':') return NULL;
        p = ws(p + 1, end);
      }
      if (!(p = scan_value(p, end, depth + 1))) return NULL;
      p = ws(p, end);
      if (p < end && *p == close) return p + 1;
      if (p >= end || *p != ',') return NULL;
      p = ws(p + 1, end);
    }
  }
  default: return scan_number(p, end);
  }
}

/* Is the whole input one JSON value (with whitespace around)? Its span in *v. */
static int parse_document(const char *buf, size_t n, struct span *v) {
  const char *end = buf + n, *p = ws(buf, end);
  v->p = p;
  if (!(v->end = scan_value(p, end, 0))) return 0;
  return ws(v->end, end) == end;
}

/* A JSON string's contents (span with its quotes), unescaped into out (at most cap-1 bytes, NUL
 * added). \uXXXX becomes UTF-8 (a surrogate pair as one character); bytes that were not escaped
 * are copied as they are. 0 if it does not fit or holds a NUL. The span has been checked by
 * scan_string, so every escape is complete. */
static int unescape(struct span s, char *out, size_t cap) {
  size_t n = 0;
  for (const char *p = s.p + 1; p < s.end - 1; p++) {
    unsigned char u[4];
    int k = 0;
    unsigned long c = (unsigned char)*p;
    if (c != '\\') {
      u[k++] = (unsigned char)c;
    } else if (*++p != 'u') {
      const char *from = "bfnrt", *to = "\b\f\n\r\t", *at = strchr(from, *p);
      u[k++] = at ? to[at - from] : *p; /* \" \\ \/ stand for themselves */
    } else {
      c = 0;
      for (int i = 0; i < 4; i++) c = c << 4 | (unsigned)hexval(*++p);
      if (c >= 0xd800 && c < 0xdc00 && s.end - 1 - p > 6 && p[1] == '\\' && p[2] == 'u') {
        unsigned long lo = 0; /* a high surrogate followed by a low one: one character */
        for (int i = 3; i < 7; i++) lo = lo << 4 | (unsigned)(hexval(p[i]) < 0 ? 0 : hexval(p[i]));
        if (lo >= 0xdc00 && lo < 0xe000) c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00), p += 6;
      }
      if (c < 0x80) u[k++] = (unsigned char)c;
      else if (c < 0x800) u[k++] = 0xc0 | c >> 6, u[k++] = 0x80 | (c & 0x3f);
      else if (c < 0x10000) u[k++] = 0xe0 | c >> 12, u[k++] = 0x80 | (c >> 6 & 0x3f), u[k++] = 0x80 | (c & 0x3f);
      else u[k++] = 0xf0 | c >> 18, u[k++] = 0x80 | (c >> 12 & 0x3f), u[k++] = 0x80 | (c >> 6 & 0x3f), u[k++] = 0x80 | (c & 0x3f);
    }
    if (u[0] == 0 || n + k >= cap) return 0;
    memcpy(out + n, u, k);
    n += k;
  }
  out[n] = 0;
  return 1;
}

/* The value of member `key` of the object obj (checked by scan_value), in *v. With a key given
 * more than once the last counts, as in JSON.parse. 0 when there is none. */
static int member(struct span obj, const char *key, struct span *v) {
  int found = 0;
  const char *p = ws(obj.p + 1, obj.end);
  while (p < obj.end && *p == '"') {
    struct span k = {p, scan_string(p, obj.end)};
    p = ws(ws(k.end, obj.end) + 1, obj.end); /* past the colon */
    struct span val = {p, scan_value(p, obj.end, 0)};
    char name[64];
    if (unescape(k, name, sizeof name) && strcmp(name, key) == 0) *v = val, found = 1;
    p = ws(val.end, obj.end);
    if (*p == ',') p = ws(p + 1, obj.end);
  }
  return found;
}

/* The value compactly, whitespace outside strings dropped (JSON.stringify's form), into out
 * (room for the span's length): its length. */
static size_t compact(struct span v, char *out) {
  size_t n = 0;
  int in_string = 0;
  for (const char *p = v.p; p < v.end; p++) {
    if (in_string) {
      out[n++] = *p;
      if (*p == '\\') out[n++] = *++p;
      else if (*p == '"') in_string = 0;
    } else if (*p == '"') {
      out[n++] = '"', in_string = 1;
    } else if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
      out[n++] = *p;
    }
  }
  return n;
}

/* A buffer of the span's length (and a NUL): what compact and unescape write. */
static char *buffer_for(struct span v) {
  char *out = malloc((size_t)(v.end - v.p) + 1);
  if (!out) fail(IO_FAILURE, NULL, "out of memory");
  return out;
}

/* The value as text, in a buffer of its own: a string unescaped, anything else (or a string
 * holding a NUL) compact. Neither is longer than the value's JSON. */
static char *value_text(struct span v, int as_json) {
  char *out = buffer_for(v);
  if (!as_json && *v.p == '"' && unescape(v, out, (size_t)(v.end - v.p) + 1)) return out;
  out[compact(v, out)] = 0;
  return out;
}

/* Is this number token zero (0, -0, 0.0, 0e5)? Zero when every digit before the exponent is. */
static int is_zero(struct span v) {
  for (const char *p = v.p; p < v.end && *p != 'e' && *p != 'E'; p++)
    if (*p >= '1' && *p <= '9') return 0;
  return 1;
}

static int is_null(struct span v) { return v.end - v.p == 4 && memcmp(v.p, "null", 4) == 0; }

/* ---------------------------------------------------------------------------------------------
 * The skeleton: environment, config, version (cni-plugins/lib/skel.ts) */

/* Container IDs and network names: [a-zA-Z0-9][a-zA-Z0-9_.-]* (the spec's rule). */
static int valid_name(const char *s) {
  if (!*s) return 0;
  for (const char *p = s; *p; p++) {
    int alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
    if (!alnum && (p == s || !strchr("_.-", *p))) return 0;
  }
  return 1;
}

/* An interface name the kernel takes: 1-15 bytes, not . or .., no / : or whitespace. */
static void check_ifname(const char *s) {
  if (strlen(s) > 15) fail(INVALID_ENVIRONMENT_VARIABLES, "CNI_IFNAME", "interface name \"%s\" is too long (at most 15 characters)", s);
  if (!strcmp(s, ".") || !strcmp(s, "..")) fail(INVALID_ENVIRONMENT_VARIABLES, "CNI_IFNAME", "interface name is . or ..");
  if (strpbrk(s, "/: \t\n\v\f\r")) fail(INVALID_ENVIRONMENT_VARIABLES, "CNI_IFNAME", "interface name \"%s\" contains / or : or whitespace", s);
}

/* Which CNI_ variables each command needs (an empty one counts as missing). */
static void check_environment(void) {
  static const char *const all[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"};
  int need[5] = {1, 0, 0, 0, 0}; /* VERSION: CNI_COMMAND only */
  if (!strcmp(command, "ADD") || !strcmp(command, "CHECK")) need[1] = need[2] = need[3] = need[4] = 1;
  else if (!strcmp(command, "DEL")) need[1] = need[3] = need[4] = 1; /* the netns may be gone */
  else if (!strcmp(command, "GC") || !strcmp(command, "STATUS")) need[4] = 1;
  else if (strcmp(command, "VERSION")) fail(INVALID_ENVIRONMENT_VARIABLES, NULL, "unknown CNI_COMMAND: %s", command);
  char missing[128] = "";
  for (int i = 0; i < 5; i++) {
    const char *v = getenv(all[i]);
    if (need[i] && (!v || !*v)) snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", *missing ? "," : "", all[i]);
  }
  if (*missing) fail(INVALID_ENVIRONMENT_VARIABLES, NULL, "required env variables [%s] missing", missing);
}

/* The config, read from stdin into a buffer of its own (NUL-terminated): its length. */
static size_t read_stdin(char **out) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (!buf) fail(IO_FAILURE, NULL, "error reading from stdin: out of memory");
    if (n == cap) {
      if (cap >= MAX_STDIN) fail(IO_FAILURE, NULL, "error reading from stdin: the config is larger than %d bytes", MAX_STDIN);
      cap *= 2;
      buf = realloc(buf, cap + 1);
      continue;
    }
    ssize_t r = read(0, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(IO_FAILURE, NULL, "error reading from stdin: %s", strerror(errno));
    if (r == 0) break;
    n += (size_t)r;
  }
  buf[n] = 0;
  *out = buf;
  return n;
}

/* "1.0.0" or "0.4" (what the spec's versions look like, surrounding blanks allowed): 1 if so. */
static int version_shape(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  int parts = 0, digits = 0;
  for (; *s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r'; s++) {
    if (*s >= '0' && *s <= '9') digits++;
    else if (*s == '.' && digits && parts < 2) parts++, digits = 0;
    else return 0;
  }
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  return !*s && digits && parts >= 1;
}

/* major.minor.patch (one of VERSIONS) as one comparable number: 1.0.0 is 1000000. */
static long version_number(const char *s) {
  long n = 0, part = 0;
  for (; *s; s++) {
    if (*s == '.') n = (n + part) * 1000, part = 0;
    else part = part * 10 + (*s - '0');
  }
  return n + part;
}

/* The config's cniVersion, checked: one of VERSIONS. */
static const char *config_version(struct span conf) {
  static char v[128];
  struct span s;
  if (!member(conf, "cniVersion", &s) || (s.end - s.p == 2 && *s.p == '"')) strcpy(v, "0.1.0"); /* absent or "": the first */
  else if (*s.p != '"' || !unescape(s, v, sizeof v) || !version_shape(v))
    fail(DECODING_FAILURE, NULL, "invalid cniVersion %s", value_text(s, 1)); /* as JSON: "x", 1, null */
  for (size_t i = 0; i < NVERSIONS; i++)
    if (!strcmp(v, VERSIONS[i])) return v;
  char details[160];
  int k = snprintf(details, sizeof details, "config is \"%s\", plugin supports [", v);
  for (size_t i = 0; i < NVERSIONS; i++) k += snprintf(details + k, sizeof details - k, "%s\"%s\"", i ? " " : "", VERSIONS[i]);
  snprintf(details + k, sizeof details - k, "]");
  fail(INCOMPATIBLE_CNI_VERSION, details, "incompatible CNI versions");
  return NULL;
}

/* The config's "name": present (not false, null, 0 or "") and a valid network name. */
static void check_network_name(struct span conf) {
  struct span s;
  if (!member(conf, "name", &s) || is_null(s) || (s.end - s.p == 2 && *s.p == '"') || scan_literal(s.p, s.end, "false") ||
      (*s.p != '"' && *s.p != '[' && *s.p != '{' && *s.p != 't' && is_zero(s)))
    fail(INVALID_NETWORK_CONFIG, NULL, "missing network name");
  /* A name that is not a string is taken as text, as String() would: 12 is "12". */
  const char *name = *s.p == '{' ? "[object Object]" : value_text(s, 0);
  if (!valid_name(name)) fail(INVALID_NETWORK_CONFIG, NULL, "invalid characters in network name \"%s\"", name);
}

/* A command that needs at least cniVersion min. */
static void needs(const char *min) {
  char details[128];
  snprintf(details, sizeof details, "%s needs cniVersion %s or later, the config is %s", command, min, version);
  if (version_number(version) < version_number(min)) fail(INCOMPATIBLE_CNI_VERSION, details, "config version does not allow %s", command);
}

/* Is path the network namespace this process runs in? (ADD into our own is refused.) */
static int is_own_netns(const char *path) {
  struct stat a, b;
  return stat(path, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* ---------------------------------------------------------------------------------------------
 * The work: lo's flags inside the namespace */

/* Enter the network namespace at path; on failure errno is set and what names the call. */
static int enter_netns(const char *path, const char **what) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return *what = "open", -1;
  int r = setns(fd, CLONE_NEWNET);
  int e = errno;
  close(fd);
  errno = e;
  return r < 0 ? (*what = "setns", -1) : 0;
}

/* lo's flags (IFF_UP...) in this process's namespace: a socket made here, SIOCGIFFLAGS. With
 * up >= 0, IFF_UP set (1) or cleared (0) first. -1 with errno and what on failure. */
static int lo_flags(int up, const char **what) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return *what = "socket", -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int r = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (r < 0) *what = "SIOCGIFFLAGS";
  if (r == 0 && up >= 0 && !!(ifr.ifr_flags & IFF_UP) != up) {
    ifr.ifr_flags = up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP;
    if ((r = ioctl(s, SIOCSIFFLAGS, &ifr)) < 0) *what = "SIOCSIFFLAGS";
  }
  int e = errno;
  close(s);
  errno = e;
  return r < 0 ? -1 : (unsigned short)ifr.ifr_flags; /* a short: IFF_DYNAMIC (0x8000) is its sign bit */
}

/* ADD: lo up; the result is prevResult (unchanged but for its cniVersion, the config's) when
 * chained after another plugin, else lo with its addresses. */
static void cmd_add(struct span conf, const char *netns) {
  struct span prev;
  int chained = member(conf, "prevResult", &prev) && !is_null(prev);
  if (chained && *prev.p != '{') fail(DECODING_FAILURE, NULL, "could not parse prevResult: result is not a JSON object");
  int ipv6 = access("/proc/net/if_inet6", F_OK) == 0; /* the host's: IPv6 is there */
  const char *what;
  if (enter_netns(netns, &what) < 0 || lo_flags(1, &what) < 0)
    fail(INTERFACE_FAILURE, NULL, "failed to set lo up in %s: %s: %s", netns, what, strerror(errno));
  printf("{\"cniVersion\":\"%s\"", version);
  if (chained) { /* every member of prevResult but its cniVersion */
    char *text = buffer_for(prev);
    const char *p = ws(prev.p + 1, prev.end);
    while (p < prev.end && *p == '"') {
      struct span k = {p, scan_string(p, prev.end)};
      const char *colon = ws(k.end, prev.end);
      struct span v = {ws(colon + 1, prev.end), NULL};
      v.end = scan_value(v.p, prev.end, 0);
      char key[16];
      if (!unescape(k, key, sizeof key) || strcmp(key, "cniVersion")) {
        fputc(',', stdout), fwrite(text, 1, compact(k, text), stdout);
        fputc(':', stdout), fwrite(text, 1, compact(v, text), stdout);
      }
      p = ws(v.end, prev.end);
      if (*p == ',') p = ws(p + 1, prev.end);
    }
    fputs("}\n", stdout);
    return;
  }
  /* 0.3.x and 0.4.0 results give each address its IP version; 1.x results do not. */
  const char *v4 = version_number(version) < 1000000 ? "\"version\":\"4\"," : "";
  const char *v6 = *v4 ? "\"version\":\"6\"," : "";
  fputs(",\"interfaces\":[{\"name\":\"lo\",\"mac\":\"00:00:00:00:00:00\",\"sandbox\":", stdout);
  put_json_string(stdout, netns);
  printf("}],\"ips\":[{%s\"address\":\"127.0.0.1/8\",\"interface\":0}", v4);
  if (ipv6) printf(",{%s\"address\":\"::1/128\",\"interface\":0}", v6);
  fputs("]}\n", stdout);
}

/* DEL: lo down, if the namespace is still there; a failure changes nothing for the runtime (the
 * namespace is about to go). */
static void cmd_del(const char *netns) {
  const char *what;
  if (!*netns || access(netns, F_OK) != 0) return;
  if (enter_netns(netns, &what) == 0) lo_flags(0, &what);
}

/* CHECK: lo is there and up. */
static void cmd_check(const char *netns) {
  const char *what;
  int flags = enter_netns(netns, &what) < 0 ? -1 : lo_flags(-1, &what);
  if (flags < 0) fail(UNKNOWN_CONTAINER, NULL, "no lo in %s", netns);
  if (!(flags & IFF_UP)) fail(CHECK_MISMATCH, NULL, "lo is down in %s", netns);
}

int main(void) {
  clock_gettime(CLOCK_MONOTONIC, &started);
  command = getenv("CNI_COMMAND") ? getenv("CNI_COMMAND") : "";
  if (!*command) { /* run by hand: say what this is */
    fprintf(stderr, "%s: bring up lo (minid, CNI)\nCNI protocol versions supported: ", NAME);
    for (size_t i = 0; i < NVERSIONS; i++) fprintf(stderr, "%s%s", i ? ", " : "", VERSIONS[i]);
    fputc('\n', stderr);
    return 0;
  }
  debug_mark("");
  check_environment();
  if (!strcmp(command, "VERSION")) {
    printf("{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[");
    for (size_t i = 0; i < NVERSIONS; i++) printf("%s\"%s\"", i ? "," : "", VERSIONS[i]);
    printf("]}\n");
    return 0;
  }
  const char *id = getenv("CNI_CONTAINERID"), *ifname = getenv("CNI_IFNAME");
  const char *netns = getenv("CNI_NETNS") ? getenv("CNI_NETNS") : "";
  int per_container = !strcmp(command, "ADD") || !strcmp(command, "CHECK") || !strcmp(command, "DEL");
  if (per_container) {
    if (!valid_name(id)) fail(INVALID_ENVIRONMENT_VARIABLES, "CNI_CONTAINERID", "invalid characters in container ID \"%s\"", id);
    check_ifname(ifname);
  }

  char *buf;
  size_t n = read_stdin(&buf);
  struct span conf;
  if (!parse_document(buf, n, &conf)) fail(DECODING_FAILURE, NULL, "error decoding network config: not valid JSON");
  if (*conf.p != '{') fail(DECODING_FAILURE, NULL, "error decoding network config: not a JSON object");
  check_network_name(conf);
  version = config_version(conf);

  if ((!strcmp(command, "ADD") || !strcmp(command, "CHECK")) && is_own_netns(netns))
    fail(INVALID_NETNS, NULL, "plugin's netns and netns from CNI_NETNS should not be the same");
  if (!strcmp(command, "ADD")) cmd_add(conf, netns);
  else if (!strcmp(command, "DEL")) cmd_del(netns);
  else if (!strcmp(command, "CHECK")) needs("0.4.0"), cmd_check(netns);
  else needs("1.1.0"); /* GC and STATUS: nothing of this plugin's to collect or to report */
  debug_mark(": done");
  return 0;
}
