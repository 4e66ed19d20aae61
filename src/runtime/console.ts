// The client side of a container's terminal (-t). minid-console (console.c) holds the
// terminal's master on the host and serves a unix socket; `run -t`, `exec -t` and `attach`
// connect there and relay our terminal, byte for byte: raw keys in, output out, window size
// followed. The container never gets an fd of our terminal (src/sys/terminal.ts), only bytes.
//
// Detach keys (docker's, default Ctrl-P Ctrl-Q): typed in a row, they end the session without
// ending the container; the terminal stays with minid-console for the next `attach`.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { MinidError } from '../errors.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/**
 * docker's --detach-keys syntax: keys separated by commas, each a single character or
 * "ctrl-" and one of a-z @ [ \ ] ^ _ (e.g. "ctrl-p,ctrl-q", "ctrl-x,x"). `exitCode`: 125 for
 * run (nothing has started), 1 for attach, exec and start (docker's CLI says 1 for any command but run).
 */
export function parseDetachKeys(spec: string, exitCode: number): Buffer {
  if (spec === '') spec = DEFAULT_DETACH_KEYS; // docker's CLI: empty is the default
  const keys: number[] = [];
  for (const key of spec.split(',')) {
    if (key.length === 1) {
      keys.push(key.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-([a-z@[\\\]^_])$/.exec(key.toLowerCase());
    if (!m)
      throw new MinidError(
        `invalid --detach-keys "${spec}": unknown key '${key}'; give keys separated by commas, each one character or ctrl- and one of a-z @ [ \\ ] ^ _ (docker's default: ${DEFAULT_DETACH_KEYS})`,
        exitCode,
      );
    // Ctrl-A is 1 ... Ctrl-Z 26, Ctrl-@ 0, Ctrl-[ 27 ... Ctrl-_ 31: the key's code minus 64.
    keys.push(m[1].toUpperCase().charCodeAt(0) - 64);
  }
  return Buffer.from(keys);
}

/**
 * Watches the keys typed for the detach sequence. A key that may start the sequence is held
 * back; if the next one does not continue it, the held keys go on as typed (docker's
 * escapeProxy does the same).
 */
export class DetachMatcher {
  private held = 0;
  constructor(private readonly keys: Buffer) {}
  /** The bytes to pass on, and whether the sequence is complete (what follows it is dropped). */
  feed(d: Buffer): { pass: Buffer; detach: boolean } {
    if (!this.keys.length) return { pass: d, detach: false };
    const out: number[] = [];
    for (const b of d) {
      if (b === this.keys[this.held]) {
        if (++this.held === this.keys.length) return { pass: Buffer.from(out), detach: true };
        continue;
      }
      out.push(...this.keys.subarray(0, this.held));
      this.held = 0;
      if (b === this.keys[0]) this.held = 1;
      else out.push(b);
    }
    return { pass: Buffer.from(out), detach: false };
  }
}

/** A frame of console.c's protocol: type, 16-bit big-endian length, payload. */
function frame(type: 'd' | 'w', payload: Buffer): Buffer {
  const head = Buffer.from([type.charCodeAt(0), payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

/** The window size frame: console.c sets it on the terminal (TIOCSWINSZ). */
export const sizeFrame = (rows: number, cols: number) => frame('w', Buffer.from([rows >> 8, rows & 0xff, cols >> 8, cols & 0xff]));

/** Keys typed, as console.c's data frames (64 KiB less one at most each). */
export function dataFrames(d: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < d.length; i += 0xffff) out.push(frame('d', d.subarray(i, i + 0xffff)));
  return Buffer.concat(out);
}

/**
 * A unix socket path as connect(2) takes it: 107 bytes at most, so a longer one (a store deep
 * in /tmp, a 64-digit container id) is named through an fd of its folder (as console.c does).
 */
function connectPath(p: string): { path: string; close: () => void } {
  if (Buffer.byteLength(p) < 108) return { path: p, close: () => {} };
  const fd = fs.openSync(path.dirname(p), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  return { path: `/proc/self/fd/${fd}/${path.basename(p)}`, close: () => fs.closeSync(fd) };
}

/** Connect, trying again while minid-console is still starting (no socket yet) and `waiting()` holds. */
export async function connect(sock: string, waiting: () => boolean): Promise<net.Socket | undefined> {
  for (let delay = 5; ; delay = Math.min(delay * 2, 50)) {
    const where = connectPath(sock);
    const s = await new Promise<net.Socket | NodeJS.ErrnoException>((res) => {
      const c = net.connect({ path: where.path });
      c.once('connect', () => res(c));
      c.once('error', (e) => res(e));
    });
    where.close();
    if (s instanceof net.Socket) return s;
    if ((s.code !== 'ENOENT' && s.code !== 'ECONNREFUSED') || !waiting()) return undefined;
    await new Promise((r) => setTimeout(r, delay));
  }
}

export interface ConsoleOptions {
  /** Relay our stdin (-i); without it only the output is shown. */
  interactive: boolean;
  detachKeys: Buffer;
  /** While the socket is not there yet: keep trying (the supervisor is starting). */
  waiting?: () => boolean;
  /** The first output (a start error is then already on the screen). */
  onOutput?: () => void;
}

/**
 * Attach our terminal to the container's. Resolves 'ended' when the terminal has gone (its
 * processes have ended), 'detached' on the detach keys, 'unreachable' if there is no console.
 */
export async function attachConsole(sock: string, o: ConsoleOptions): Promise<'ended' | 'detached' | 'unreachable'> {
  const s = await connect(sock, o.waiting ?? (() => false));
  if (!s) return 'unreachable';
  const stdin = process.stdin;
  const out = process.stdout;
  if (out.isTTY) s.write(sizeFrame(out.rows || 24, out.columns || 80));
  const onResize = () => s.write(sizeFrame(out.rows || 24, out.columns || 80));
  out.on('resize', onResize);
  let outputSeen = false;
  s.on('data', (d: Buffer) => {
    if (!outputSeen) o.onOutput?.();
    outputSeen = true;
    if (!out.destroyed) out.write(d);
  });
  const raw = o.interactive && stdin.isTTY;
  let detached = false;
  const matcher = new DetachMatcher(o.detachKeys);
  const onInput = (d: Buffer) => {
    const { pass, detach } = matcher.feed(d);
    if (pass.length) s.write(dataFrames(pass));
    if (detach) {
      detached = true;
      s.destroy();
    }
  };
  if (o.interactive) {
    if (raw) stdin.setRawMode(true);
    stdin.on('data', onInput).resume();
  }
  s.on('error', () => {}); // the console has gone: 'close' follows
  await new Promise((res) => s.once('close', res));
  out.off('resize', onResize);
  if (o.interactive) {
    stdin.off('data', onInput).pause();
    if (raw) stdin.setRawMode(false);
  }
  return detached ? 'detached' : 'ended';
}
