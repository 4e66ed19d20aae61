// The store's folders and their modes (src/sys/paths.ts): made narrow, narrowed if an older
// minid left them wide; the container config readable by root only (state.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { secureDir, secureStore, ROOT_MODE, RUN_MODE, SHARED_DIR_MODE } from '../../../src/sys/paths.js';
import { configFile, saveConfig, type ContainerConfig } from '../../../src/runtime/state.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-perms-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
const mode = (p: string) => fs.statSync(p).mode & 0o7777;

let saved: Record<string, string | undefined>;
let n = 0;
let dir: string;
beforeEach(() => {
  saved = { MINID_ROOT: process.env.MINID_ROOT, MINID_RUN: process.env.MINID_RUN };
  dir = path.join(base, `t${++n}`);
  process.env.MINID_ROOT = path.join(dir, 'lib');
  process.env.MINID_RUN = path.join(dir, 'run');
});
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
});

describe('the store', () => {
  it("is made with docker's modes: root 0710, run root 0700, containers/ and layers/ 0710", () => {
    secureStore();
    expect(mode(path.join(dir, 'lib'))).toBe(ROOT_MODE);
    expect(mode(path.join(dir, 'run'))).toBe(RUN_MODE);
    for (const d of ['lib/containers', 'lib/layers', 'run/containers']) expect(mode(path.join(dir, d)), d).toBe(SHARED_DIR_MODE);
  });

  it('narrows folders an older minid made 0755 (and keeps a narrower one as it is)', () => {
    for (const d of ['lib', 'run', 'lib/layers']) {
      fs.mkdirSync(path.join(dir, d), { recursive: true });
      fs.chmodSync(path.join(dir, d), 0o755);
    }
    fs.mkdirSync(path.join(dir, 'lib/containers'));
    fs.chmodSync(path.join(dir, 'lib/containers'), 0o700);
    secureStore();
    expect(mode(path.join(dir, 'lib'))).toBe(0o710);
    expect(mode(path.join(dir, 'run'))).toBe(0o700);
    expect(mode(path.join(dir, 'lib/layers'))).toBe(0o710);
    expect(mode(path.join(dir, 'lib/containers'))).toBe(0o700);
  });

  it('secureDir makes missing parents and only takes bits away', () => {
    const d = path.join(dir, 'a', 'b');
    secureDir(d, 0o700);
    expect(mode(d)).toBe(0o700);
    const wide = path.join(dir, 'wide');
    fs.mkdirSync(wide);
    fs.chmodSync(wide, 0o2777);
    secureDir(wide, 0o710);
    expect(mode(wide)).toBe(0o710);
  });

  it('container configs are written 0600, also over a leftover temp file', () => {
    const f = configFile('c1');
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(`${f}.${process.pid}.tmp`, 'old', { mode: 0o644 });
    saveConfig({ id: 'c1', env: ['SECRET=1'] } as unknown as ContainerConfig);
    expect(mode(f)).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(f, 'utf8'))).toEqual({ id: 'c1', env: ['SECRET=1'] });
  });
});
