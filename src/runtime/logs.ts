// `minid logs [-f]`: a container's output, as the log file under its folder holds it (written
// by the relay of a detached container, see launch.ts). Following is polling: the file is read
// on from where the last read ended, every POLL_MS, until the container is no longer running.
import fs from 'node:fs';
import { findContainer, logFile } from './state.js';

const POLL_MS = 100;

/**
 * Hand the container's log to `write`, chunk by chunk; with `follow`, until the container has
 * exited. A chunk is valid during the call only (its buffer is read into again): write it out
 * or copy it.
 */
export async function readLogs(ref: string, opts: { follow?: boolean }, write: (chunk: Buffer) => void): Promise<void> {
  const s = findContainer(ref);
  const file = logFile(s.config.id);
  let pos = 0;
  // Everything from `pos` to the file's current end (no file yet: nothing).
  const pump = () => {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return;
    }
    const buf = Buffer.alloc(65536);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      write(buf.subarray(0, n));
      pos += n;
    }
    fs.closeSync(fd);
  };
  pump();
  if (!opts.follow) return;
  while (findContainer(s.config.id).status === 'running') {
    await new Promise((r) => setTimeout(r, POLL_MS));
    pump();
  }
  pump(); // what it wrote last, before it exited
}
