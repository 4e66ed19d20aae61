// minid-devices: docker's device allow-list as a cgroup v2 device program (eBPF), checked for
// real: a process in the cgroup opens what the rules allow and nothing else. This machine is a
// v1 hybrid; its cgroup2 hierarchy (/sys/fs/cgroup/unified) runs device programs all the same.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, loadImages, makeStore, minid, repo, requireRoot, type Store } from '../../helpers/minid.js';

const tool = path.join(repo, 'build', 'minid-devices');
// docker's default list (what minid gives a container).
const DOCKER_DEFAULT = ['c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 136:* rwm'];

/** Where cgroup2 is mounted (the hybrid's /sys/fs/cgroup/unified, or /sys/fs/cgroup). */
function cgroup2Root(): string {
  const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => / - cgroup2 /.test(l));
  if (!line) throw new Error('no cgroup2 hierarchy is mounted: minid-devices needs one');
  return line.split(' ')[4];
}

let dir: string;
let cg: string;
beforeAll(() => {
  requireRoot();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-test-devices-'));
  cg = path.join(cgroup2Root(), `minid-test-devices-${process.pid}`);
  fs.mkdirSync(cg);
});
afterAll(() => {
  // The processes the tests put in it have exited: the cgroup (and its program) can go.
  if (cg && fs.existsSync(cg)) fs.rmdirSync(cg);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A shell that joins the cgroup first, then runs SCRIPT: its output, one line per check. */
async function inCgroup(script: string): Promise<string> {
  const r = await execa('sh', ['-c', `echo $$ > ${cg}/cgroup.procs && ${script}`], { reject: false, all: true });
  return String(r.all);
}

describe('minid-devices (cgroup v2 device program)', () => {
  it("with docker's default list: null, zero, full, urandom open; a host disk and loop-control do not", async () => {
    const r = await execa(tool, [cg, ...DOCKER_DEFAULT], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const check = (what: string, cmd: string) => `if ${cmd} 2>/dev/null; then echo "${what} ok"; else echo "${what} refused"; fi`;
    const out = await inCgroup(
      [
        check('null', 'echo x > /dev/null'),
        check('zero', 'head -c 1 /dev/zero >/dev/null'),
        check('full', 'head -c 1 /dev/full >/dev/null'),
        check('urandom', 'head -c 1 /dev/urandom >/dev/null'),
        check('loop-control', 'cat /dev/loop-control'),
        // mknod is allowed (m), opening the node is not: a block device of the host's disk.
        check('mknod', `mknod ${dir}/sda b 8 0`),
        check('disk', `head -c 1 ${dir}/sda >/dev/null`),
        check('kmsg', 'head -c 1 /dev/kmsg >/dev/null'),
      ].join('; '),
    );
    expect(out.split('\n')).toEqual(['null ok', 'zero ok', 'full ok', 'urandom ok', 'loop-control refused', 'mknod ok', 'disk refused', 'kmsg refused']);
  });

  it('a bad rule is one line and exit 125, and nothing is attached', async () => {
    const r = await execa(tool, [cg, 'c 1:3 rwx'], { reject: false });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toBe("minid-devices: invalid access (use any of r, w, m): c 1:3 rwx");
  });
});

// The v2 code path of the runtime, for real, on this hybrid host: MINID_CGROUPS=v2 makes minid
// use the cgroup2 hierarchy. It has no controllers here (so no limits: they are discarded with
// docker's warning), but the rest runs as on a pure v2 host: one directory per container, the
// device program, the cgroup namespace, exec joining, the removal.
describe('a container on the cgroup v2 path (MINID_CGROUPS=v2)', () => {
  let store: Store;
  const run = (args: string[]) => minid(store, args);
  beforeAll(async () => {
    store = makeStore('cgv2');
    store.env.MINID_CGROUPS = 'v2';
    await loadImages(store, ['busybox']);
  });
  afterAll(async () => {
    await store?.cleanup(); // its `system reset` removes the shared parent minid/ where empty
  });

  it("gets its own cgroup2 directory, a cgroup namespace and the device program; exec joins it; rm removes it", async () => {
    const r = await run(['run', '-d', '--network', 'none', '-m', '32m', 'busybox', 'sleep', '60']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe('WARNING: Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.');
    const id = r.stdout.trim();
    const dir = path.join(cgroup2Root(), 'minid', id);
    try {
      const s = JSON.parse((await run(['inspect', id])).stdout)[0];
      expect(s.HostConfig.Memory).toBe(0); // discarded, and said so: inspect does not claim it
      expect(fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(s.State.Pid));
      // As root with CAP_MKNOD (docker's set: the device program holds): nodes of the host's
      // disk and of /dev/kvm can be made, not opened; minid's own /dev works.
      const probe = [
        'grep "^0::" /proc/self/cgroup',
        'mknod /tmp/vda b 254 0 && (head -c 1 /tmp/vda >/dev/null 2>&1 && echo vda-opened || echo vda-refused)',
        'mknod /tmp/kvm c 10 232 && ((exec 3<>/tmp/kvm) 2>/dev/null && echo kvm-opened || echo kvm-refused)',
        'echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c',
        'wc -l < /sys/fs/cgroup/unified/minid/cgroup.procs 2>/dev/null || echo no-host-cgroupfs',
      ].join('; ');
      const ex = await run(['exec', id, 'sh', '-c', probe]);
      expect(ex.stdout.split('\n')).toEqual(['0::/', 'vda-refused', 'kvm-refused', '4', '4', 'no-host-cgroupfs']);
      // It is the program that refuses: a host shell (every capability, v1 cgroups allowing
      // all) opens the host's loop-control, and no longer once it joins the container's cgroup.
      const open = '(exec 3</dev/loop-control) 2>/dev/null && echo opened || echo refused';
      expect((await execa('sh', ['-c', open])).stdout).toBe('opened');
      expect((await execa('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && ${open}`])).stdout).toBe('refused');
      // While an exec runs, its processes are in the container's cgroup too.
      const waiting = run(['exec', id, 'sleep', '2']);
      await eventually(() => expect(fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(3));
      await waiting;
    } finally {
      expect((await run(['rm', '-f', id])).exitCode).toBe(0);
    }
    expect(fs.existsSync(dir)).toBe(false);
  });
});
