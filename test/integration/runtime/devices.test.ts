// minid-devices: docker's device allow-list as a cgroup v2 device program (eBPF), checked for
// real: a process in the cgroup opens what the rules allow and nothing else. This machine is a
// v1 hybrid; its cgroup2 hierarchy (/sys/fs/cgroup/unified) runs device programs all the same.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repo, requireRoot } from '../../helpers/minid.js';

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
