// The client of minid-spawner (src/sys/spawner.c): a small helper, started once per minid
// command, that starts the commands minid runs with posix_spawn instead of a fork of Node
// (~1.5-2 ms of minid's own time each). exec.ts sends it the plain cases (argv, maybe some
// input, output captured); anything else, or no helper (not built, or it died), is spawned
// by Node itself (node:child_process). It also answers whether a port can be bound
// (bindProbe), for the check before a port is published, and starts the container's
// supervisor (startVia), so that Node never forks on `minid run`. The messages are a protocol
// of their own: src/sys/spawner-protocol.ts (spawner.c's header says what each question does).
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { cannotStart } from './exec.js';
import { packageRoot } from './paths.js';
import { QUESTIONS, SpawnerProtocolError, decodeResult, encodeRequest, question } from './spawner-protocol.js';

export interface Spawned {
  exitCode: number;
  stdout: string;
  stderr: string;
}

interface Reply {
  status: number;
  stdout: string;
  stderr: string;
}

interface Pending {
  argv: string[];
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

interface Helper {
  /** Where requests go, where results come from (the helper's stdin and stdout). */
  requests: import('node:stream').Writable;
  results: import('node:stream').Readable;
  /** What holds minid's event loop open while a request is out (see idle). */
  handles: { ref(): void; unref(): void }[];
  pending: Map<number, Pending>;
  next: number;
  buf: Buffer;
}

/** undefined: not started yet; null: not available (run commands from Node). */
let helper: Helper | null | undefined;
let starting: Promise<Helper | null> | undefined;

export const spawnerPath = (): string => path.join(packageRoot(), 'build', 'minid-spawner');

async function start(): Promise<Helper | null> {
  if (process.env.MINID_SPAWNER === '0') return null;
  const launched = await fromLauncher();
  if (launched) return launched;
  const bin = spawnerPath();
  if (!fs.existsSync(bin)) return null;
  const { spawn } = await import('node:child_process');
  const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const h = serve(child.stdin!, child.stdout!, [child, child.stdin, child.stdout] as unknown as { ref(): void; unref(): void }[]);
  child.on('error', (e) => gone(h, `could not start (${e.message})`));
  child.on('exit', (code, signal) => gone(h, `exited (${signal ?? `code ${code}`})`));
  return h;
}

/**
 * The helper bin/minid started with Node (`minid-spawner --launch`): its pipes are open here
 * as the fds MINID_SPAWNER_FDS names. Each is opened anew through /proc/self/fd (Node opens
 * with O_CLOEXEC) and the inherited fd closed: a process minid starts must not hold them,
 * or the helper would not see minid go. null: none (run directly by node, or MINID_SPAWNER=0).
 */
async function fromLauncher(): Promise<Helper | null> {
  const fds = process.env.MINID_SPAWNER_FDS;
  if (!fds) return null;
  delete process.env.MINID_SPAWNER_FDS; // not for the processes minid starts
  const [w, r] = fds.split(',').map(Number);
  const { O_WRONLY, O_RDONLY, O_NONBLOCK } = fs.constants;
  let requests = -1, results: number;
  try {
    // O_NONBLOCK: a pipe whose reader is gone fails (ENXIO) rather than waiting for one.
    requests = fs.openSync(`/proc/self/fd/${w}`, O_WRONLY | O_NONBLOCK);
    results = fs.openSync(`/proc/self/fd/${r}`, O_RDONLY | O_NONBLOCK);
  } catch {
    if (requests >= 0) fs.closeSync(requests);
    return null; // the helper is gone: start one
  } finally {
    for (const fd of [w, r]) try { fs.closeSync(fd); } catch { /* not open */ }
  }
  const net = await import('node:net');
  const out = new net.Socket({ fd: requests, readable: false, writable: true });
  const inp = new net.Socket({ fd: results, readable: true, writable: false });
  const h = serve(out, inp, [out, inp]);
  inp.on('end', () => gone(h, 'exited'));
  inp.on('error', (e) => gone(h, `failed (${e.message})`));
  return h;
}

/** Requests written to `requests`, results read from `results`. */
function serve(requests: Helper['requests'], results: Helper['results'], owners: { ref(): void; unref(): void }[]): Helper {
  const h: Helper = { requests, results, handles: owners, pending: new Map(), next: 1, buf: Buffer.alloc(0) };
  requests.on('error', () => {}); // the helper is gone: reported by its end
  results.on('data', (d: Buffer) => {
    h.buf = h.buf.length ? Buffer.concat([h.buf, d]) : d;
    try {
      for (let r = decodeResult(h.buf, h.pending); r; r = decodeResult(h.buf, h.pending)) {
        h.buf = h.buf.subarray(r.used);
        const p = h.pending.get(r.id)!;
        h.pending.delete(r.id);
        idle(h);
        p.resolve(r);
      }
    } catch (e) {
      // The two sides no longer agree on where a message starts: nothing more from it is read.
      results.removeAllListeners('data');
      gone(h, e as SpawnerProtocolError);
    }
  });
  idle(h);
  return h;
}

/**
 * The helper has gone, or said what is not the protocol: its pending requests fail (worded as
 * a failed start, or with the protocol error), the rest from Node.
 */
function gone(h: Helper, why: string | SpawnerProtocolError): void {
  if (helper === h) helper = null;
  for (const p of h.pending.values()) p.reject(typeof why === 'string' ? cannotStart(p.argv, new Error(`minid-spawner ${why}`)) : why);
  h.pending.clear();
}

/** Holds minid's event loop open only while a command is running. */
function idle(h: Helper): void {
  for (const x of h.handles) if (h.pending.size) x.ref();
  else x.unref();
}

/** Worded by the exec wrapper, as when Node's spawn fails (code ENOENT: "not installed"). */
function startError(argv: string[], errno: number): Error {
  const code = util.getSystemErrorName(-errno);
  return cannotStart(argv, Object.assign(new Error(`spawn ${argv[0]} ${code}`), { code, errno: -errno }));
}

/**
 * Run argv through the helper: its exit code (128+N if killed by signal N) and output.
 * Returns undefined when there is no helper: the caller then spawns it from Node.
 */
export async function spawnVia(argv: string[], input?: string): Promise<Spawned | undefined> {
  const r = await request(argv, input);
  if (!r) return undefined;
  if (r.status < 0) throw startError(argv, -r.status);
  return { exitCode: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Can HOST:PORT be bound now? bind(2) in the helper (see spawner.c): null when it can, else
 * the errno's name (EADDRINUSE...). undefined when there is no helper.
 */
export async function bindProbe(proto: 'tcp' | 'udp', host: string, port: number): Promise<string | null | undefined> {
  const r = await request(question(QUESTIONS.bind, proto, host, String(port))).catch(() => undefined); // the helper died: ask Node
  if (!r) return undefined;
  return r.status === 0 ? null : util.getSystemErrorName(r.status);
}

async function request(argv: string[], input?: string): Promise<Reply | undefined> {
  if (helper === undefined) helper = await (starting ??= start());
  const h = helper;
  if (!h) return undefined;
  const id = h.next++;
  return new Promise((resolve, reject) => {
    h.pending.set(id, { argv, resolve, reject });
    idle(h);
    h.requests.write(encodeRequest(id, argv, input));
  });
}

/** A started process's fd: /dev/null, a pipe it reads (minid writes), a pipe it writes (minid reads), a file to append to. */
export type StartFd = 'null' | 'read' | 'write' | { append: string };

/**
 * A process the helper started ("start"), as much of a ChildProcess as minid uses: its pid,
 * minid's ends of its pipes (stdio[K], a socket, null for the others), 'exit' (code) and
 * 'close' (exit and its output read to the end). The helper is asked when it ends ("wait")
 * only once someone listens or calls ref(): a detached supervisor does not hold minid open.
 */
export class StartedProcess extends EventEmitter {
  exitCode: number | null = null;
  readonly signalCode = null; // a signal shows as 128+N in exitCode
  private watching = false;
  constructor(
    readonly pid: number,
    readonly stdio: (import('node:net').Socket | null)[],
  ) {
    super();
    this.on('newListener', (event: string) => (event === 'exit' || event === 'close') && this.watch());
  }
  get stdout() {
    return this.stdio[1] ?? null;
  }
  get stderr() {
    return this.stdio[2] ?? null;
  }
  ref(): void {
    this.watch();
  }
  unref(): void {
    /* nothing holds minid open until someone listens */
  }
  private watch(): void {
    if (this.watching) return;
    this.watching = true;
    const exited = request(question(QUESTIONS.wait, String(this.pid)))
      .then((r) => (r && r.status >= 0 ? r.status : untilGone(this.pid)))
      .catch(() => untilGone(this.pid)) // the helper died: watch /proc instead
      .then((code) => {
        this.exitCode = code;
        this.emit('exit', code, null);
      });
    const read = this.stdio.filter((x): x is import('node:net').Socket => !!x && x.readable);
    void Promise.all([exited, ...read.map((x) => new Promise((res) => (x.closed ? res(null) : x.once('close', res))))]).then(() => this.emit('close', this.exitCode, null));
  }
}

/** Without the helper's answer: poll until the process is gone (its code then unknown). */
async function untilGone(pid: number): Promise<null> {
  for (;;) {
    try {
      if (fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) return null;
    } catch {
      return null;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Start argv through the helper, its fd K as fds[K] says, in a session of its own with setsid.
 * The pipes' ends come over as the helper's fds, opened here through /proc/HELPER/fd (with
 * O_CLOEXEC, as Node opens everything), after which the helper closes its copies.
 * undefined when there is no helper: the caller then starts it from Node.
 */
export async function startVia(argv: string[], fds: StartFd[], setsid: boolean): Promise<StartedProcess | undefined> {
  const r = await request(question(QUESTIONS.start, setsid ? '1' : '0', ...fds.map((f) => (typeof f === 'string' ? f : `append:${f.append}`)), '--', ...argv)).catch(() => undefined);
  if (!r) return undefined;
  if (r.status < 0) throw startError(argv, -r.status);
  const [helperPid, ...ends] = r.stdout.split(' ');
  const net = await import('node:net');
  const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;
  const stdio: (import('node:net').Socket | null)[] = fds.map(() => null);
  try {
    for (const end of ends) {
      const [k, fd] = end.split(':').map(Number);
      const reads = fds[k] === 'write'; // it writes, minid reads
      const mine = fs.openSync(`/proc/${helperPid}/fd/${fd}`, (reads ? O_RDONLY : O_WRONLY) | O_NONBLOCK);
      stdio[k] = new net.Socket({ fd: mine, readable: reads, writable: !reads });
    }
  } catch (e) {
    // The process finds its pipes closed (no go: minid-init exits) once the helper lets go.
    for (const x of stdio) x?.destroy();
    throw cannotStart(argv, e as NodeJS.ErrnoException);
  } finally {
    if (ends.length) request(question(QUESTIONS.close, ...ends.map((e) => e.split(':')[1]))).catch(() => {});
  }
  return new StartedProcess(r.status, stdio);
}

