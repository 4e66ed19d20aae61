// The store's identity. Several stores can share one host (MINID_ROOT/MINID_RUN: the tests,
// several users of one workshop machine), and they share its kernel: one iptables, one set of
// link names. So each store gets a short random id, made once with the store and kept in it
// (MINID_ROOT/store-id), and every kernel object minid labels carries it: the iptables
// comments (`minid:<store>:<network>[:<container>:<id12>]`) and the bridges' aliases. Cleanup,
// prune, reset and "stale rule" paths then take only what carries their own store's id.
//
// Older minids wrote comments without a store id (`minid:<network>...`). Those belong to the
// default store (/var/lib/minid), the only one an ordinary install has: it alone takes them
// (`legacy`), and only where they name its own bridges or containers.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { withLock } from './lock.js';
import { DEFAULT_ROOT, root, ROOT_MODE, secureDir } from './paths.js';

export interface StoreRef {
  /** 8 hex digits: in every rule comment and bridge alias of this store. */
  id: string;
  /** The default store: it also owns the store-less comments older minids wrote. */
  legacy: boolean;
  /** MINID_ROOT, for messages. */
  root: string;
}

export const STORE_ID_RE = /^[0-9a-f]{8}$/;
const idFile = (): string => path.join(root(), 'store-id');

function readId(): string | null {
  try {
    const id = fs.readFileSync(idFile(), 'utf8').trim();
    return STORE_ID_RE.test(id) ? id : null;
  } catch {
    return null;
  }
}

let cached: { root: string; ref: StoreRef } | null = null;

/**
 * This store's identity, made on first use (under the store's lock, so two first commands
 * agree on one id). A dry run makes it too: the commands it prints are the ones a real run
 * would type, comments included.
 */
export async function storeRef(): Promise<StoreRef> {
  const r = root();
  if (cached?.root === r) return cached.ref;
  let id = readId();
  if (!id) {
    id = await withLock('store', async () => {
      const again = readId();
      if (again) return again;
      const made = crypto.randomBytes(4).toString('hex');
      secureDir(r, ROOT_MODE);
      const tmp = `${idFile()}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(tmp, made + '\n', { mode: 0o644 });
        fs.renameSync(tmp, idFile());
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        fail(`cannot write the store's identity ${idFile()} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): free space under ${r} or make it writable, then try again`);
      }
      return made;
    });
  }
  const ref: StoreRef = { id, legacy: path.resolve(r) === DEFAULT_ROOT, root: r };
  cached = { root: r, ref };
  return ref;
}
