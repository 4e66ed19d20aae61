// The everyday verbs as docker has them: exec's start failures, port, cp, rename, pause/unpause,
// top, create/start, restart, the prunes, system df, diff, export (root; CI runs it).
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, mountsUnder, suiteStore, type Store } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';

const suite = suiteStore('verbs');
let store: Store;
let tmp: string;
beforeAll(() => void ({ store, tmp } = suite)); // after the suite's own beforeAll
const run = suite.run;
const ids = suite.ids;
/** A detached container that sleeps (removed in afterAll even when a test fails). */
async function sleeper(extra: string[] = ['--network', 'none']): Promise<string> {
  const r = await run(['run', '-d', ...extra, 'busybox', 'sleep', '300']);
  expect(r.stderr).toBe('');
  const id = r.stdout.trim();
  ids.push(id);
  return id;
}

describe('exec start failures', () => {
  it("127 for a command not found, 126 for one that cannot be started, in runc's words; 1 for a stopped container", async () => {
    const id = await sleeper();
    const cases: [string, number, string][] = [
      ['no-such-cmd', 127, 'exec: "no-such-cmd": executable file not found in $PATH'],
      ['/no/such/file', 127, 'exec: "/no/such/file": stat /no/such/file: no such file or directory'],
      ['/etc/passwd', 126, 'exec: "/etc/passwd": permission denied'],
      ['/etc', 126, 'exec: "/etc": permission denied'],
    ];
    for (const [cmd, code, line] of cases) {
      const r = await run(['exec', id, cmd]);
      expect([cmd, r.exitCode, r.stdout, r.stderr]).toEqual([cmd, code, '', `minid: ${line}`]);
    }
    // -t: the same codes through a terminal.
    expect((await run(['exec', '-t', id, 'no-such-cmd'])).exitCode).toBe(127);
    // Any other start failure is docker's 126: a user not in the container, a -w that is no folder there.
    const user = await run(['exec', '-u', 'nosuch', id, 'true']);
    expect([user.exitCode, user.stderr]).toEqual([126, "minid: unable to find user nosuch: no matching entries in the image's /etc/passwd; use a numeric UID"]);
    for (const [dir, why] of [['/nonexist', 'no such file or directory'], ['/etc/passwd', 'not a directory']]) {
      const w = await run(['exec', '-w', dir, id, 'pwd']);
      expect([w.exitCode, w.stdout, w.stderr]).toEqual([126, '', `minid: chdir to cwd ("${dir}") failed: ${why}: give -w a directory of the container`]);
    }
    const stopped = (await run(['create', '--network', 'none', 'busybox', 'true'])).stdout.trim();
    ids.push(stopped);
    const name = (await run(['inspect', '-f', '{{.Name}}', stopped])).stdout.slice(1);
    const r = await run(['exec', stopped, 'true']);
    expect([r.exitCode, r.stderr]).toEqual([1, `minid: container ${name} is not running: start it first (\`minid start ${name}\`)`]);
  });
});

describe('port', () => {
  it('prints where a private port is published, and docker\'s error when it is not', async () => {
    const id = await sleeper(['--name', 'web', '-p', '127.0.0.1:18931:80', '-p', '18932:53/udp']);
    expect((await run(['port', 'web'])).stdout.split('\n')).toEqual(['80/tcp -> 127.0.0.1:18931', '53/udp -> 0.0.0.0:18932']);
    const one = await run(['port', 'web', '80']);
    expect([one.exitCode, one.stdout]).toEqual([0, '127.0.0.1:18931']);
    expect((await run(['port', id.slice(0, 12), '53/udp'])).stdout).toBe('0.0.0.0:18932');
    const missing = await run(['port', 'web', '81']);
    expect([missing.exitCode, missing.stdout, missing.stderr.split('\n').length]).toEqual([1, '', 1]);
    expect(missing.stderr).toContain("no public port '81/tcp' published for web");
    const bad = await run(['port', 'web', '80/xyz']);
    expect([bad.exitCode, bad.stderr.split('\n').length]).toEqual([1, 1]);
    const none = await run(['port', 'nosuch', '80']);
    expect([none.exitCode, none.stderr.split('\n').length]).toEqual([1, 1]);
  });
});

