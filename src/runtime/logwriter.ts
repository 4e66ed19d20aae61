// Writing a container's log: build/minid-logger (src/runtime/logger.c) turns the container's
// stdout and stderr into records, one a line, in the CRI text form:
//
//   2026-12-06T03:52:27.123456789Z stdout F hello
//
// (when, which stream, F for a whole line or P for a part of a longer one, then the text as it
// was written). For -d, the supervisor (shim.sh) starts it, reading two FIFOs; a foreground run
// starts one itself (startLogger) and writes what it shows on the terminal into it too.
// `--log-opt max-size=10m --log-opt max-file=3` (docker's json-file options) cap the files;
// minid's default is that cap too (docker's is none): 30 MiB at most per container.
import type { Writable } from 'node:stream';
import { fail } from '../errors.js';
import { helperBinary } from '../sys/paths.js';
import { startProcess } from '../sys/exec.js';
import { logFile } from './state.js';

export interface LogOpts {
  /** Bytes per file before it is rotated. */
  maxSize: number;
  /** Files kept in all: container.log, container.log.1, ... */
  maxFile: number;
}

export const DEFAULT_LOG_OPTS: LogOpts = { maxSize: 10 * 1024 * 1024, maxFile: 3 };

/** docker's sizes for max-size: 100, 512k, 10m, 1g (k = 1024, as docker's RAMInBytes). */
function parseSize(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(v.trim());
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.floor(Number(m[1]) * mult);
}

/** `--log-opt KEY=VALUE` as typed (repeatable): max-size and max-file, as docker's json-file. */
export function parseLogOpts(opts: string[]): LogOpts {
  const o = { ...DEFAULT_LOG_OPTS };
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? '' : opt.slice(eq + 1);
    if (key === 'max-size') {
      const n = value === '-1' ? 0 : parseSize(value);
      if (n === undefined || (n === 0 && value !== '-1')) fail(`--log-opt max-size=${value}: not a size; use bytes with an optional unit (100k, 10m, 1g), or -1 for no cap`, 125);
      o.maxSize = n;
    } else if (key === 'max-file') {
      if (!/^\d+$/.test(value) || Number(value) < 1) fail(`--log-opt max-file=${value}: must be a whole number of files, at least 1`, 125);
      o.maxFile = Number(value);
    } else {
      fail(`--log-opt ${opt}: unknown log option; minid knows max-size=SIZE and max-file=N (docker's json-file options)`, 125);
    }
  }
  return o;
}

export function loggerBinary(): string {
  return helperBinary('minid-logger');
}

/** The writer's command line for container `id` (it reads stdout on fd 0, stderr on fd 3). */
export function loggerArgv(id: string, o: LogOpts = DEFAULT_LOG_OPTS): string[] {
  return [loggerBinary(), '--max-size', String(o.maxSize), '--max-file', String(o.maxFile), logFile(id)];
}

/** A writer for a foreground run: write the container's stdout and stderr into it, then end(). */
export interface LogSink {
  stdout: Writable;
  stderr: Writable;
  /** Close both streams; resolves once the writer has written everything and exited. */
  end(): Promise<void>;
}

export async function startLogger(id: string, o?: LogOpts): Promise<LogSink> {
  // Its own session: a Ctrl-C on the terminal does not reach it; it ends when minid closes the pipes.
  const child = await startProcess(loggerArgv(id, o), { stdio: ['read', 'null', 'null', 'read'], detached: true });
  const exited = new Promise<void>((res) => (child.exitCode !== null || child.signalCode !== null ? res() : child.once('exit', () => res())));
  const stdout = child.stdio[0] as Writable;
  const stderr = child.stdio[3] as Writable;
  for (const s of [stdout, stderr]) s.on('error', () => {}); // a writer that died: the log only loses lines
  return {
    stdout,
    stderr,
    end: async () => {
      stdout.end();
      stderr.end();
      await exited;
    },
  };
}
