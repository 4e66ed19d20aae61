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
    // A crashed holder leaves a stale lock: proper-lockfile refreshes the lock's mtime while
    // held and treats it as stale after `stale` ms without refresh.
    stale: 10_000,
    update: 2_000,
    retries: { retries: 400, minTimeout: 5, maxTimeout: 100, factor: 1.3 },
    realpath: false,
  });
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}
