// Cross-process locking around shared state (container table, IPAM, networks, image store).
// proper-lockfile takes a directory lock next to a file; we lock named files under /run/minid/locks
// so that the lock outlives nothing across a reboot.
import fs from 'node:fs';
import path from 'node:path';
import { paths, secureRunRoot } from './paths.js';

// The fs calls proper-lockfile makes. Handing it node:fs itself would make it copy every
// property of fs, and reading fs.ReadStream & co. loads Node's stream and readline modules.
const lockFs = {
  mkdir: fs.mkdir, mkdirSync: fs.mkdirSync, stat: fs.stat, statSync: fs.statSync, rmdir: fs.rmdir, rmdirSync: fs.rmdirSync,
  utimes: fs.utimes, utimesSync: fs.utimesSync, realpath: fs.realpath, realpathSync: fs.realpathSync,
};

export async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  secureRunRoot(); // whoever takes the first lock makes the runtime root: with its mode
  return lockIn(paths.locks(), name, fn);
}

/**
 * Where the locks of objects that every store on this host shares live: minid's iptables
 * chains and the jumps into them (MINID-DNAT, MINID-INPUT...) are created by the first network
 * of any store and removed with the last one. Not under a store's run folder, so that two
 * stores (MINID_ROOT/MINID_RUN) deciding "are the chains there?" at once take turns.
 */
export const HOST_LOCKS = '/run/lock/minid';

/** withLock, host-wide: held by whichever store's minid changes the shared objects. */
export async function withHostLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return lockIn(HOST_LOCKS, name, fn);
}

async function lockIn<T>(dir: string, name: string, fn: () => Promise<T>): Promise<T> {
  const { default: lockfile } = await import('proper-lockfile');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) fs.writeFileSync(file, '');
  // A crashed holder (kill -9) leaves its lock behind: proper-lockfile refreshes the lock's
  // mtime every `update` ms while held, and others take it over after `stale` ms without a
  // refresh. Short, so the next command after a crash waits 3 s at most.
  const opts = { stale: 3_000, update: 1_000, realpath: false, fs: lockFs };
  let release: () => unknown;
  try {
    // Usually nobody holds it: take it in one go (the synchronous API: no trip through
    // libuv's thread pool, ~2 ms less per lock here)...
    release = lockfile.lockSync(file, opts);
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code !== 'ELOCKED') throw e;
    // ...else wait for it, retrying with backoff.
    release = await lockfile.lock(file, { ...opts, retries: { retries: 1000, minTimeout: 5, maxTimeout: 100, factor: 1.3 } });
  }
  try {
    return await fn();
  } finally {
    try {
      await release();
    } catch {
      /* already released (a stale takeover); nothing to undo */
    }
  }
}
