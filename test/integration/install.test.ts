// minid as a CI job installs it: `npm pack` (prepack builds the bundle and the prebuilt C
// helpers), `npm install -g` of the tarball into a prefix of its own (postinstall compiles the
// helpers, or takes the prebuilt ones, and makes the start-up snapshot with this node), a
// container run from there, then `npm uninstall -g`, which leaves nothing.
// Offline: the package needs no dependency at all (the CLI is bundled; a terminal, -t, is the
// container's own, held by the C helper minid-console).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imagesDir, makeStore, repo, requireRoot, type Store } from '../helpers/minid.js';

// What a clone holds that is not source: not copied into the tree `npm pack` builds.
const NOT_SOURCE = new Set(['node_modules', '.git', '.images', '.vitest', 'dist', 'build', 'build.new', 'prebuilt']);

describe('npm pack, npm install -g, npm uninstall -g', () => {
  let tmp: string;
  let store: Store;
  let prefix: string;
  let tarball: string;
  const installed = () => path.join(prefix, 'lib', 'node_modules', 'minid');
  const minid = (args: string[], env: Record<string, string> = {}) =>
    execa(path.join(prefix, 'bin', 'minid'), args, { env: { ...store.env, ...env }, reject: false, timeout: 60_000 });

  beforeAll(() => {
    requireRoot();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-install-'));
    prefix = path.join(tmp, 'prefix');
    store = makeStore('install');
  });
  afterAll(async () => {
    // An install a failed test left behind goes with the folder; the store through minid.
    await store?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('npm pack builds a package of what runs: the CLI, its snapshot entry, the helpers prebuilt for x64 and arm64', async () => {
    // The clone's sources in a folder of their own: prepack builds there, not in this checkout
    // (whose dist/ and build/ the other suites use). node_modules: this checkout's.
    const src = path.join(tmp, 'src');
    fs.cpSync(repo, src, { recursive: true, filter: (f) => !NOT_SOURCE.has(path.relative(repo, f).split(path.sep)[0]) });
    fs.symlinkSync(fs.realpathSync(path.join(repo, 'node_modules')), path.join(src, 'node_modules'));
    const pack = await execa('npm', ['pack', '--pack-destination', tmp], { cwd: src, reject: false, all: true });
    expect(pack.exitCode, pack.all).toBe(0);
    tarball = path.join(tmp, fs.readdirSync(tmp).find((f) => f.endsWith('.tgz'))!);

    const files = String((await execa('tar', ['-tzf', tarball])).stdout).split('\n');
    for (const f of ['bin/minid', 'bin/minid.js', 'dist/bundle/main.js', 'dist/snapshot/entry.cjs', 'dist/cni-plugins.mjs', 'scripts/native.sh', 'src/runtime/init.c', 'cni-plugins/loopback/main.c', 'cni-plugins/bin/minid-loopback'])
      expect(files).toContain(`package/${f}`);
    for (const arch of ['x64', 'arm64'])
      for (const h of ['minid-init', 'minid-spawner', 'minid-devices', 'minid-logger', 'minid-loopback']) expect(files).toContain(`package/prebuilt/linux-${arch}/${h}`);
    // The API (import ... from 'minid'): its bundle and its types.
    for (const f of ['dist/api/index.js', 'dist/api/reaper.js', 'dist/api/index.d.ts', 'dist/api/types.d.ts']) expect(files).toContain(`package/${f}`);
    // No tests, benchmarks, CI, image build scripts, TypeScript sources (but the API's
    // declarations) or built snapshots.
    expect(files.filter((f) => /^package\/(test|bench|\.ci|images|docs|dist\/src|node_modules|build)\/|(?<!\.d)\.ts$|\.blob/.test(f))).toEqual([]);
    // 4.96 MB today, 3.9 MB of it the static helpers for two architectures (glibc linked in
    // whole: 0.6-0.95 MB each); the code is 0.4 MB. The bound catches what should not be in
    // it (an image, node_modules: tens of MB), with room for a helper more.
    expect(fs.statSync(tarball).size).toBeLessThan(6_000_000);
  }, 300_000);

  it('npm install -g gives a minid that runs a container, with its helpers and snapshot made at install', async () => {
    const install = await execa('npm', ['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, tarball], { cwd: tmp, reject: false, all: true });
    expect(install.exitCode, install.all).toBe(0);
    for (const f of ['build/minid-init', 'build/minid-spawner', 'build/minid-devices', 'build/minid-logger', 'build/minid-loopback', 'dist/minid.blob', 'dist/minid.blob.node'])
      expect(fs.existsSync(path.join(installed(), f)), f).toBe(true);
    expect(fs.readFileSync(path.join(installed(), 'dist', 'minid.blob.node'), 'utf8').trim()).toBe(fs.realpathSync(process.execPath));

    const load = await minid(['load', '-q', '-i', path.join(imagesDir, 'busybox')]);
    expect(load.exitCode, load.stderr).toBe(0);
    const run = await minid(['run', '--rm', 'busybox', 'echo', 'hi']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('hi');
    expect(run.exitCode).toBe(0);

    // A terminal of the container's own (-t), from the installed helpers.
    const tty = await minid(['run', '--rm', '-t', 'busybox', 'tty']);
    expect(tty.exitCode).toBe(0);
    expect(tty.stdout.trim()).toBe('/dev/pts/0');
    expect((await minid(['ps', '-aq'])).stdout).toBe('');
  }, 120_000);

  it("a project that has it installed imports its API (package.json's exports) and type-checks against its declarations", async () => {
    // A project whose node_modules is the prefix's (npm install -g's lib/node_modules).
    const project = path.join(tmp, 'project');
    fs.mkdirSync(project);
    fs.symlinkSync(path.join(prefix, 'lib', 'node_modules'), path.join(project, 'node_modules'));
    fs.writeFileSync(path.join(project, 'package.json'), '{ "type": "module" }\n');
    fs.writeFileSync(
      path.join(project, 'use.ts'),
      [
        "import { run, type Container, type RunOptions } from 'minid';",
        "const options: RunOptions = { command: ['echo', 'hi from the API'], memory: '64m' };",
        'const c: Container = await run("busybox", options);',
        'const code: number = await c.wait();',
        'const { stdout } = await c.logs();',
        'await c.remove();',
        'console.log(code, stdout.trim());',
        '',
      ].join('\n'),
    );
    // `await using` (type-checked only: Node 20 cannot parse it), with TypeScript's disposable lib.
    fs.writeFileSync(
      path.join(project, 'dispose.ts'),
      "import { Session, run } from 'minid';\nexport async function t(): Promise<string> {\n  await using s = await Session.start();\n  await using c = await run('busybox', { ports: [80] });\n  await c.waitForHealthy(async (x) => (await fetch(await x.url(80))).ok);\n  return s.id;\n}\n",
    );
    const tsc = await execa(
      path.join(repo, 'node_modules', '.bin', 'tsc'),
      ['--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--lib', 'es2022,esnext.disposable', '--types', 'node', '--typeRoots', path.join(repo, 'node_modules', '@types'), 'use.ts', 'dispose.ts'],
      { cwd: project, reject: false, all: true },
    );
    expect(tsc.exitCode, tsc.all).toBe(0);
    // The same code as a plain module (its types stripped), run against the installed package.
    fs.writeFileSync(path.join(project, 'use.mjs'), fs.readFileSync(path.join(project, 'use.ts'), 'utf8').replace(/, type \w+/g, '').replace(/: \w+ =/g, ' ='));
    const use = await execa('node', ['use.mjs'], { cwd: project, env: store.env, reject: false, all: true, timeout: 60_000 });
    expect(use.all).toBe('0 hi from the API');
    expect((await minid(['ps', '-aq'])).stdout).toBe('');
  }, 120_000);

  it('without a C compiler, the install takes the prebuilt static helpers, and they run containers', async () => {
    // This machine's programs but cc (scripts/native.sh looks for `cc`).
    const bin = path.join(tmp, 'no-cc');
    fs.mkdirSync(bin);
    for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin'])
      for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : [])
        if (f !== 'cc' && !fs.existsSync(path.join(bin, f))) fs.symlinkSync(path.join(dir, f), path.join(bin, f));
    const native = await execa('sh', ['scripts/native.sh', 'install'], { cwd: installed(), env: { PATH: bin }, reject: false, all: true });
    expect(native.all).toBe(`minid: C helpers prebuilt for linux-${process.arch}`);
    expect(fs.readFileSync(path.join(installed(), 'build', 'minid-init'))).toEqual(fs.readFileSync(path.join(installed(), 'prebuilt', `linux-${process.arch}`, 'minid-init')));
    const run = await minid(['run', '--rm', 'busybox', 'sh', '-c', 'echo hi from $(hostname)']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^hi from \w+$/);
  }, 120_000);

  it('npm uninstall -g leaves nothing in the prefix', async () => {
    const un = await execa('npm', ['uninstall', '-g', '--offline', '--prefix', prefix, 'minid'], { cwd: tmp, reject: false, all: true });
    expect(un.exitCode, un.all).toBe(0);
    const left = fs.readdirSync(prefix, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory());
    expect(left.map((e) => path.join(e.parentPath, e.name))).toEqual([]);
  }, 60_000);
});