describe('cp', () => {
  // The container's /evil is a symlink to /etc, /up one that climbs out with "..": both must
  // stay inside the container's root, whichever way the copy goes.
  const setup = 'echo hi > /hi; mkdir -p /d/e; echo x > /d/e/f; ln -s /etc /evil; ln -s ../../../../etc /up; hostname > /etc/marker; sleep 300';

  it('copies files and folders both ways, by docker\'s rules, inside the container\'s root', async () => {
    const id = (await run(['run', '-d', '--network', 'none', '-h', 'cpbox', 'busybox', 'sh', '-c', setup])).stdout.trim();
    ids.push(id);
    const out = path.join(tmp, 'out');
    fs.mkdirSync(out);
    expect((await run(['exec', id, 'test', '-e', '/etc/marker'])).exitCode).toBe(0);
    // A file into a folder, a folder onto a new name, a folder's content ("/.").
    expect((await run(['cp', `${id}:/hi`, out])).exitCode).toBe(0);
    expect(fs.readFileSync(path.join(out, 'hi'), 'utf8')).toBe('hi\n');
    expect((await run(['cp', `${id}:/d`, path.join(out, 'dd')])).exitCode).toBe(0);
    expect(fs.readFileSync(path.join(out, 'dd/e/f'), 'utf8')).toBe('x\n');
    expect((await run(['cp', `${id}:/d/.`, path.join(out, 'content')])).exitCode).toBe(0);
    expect(fs.readdirSync(path.join(out, 'content'))).toEqual(['e']);
    // Through the container's symlinks: its own /etc, never the host's.
    expect((await run(['cp', `${id}:/evil/marker`, path.join(out, 'm1')])).exitCode).toBe(0);
    expect(fs.readFileSync(path.join(out, 'm1'), 'utf8')).toBe('cpbox\n');
    expect((await run(['cp', `${id}:/up/hostname`, path.join(out, 'm2')])).exitCode).toBe(0);
    expect(fs.readFileSync(path.join(out, 'm2'), 'utf8')).toBe('cpbox\n');
    // Into the container: a file through /evil lands in the container's /etc.
    const host = path.join(tmp, 'host.txt');
    fs.writeFileSync(host, 'from host\n');
    const name = `minid-cp-test-${process.pid}`;
    expect((await run(['cp', host, `${id}:/evil/${name}`])).exitCode).toBe(0);
    expect(fs.existsSync(`/etc/${name}`)).toBe(false);
    expect((await run(['exec', id, 'cat', `/etc/${name}`])).stdout).toBe('from host');
    expect((await run(['cp', path.join(out, 'dd'), `${id}:/up/newdir`])).exitCode).toBe(0);
    expect(fs.existsSync('/etc/newdir')).toBe(false);
    expect((await run(['exec', id, 'cat', '/etc/newdir/e/f'])).stdout).toBe('x');
    // Tar streams: "-" out to stdout, "-" in from stdin.
    const tarOut = await run(['cp', `${id}:/hi`, '-'], { encoding: 'buffer' });
    expect(tarOut.exitCode).toBe(0);
    expect(Buffer.from(tarOut.stdout as unknown as Uint8Array).subarray(0, 2).toString()).toBe('hi');
    const tarIn = await run(['cp', '-', `${id}:/d`], { input: Buffer.from(tarOut.stdout as unknown as Uint8Array) });
    expect(tarIn.exitCode).toBe(0);
    expect((await run(['exec', id, 'cat', '/d/hi'])).stdout).toBe('hi');
  });

  it('copies from and into a stopped container (its overlay, mounted for the copy only)', async () => {
    const id = (await run(['run', '-d', '--network', 'none', '-h', 'cpbox', 'busybox', 'sh', '-c', setup.replace('sleep 300', 'true')])).stdout.trim();
    ids.push(id);
    expect((await run(['wait', id])).stdout).toBe('0');
    const dest = path.join(tmp, 'stopped-hi');
    expect((await run(['cp', `${id}:/hi`, dest])).exitCode).toBe(0);
    expect(fs.readFileSync(dest, 'utf8')).toBe('hi\n');
    expect((await run(['cp', dest, `${id}:/evil/copied`])).exitCode).toBe(0);
    expect(fs.existsSync('/etc/copied')).toBe(false);
    expect((await run(['cp', `${id}:/etc/copied`, path.join(tmp, 'back')])).exitCode).toBe(0);
    expect(fs.readFileSync(path.join(tmp, 'back'), 'utf8')).toBe('hi\n');
    expect(mountsUnder(store.root)).toEqual([]);
  });

  it('refuses bad input with one line and exit 1', async () => {
    const id = await sleeper();
    for (const args of [
      ['cp', `${id}:/nosuch`, tmp],
      ['cp', 'nosuch:/etc/hosts', tmp],
      ['cp', path.join(tmp, 'nosuch'), `${id}:/tmp`],
      ['cp', tmp, path.join(tmp, 'x')],
      ['cp', `${id}:/etc`, `${id}:/tmp`],
      ['cp', path.join(tmp, 'host.txt'), `${id}:/nosuchdir/x`],
    ]) {
      const r = await run(args);
      expect([args, r.exitCode, r.stderr.split('\n').length]).toEqual([args, 1, 1]);
    }
  });
});

