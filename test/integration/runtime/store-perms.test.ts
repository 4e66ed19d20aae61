// Other host users reach nothing of minid's store (issue 13, escape #1, the store part):
// MINID_ROOT 0710 and MINID_RUN 0700 (narrowed when an older minid left them 0755), the shared
// folders 0710, a container's folders 0700, its config and environment 0600; checked as
// `nobody`, and as a user of root's group, who may pass through the 0710 folders but no further.
// Containers running as a non-root user still work: they see their files through mounts.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImages, makeStore, minid, mountsUnder, requireRoot, type Store } from '../../helpers/minid.js';

let store: Store;
const run = (args: string[]) => minid(store, args);
const mode = (p: string) => fs.statSync(p).mode & 0o7777;

/** Run a command as uid 65534 with `gid` (65534: nobody; 0: a member of root's group only). */
const as = (gid: number, argv: string[]) =>
  execa('setpriv', ['--reuid', '65534', '--regid', String(gid), '--clear-groups', ...argv], { reject: false });

beforeAll(async () => {
  requireRoot();
  store = makeStore('perms');
  // The test's own temp folder is 0700: open it, so that only the store's modes protect it;
  // and make the store as an older minid did, 0755, to see it narrowed.
  fs.chmodSync(path.dirname(store.root), 0o755);
  for (const d of [store.root, store.run]) {
    fs.mkdirSync(d);
    fs.chmodSync(d, 0o755);
  }
  await loadImages(store, ['busybox']);
}, 120_000);

afterAll(async () => {
  await store?.cleanup();
  expect(mountsUnder(store.root)).toEqual([]);
});

describe('the store', () => {
  let id: string;
  beforeAll(async () => {
    const r = await run(['run', '-d', '--network', 'none', '-e', 'SECRET=hunter2', 'busybox', 'sleep', '60']);
    expect(r.exitCode, r.stderr).toBe(0);
    id = r.stdout.trim();
  });
  afterAll(async () => {
    if (id) await run(['rm', '-f', id]);
  });

  it("has docker's modes, narrowed from 0755", () => {
    const want: [string, number][] = [
      [store.root, 0o710],
      [store.run, 0o700],
      [path.join(store.root, 'containers'), 0o710],
      [path.join(store.root, 'layers'), 0o710],
      [path.join(store.run, 'containers'), 0o710],
      [path.join(store.root, 'containers', id), 0o700],
      [path.join(store.root, 'containers', id, 'config.json'), 0o600],
      [path.join(store.run, 'containers', id), 0o700],
      [path.join(store.run, 'containers', id, 'env'), 0o600],
    ];
    for (const [p, m] of want) expect(mode(p).toString(8), p).toBe(m.toString(8));
    expect(fs.readFileSync(path.join(store.root, 'containers', id, 'config.json'), 'utf8')).toContain('SECRET=hunter2');
  });

  it('nobody can list it or read a config or an environment', async () => {
    const config = path.join(store.root, 'containers', id, 'config.json');
    const env = path.join(store.run, 'containers', id, 'env');
    for (const argv of [['ls', store.root], ['ls', store.run], ['ls', path.join(store.root, 'layers')], ['cat', config], ['cat', env]]) {
      const r = await as(65534, argv);
      expect(r.exitCode, argv.join(' ')).not.toBe(0);
      expect(r.stderr, argv.join(' ')).toMatch(/Permission denied/);
      expect(r.stdout).not.toContain('hunter2');
    }
  });

  it("root's group passes through the 0710 folders, but lists nothing and reads no container's files", async () => {
    const config = path.join(store.root, 'containers', id, 'config.json');
    for (const argv of [['ls', store.root], ['ls', path.join(store.root, 'containers')], ['cat', config], ['cat', path.join(store.run, 'containers', id, 'env')]]) {
      const r = await as(0, argv);
      expect(r.exitCode, argv.join(' ')).not.toBe(0);
      expect(r.stdout).not.toContain('hunter2');
    }
  });

  it('a container running as a non-root user still reads its /etc files and runs exec', async () => {
    const r = await run(['run', '--rm', '--network', 'none', '-u', '1000:1000', '-h', 'box', 'busybox', 'sh', '-c', 'id -u; cat /etc/hostname; grep -c localhost /etc/hosts; echo $SECRET']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split('\n').slice(0, 3)).toEqual(['1000', 'box', '2']);
    const ex = await run(['exec', '-u', '1000', id, 'sh', '-c', 'id -u; echo $SECRET']);
    expect(ex.exitCode, ex.stderr).toBe(0);
    expect(ex.stdout).toBe('1000\nhunter2');
  });
});
