// MINID_ROOT / MINID_RUN naming a folder that is not a store (`MINID_ROOT=$T/lib` with an empty
// $T is /lib) is refused before minid narrows its permissions or writes into it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { secureStore } from '../../../src/sys/paths.js';

const saved = { root: process.env.MINID_ROOT, run: process.env.MINID_RUN };
let base = '';
afterEach(() => {
  process.env.MINID_ROOT = saved.root;
  process.env.MINID_RUN = saved.run;
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

function stores(rootFiles: string[], runFiles: string[]): { root: string; run: string } {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-unit-root-'));
  const root = path.join(base, 'lib');
  const run = path.join(base, 'run');
  for (const [dir, files] of [[root, rootFiles], [run, runFiles]] as const) {
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    for (const f of files) fs.writeFileSync(path.join(dir, f), '');
  }
  process.env.MINID_ROOT = root;
  process.env.MINID_RUN = run;
  return { root, run };
}

describe('a store root that is not a store', () => {
  it('refuses a folder with files of its own, and leaves its mode alone', () => {
    const { root } = stores(['libc.so.6'], []);
    expect(() => secureStore()).toThrow(`MINID_ROOT=${root} holds "libc.so.6", which is not minid's: it is not a minid store; point MINID_ROOT at a new or empty folder`);
    expect(fs.statSync(root).mode & 0o777).toBe(0o755);
  });

  it('refuses a runtime root with files of its own', () => {
    const { run } = stores([], ['utmp']);
    expect(() => secureStore()).toThrow(`MINID_RUN=${run} holds "utmp"`);
    expect(fs.statSync(run).mode & 0o777).toBe(0o755);
  });

  it("takes an empty folder, or one with minid's entries only (an older minid's store), and narrows it", () => {
    const { root, run } = stores(['images.json', 'images.json.123.tmp', 'store-id'], ['locks']);
    secureStore();
    expect(fs.statSync(root).mode & 0o777).toBe(0o710);
    expect(fs.statSync(run).mode & 0o777).toBe(0o700);
  });
});