describe('rename, pause, unpause, top', () => {
  it('renames a container; refuses a taken or invalid name', async () => {
    const id = await sleeper(['--network', 'none', '--name', 'before']);
    const other = await sleeper(['--network', 'none', '--name', 'taken']);
    expect((await run(['rename', 'before', 'after'])).exitCode).toBe(0);
    expect(JSON.parse((await run(['inspect', id])).stdout)[0].Name).toBe('/after'); // docker's leading slash
    expect((await run(['inspect', 'before'])).exitCode).not.toBe(0);
    // The old name is free again; the new one is taken.
    const again = await sleeper(['--network', 'none', '--name', 'before']);
    for (const [args, text] of [
      [['rename', 'after', 'taken'], /already in use by container/],
      [['rename', 'after', 'bad name'], /invalid container name/],
      [['rename', 'after', 'after'], /already called/],
      [['rename', 'nosuch', 'x2'], /no such container/],
    ] as [string[], RegExp][]) {
      const r = await run(args);
      expect([args, r.exitCode, r.stderr.split('\n').length]).toEqual([args, 1, 1]);
      expect(r.stderr).toMatch(text);
    }
    expect((await run(['rm', '-f', id, other, again])).exitCode).toBe(0);
  });

  it('renames its DNS name on a user network too', async () => {
    const net = `vrb${Math.random().toString(16).slice(2, 8)}`;
    const subnet = freeSubnet((a, b) => `10.${150 + a}.${b}.0/24`);
    expect((await run(['network', 'create', '--subnet', subnet, net])).exitCode).toBe(0);
    try {
      const a = await sleeper(['--network', net, '--name', 'dns-old']);
      const b = await sleeper(['--network', net, '--name', 'asker']);
      const ip = JSON.parse((await run(['inspect', a])).stdout)[0].NetworkSettings.Networks[net].IPAddress;
      expect((await run(['rename', 'dns-old', 'dns-new'])).exitCode).toBe(0);
      expect((await run(['exec', b, 'nslookup', 'dns-new'])).stdout).toContain(`Address: ${ip}`);
      expect((await run(['exec', b, 'nslookup', 'dns-old'])).stdout).not.toContain(`Address: ${ip}`);
      // Another container's name on the network is refused, as on run.
      const taken = await run(['rename', 'dns-new', 'asker']);
      expect([taken.exitCode, taken.stderr.split('\n').length]).toEqual([1, 1]);
      expect((await run(['rm', '-f', a, b])).exitCode).toBe(0);
    } finally {
      await run(['network', 'rm', net]);
    }
  });

  it('pauses with the cgroup freezer (Paused in ps and inspect), unpauses, and a paused container still stops', async () => {
    const id = await sleeper(['--network', 'none', '--name', 'frozen']);
    expect((await run(['pause', 'frozen'])).stdout).toBe('frozen');
    const freezer = `/sys/fs/cgroup/freezer/minid/${id}/freezer.state`;
    expect(fs.readFileSync(freezer, 'utf8').trim()).toBe('FROZEN');
    const state = JSON.parse((await run(['inspect', 'frozen'])).stdout)[0].State;
    expect([state.Status, state.Paused, state.Running]).toEqual(['paused', true, true]);
    expect((await run(['ps'])).stdout).toMatch(/Up .* \(Paused\)/);
    const ex = await run(['exec', 'frozen', 'true']);
    expect([ex.exitCode, ex.stderr]).toEqual([1, 'minid: container frozen is paused: unpause it first (`minid unpause frozen`)']);
    const twice = await run(['pause', 'frozen']);
    expect([twice.exitCode, twice.stderr]).toEqual([1, 'minid: container frozen is already paused: `minid unpause frozen` lets it go on']);
    expect((await run(['unpause', 'frozen'])).exitCode).toBe(0);
    expect(fs.readFileSync(freezer, 'utf8').trim()).toBe('THAWED');
    expect((await run(['exec', 'frozen', 'echo', 'alive'])).stdout).toBe('alive');
    const not = await run(['unpause', 'frozen']);
    expect([not.exitCode, not.stderr]).toEqual([1, 'minid: container frozen is not paused']);
    // Paused, then stopped: the signal is delivered (thawed after it is sent).
    expect((await run(['pause', 'frozen'])).exitCode).toBe(0);
    const stop = await run(['stop', '-t', '1', 'frozen']);
    expect(stop.exitCode).toBe(0);
    expect(JSON.parse((await run(['inspect', 'frozen'])).stdout)[0].State.Status).toBe('exited');
    const stopped = await run(['pause', 'frozen']);
    expect([stopped.exitCode, stopped.stderr.split('\n').length]).toEqual([1, 1]);
    expect((await run(['pause', 'nosuch'])).exitCode).toBe(1);
  });

  it('pauses a container without cgroups by stopping every process of its PID namespace', async () => {
    const env = { ...store.env, MINID_CGROUPS: 'off' };
    const r = await run(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'sleep 300 & wait'], { env });
    const id = r.stdout.trim();
    ids.push(id);
    const pid = JSON.parse((await run(['inspect', id], { env })).stdout)[0].State.Pid;
    const state = (p: number) => /State:\s+(\S)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))![1];
    expect((await run(['pause', id], { env })).exitCode).toBe(0);
    expect(state(pid)).toBe('T');
    expect(JSON.parse((await run(['inspect', id], { env })).stdout)[0].State.Paused).toBe(true);
    expect((await run(['unpause', id], { env })).exitCode).toBe(0);
    expect(state(pid)).not.toBe('T');
    expect((await run(['rm', '-f', id], { env })).exitCode).toBe(0);
  });

  it("lists a container's processes as docker top does", async () => {
    const id = await sleeper();
    const r = await run(['top', id]);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^UID {17}PID {17}PPID {16}C {19}STIME {15}TTY {17}TIME {16}CMD$/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^root .* sleep 300$/);
    const own = await run(['top', id, '-o', 'pid,comm']);
    expect(own.stdout.split('\n')[1]).toMatch(/^\d+ +sleep$/);
    const noPid = await run(['top', id, '-o', 'comm']);
    expect([noPid.exitCode, noPid.stderr.split('\n').length]).toEqual([1, 1]);
    expect((await run(['top', 'nosuch'])).exitCode).toBe(1);
    expect((await run(['stop', '-t', '1', id])).exitCode).toBe(0);
    const stopped = await run(['top', id]);
    expect([stopped.exitCode, stopped.stderr.split('\n').length]).toEqual([1, 1]);
  });
});

