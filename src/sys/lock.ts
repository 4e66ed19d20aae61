// Cross-process locking around shared state (container table, IPAM, networks, image store).
// proper-lockfile takes a directory lock next to a file; we lock named files under /run/minid/locks
// so that the lock outlives nothing across a reboot.
import fs from 'node:fs';
import path from 'node:path';
import { paths } from './paths.js';

export async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const { default: lockfile } = await import('proper-lockfile');
  const dir = paths.locks();
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) fs.writeFileSync(file, '');
  const release = await lockfile.lock(file, {
    // A crashed holder (kill -9) leaves its lock behind: proper-lockfile refreshes the lock's
    // mtime every `update` ms while held, and others take it over after `stale` ms without a
    // refresh. Short, so the next command after a crash waits 3 s at most.
    stale: 3_000,
    update: 1_000,
    retries: { retries: 1000, minTimeout: 5, maxTimeout: 100, factor: 1.3 },
    realpath: false,
  });
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}
