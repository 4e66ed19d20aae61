// Named volumes and --mount, as docker has them: a volume outlives its containers, a new one
// gets the image's files, `volume` create/ls/inspect/rm/prune, a volume in use is kept, and
// bad input is one line with docker's exit code (root; CI runs it).
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { suiteStore, type Store } from '../../helpers/minid.js';

const suite = suiteStore('volumes');
let store: Store;
let tmp: string;
beforeAll(() => void ({ store, tmp } = suite)); // after the suite's own beforeAll
const run = suite.run;
const ids = suite.ids;
const box = (args: string[]) => run(['run', '--rm', '--network', 'none', ...args]);
/** A user mistake: one line, the exit code docker gives, nothing on stdout. */
const oneLine = (r: { exitCode?: number; stdout: string; stderr: string }) => {
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^minid: /);
  return [r.exitCode, r.stderr];
};

describe('-v NAME:/path', () => {
  it('keeps what one container wrote for the next, under the store', async () => {
    const w = await box(['-v', 'notes:/notes', 'busybox', 'sh', '-c', 'echo kept > /notes/a']);
    expect([w.exitCode, w.stderr]).toEqual([0, '']);
    const id = (await run(['create', '--network', 'none', '-v', 'notes:/n:ro', 'busybox'])).stdout.trim();
    ids.push(id);
    const [c] = JSON.parse((await run(['inspect', id])).stdout);
    expect([c.HostConfig.Binds, c.HostConfig.Mounts]).toEqual([['notes:/n:ro'], undefined]);
    expect(c.Mounts[0]).toMatchObject({ Type: 'volume', Name: 'notes', Destination: '/n', Mode: 'ro', RW: false });
    expect((await run(['ps', '-a', '--filter', `id=${id}`, '--format', '{{.Mounts}} {{.LocalVolumes}}'])).stdout).toBe('notes 1');
    expect((await run(['volume', 'ls', '--format', '{{.Name}}:{{.Driver}}'])).stdout).toBe('notes:local');
    await run(['rm', id]);
    const r = await box(['-v', 'notes:/elsewhere:ro', 'busybox', 'cat', '/elsewhere/a']);
    expect([r.exitCode, r.stdout]).toEqual([0, 'kept']);
    expect(fs.readFileSync(path.join(store.root, 'volumes', 'notes', '_data', 'a'), 'utf8')).toBe('kept\n');
    const ro = await box(['-v', 'notes:/n:ro', 'busybox', 'touch', '/n/b']);
    expect(ro.exitCode).not.toBe(0);
  });

  it("gives a new, empty volume the image's files at its mount point (and only then)", async () => {
    const r = await box(['-v', 'etcv:/etc', 'busybox', 'cat', '/etc/group']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^root:x:0:/);
    const data = path.join(store.root, 'volumes', 'etcv', '_data');
    expect(fs.existsSync(path.join(data, 'passwd'))).toBe(true);
    // Not copied again over what a container changed.
    await box(['-v', 'etcv:/etc', 'busybox', 'rm', '/etc/passwd']);
    await box(['-v', 'etcv:/etc', 'busybox', 'true']);
    expect(fs.existsSync(path.join(data, 'passwd'))).toBe(false);
    // A folder of the image with its ownership and mode: /var's subfolders.
    const v = await box(['-v', 'varv:/var', 'busybox', 'ls', '/var']);
    expect(v.stdout.split('\n')).toEqual(['cache', 'lib', 'log', 'tmp']);
    expect(fs.statSync(path.join(store.root, 'volumes', 'varv', '_data', 'tmp')).mode & 0o7777).toBe(0o1777);
    // volume-nocopy: empty; a path the image lacks: empty too.
    const bare = await box(['--mount', 'type=volume,src=bare,dst=/var,volume-nocopy', 'busybox', 'ls', '/var']);
    expect([bare.exitCode, bare.stdout]).toEqual([0, '']);
    expect(fs.readdirSync(path.join(store.root, 'volumes', 'bare', '_data'))).toEqual([]);
    expect((await box(['-v', 'fresh:/nothing/here', 'busybox', 'true'])).exitCode).toBe(0);
    expect(fs.readdirSync(path.join(store.root, 'volumes', 'fresh', '_data'))).toEqual([]);
  });

  it('refuses a name that is a path (no / and no ..), in one line, exit 125', async () => {
    for (const v of ['../x:/d', 'a/b:/d', './rel:/d', '..:/d']) {
      const [code, line] = oneLine(await box(['-v', v, 'busybox', 'true']));
      expect(code).toBe(125);
      expect(line).toContain('is not a volume name');
    }
    for (const n of ['..', 'a/b', '../up', 'x'.repeat(256)]) {
      const [code, line] = oneLine(await run(['volume', 'create', n]));
      expect(code).toBe(1);
      expect(line).toContain('invalid volume name');
    }
    expect(fs.readdirSync(path.join(store.root, 'volumes')).sort()).not.toContain('up');
  });

  it('makes a new volume once when two runs name it at the same time', async () => {
    const both = await Promise.all([1, 2].map((n) => box(['-v', 'racev:/var', 'busybox', 'sh', '-c', `echo ${n} > /var/lib/n${n}`])));
    expect(both.map((r) => [r.exitCode, r.stderr])).toEqual([[0, ''], [0, '']]);
    expect(fs.readdirSync(path.join(store.root, 'volumes', 'racev', '_data', 'lib')).sort()).toEqual(['n1', 'n2']);
    expect((await run(['volume', 'rm', 'racev'])).exitCode).toBe(0);
  });

  it('makes a missing host folder of -v /host/dir, as docker does', async () => {
    const dir = path.join(tmp, 'made', 'here');
    const r = await box(['-v', `${dir}:/d`, 'busybox', 'sh', '-c', 'echo x > /d/f']);
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o755);
    expect(fs.readFileSync(path.join(dir, 'f'), 'utf8')).toBe('x\n');
  });
});

