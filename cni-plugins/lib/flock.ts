// An exclusive flock(2) on a file, the same lock the reference host-local takes on
// <dataDir>/<network>/lock (go-filemutex), so minid-host-local and Debian's host-local can share
// a data directory safely. Node has no flock(), so util-linux `flock` locks an open file
// description that this process shares with it (fd 3 of the child): the lock belongs to the
// description, outlives the child, and is released when this process closes its fd (or dies).
import fs from 'node:fs';
import { spawnProcess } from '../../src/sys/exec.js';
import { CniError, ErrorCode } from './skel.js';

export async function lockFile(file: string, timeoutSec = 60): Promise<() => void> {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  let code: number | null;
  try {
    const child = await spawnProcess(['flock', '--exclusive', '--wait', String(timeoutSec), '3'], {
      stdio: ['ignore', 'ignore', 'inherit', fd],
    });
    code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (c) => resolve(c));
    });
  } catch (e) {
    fs.closeSync(fd);
    throw new CniError(ErrorCode.IO_FAILURE, `cannot lock ${file}: ${(e as Error).message}`);
  }
  if (code !== 0) {
    fs.closeSync(fd);
    throw new CniError(ErrorCode.TRY_AGAIN_LATER, `timed out after ${timeoutSec}s waiting for the lock on ${file}`, 'another CNI call holds it; try again later');
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    fs.closeSync(fd);
  };
}

export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const release = await lockFile(file);
  try {
    return await fn();
  } finally {
    release();
  }
}
