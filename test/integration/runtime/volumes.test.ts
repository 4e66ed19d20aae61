// Named volumes and --mount, as docker has them: a volume outlives its containers, a new one
// gets the image's files, `volume` create/ls/inspect/rm/prune, a volume in use is kept, and
// bad input is one line with docker's exit code; anonymous volumes (-v /path, --mount without
// a source, an image's VOLUME) as docker 20.10 makes and removes them (root; CI runs it).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { imagesDir, repo, suiteStore, type Store } from '../../helpers/minid.js';

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

/**
 * busybox with VOLUME /var and /data in its config: an OCI layout copied from .images/busybox
 * whose config (and so manifest and index) is rewritten, each blob under its new digest.
 */
function imageWithVolumes(dir: string): string {
  fs.cpSync(path.join(imagesDir, 'busybox'), dir, { recursive: true });
  const blob = (digest: string) => path.join(dir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  const put = (o: object) => {
    const b = Buffer.from(JSON.stringify(o));
    const hex = crypto.createHash('sha256').update(b).digest('hex');
    fs.writeFileSync(path.join(dir, 'blobs', 'sha256', hex), b);
    return { digest: `sha256:${hex}`, size: b.length };
  };
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(fs.readFileSync(blob(manifest.config.digest), 'utf8'));
  config.config.Volumes = { '/var': {}, '/data': {} };
  manifest.config = { ...manifest.config, ...put(config) };
  const annotations = { 'org.opencontainers.image.ref.name': 'latest', 'io.minid.image.name': 'withvol' };
  index.manifests = [{ ...index.manifests[0], ...put(manifest), annotations }];
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
  return dir;
}

describe('anonymous volumes (docker 20.10)', () => {
  const volumes = async (...args: string[]) => (await run(['volume', 'ls', '-q', ...args])).stdout.split('\n').filter(Boolean).sort();
  const inspect = async (ref: string) => JSON.parse((await run(['inspect', ref])).stdout)[0];
  const docker = () => JSON.parse(fs.readFileSync(path.join(repo, 'test/fixtures/docker/inspect-ctr-volumes.json'), 'utf8'))[0];

  it('-v /path and --mount without a source: a volume named by 64 hex digits, shaped in inspect as docker 20.10 shapes it', async () => {
    const r = await run(['run', '-d', '--network', 'none', '-v', '/data', '--mount', 'type=volume,target=/m', '-v', 'named1:/n', 'busybox', 'sh', '-c', 'echo a > /data/f; sleep 300']);
    expect(r.exitCode, r.stderr).toBe(0);
    const id = r.stdout.trim();
    ids.push(id);
    const c = await inspect(id);
    const d = docker(); // the same flags, run by docker 20.10
    expect(c.HostConfig.Binds).toEqual(d.HostConfig.Binds);
    expect(c.HostConfig.Mounts).toEqual(d.HostConfig.Mounts);
    expect(c.Config.Volumes).toEqual(d.Config.Volumes);
    const shape = (ms: any[]) => ms.map((m) => ({ ...m, Name: /^[0-9a-f]{64}$/.test(m.Name) ? 'ANON' : m.Name, Source: '' })).sort((a, b) => a.Destination.localeCompare(b.Destination));
    expect(shape(c.Mounts)).toEqual(shape(d.Mounts));
    const anon = c.Mounts.filter((m: any) => m.Name !== 'named1');
    for (const m of anon) expect(m.Source).toBe(path.join(store.root, 'volumes', m.Name, '_data'));
    expect(fs.readFileSync(path.join(anon.find((m: any) => m.Destination === '/data').Source, 'f'), 'utf8')).toBe('a\n');
    // Listed and filtered as volumes, used by this container.
    expect(await volumes()).toEqual([...anon.map((m: any) => m.Name), 'named1'].sort());
    expect(await volumes('--filter', 'dangling=true')).toEqual([]);
    expect((await run(['ps', '--filter', `volume=${anon[0].Name}`, '--format', '{{.ID}}'])).stdout).toBe(id.slice(0, 12));
    expect((await run(['ps', '--filter', 'volume=/data', '--filter', 'volume=nosuch', '-q'])).stdout).toBe(id.slice(0, 12));
    // rm without -v keeps them all; they are dangling then.
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
    expect(await volumes('--filter', 'dangling=true')).toEqual([...anon.map((m: any) => m.Name), 'named1'].sort());
    expect((await run(['volume', 'prune', '-f'])).exitCode).toBe(0);
    expect(await volumes()).toEqual([]);
  });

  it('rm -v and --rm remove the anonymous ones only; a failed run leaves none', async () => {
    const id = (await run(['run', '-d', '--network', 'none', '-v', '/data', '-v', 'named2:/n', 'busybox', 'sleep', '300'])).stdout.trim();
    ids.push(id);
    expect(await volumes()).toHaveLength(2);
    const rm = await run(['rm', '-fv', id]);
    expect([rm.exitCode, rm.stdout]).toEqual([0, id]);
    expect(await volumes()).toEqual(['named2']);
    const once = await box(['-v', '/data', '-v', 'named3:/n', 'busybox', 'sh', '-c', 'echo x > /data/f']);
    expect([once.exitCode, once.stderr]).toEqual([0, '']);
    expect(await volumes()).toEqual(['named2', 'named3']);
    // A name already taken: nothing of the run is left, its anonymous volume neither.
    const taken = (await run(['create', '--name', 'taken', '--network', 'none', 'busybox'])).stdout.trim();
    ids.push(taken);
    const again = await run(['create', '--name', 'taken', '--network', 'none', '-v', '/data', 'busybox']);
    expect(again.exitCode).toBe(125);
    expect(await volumes()).toEqual(['named2', 'named3']);
    // rm -v of a container without anonymous volumes: as rm.
    expect((await run(['rm', '-v', 'taken'])).exitCode).toBe(0);
    for (const n of ['named2', 'named3']) expect((await run(['volume', 'rm', n])).exitCode).toBe(0);
  });

  it("an image's VOLUME: an anonymous volume with the image's files, unless a mount of the run is at that path", async () => {
    const load = await run(['load', '-q', '-i', imageWithVolumes(path.join(tmp, 'withvol'))]);
    expect(load.exitCode, load.stderr).toBe(0);
    const r = await run(['run', '-d', '--name', 'imgvol', '--network', 'none', '-v', 'mine:/data', 'withvol', 'sleep', '300']);
    expect(r.exitCode, r.stderr).toBe(0);
    ids.push(r.stdout.trim());
    const c = await inspect('imgvol');
    expect(c.Config.Volumes).toEqual({ '/data': {}, '/var': {} }); // docker's: the image's, even one a -v covers
    expect(c.Mounts.map((m: any) => [m.Destination, m.Name === 'mine' ? 'mine' : m.Name.length, m.Mode])).toEqual([['/data', 'mine', 'z'], ['/var', 64, '']]);
    const varVolume = c.Mounts.find((m: any) => m.Destination === '/var').Source;
    expect(fs.readdirSync(varVolume).sort()).toEqual(['cache', 'lib', 'log', 'tmp']);
    expect((await run(['rm', '-f', '-v', 'imgvol'])).exitCode).toBe(0);
    expect(await volumes()).toEqual(['mine']);
    // --rm: both of the image's volumes made, and removed with the container.
    const both = await box(['withvol', 'sh', '-c', 'grep -c " /var \\| /data " /proc/mounts']);
    expect([both.exitCode, both.stdout]).toEqual([0, '2']);
    expect(await volumes()).toEqual(['mine']);
    expect((await run(['volume', 'rm', 'mine'])).exitCode).toBe(0);
  });

  it("volume inspect as docker 20.10: a run's volume has null Labels and Options; templates see maps", async () => {
    expect((await box(['-v', 'byrun:/x', 'busybox', 'true'])).exitCode).toBe(0);
    await run(['volume', 'create', 'bycreate']);
    const [byRun, byCreate] = JSON.parse((await run(['volume', 'inspect', 'byrun', 'bycreate'])).stdout);
    expect([byRun.Labels, byRun.Options, byCreate.Labels, byCreate.Options]).toEqual([null, null, {}, {}]);
    expect(Object.keys(byRun)).toEqual(['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    expect((await run(['volume', 'inspect', '-f', '{{.Labels}} {{.Options}} {{.Status}} {{.Labels.team}}', 'byrun'])).stdout).toBe('map[] map[] map[] <no value>');
    expect((await run(['volume', 'rm', 'byrun', 'bycreate'])).stdout).toBe('byrun\nbycreate');
  });

  it('volume ls --filter and volume prune as docker 20.10: every unused volume, named or not; --filter label', async () => {
    await run(['volume', 'create', '--label', 'team=a', 'keep-a']);
    await run(['volume', 'create', '--label', 'team=b', 'idle-b']);
    const anonName = (await run(['volume', 'create'])).stdout;
    const id = (await run(['run', '-d', '--network', 'none', '-v', 'keep-a:/a', 'busybox', 'sleep', '300'])).stdout.trim();
    ids.push(id);
    expect(await volumes('--filter', 'dangling=true')).toEqual([anonName, 'idle-b'].sort());
    expect(await volumes('--filter', 'dangling=false')).toEqual(['keep-a']);
    expect(await volumes('-f', 'name=-b')).toEqual(['idle-b']);
    expect(await volumes('-f', 'label=team')).toEqual(['idle-b', 'keep-a']);
    expect(await volumes('-f', 'label=team=a', '-f', 'dangling=true')).toEqual([]);
    expect((await run(['volume', 'ls', '-f', 'label=team=b'])).stdout).toBe('DRIVER    VOLUME NAME\nlocal     idle-b');
    const bad = await run(['volume', 'ls', '-f', 'colour=red']);
    expect([bad.exitCode, bad.stderr]).toEqual([1, "minid: invalid filter 'colour': use one of dangling, driver, label, name"]);
    const some = await run(['volume', 'prune', '-f', '--filter', 'label=team']);
    expect(some.stdout).toBe('Deleted Volumes:\nidle-b\n\nTotal reclaimed space: 0B');
    const rest = await run(['volume', 'prune', '-f']);
    expect(rest.stdout).toBe(`Deleted Volumes:\n${anonName}\n\nTotal reclaimed space: 0B`);
    expect(await volumes()).toEqual(['keep-a']);
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
    expect((await run(['volume', 'rm', 'keep-a'])).exitCode).toBe(0);
  });
});
