// The one exec wrapper. Every external command minid runs (ip, iptables, mount, unshare, CNI
// plugins...) goes through here, so logging (MINID_DEBUG=1), tracing for --explain, the
// recording fake used by unit tests, and the error messages all come from one place.

import { constants } from 'node:os';
import { MinidError } from '../errors.js';
import { notInstalled } from './packages.js';

const osSignals = constants.signals as Record<string, number>;

export interface RunOptions {
  /** Text written to the command's stdin. */
  input?: string;
  /**
   * The rest of stdin, written (and stdin closed) once it resolves; a rejection just closes it.
   * The command starts on `input` while the caller still works out its last lines: an `ip -batch -`
   * (which runs each line as it reads it) creates links while a CNI plugin waits for its IPAM answer.
   */
  inputMore?: Promise<string>;
  /** The input is a secret (a password for a credential helper): traces say so instead of showing it. */
  secretInput?: boolean;
  /** Extra environment; with `cleanEnv` it is the whole environment. */
  env?: Record<string, string>;
  cleanEnv?: boolean;
  /** Return the result instead of throwing on a non-zero exit. */
  allowFail?: boolean;
  cwd?: string;
  timeoutMs?: number;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type Runner = (argv: string[], opts: RunOptions) => Promise<RunResult>;

let override: Runner | null = null;
// MINID_DEBUG=1: each command as it starts, with the milliseconds since minid started, and
// how long it took when it ends (where a command's time goes is the first thing to ask).
const ms = () => performance.now().toFixed(1).padStart(7);
const debugTracer = (line: string): void => void process.stderr.write(`[minid ${ms()}] ${line}\n`);
// Read at each call, not when this module loads: the start-up snapshot loads it at build time.
let tracerSet: ((line: string) => void) | null | undefined;
const traceTo = (): ((line: string) => void) | null => (tracerSet !== undefined ? tracerSet : process.env.MINID_DEBUG ? debugTracer : null);

/** MINID_DEBUG=1: a line marking where a command is (between the commands it runs). */
export function debugMark(what: string): void {
  if (process.env.MINID_DEBUG) debugTracer(`-- ${what}`);
}

// Whether commands may go through minid-spawner. A CNI plugin runs few commands and lives a few
// milliseconds: starting the helper would cost it more than it saves (cni-plugins/lib/skel.ts).
let helperAllowed = true;

/** "No helper": every command of this process is started from Node (the CNI plugins). */
export function withoutHelper(): void {
  helperAllowed = false;
}

/** Replace the runner (unit tests install a recorder; nothing touches the host). */
export function setRunner(r: Runner | null): void {
  override = r;
}

/** Print every command as it runs (used by MINID_DEBUG). */
export function setTracer(t: ((line: string) => void) | null | undefined): void {
  tracerSet = t;
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
export function quote(arg: string): string {
  if (arg === '') return "''";
  return SAFE.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A command as a person would type it; stdin shown as a here-document. */
export function formatCommand(argv: string[], input?: string): string {
  const line = argv.map(quote).join(' ');
  if (input === undefined) return line;
  const body = input.endsWith('\n') ? input : input + '\n';
  return `${line} <<'EOF'\n${body}EOF`;
}

export class ExecError extends MinidError {
  constructor(
    public readonly argv: string[],
    public readonly result: RunResult,
  ) {
    const why = (result.stderr || result.stdout).trim().split('\n').filter(Boolean).pop() || `exit code ${result.exitCode}`;
    super(`\`${argv.map(quote).join(' ')}\` failed: ${why}`);
  }
}

/** A command that could not be started (Node's spawn or minid-spawner says why: e.code). */
export function cannotStart(argv: string[], e: NodeJS.ErrnoException): MinidError {
  // The code stays on the error, for a caller with a better line for its own command.
  // Missing: the line names the Debian/Ubuntu package to install (src/sys/packages.ts).
  if (e.code === 'ENOENT') return Object.assign(new MinidError(notInstalled(argv[0])), { code: e.code });
  return Object.assign(new MinidError(`cannot run \`${argv[0]}\`: ${e.message}`), { code: e.code });
}

// node:child_process rather than execa here: importing execa costs ~135 ms on this machine,
// more than Node's own start-up, and every minid command runs through this function.
// The plain cases (no environment, directory or time limit of their own) go through
// minid-spawner (src/sys/spawner.ts): a fork of Node costs more than the command it starts.
// Either way a command killed by signal N ends with 128+N, as in a shell.
async function realRunner(argv: string[], opts: RunOptions): Promise<RunResult> {
  if (helperAllowed && !opts.env && !opts.cleanEnv && !opts.cwd && !opts.timeoutMs && !opts.inputMore) {
    const r = await (await import('./spawner.js')).spawnVia(argv, opts.input);
    if (r) return r;
  }
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: opts.cleanEnv ? opts.env : opts.env ? { ...process.env, ...opts.env } : process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined && !opts.inputMore ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e: NodeJS.ErrnoException) => reject(cannotStart(argv, e)));
    child.on('close', (code, signal) =>
      resolve({
        exitCode: code ?? 128 + (signal ? osSignals[signal] ?? 0 : 0),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
    if (opts.inputMore) {
      child.stdin!.on('error', () => {}); // the command may exit without reading it all
      if (opts.input) child.stdin!.write(opts.input);
      opts.inputMore.then(
        (more) => child.stdin!.end(more),
        () => child.stdin!.end(),
      );
    } else if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // the command may exit without reading it all
      child.stdin!.end(opts.input);
    }
  });
}

/** Run a command to completion. Throws ExecError on a non-zero exit unless allowFail. */
export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  // A recorder (tests, the snapshot's rehearsal) sees the whole input at once, as if it had
  // all been known at the start.
  if (opts.inputMore && override) opts = { ...opts, input: (opts.input ?? '') + (await opts.inputMore.catch(() => '')), inputMore: undefined };
  const tracer = traceTo();
  const t0 = tracer ? performance.now() : 0;
  if (tracer) tracer(formatCommand(argv, opts.secretInput ? '(a secret: not shown)' : opts.input ?? (opts.inputMore ? '' : undefined)));
  if (tracer && opts.inputMore) {
    const more = opts.inputMore;
    opts = { ...opts, inputMore: more.then((t) => (tracer(`  ${argv[0]}: more input\n${t}`), t)) };
  }
  const result = await (override ?? realRunner)(argv, opts);
  if (tracer && process.env.MINID_DEBUG) tracer(`  ${argv[0]}: exit ${result.exitCode} after ${(performance.now() - t0).toFixed(1)} ms`);
  if (result.exitCode !== 0 && !opts.allowFail) throw new ExecError(argv, result);
  return result;
}