describe('create, start, restart', () => {
  it('creates a container that runs nothing, then starts, restarts and starts it again', async () => {
    const c = await run(['create', '--name', 'later', '--network', 'none', 'busybox', 'sh', '-c', 'date +%s%N >> /runs; sleep 300']);
    expect([c.exitCode, c.stderr]).toEqual([0, '']);
    const id = c.stdout.trim();
    ids.push(id);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect((await run(['ps', '-a'])).stdout).toMatch(/Created +later/);
    const created = JSON.parse((await run(['inspect', 'later'])).stdout)[0].State;
    expect([created.Status, created.Pid]).toEqual(['created', 0]);
    expect((await run(['start', 'later'])).stdout).toBe('later');
    expect(JSON.parse((await run(['inspect', 'later'])).stdout)[0].State.Status).toBe('running');
    expect((await run(['start', 'later'])).exitCode).toBe(0); // running already: nothing to do
    const pid1 = JSON.parse((await run(['inspect', 'later'])).stdout)[0].State.Pid;
    expect((await run(['restart', '-t', '1', 'later'])).stdout).toBe('later');
    const after = JSON.parse((await run(['inspect', 'later'])).stdout)[0].State;
    expect(after.Status).toBe('running');
    expect(after.Pid).not.toBe(pid1);
    expect((await run(['stop', '-t', '1', 'later'])).exitCode).toBe(0);
    expect((await run(['start', 'later'])).exitCode).toBe(0);
    // The same writable layer each time: three runs recorded.
    expect((await run(['exec', 'later', 'wc', '-l', '/runs'])).stdout).toMatch(/^3 /);
    expect((await run(['rm', '-f', 'later'])).exitCode).toBe(0);
    expect(fs.existsSync(`/sys/fs/cgroup/memory/minid/${id}`)).toBe(false);
  });

  it('restarts a --rm container instead of removing it, and removes it when it exits', async () => {
    const id = await sleeper(['--network', 'none', '--rm']);
    expect((await run(['restart', '-t', '1', id])).exitCode).toBe(0);
    expect(JSON.parse((await run(['inspect', id])).stdout)[0].State.Status).toBe('running');
    expect((await run(['stop', '-t', '1', id])).exitCode).toBe(0);
    await eventually(async () => expect((await run(['inspect', id])).exitCode).not.toBe(0)); // removed
  });

  it('start -a attaches and exits with the container\'s code; a created bridge container gets its network at start', async () => {
    const id = (await run(['create', '--network', 'none', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3'])).stdout.trim();
    ids.push(id);
    const a = await run(['start', '-a', id]);
    expect([a.exitCode, a.stdout, a.stderr]).toEqual([3, 'out', 'err']);
    const again = await run(['start', '-a', id]);
    expect([again.exitCode, again.stdout]).toEqual([3, 'out']);
    const cat = (await run(['create', '-i', '--network', 'none', 'busybox', 'cat'])).stdout.trim();
    ids.push(cat);
    const ai = await run(['start', '-ai', cat], { input: 'through stdin\n' });
    expect([ai.exitCode, ai.stdout]).toEqual([0, 'through stdin']);
    const web = (await run(['create', '-p', '127.0.0.1:18933:80', 'busybox', 'sleep', '300'])).stdout.trim();
    ids.push(web);
    expect((await run(['port', web])).stdout).toBe('');
    expect((await run(['start', web])).exitCode).toBe(0);
    expect((await run(['port', web, '80'])).stdout).toBe('127.0.0.1:18933');
  });

  it('refuses bad input with one line and exit 1 (create: as run, 125)', async () => {
    for (const args of [['start', 'nosuch'], ['restart', 'nosuch'], ['restart', '-t', 'x', 'nosuch'], ['start', '-a', 'a1', 'b1']]) {
      const r = await run(args);
      expect([args, r.exitCode, r.stderr.split('\n').length]).toEqual([args, 1, 1]);
    }
    // As docker: "Unable to find image ... locally", then the pull's error; no container made.
    const before = (await run(['ps', '-aq'])).stdout;
    const bad = await run(['create', '--network', 'none', 'nosuchimage-verbs']);
    expect([bad.exitCode, bad.stderr.split('\n').length]).toEqual([125, 2]);
    expect((await run(['ps', '-aq'])).stdout).toBe(before);
  });
});

describe('diff, export, prunes, system df', () => {
  const changes = 'touch /new; mkdir -p /nd/x; rm /bin/ls; echo z >> /etc/passwd';

  it("diff lists the container's changes as docker does (A, C, D; minid's mount stubs not shown)", async () => {
    const id = (await run(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', `${changes}; sleep 300`])).stdout.trim();
    ids.push(id);
    const want = ['C /bin', 'D /bin/ls', 'C /etc', 'C /etc/passwd', 'A /nd', 'A /nd/x', 'A /new'];
    // The container runs its changes right after it starts.
    let got = '';
    for (let i = 0; i < 50 && got !== want.join('\n'); i++) {
      got = (await run(['diff', id])).stdout;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(got.split('\n')).toEqual(want);
    expect((await run(['diff', 'nosuch'])).exitCode).toBe(1);
  });

  it('export writes the merged file system (no /proc of the running container), running or stopped', async () => {
    const id = (await run(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', `${changes}; sleep 300`])).stdout.trim();
    ids.push(id);
    await new Promise((r) => setTimeout(r, 500));
    const file = path.join(tmp, 'export.tar');
    expect((await run(['export', '-o', file, id])).exitCode).toBe(0);
    const { execa } = await import('execa');
    const names = (await execa('tar', ['-tf', file])).stdout.split('\n');
    expect(names).toContain('./new');
    expect(names).toContain('./bin/sh');
    expect(names).not.toContain('./bin/ls');
    expect(names.some((n) => n.startsWith('./proc/1'))).toBe(false);
    expect((await execa('tar', ['-xOf', file, './etc/passwd'])).stdout).toMatch(/\nz$/);
    expect((await run(['stop', '-t', '1', id])).exitCode).toBe(0);
    const piped = await run(['export', id], { encoding: 'buffer' });
    expect(piped.exitCode).toBe(0);
    expect(Buffer.from(piped.stdout as unknown as Uint8Array).length).toBe(fs.statSync(file).size);
    expect(mountsUnder(store.root)).toEqual([]);
    expect((await run(['export', 'nosuch'])).exitCode).toBe(1);
  });

  it('container prune removes stopped containers (asks first), image prune dangling or unused images, system df counts them', async () => {
    const keep = await sleeper();
    const gone = (await run(['create', '--network', 'none', 'busybox', 'true'])).stdout.trim();
    const asked = await run(['container', 'prune'], { input: 'n\n' });
    expect(asked.stdout).toBe('WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
    expect((await run(['ps', '-aq'])).stdout).toContain(gone.slice(0, 12));
    const df = (await run(['system', 'df'])).stdout.split('\n');
    expect(df[0]).toBe('TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE');
    expect(df[1]).toMatch(/^Images {10}1 {9}1 {9}\S+ +0B \(0%\)$/);
    expect(df[3]).toBe('Local Volumes   0         0         0B        0B');
    const pruned = await run(['container', 'prune', '-f']);
    expect(pruned.stdout).toContain(`Deleted Containers:\n`);
    expect(pruned.stdout).toContain(gone);
    expect(pruned.stdout).not.toContain(keep);
    expect(pruned.stdout).toMatch(/\n\nTotal reclaimed space: \S+B$/);
    // busybox is used by a running container: neither prune removes it; network prune -f is accepted.
    expect((await run(['image', 'prune', '-f'])).stdout).toBe('Total reclaimed space: 0B');
    expect((await run(['image', 'prune', '-a', '-f'])).stdout).toBe('Total reclaimed space: 0B');
    expect((await run(['network', 'prune', '-f'])).exitCode).toBe(0);
    expect((await run(['images', '-q'])).stdout).not.toBe('');
  });
});
