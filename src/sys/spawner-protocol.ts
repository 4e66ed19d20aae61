// The messages between minid and minid-spawner, minid's side (src/sys/spawner.c writes and reads
// its side by hand and points here; its header says what each question does). Requests go on
// the helper's stdin, results come on its stdout, integers little-endian:
//
//   request  u32 id, u32 argc, argc × (u32 len, bytes), u32 input_len, input bytes
//            input_len NO_INPUT: no input (the command's stdin is /dev/null)
//   result   u32 id, i32 status, u32 out_len, out bytes, u32 err_len, err bytes
//            status: the exit code, 128+N after signal N, -errno when it could not start
//
// A request whose argv[0] is empty (no command has that name) is a question for the helper
// itself: ["", QUESTION, ARGS...], one of QUESTIONS.
import { MinidError } from '../errors.js';

/** input_len of a request without input. */
export const NO_INPUT = 0xffffffff;

/** The questions the helper answers itself (spawner.c). */
export const QUESTIONS = {
  /** "bind", "tcp"|"udp", IPV4, PORT: can it be bound now? status 0, or -errno of bind(2). */
  bind: 'bind',
  /** "start", SETSID, FD0, FD1..., "--", ARGV...: start a process minid does not wait for here. */
  start: 'start',
  /** "close", FD...: the helper closes its ends of a started process's pipes. */
  close: 'close',
  /** "wait", PID: answered when that started process has ended (status: its exit code). */
  wait: 'wait',
} as const;

export type Question = (typeof QUESTIONS)[keyof typeof QUESTIONS];

/** A decoded result. */
export interface Result {
  id: number;
  status: number;
  stdout: string;
  stderr: string;
}

/** The helper said something that is not the protocol (a bug on one side): what was expected, what came. */
export class SpawnerProtocolError extends MinidError {
  constructor(expected: string, came: string) {
    super(`minid-spawner's result: expected ${expected}, got ${came} (a minid bug: please report it)`);
  }
}

/** A request for the command argv (or a question: question()), with its input if any. */
export function encodeRequest(id: number, argv: string[], input?: string): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const x = Buffer.alloc(4);
    x.writeUInt32LE(n);
    parts.push(x);
  };
  const bytes = (s: string) => {
    const b = Buffer.from(s);
    u32(b.length);
    parts.push(b);
  };
  u32(id);
  u32(argv.length);
  argv.forEach(bytes);
  if (input === undefined) u32(NO_INPUT);
  else bytes(input);
  return Buffer.concat(parts);
}

/** The argv of a question for the helper itself. */
export const question = (q: Question, ...args: string[]): string[] => ['', q, ...args];

/**
 * The first whole result at the start of b, and how many bytes it took; null while b holds
 * only part of one. `pending`: the ids minid waits for; a result for another id means the two
 * sides no longer agree on where a message starts, and nothing after it can be trusted.
 */
export function decodeResult(b: Buffer, pending: { has(id: number): boolean }): (Result & { used: number }) | null {
  if (b.length < 12) return null;
  const id = b.readUInt32LE(0);
  if (!pending.has(id)) throw new SpawnerProtocolError('the result of a request minid sent', `one for request ${id}`);
  const status = b.readInt32LE(4);
  const outLen = b.readUInt32LE(8);
  if (b.length < 12 + outLen + 4) return null;
  const errLen = b.readUInt32LE(12 + outLen);
  const used = 16 + outLen + errLen;
  if (b.length < used) return null;
  return { id, status, stdout: b.toString('utf8', 12, 12 + outLen), stderr: b.toString('utf8', 16 + outLen, used), used };
}

/** A result as the helper writes it (spawner.c's reply()): for tests and for reading the protocol. */
export function encodeResult(r: Result): Buffer {
  const out = Buffer.from(r.stdout);
  const err = Buffer.from(r.stderr);
  const b = Buffer.alloc(16 + out.length + err.length);
  b.writeUInt32LE(r.id, 0);
  b.writeInt32LE(r.status, 4);
  b.writeUInt32LE(out.length, 8);
  out.copy(b, 12);
  b.writeUInt32LE(err.length, 12 + out.length);
  err.copy(b, 16 + out.length);
  return b;
}
