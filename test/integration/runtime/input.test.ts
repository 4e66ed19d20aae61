// Hostile or bad input to `minid run` and `minid rm`, through the CLI as a user types it
// (issue 13): an --env-file that Node itself would read (escape #5), an image whose
// /etc/passwd is a symlink to a host file (escape #6, the user part), bad -h / --add-host /
// --dns / --dns-search values, checked before the host changes, and ten concurrent `rm -f`
// of one container.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBusyboxLayout, type FEntry } from '../../fixtures/image/builder.js';
import { loadImages, makeStore, minid, mountsUnder, repo, requireRoot, type Store } from '../../helpers/minid.js';
import { freeSubnet, rand, sh } from '../network/helpers.js';

const R = rand();
/** This file's own default bridge (created only if a run gets as far as the network). */
const BRIDGE = `mdtin${R}`;
let store: Store;
let tmp: string; // env files, marker scripts, images, the "host secret"
const run = (args: string[], opts = {}) => minid(store, args, opts);
const lines = (s: string) => s.split('\n').filter(Boolean);

beforeAll(async () => {
  requireRoot();
  store = makeStore('input');
  store.env.MINID_BRIDGE_NAME = BRIDGE;
  store.env.MINID_BRIDGE_SUBNET = freeSubnet((a, b) => `10.${251 - (a % 4)}.${b}.0/24`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-input-'));
  await loadImages(store, ['busybox']);
}, 120_000);

afterAll(async () => {
  // Anything a test got wrong on the bridge goes with the reset (a no-op when all went right).
  await run(['system', 'reset']);
  await store?.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
  expect(mountsUnder(store.root)).toEqual([]);
  expect(sh(['ip', '-j', 'link', 'show']).includes(`"${BRIDGE}"`)).toBe(false);
});

describe('--env-file never reaches Node (escape #5)', () => {
  let evil: string;
  let marker: string;
  beforeAll(() => {
    marker = path.join(tmp, 'marker');
    const payload = path.join(tmp, 'payload.cjs');
    fs.writeFileSync(payload, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran as ' + process.getuid());\n`);
    evil = path.join(tmp, 'evil.env');
    fs.writeFileSync(evil, `NODE_OPTIONS=--require ${payload}\nOTHER=1\n`);
    // The payload does run when Node is handed it: the tests below would see its marker.
    sh([process.execPath, '--require', payload, '-e', '0']);
    expect(fs.existsSync(marker)).toBe(true);
    fs.rmSync(marker);
  });

  it("a missing file: minid's own one-line error and 125, not Node's exit 9", async () => {
    for (const args of [['--env-file', '/nonexistent'], ['--env-file=/nonexistent']]) {
      const r = await run(['run', '--rm', '--network', 'none', ...args, 'busybox', 'true']);
      expect(r.exitCode, args.join(' ')).toBe(125);
      expect(r.stderr).toBe('minid: cannot read env file /nonexistent: check the path');
    }
  });

  it('NODE_OPTIONS in the file runs no JavaScript in minid; the container gets it as any variable', async () => {
    for (const args of [['--env-file', evil], [`--env-file=${evil}`]]) {
      const r = await run(['run', '--rm', '--network', 'none', ...args, 'busybox', 'sh', '-c', 'echo "$NODE_OPTIONS|$OTHER"']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toBe(`--require ${path.join(tmp, 'payload.cjs')}|1`);
      expect(fs.existsSync(marker), args.join(' ')).toBe(false);
    }
  });

  it('nor through bin/minid.js run directly, nor without the spawner', async () => {
    const args = ['run', '--rm', '--network', 'none', '--env-file', evil, 'busybox', 'true'];
    const direct = await execa(path.join(repo, 'bin', 'minid.js'), args, { env: store.env, reject: false });
    expect(direct.exitCode, direct.stderr).toBe(0);
    const noSpawner = await run(args, { env: { ...store.env, MINID_SPAWNER: '0' } });
    expect(noSpawner.exitCode, noSpawner.stderr).toBe(0);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it("the user's own arguments reach minid as typed", async () => {
    const r = await run(['run', '--rm', '--network', 'none', 'busybox', 'echo', '--env-file', 'x', '--', '--inspect']);
    expect(r.stdout).toBe('--env-file x -- --inspect');
  });
});

describe('-u NAME reads the image\'s /etc/passwd inside the image (escape #6)', () => {
  /** A static busybox image (its first layer with `base` too) whose top layer holds `extra`. */
  async function loadImage(name: string, extra: FEntry[], base: FEntry[] = []): Promise<void> {
    const dir = path.join(tmp, `image-${name}`);
    writeBusyboxLayout(dir, name, { applets: ['sh', 'id'], base: [{ path: 'etc/', type: 'dir' }, ...base], extra });
    const r = await run(['load', '-q', '-i', dir]);
    if (r.exitCode !== 0) throw new Error(`minid load ${name} failed: ${r.stderr}`);
  }

  it('a symlink to a host file finds no user: the host file is never read', async () => {
    const secret = path.join(tmp, 'host-passwd');
    fs.writeFileSync(secret, 'intruder:x:4242:4242::/:/bin/sh\n');
    await loadImage('passwd-to-host', [{ path: 'etc/passwd', type: 'symlink', linkpath: secret }]);
    const r = await run(['run', '--rm', '--network', 'none', '-u', 'intruder', 'passwd-to-host:1', 'id', '-u']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toBe("minid: unable to find user intruder: no matching entries in the image's /etc/passwd; use a numeric UID");
    expect(fs.readFileSync(secret, 'utf8')).toBe('intruder:x:4242:4242::/:/bin/sh\n');
  });

  it('exec -u NAME: a /etc/passwd the running container turned into a symlink to a host file is read inside it', async () => {
    const secret = path.join(tmp, 'host-passwd-exec');
    fs.writeFileSync(secret, 'intruder:x:4242:4242::/:/bin/sh\n');
    const id = (await run(['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).stdout.trim();
    try {
      for (const target of [secret, `../../../../../../..${secret}`]) {
        expect((await run(['exec', id, 'sh', '-c', `rm -f /etc/passwd && ln -s ${target} /etc/passwd`])).exitCode).toBe(0);
        const r = await run(['exec', '-u', 'intruder', id, 'id', '-u']);
        // (126: docker's exit code for an exec that cannot start)
        expect([r.exitCode, r.stderr], target).toEqual([126, "minid: unable to find user intruder: no matching entries in the image's /etc/passwd; use a numeric UID"]);
      }
    } finally {
      await run(['rm', '-f', id]);
    }
  });

  it("a symlink within the image is followed inside it, as the container sees it", async () => {
    await loadImage('passwd-in-image', [
      { path: 'data/', type: 'dir' },
      { path: 'data/passwd', data: 'app:x:4343:4344::/home/app:/bin/sh\n' },
      { path: 'etc/passwd', type: 'symlink', linkpath: '/data/passwd' },
    ]);
    const r = await run(['run', '--rm', '--network', 'none', '-u', 'app', 'passwd-in-image:1', 'sh', '-c', 'id -u; id -g; echo $HOME']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('4343\n4344\n/home/app');
  });

  it('a whiteout in an upper layer hides the lower file, or a whole folder, as overlayfs does', async () => {
    const ghost = 'ghost:x:4545:4545::/:/bin/sh\n';
    const unknown = "minid: unable to find user ghost: no matching entries in the image's /etc/passwd; use a numeric UID";
    await loadImage('passwd-whited-out', [{ path: 'etc/.wh.passwd', data: '' }], [{ path: 'etc/passwd', data: ghost }]);
    const file = await run(['run', '--rm', '--network', 'none', '-u', 'ghost', 'passwd-whited-out:1', 'id', '-u']);
    expect([file.exitCode, file.stderr]).toEqual([125, unknown]);
    await loadImage(
      'folder-whited-out',
      [{ path: '.wh.data', data: '' }, { path: 'etc/passwd', type: 'symlink', linkpath: '/data/passwd' }],
      [{ path: 'data/', type: 'dir' }, { path: 'data/passwd', data: ghost }],
    );
    const folder = await run(['run', '--rm', '--network', 'none', '-u', 'ghost', 'folder-whited-out:1', 'id', '-u']);
    expect([folder.exitCode, folder.stderr]).toEqual([125, unknown]);
  });
});

describe('bad -h, --add-host, --dns, --dns-search: refused before the host changes', () => {
  const bad: [string, string[], RegExp][] = [
    ['--add-host without an address', ['--add-host', 'nocolon'], /^minid: invalid --add-host "nocolon": expected NAME:IP/],
    ['--add-host with a bad address', ['--add-host', 'db:10.0.0'], /^minid: invalid --add-host "db:10\.0\.0": "10\.0\.0" is not an IP address/],
    ['--add-host with a newline in the address', ['--add-host', 'db:10.0.0.5\n6.6.6.6 evil'], /is not an IP address/],
    ['--add-host with a newline in the name', ['--add-host', 'db\n6.6.6.6 evil:10.0.0.5'], /is not a host name/],
    ['--add-host NAME=IP form, bad', ['--add-host=a b=10.0.0.5'], /is not a host name/],
    ['--dns that is no address', ['--dns', 'dns.example'], /^minid: invalid --dns "dns\.example": not an IP address/],
    ['--dns with a newline', ['--dns', '1.1.1.1\nnameserver 6.6.6.6'], /^minid: invalid --dns "1\.1\.1\.1\\nnameserver 6\.6\.6\.6"/],
    ['--dns-search with a newline', ['--dns-search', 'example.com\nnameserver 6.6.6.6'], /^minid: invalid --dns-search/],
    ['--dns-search that is no domain', ['--dns-search=-x'], /^minid: invalid --dns-search "-x"/],
    ['-h with a newline', ['-h', 'web\n6.6.6.6 evil'], /^minid: invalid hostname "web\\n6\.6\.6\.6 evil"/],
    ['-h with a space', ['--hostname', 'a b'], /^minid: invalid hostname "a b"/],
    ['-h longer than 63', ['-h', 'x'.repeat(64)], /^minid: invalid hostname/],
  ];

  const leftovers = () => ({
    containers: fs.readdirSync(path.join(store.root, 'containers')),
    bridge: sh(['ip', '-j', 'link', 'show']).includes(`"${BRIDGE}"`),
    rules: sh(['iptables-save']).split('\n').filter((l) => l.includes(BRIDGE) || l.includes(store.env.MINID_BRIDGE_SUBNET)),
    ipam: fs.existsSync(path.join(store.root, 'ipam')) ? fs.readdirSync(path.join(store.root, 'ipam'), { recursive: true }) : [],
  });

  it.each(bad)('%s: one line, exit 125, nothing created', async (_what, flags, message) => {
    // --explain would print each network step as it is taken: none may be.
    for (const explain of [[], ['--explain']]) {
      const r = await run(['run', '--rm', ...explain, ...flags, 'busybox', 'true']);
      expect(r.exitCode, r.stderr).toBe(125);
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    expect(leftovers()).toEqual({ containers: [], bridge: false, rules: [], ipam: [] });
  });

  it('host-gateway without a gateway (--network none): refused up front too', async () => {
    const r = await run(['run', '--rm', '--network', 'none', '--add-host', 'gw:host-gateway', 'busybox', 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toBe('minid: --add-host gw:host-gateway needs a bridge network (there is no gateway with --network none)');
    expect(fs.readdirSync(path.join(store.root, 'containers'))).toEqual([]);
  });

  it('good values still work, and are written as given', async () => {
    const r = await run(['run', '--rm', '-h', 'web.local', '--add-host', 'db:10.0.0.5', '--add-host', 'gw:host-gateway', '--add-host', 'v6:[2001:db8::1]',
      '--dns', '192.0.2.53', '--dns-search', 'example.com', 'busybox', 'sh', '-c', 'hostname; grep -E "^(nameserver|search)" /etc/resolv.conf; tail -4 /etc/hosts']);
    expect(r.exitCode, r.stderr).toBe(0);
    const gw = store.env.MINID_BRIDGE_SUBNET.replace(/0\/24$/, '1');
    const out = lines(r.stdout);
    expect(out.slice(0, 6)).toEqual(['web.local', 'nameserver 192.0.2.53', 'search example.com', '10.0.0.5\tdb', `${gw}\tgw`, '2001:db8::1\tv6']);
    expect(out[6]).toMatch(/^10\.\d+\.\d+\.2\tweb\.local /); // the container's own line, last
  });
});

describe('concurrent rm -f of one container', () => {
  it('ten at once: one removes it, the others say it is gone; no raw errors', async () => {
    const id = (await run(['run', '-d', '--name', 'racer', '--network', 'none', 'busybox', 'sleep', '60'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const rs = await Promise.all(Array.from({ length: 10 }, () => run(['rm', '-f', 'racer'])));
    const removed = rs.filter((r) => r.stdout === 'racer');
    expect(removed, rs.map((r) => r.stderr).join('\n')).toHaveLength(1);
    expect(removed[0].stderr).toBe('');
    for (const r of rs.filter((x) => x !== removed[0])) {
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('minid: no such container: racer (see `minid ps -a`)');
    }
    // `rm -f` of a container that is not there is said, not failed (docker's rule)
    for (const r of rs) expect(r.exitCode, r.stderr).toBe(0);
    for (const r of rs) expect(r.stderr).not.toMatch(/ESRCH|internal error|at .*\.js/);
    expect((await run(['ps', '-aq'])).stdout).toBe('');
    expect(fs.existsSync(path.join(store.root, 'containers', id))).toBe(false);
    expect(fs.existsSync(path.join(store.run, 'containers', id))).toBe(false);
  });

  it('rm without -f of a missing container fails with 1 (docker\'s); kill of one that ended says it is not running', async () => {
    const r = await run(['rm', 'nosuch']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('minid: no such container: nosuch (see `minid ps -a`)');
    const id = (await run(['run', '-d', '--network', 'none', 'busybox', 'true'])).stdout.trim();
    await run(['wait', id]);
    const k = await run(['kill', id]);
    expect(k.exitCode).toBe(1);
    expect(k.stderr).toMatch(/^minid: container \S+ is not running$/);
    expect((await run(['rm', id])).exitCode).toBe(0);
  });
});
