// The start handshake between minid and minid-init (src/runtime/init.c, options --wait-fd and
// --report-fd), on two pipes the supervisor hands down to minid-init:
//
//   minid -> minid-init, on GO_FD:     GO, one byte, once the network is ready: "go on".
//                                      End-of-file instead: minid gave up; minid-init exits
//                                      125 without a word (minid says why itself).
//   minid-init -> minid, on REPORT_FD: one line, right before the command is executed:
//                                      "0\n" (found, set up, about to run) or
//                                      "CODE MESSAGE\n" (it cannot: the exit code and the error
//                                      minid-init also printed on stderr).
//
// Both ends keep these bytes: init.c writes its side by hand and points here.
import type { Socket } from 'node:net';
import { MinidError } from '../errors.js';

/** The fd on which minid-init waits for minid's go (`--wait-fd`): the supervisor's stdio[4]. */
export const GO_FD = 4;
/** The fd on which minid-init says how the start went (`--report-fd`): the supervisor's stdio[5]. */
export const REPORT_FD = 5;

/** The go. minid-init reads one byte and takes any; this is the one minid sends. */
export const GO = 'g';
/** The report of a start that went well: the command is about to be executed. */
export const STARTED = '0';

/** A report, decoded: started, or the exit code and error of a start that failed. */
export type StartReport = { started: true } | { started: false; code: number; message: string };

/** minid-init said something that is not the protocol (a bug on one side): what was expected, what came. */
export class StartProtocolError extends MinidError {
  constructor(expected: string, came: string) {
    super(`minid-init's start report: expected ${expected}, got ${JSON.stringify(came)} (a minid bug: please report it)`);
  }
}

/** A report as minid-init writes it (init.c's report() and give_up()), newline included. */
export function encodeReport(r: StartReport): string {
  return r.started ? `${STARTED}\n` : `${r.code} ${r.message}\n`;
}

/** One report line (without its newline). */
export function decodeReport(line: string): StartReport {
  if (line === STARTED) return { started: true };
  const m = /^(\d+) (.*)$/.exec(line);
  if (!m) throw new StartProtocolError(`"${STARTED}" or "CODE MESSAGE"`, line);
  return { started: false, code: Number(m[1]), message: m[2] };
}

/** Say the go on the pipe, then close it. EPIPE: minid-init has failed already (it said why on stderr). */
export function sendGo(pipe: Socket): Promise<void> {
  pipe.on('error', () => {});
  return new Promise((resolve) => pipe.end(GO, () => resolve()));
}

/** The first line on the report pipe (its newline cut), or null when it closed before one came. */
export function readReportLine(pipe: Socket): Promise<string | null> {
  return new Promise<string | null>((resolve) => {
    let text = '';
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => {
      text += d;
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
    });
    pipe.on('end', () => resolve(null));
    pipe.on('error', () => resolve(null));
  });
}
