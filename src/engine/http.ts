// The Engine API's plumbing: requests in, docker's JSON and error shape out, and the
// multiplexed stream docker uses for a container's stdout and stderr on one connection.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable, type Duplex } from 'node:stream';
import { isMinidError } from '../errors.js';
import { NoSuchContainerError } from '../runtime/state.js';

/** An error with the HTTP status docker answers for it (400 bad input, 404 none such, 409 conflict). */
export class ApiError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (m: string) => new ApiError(400, m);
export const notFound = (m: string) => new ApiError(404, m);
export const conflict = (m: string) => new ApiError(409, m);

/**
 * The status for an error of the runtime: its MinidErrors are said for a terminal, so their
 * kind is read from what they say (no such thing: 404; in use, running: 409). `fallback` is
 * the endpoint's own (create: 400, bad input; most others: 500, the daemon's failure).
 */
export function statusOf(e: unknown, fallback = 500): number {
  if (e instanceof ApiError) return e.status;
  if (e instanceof NoSuchContainerError) return 404;
  if (!isMinidError(e)) return 500;
  const m = e.message;
  if (/^no such |not found|does not exist|no such network/i.test(m)) return 404;
  if (/already in use|already exists|is running|is not running|is paused|in use by|refused while/i.test(m)) return 409;
  return fallback;
}

/** One request, parsed: the path without its /vX.Y prefix, the query, the body on demand. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  params: string[];
  query: URLSearchParams;
  /** The hijacked connection (Connection: Upgrade), for attach and exec start. */
  upgrade?: { socket: Duplex; head: Buffer };
}

/** docker's booleans in a query: 1, true, True (anything else: false). */
export function qbool(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  return v === '1' || v.toLowerCase() === 'true';
}

/** The request's body, whole (a JSON document is small). */
export async function readBody(ctx: Ctx, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (ctx.upgrade) {
    // A hijacked request: Node left the body on the socket; its Content-Length says how much.
    const want = Number(ctx.req.headers['content-length'] ?? 0);
    let got = ctx.upgrade.head;
    while (got.length < want) {
      const more = await new Promise<Buffer | null>((res) => {
        const s = ctx.upgrade!.socket;
        const onData = (d: Buffer) => (s.off('end', onEnd), s.pause(), res(d));
        const onEnd = () => (s.off('data', onData), res(null));
        s.once('data', onData);
        s.once('end', onEnd);
        s.resume();
      });
      if (!more) break;
      got = Buffer.concat([got, more]);
    }
    ctx.upgrade.head = got.subarray(want); // what came after the body: the client's first stdin bytes
    return got.subarray(0, want);
  }
  for await (const c of ctx.req) {
    size += (c as Buffer).length;
    if (size > limit) throw badRequest('request body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The body as JSON (an empty body: {}); malformed JSON is docker's 400. */
export async function readJson<T = any>(ctx: Ctx): Promise<T> {
  const text = (await readBody(ctx)).toString('utf8').trim();
  if (!text) return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw badRequest(`invalid JSON: ${(e as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

/** docker's error body: {"message": "..."}. */
export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.destroy();
  sendJson(res, status, { message });
}

/**
 * docker's multiplexed stream (stdcopy): each chunk is an 8-byte header (the stream, 1 stdout
 * or 2 stderr; three zero bytes; the length, big-endian) and then the bytes.
 */
export function frame(stream: 1 | 2, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(data.length, 4);
  return Buffer.concat([head, data]);
}

/** A writable that frames what it is given for one stream, onto `out`. */
export function framed(out: NodeJS.WritableStream, stream: 1 | 2, mux = true): NodeJS.WritableStream {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      if ((out as any).destroyed || (out as any).writableEnded) return done();
      const ok = out.write(mux ? frame(stream, chunk) : chunk);
      if (ok) done();
      else out.once('drain', () => done());
    },
  });
}

/** Answer a hijacked request: 101, then the raw stream (docker's attach and exec start). */
export function upgraded(ctx: Ctx, contentType = 'application/vnd.docker.multiplexed-stream'): Duplex {
  const s = ctx.upgrade!.socket;
  s.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
  return s;
}
