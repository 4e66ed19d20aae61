// A hijacked connection relayed to a terminal that minid-console holds (console.c): a
// container's (`docker run -it`, `docker attach`) or an exec's (`docker exec -it`). As docker
// sends a terminal's bytes: raw, one stream; the client's keys in with stdin, the detach keys
// (`?detachKeys=`, docker's default ctrl-p,ctrl-q) ending the relay, not the terminal.
import type { Duplex } from 'node:stream';
import { connect, dataFrames, DetachMatcher, sizeFrame } from '../runtime/console.js';

/**
 * Relay `sock` (and `head`, the bytes that came with the upgrade) to the console at `attach`,
 * connecting while `waiting()` holds (the console is starting). `connected` is told once the
 * relay is connected or has given up; `before` is awaited before the client is let go (unless
 * it detached). Resolves when either side has gone.
 */
export async function relayConsole(
  sock: Duplex,
  head: Buffer | undefined,
  attach: string,
  o: { input: boolean; keys: Buffer; waiting: () => boolean; connected?: () => void; before?: () => Promise<unknown> },
): Promise<void> {
  let gone = false;
  sock.on('close', () => (gone = true));
  sock.on('error', () => {});
  const con = gone ? undefined : await connect(attach, () => !gone && o.waiting());
  o.connected?.();
  if (!con) return void sock.end();
  con.on('error', () => {});
  con.pipe(sock, { end: false }); // ended below, once `before` is done
  let detached = false;
  if (o.input) {
    const matcher = new DetachMatcher(o.keys);
    const keysIn = (d: Buffer) => {
      const { pass, detach } = matcher.feed(d);
      if (pass.length) con.write(dataFrames(pass));
      if (detach) (detached = true), con.destroy();
    };
    if (head?.length) keysIn(head);
    // (Resumed: reading a body that came apart from the headers paused the socket, and a
    // listener alone does not undo an explicit pause: the keys would wait for ever.)
    sock.on('data', keysIn).resume();
  } else sock.resume(); // stdin: not attached (read and dropped)
  sock.on('close', () => con.destroy());
  await new Promise((r) => con.once('close', r));
  // (An exec's: its exit code recorded before the client, which asks for it next, is let go.)
  if (!detached) await o.before?.();
  sock.end();
}

/** A window size to the console at `attach` (a connection of its own, closed at once). */
export async function resizeConsole(attach: string, rows: number, cols: number): Promise<void> {
  const con = await connect(attach, () => false);
  if (!con) return;
  con.on('error', () => {});
  await new Promise<void>((r) => con.end(sizeFrame(rows, cols), () => r()));
  con.destroy();
}

/** `?h=ROWS&w=COLS` of a resize, checked (docker's 400 otherwise). */
export function sizeOf(q: URLSearchParams): { rows: number; cols: number } | undefined {
  const [h, w] = ['h', 'w'].map((k) => q.get(k) ?? '');
  if (![h, w].every((v) => /^\d{1,5}$/.test(v) && Number(v) < 65536)) return undefined;
  return { rows: Number(h), cols: Number(w) };
}