describe('volume create, ls, inspect, rm, prune', () => {
  it("prints docker's shapes", async () => {
    expect((await run(['volume', 'create', '--label', 'team=db', 'made'])).stdout).toBe('made');
    expect((await run(['volume', 'create', 'made'])).exitCode).toBe(0); // idempotent, as docker
    const anon = (await run(['volume', 'create'])).stdout;
    expect(anon).toMatch(/^[0-9a-f]{64}$/);
    const ls = (await run(['volume', 'ls'])).stdout.split('\n');
    expect(ls[0]).toBe('DRIVER    VOLUME NAME');
    expect(ls).toContain('local     made');
    expect((await run(['volume', 'ls', '-q'])).stdout.split('\n')).toEqual(expect.arrayContaining(['made', 'notes', anon]));
    const [v] = JSON.parse((await run(['volume', 'inspect', 'made'])).stdout);
    expect(Object.keys(v).sort()).toEqual(['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    expect(v).toMatchObject({ Driver: 'local', Labels: { team: 'db' }, Mountpoint: path.join(store.root, 'volumes', 'made', '_data'), Name: 'made', Scope: 'local' });
    expect((await run(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}}', 'made'])).stdout).toBe('made local');
    const missing = await run(['volume', 'inspect', 'nosuch']);
    expect([missing.exitCode, missing.stderr]).toEqual([1, 'minid: no such volume: nosuch']);
    expect((await run(['volume', 'rm', anon])).stdout).toBe(anon);
    expect(oneLine(await run(['volume', 'rm', 'nosuch']))[0]).toBe(1);
    expect((await run(['volume', 'rm', '-f', 'nosuch'])).exitCode).toBe(0);
  });

  it('refuses to remove a volume in use, even by a stopped container; prune keeps it too', async () => {
    const id = (await run(['run', '-d', '--network', 'none', '--mount', 'type=volume,source=busy,target=/b', 'busybox', 'sleep', '300'])).stdout.trim();
    ids.push(id);
    const [code, line] = oneLine(await run(['volume', 'rm', 'busy']));
    expect(code).toBe(1);
    expect(line).toContain(`volume is in use - [${id}]`);
    const inspect = JSON.parse((await run(['inspect', id])).stdout)[0];
    expect(inspect.HostConfig.Binds).toBeNull();
    expect(inspect.HostConfig.Mounts).toEqual([{ Type: 'volume', Source: 'busy', Target: '/b' }]);
    expect(inspect.Mounts).toEqual([{ Type: 'volume', Name: 'busy', Source: path.join(store.root, 'volumes', 'busy', '_data'), Destination: '/b', Driver: 'local', Mode: 'z', RW: true, Propagation: '' }]);
    await run(['stop', '-t', '0', id]);
    expect((await run(['volume', 'rm', 'busy'])).exitCode).toBe(1);
    const prune = await run(['volume', 'prune', '-f']);
    expect(prune.exitCode).toBe(0);
    expect(prune.stdout).toMatch(/^Deleted Volumes:\n/);
    expect(prune.stdout).toMatch(/Total reclaimed space: \S+$/);
    const left = (await run(['volume', 'ls', '-q'])).stdout.split('\n');
    expect(left).toEqual(['busy']);
    await run(['volume', 'create', 'idle']);
    fs.writeFileSync(path.join(store.root, 'volumes', 'idle', '_data', 'f'), 'x'.repeat(2000));
    const df = (await run(['system', 'df'])).stdout.split('\n');
    expect(df[3]).toBe('Local Volumes   2         1         2kB       2kB (100%)');
    expect((await run(['volume', 'rm', 'idle'])).exitCode).toBe(0);
    await run(['rm', id]);
    expect((await run(['volume', 'rm', 'busy'])).stdout).toBe('busy');
    expect(fs.readdirSync(path.join(store.root, 'volumes'))).toEqual([]);
  });
});

describe('--mount', () => {
  it('binds, mounts a volume, and a tmpfs (nodev, nosuid, noexec, its size)', async () => {
    fs.writeFileSync(path.join(tmp, 'hello'), 'hi\n');
    const b = await box(['--mount', `type=bind,source=${tmp},target=/h,readonly`, 'busybox', 'sh', '-c', 'cat /h/hello; touch /h/x 2>/dev/null || echo ro']);
    expect([b.exitCode, b.stdout]).toEqual([0, 'hi\nro']);
    const t = await box(['--mount', 'type=tmpfs,destination=/scratch,tmpfs-size=1m', 'busybox', 'sh', '-c', 'grep " /scratch " /proc/mounts']);
    expect(t.exitCode).toBe(0);
    expect(t.stdout).toMatch(/^tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k/);
    const v = await box(['--mount', 'src=mounted,dst=/m', 'busybox', 'sh', '-c', 'echo y > /m/f']);
    expect(v.exitCode).toBe(0);
    expect(fs.readFileSync(path.join(store.root, 'volumes', 'mounted', '_data', 'f'), 'utf8')).toBe('y\n');
    expect((await run(['volume', 'rm', 'mounted'])).exitCode).toBe(0);
  });

  it.each([
    ['bogus', "invalid field 'bogus' must be a key=value pair"],
    ['type=nfs,target=/x', 'invalid type "nfs"'],
    ['type=bind,source=/tmp', 'target is required'],
    ['type=bind,target=/x', 'field Source must not be empty'],
    ['type=bind,source=/no/such/dir/anywhere,target=/x', 'bind source path does not exist: /no/such/dir/anywhere'],
    ['type=volume,source=../etc,target=/x', 'is not a volume name'],
    ['type=tmpfs,target=/x,tmpfs-size=lots', 'invalid tmpfs-size'],
    ['type=bind,source=/tmp,target=/x,colour=red', "unexpected key 'colour'"],
  ])('refuses %s in one line, exit 125, leaving nothing', async (m, text) => {
    const before = (await run(['ps', '-aq'])).stdout;
    const [code, line] = oneLine(await box(['--mount', m, 'busybox', 'true']));
    expect(code).toBe(125);
    expect(line).toContain(text);
    expect((await run(['ps', '-aq'])).stdout).toBe(before);
    expect(fs.existsSync('/no/such/dir/anywhere')).toBe(false);
  });
});
