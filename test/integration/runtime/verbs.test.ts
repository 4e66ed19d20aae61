// The everyday verbs as docker has them: port, cp, rename, pause/unpause, top, create/start,
// restart, the prunes, system df, diff, export (root; CI runs it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImages, makeStore, minid, mountsUnder, requireRoot, type Store } from '../../helpers/minid.js';

let store: Store;
let tmp: string;
const run = (args: string[], opts = {}) => minid(store, args, opts);
const ids: string[] = [];
/** A detached container that sleeps (removed in afterAll even when a test fails). */
async function sleeper(extra: string[] = ['--network', 'none']): Promise<string> {
  const r = await run(['run', '-d', ...extra, 'busybox', 'sleep', '300']);
  expect(r.stderr).toBe('');
  const id = r.stdout.trim();
  ids.push(id);
  return id;
}

beforeAll(async () => {
  requireRoot();
  store = makeStore('verbs');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-verbs-'));
  await loadImages(store, ['busybox']);
});

afterAll(async () => {
  if (ids.length) await run(['rm', '-f', ...ids]);
  await store?.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
  expect(mountsUnder(store.root)).toEqual([]);
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