/** Run a command and return its trimmed stdout. */
export async function output(argv: string[], opts: RunOptions = {}): Promise<string> {
  return (await run(argv, opts)).stdout.trim();
}

/** A long-running process minid started (startProcess): a ChildProcess, or the helper's StartedProcess. */
export interface Started {
  readonly stdio: readonly (import('node:stream').Stream | null | undefined)[];
  readonly stdout: import('node:stream').Readable | null;
  readonly stderr: import('node:stream').Readable | null;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  ref(): void;
  unref(): void;
  on(event: 'exit' | 'close', listener: (...args: any[]) => void): unknown;
  once(event: 'exit' | 'close', listener: (...args: any[]) => void): unknown;
}

/** A started process's fd K: 'inherit' (minid's own), or what startVia takes (spawner.ts). */
export type StartStdio = 'inherit' | import('./spawner.js').StartFd;

/**
 * Start a long-running process (the container's supervisor); the caller owns it. Through
 * minid-spawner when it can (not with 'inherit': the helper's stdio are its pipes to minid),
 * else from Node, where 'read' and 'write' are both a socket pair ('pipe').
 */
export async function startProcess(argv: string[], opts: { stdio: StartStdio[]; detached?: boolean }): Promise<Started> {
  traceTo()?.(formatCommand(argv));
  if (helperAllowed && !opts.stdio.includes('inherit')) {
    const p = await (await import('./spawner.js')).startVia(argv, opts.stdio as import('./spawner.js').StartFd[], !!opts.detached);
    if (p) return p;
  }
  const fs = await import('node:fs');
  const files: number[] = []; // the files to append to, open only until the child has them
  const node = (f: StartStdio) => {
    if (f === 'null') return 'ignore';
    if (f === 'read' || f === 'write') return 'pipe';
    if (f === 'inherit') return f;
    files.push(fs.openSync(f.append, 'a'));
    return files[files.length - 1];
  };
  try {
    return await spawnProcess(argv, { stdio: opts.stdio.map(node), detached: opts.detached, traced: true });
  } finally {
    files.forEach((fd) => fs.closeSync(fd));
  }
}

/** Start a long-running process from Node (`minid exec`; startProcess without the helper). The caller owns the child. */
export async function spawnProcess(
  argv: string[],
  opts: { env?: Record<string, string>; cleanEnv?: boolean; stdio?: any; detached?: boolean; cwd?: string; traced?: boolean },
) {
  if (!opts.traced) traceTo()?.(formatCommand(argv));
  const { spawn } = await import('node:child_process');
  return spawn(argv[0], argv.slice(1), {
    env: opts.cleanEnv ? opts.env : { ...process.env, ...opts.env },
    stdio: opts.stdio ?? 'inherit',
    detached: opts.detached,
    cwd: opts.cwd,
  });
}

