/*
 * minid-devices: a container's device policy on cgroup v2.
 *
 *   minid-devices CGROUP_DIR RULE...      e.g.  minid-devices /sys/fs/cgroup/minid/ID 'c 1:3 rwm' 'c *:* m'
 *
 * cgroup v1 has a devices controller: `echo a > devices.deny`, then `echo 'c 1:3 rwm' >
 * devices.allow` for each device the container may use. cgroup v2 has no such files: the
 * kernel asks an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE, attached to the cgroup,
 * each time a process in it opens or makes a device node. This tool writes that program from
 * the same rules (the devices.allow syntax: TYPE MAJOR:MINOR ACCESS, with * for any), loads it
 * and attaches it to CGROUP_DIR; what no rule allows is refused (EPERM). The program stays
 * attached when this tool exits, and goes with the cgroup when it is removed.
 *
 * The program, for a request (type, access, major, minor) in its context (struct
 * bpf_cgroup_dev_ctx: access_type = access << 16 | type, major, minor):
 *
 *     r2 = access_type; r3 = r2 & 0xffff (type); r2 >>= 16 (access); r4 = major; r5 = minor
 *     for each rule:   if r3 != TYPE goto next;  if r2 & ~ACCESS goto next;
 *                      if r4 != MAJOR goto next; if r5 != MINOR goto next;  return 1
 *                      (a * leaves its test out)
 *     return 0
 *
 * Attached with BPF_F_ALLOW_MULTI: a program of a parent cgroup (systemd has some) still runs,
 * and a device must pass both. Exit codes: 0 done, 125 bad rule or the kernel refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_RULES 64
#define ANY -1L

struct rule { int type; unsigned access; long major, minor; };

static struct bpf_insn prog[8 + MAX_RULES * 8];
static int len;

static void emit(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm) {
  prog[len++] = (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

static void fail(const char *what, const char *arg) {
  fprintf(stderr, "minid-devices: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
  exit(125);
}

/* "c 1:3 rwm", "b *:* m", "c 136:* rwm" (devices.allow syntax). */
static struct rule parse_rule(const char *s) {
  struct rule r = {0};
  char type, maj[16], min[16], acc[8];
  if (sscanf(s, "%c %15[0-9*]:%15[0-9*] %7s", &type, maj, min, acc) != 4) fail("invalid rule (use TYPE MAJOR:MINOR ACCESS, e.g. 'c 1:3 rwm')", s);
  if (type == 'c') r.type = BPF_DEVCG_DEV_CHAR;
  else if (type == 'b') r.type = BPF_DEVCG_DEV_BLOCK;
  else if (type == 'a') r.type = 0; /* any type */
  else fail("invalid device type (use c, b or a)", s);
  r.major = strcmp(maj, "*") == 0 ? ANY : strtol(maj, NULL, 10);
  r.minor = strcmp(min, "*") == 0 ? ANY : strtol(min, NULL, 10);
  for (const char *a = acc; *a; a++) {
    if (*a == 'r') r.access |= BPF_DEVCG_ACC_READ;
    else if (*a == 'w') r.access |= BPF_DEVCG_ACC_WRITE;
    else if (*a == 'm') r.access |= BPF_DEVCG_ACC_MKNOD;
    else fail("invalid access (use any of r, w, m)", s);
  }
  return r;
}

static void emit_rule(struct rule r) {
  const unsigned all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  int jumps[4], n = 0; /* each test jumps to the next rule: patched once its place is known */
  if (r.type != 0) jumps[n++] = len, emit(BPF_JMP | BPF_JNE | BPF_K, 3, 0, 0, r.type);
  if (r.access != all) {
    emit(BPF_ALU64 | BPF_MOV | BPF_X, 6, 2, 0, 0); /* r6 = access & ~ACCESS */
    emit(BPF_ALU64 | BPF_AND | BPF_K, 6, 0, 0, (__s32)(~r.access & all));
    jumps[n++] = len, emit(BPF_JMP | BPF_JNE | BPF_K, 6, 0, 0, 0);
  }
  if (r.major != ANY) jumps[n++] = len, emit(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, (__s32)r.major);
  if (r.minor != ANY) jumps[n++] = len, emit(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, (__s32)r.minor);
  emit(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1); /* allowed */
  emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  for (int i = 0; i < n; i++) prog[jumps[i]].off = (__s16)(len - jumps[i] - 1);
}

int main(int argc, char **argv) {
  if (argc < 2) fail("usage: minid-devices CGROUP_DIR RULE...", NULL);
  if (argc - 2 > MAX_RULES) fail("too many rules", NULL);
  emit(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0); /* r2 = ctx->access_type */
  emit(BPF_ALU64 | BPF_MOV | BPF_X, 3, 2, 0, 0);
  emit(BPF_ALU64 | BPF_AND | BPF_K, 3, 0, 0, 0xffff); /* r3 = type */
  emit(BPF_ALU64 | BPF_RSH | BPF_K, 2, 0, 0, 16);     /* r2 = access */
  emit(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0);        /* r4 = ctx->major */
  emit(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0);        /* r5 = ctx->minor */
  for (int i = 2; i < argc; i++) emit_rule(parse_rule(argv[i]));
  emit(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0); /* no rule allowed it */
  emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

  static char log[8192];
  union bpf_attr load = {0};
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (__u64)(unsigned long)prog;
  load.insn_cnt = (__u32)len;
  load.license = (__u64)(unsigned long)"MIT";
  load.log_buf = (__u64)(unsigned long)log;
  load.log_size = sizeof log;
  load.log_level = 1;
  int pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
  if (pfd < 0) {
    fprintf(stderr, "%s", log);
    fail("the kernel refused the device program (bpf BPF_PROG_LOAD)", strerror(errno));
  }
  int cg = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) fail("cannot open the cgroup", argv[1]);
  union bpf_attr attach = {0};
  attach.target_fd = (__u32)cg;
  attach.attach_bpf_fd = (__u32)pfd;
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach) < 0)
    fail("the kernel refused to attach the device program (bpf BPF_PROG_ATTACH)", strerror(errno));
  return 0;
}
