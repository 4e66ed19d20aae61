// withLock: proper-lockfile around shared state. The usual case takes the lock at once; a
// held lock is waited for; a crashed holder's lock is taken over once stale.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withLock } from '../../../src/sys/lock.js';

let dir: string;
const saved = process.env.MINID_RUN;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-lock-'));
  process.env.MINID_RUN = dir;
});
afterEach(() => {
  if (saved === undefined) delete process.env.MINID_RUN;
  else process.env.MINID_RUN = saved;
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('withLock', () => {
  it('runs one holder at a time: the second waits for the first to release', async () => {
    const log: string[] = [];
    const holder = (tag: string, ms: number) =>
      withLock('ipam-test', async () => {
        log.push(`${tag} in`);
        await sleep(ms);
        log.push(`${tag} out`);
        return tag;
      });
    const [a, b] = await Promise.all([holder('a', 60), sleep(5).then(() => holder('b', 1))]);
    expect([a, b]).toEqual(['a', 'b']);
    expect(log).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(fs.existsSync(path.join(dir, 'locks', 'ipam-test.lock'))).toBe(false); // released
  });

  it('releases when the function throws', async () => {
    await expect(withLock('t', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await withLock('t', async () => 'again')).toBe('again');
  });

  it("takes over a crashed holder's lock once it is stale (3 s without a refresh)", async () => {
    const lock = path.join(dir, 'locks', 'crashed.lock');
    fs.mkdirSync(lock, { recursive: true });
    const old = new Date(Date.now() - 10_000);
    fs.utimesSync(lock, old, old);
    expect(await withLock('crashed', async () => 'mine')).toBe('mine');
    expect(fs.existsSync(lock)).toBe(false); // taken over, then released like any lock
  });
});
