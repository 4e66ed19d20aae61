// Helpers for the privileged integration tests: a private minid store per test file, the CLI
// run as a user would run it, and checks that nothing was left behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type Options } from 'execa';
import { afterAll, beforeAll, expect } from 'vitest';
import { freeSubnet } from './subnet.js';

export const repo = path.resolve(__dirname, '..', '..');
/** The command users run: bin/minid (the launcher: it starts Node from the snapshot). */
export const cli = path.join(repo, 'bin', 'minid');
export const imagesDir = process.env.MINID_TEST_IMAGES || path.join(repo, '.images');

/** Privileged suites run in CI as root: fail loudly instead of skipping. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('this integration suite needs root (CI runs it as root): run `sudo make test`');
  for (const f of ['dist/bundle/main.js', 'dist/minid.blob'])
    if (!fs.existsSync(path.join(repo, f))) throw new Error(`minid is not built (${f} is missing): run \`make build\``);
}

export interface Store {
  root: string;
  run: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/**
 * Empty a store's image side (images, blobs, layers, downloads) for a test that starts from
 * nothing. Its identity (store-id) stays: the kernel objects its networks made are labelled
 * with it, and a store that lost it would find them another store's.
 */
export function emptyStore(store: Store): void {
  if (!fs.existsSync(store.root)) return;
  for (const e of fs.readdirSync(store.root)) if (e !== 'store-id') fs.rmSync(path.join(store.root, e), { recursive: true, force: true });
}

/** A fresh MINID_ROOT / MINID_RUN for one test file. */
export function makeStore(tag: string): Store {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `minid-test-${tag}-`));
  const root = path.join(base, 'lib');
  const run = path.join(base, 'run');
  // Its own default bridge and subnet (a test may pick others): never the host's minid0.
  const env: Record<string, string> = {
    MINID_ROOT: root,
    MINID_RUN: run,
    MINID_BRIDGE_NAME: `mst${Math.random().toString(16).slice(2, 8)}0`,
    MINID_BRIDGE_SUBNET: freeSubnet((a, b) => `10.${100 + a}.${b}.0/24`),
  };
  return {
    root,
    run,
    env,
    async cleanup() {
      // Stop whatever the tests left running, through minid itself, then drop the store.
      const ids = await execa(cli, ['ps', '-aq'], { env, reject: false });
      const list = String(ids.stdout).split('\n').filter(Boolean);
      if (list.length) await execa(cli, ['rm', '-f', ...list], { env, reject: false });
      // Then the kernel objects of its networks (bridges, rules, minid's chains once unused).
      const reset = await execa(cli, ['system', 'reset'], { env, reject: false });
      if (reset.exitCode !== 0) throw new Error(`minid system reset failed: ${reset.stderr}`);
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

export async function minid(store: Store, args: string[], opts: Options = {}) {
  return execa(cli, args, { env: store.env, reject: false, timeout: 60_000, ...opts });
}

export async function loadImages(store: Store, names: string[] = ['busybox', 'nginx']): Promise<void> {
  for (const n of names) {
    const dir = path.join(imagesDir, n);
    if (!fs.existsSync(path.join(dir, 'index.json'))) throw new Error(`image ${n} is not built in ${imagesDir}: run \`make images\``);
    const r = await minid(store, ['load', '-q', '-i', dir]);
    if (r.exitCode !== 0) throw new Error(`minid load ${n} failed: ${r.stderr}`);
  }
}

/** Host mounts whose path mentions a given folder (nothing of a test should stay mounted). */
export function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
}

/** Retry an assertion until it passes (or `ms` is up): for what a busy 2-core CI box makes slow. */
export async function eventually(check: () => Promise<void> | void, ms = 10_000, every = 100): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, every));
    }
  }
}

/**
 * A suite's own store with `images` loaded and a temp folder, made in beforeAll; in afterAll
 * the containers it recorded in `ids` are removed (even after a failed test), then the store
 * and the folder, and no mount is left under the store.
 */
export function suiteStore(tag: string, images: string[] = ['busybox']) {
  const suite = {
    store: undefined as unknown as Store,
    tmp: '',
    ids: [] as string[],
    run: (args: string[], opts: Options = {}) => minid(suite.store, args, opts),
    /** `run -d --network none ARGS...` (for tests that need no network): its id, recorded for afterAll. */
    async detached(args: string[]): Promise<string> {
      const r = await suite.run(['run', '-d', '--network', 'none', ...args]);
      expect([r.exitCode, r.stderr]).toEqual([0, '']);
      const id = String(r.stdout).trim();
      suite.ids.push(id);
      return id;
    },
    /** A user's mistake: one line naming it, `code` (run's 125), no output, and no container made. */
    async refused(args: string[], says: string, code = 125): Promise<void> {
      const before = (await suite.run(['ps', '-aq'])).stdout;
      const r = await suite.run(args);
      expect([r.exitCode, r.stdout]).toEqual([code, '']);
      expect(String(r.stderr).trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(says);
      expect((await suite.run(['ps', '-aq'])).stdout).toBe(before);
    },
  };
  beforeAll(async () => {
    requireRoot();
    suite.store = makeStore(tag);
    suite.tmp = fs.mkdtempSync(path.join(os.tmpdir(), `minid-${tag}-`));
    await loadImages(suite.store, images);
  });
  afterAll(async () => {
    if (suite.ids.length) await suite.run(['rm', '-f', ...suite.ids]);
    await suite.store?.cleanup();
    if (suite.tmp) fs.rmSync(suite.tmp, { recursive: true, force: true });
    if (suite.store) expect(mountsUnder(suite.store.root)).toEqual([]);
  });
  return suite;
}
