// Our terminal never reaches a container that runs without -t. A process holding a terminal
// can push keystrokes into its input (ioctl TIOCSTI: with CAP_SYS_ADMIN, or on its
// controlling terminal; the user's shell then runs them once minid exits), read what is typed
// there while it runs, and change its settings. docker's CLI never hands its terminal over
// either: without -t the daemon relays the streams. So where minid would pass on one of its
// own stdio that is a terminal (`run -i`, `exec`, `exec -i`), it passes a pipe and relays it.
// (With -t the container gets a terminal of its own devpts, relayed by minid-console and
// src/runtime/console.ts: never ours.)
import type { Readable, Writable } from 'node:stream';

/** Is minid's fd 0, 1 or 2 a terminal (to be relayed, not passed on)? */
export const isTerminal = (fd: 0 | 1 | 2): boolean => !![process.stdin, process.stdout, process.stderr][fd].isTTY;

/**
 * Relay our terminal to the child's stdin pipe (`to`) and its stdout/stderr pipes to ours
 * (each given only where it is a pipe in place of our terminal). Returns the stop: called when
 * the child has ended, it stops reading our terminal so that minid can exit.
 */
export function relayTerminal(p: { to?: Writable | null; out?: Readable | null; err?: Readable | null }): () => void {
  const stdin = process.stdin;
  if (p.to) {
    p.to.on('error', () => {}); // the container closed its stdin: what is typed goes nowhere
    stdin.pipe(p.to);
  }
  for (const [from, to] of [[p.out, process.stdout], [p.err, process.stderr]] as const)
    from?.on('data', (d: Buffer) => {
      if (!to.destroyed) to.write(d);
    });
  return () => {
    if (!p.to) return;
    stdin.unpipe(p.to);
    stdin.pause();
  };
}
