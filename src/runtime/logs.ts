// `minid logs`: a container's output, from its log files (written by minid-logger, see
// logwriter.ts and logger.c). Each line of a file is a record:
//
//   2026-12-06T03:52:27.123456789Z stdout F hello
//
// The oldest file comes first: container.log.N ... container.log.1, then container.log. A line
// that is not a record (a log written by an older minid, which was the plain output, or what
// the supervisor itself printed) is read as stdout text with no time.
//
// --tail N reads the files twice (count the lines, then print the last N) rather than holding
// N lines in memory; -f then keeps polling the newest file every POLL_MS, and moves on to the
// new file when minid-logger rotates it, until the container is no longer running.
import fs from 'node:fs';
import path from 'node:path';
import { findContainer, loadState, logFile, supervisorAlive } from './state.js';

const POLL_MS = 100;
const CHUNK = 65536;
/** A record is at most 16 KiB of text plus its head: a longer line is not a record. */
const MAX_RECORD = 16384 + 64;
const HEAD = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([PF]) /;
const HEAD_LEN = 30 + 1 + 6 + 1 + 1 + 1;

export type Stream = 'stdout' | 'stderr';

export interface LogRecord {
  /** RFC 3339 with 9 digits of nanoseconds, UTC: compares as a string. None: not a record (older log). */
  time?: string;
  stream: Stream;
  /** Not the end of a line: no newline follows the text. */
  partial: boolean;
  /** Valid during the callback only. */
  text: Buffer;
}

/** One line of a log file as a record. */
export function parseRecord(line: Buffer, partial: boolean): LogRecord {
  const m = HEAD.exec(line.subarray(0, HEAD_LEN).toString('latin1'));
  if (!m) return { stream: 'stdout', partial, text: line };
  return { time: m[1], stream: m[2] as Stream, partial: partial || m[3] === 'P', text: line.subarray(HEAD_LEN) };
}

/** The log files of a container, oldest first. */
export function logFiles(id: string): string[] {
  const current = logFile(id);
  const base = path.basename(current);
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.dirname(current));
  } catch {
    return [];
  }
  const rotated = names
    .map((n) => (n.startsWith(`${base}.`) ? Number(n.slice(base.length + 1)) : NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => b - a)
    .map((n) => `${current}.${n}`);
  return [...rotated, ...(names.includes(base) ? [current] : [])];
}

/** Reads a file on from where it stopped, record by record; a line cut at the file's end waits for the rest. */
class Cursor {
  private pos = 0;
  private rest: Buffer = Buffer.alloc(0);
  private constructor(
    readonly fd: number,
    readonly ino: number,
  ) {}

  static open(file: string): Cursor | undefined {
    try {
      const fd = fs.openSync(file, 'r');
      return new Cursor(fd, fs.fstatSync(fd).ino);
    } catch {
      return undefined; // gone (rotated away, or no log yet)
    }
  }

  /** Every whole line up to the file's current end; `between` is awaited after each chunk (the output's pace). */
  async read(each: (r: LogRecord) => void, between?: () => Promise<void>): Promise<void> {
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      await between?.();
      const n = fs.readSync(this.fd, buf, 0, buf.length, this.pos);
      if (n <= 0) return;
      this.pos += n;
      let data = this.rest.length ? Buffer.concat([this.rest, buf.subarray(0, n)]) : buf.subarray(0, n);
      let start = 0;
      for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
        each(parseRecord(data.subarray(start, nl), false));
        start = nl + 1;
      }
      data = data.subarray(start);
      // A line longer than any record is old plain text: handed on in pieces, memory stays bounded.
      if (data.length > MAX_RECORD) {
        each({ stream: 'stdout', partial: true, text: data });
        data = data.subarray(data.length);
      }
      this.rest = Buffer.from(data); // a copy: `buf` is read into again
    }
  }

  /** The file is complete: a last line without a newline is handed on too. */
  async finish(each: (r: LogRecord) => void, between?: () => Promise<void>): Promise<void> {
    await this.read(each, between);
    if (this.rest.length) each(parseRecord(this.rest, true));
    this.rest = Buffer.alloc(0);
    this.close();
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* closed */
    }
  }
}

export interface LogOptions {
  follow?: boolean;
  /** The last N lines only (undefined: all). */
  tail?: number;
  /** Lines from this time on (a record time: RFC 3339, 9 digits, UTC; see parseSince). */
  since?: string;
  /** Lines before this time only. */
  until?: string;
  /** Each line starts with its time. */
  timestamps?: boolean;
  /** With `follow`: stop when aborted (the Engine API's client went away). */
  signal?: AbortSignal;
}

/**
 * Counts lines the way the output shows them: a line starts with a record that follows a
 * whole line (an F record) of the same stream; the P records of a long line belong to it.
 */
class LineCounter {
  count = 0;
  private atStart = { stdout: true, stderr: true };
  /** The number of the line this record belongs to (1, 2, ...). */
  line(r: LogRecord): number {
    if (this.atStart[r.stream]) this.count++;
    const n = this.count;
    this.atStart[r.stream] = !r.partial;
    return n;
  }
  startsLine(r: LogRecord): boolean {
    return this.atStart[r.stream];
  }
}

const wanted = (r: LogRecord, o: LogOptions) =>
  (!o.since && !o.until) || (r.time !== undefined && (!o.since || r.time >= o.since) && (!o.until || r.time < o.until));

/**
 * Hand the container's log to `out`, stdout records to out.stdout and stderr records to
 * out.stderr; with `follow`, until the container has exited.
 */
export async function readLogs(ref: string, o: LogOptions, out: Record<Stream, NodeJS.WritableStream>): Promise<void> {
  const s = findContainer(ref);
  const id = s.config.id;

  // --tail: how many lines there are now, to skip all but the last N.
  let skip = 0;
  if (o.tail !== undefined) {
    const counter = new LineCounter();
    for (const f of logFiles(id)) await Cursor.open(f)?.finish((r) => wanted(r, o) && counter.line(r));
    skip = Math.max(0, counter.count - o.tail);
  }

  const lines = new LineCounter();
  // A stream whose buffer is full: read on once it has drained (memory stays bounded).
  const full = new Set<NodeJS.WritableStream>();
  const emit = (r: LogRecord) => {
    if (!wanted(r, o)) return;
    const head = o.timestamps && lines.startsLine(r) && r.time ? `${r.time} ` : '';
    if (lines.line(r) <= skip) return;
    const w = out[r.stream];
    const data = Buffer.concat([Buffer.from(head), r.text, r.partial ? Buffer.alloc(0) : Buffer.from('\n')]);
    if (!w.write(data)) full.add(w);
  };
  const drained = async () => {
    for (const w of full) await new Promise((res) => w.once('drain', res));
    full.clear();
  };

  const files = logFiles(id);
  const current = logFile(id);
  for (const f of files.slice(0, -1)) await Cursor.open(f)?.finish(emit, drained);
  if (!o.follow) {
    if (files.length) await Cursor.open(files[files.length - 1])?.finish(emit, drained);
    return drained();
  }

  // Follow the newest file; when it has been rotated (the name is another file now), read the
  // old one to its end, then the new one from its start.
  let cur = Cursor.open(current);
  const untilPassed = () => o.until !== undefined && recordTime(Date.now()) >= o.until;
  const pump = async () => {
    if (!cur) {
      cur = Cursor.open(current);
      if (!cur) return;
    }
    await cur.read(emit, drained);
    const now = fs.statSync(current, { throwIfNoEntry: false });
    if (now && now.ino !== cur.ino) {
      await cur.finish(emit, drained);
      cur = Cursor.open(current);
      await cur?.read(emit, drained);
    }
  };
  // (A --rm container may be removed meanwhile: then it has ended, and what it wrote is still
  // read through the open file.)
  while (!o.signal?.aborted && loadState(id)?.status === 'running' && !untilPassed()) {
    await pump();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  // Its last lines: the supervisor exits once its writer has written them all.
  for (let i = 0; i < 50 && supervisorAlive(id); i++) await new Promise((r) => setTimeout(r, POLL_MS));
  await pump();
  await (cur as Cursor | undefined)?.finish(emit, drained);
  await drained();
}

/** A time in the form records have: RFC 3339, UTC, 9 digits of fraction. */
export function recordTime(ms: number, extraNanos = 0): string {
  const iso = new Date(ms).toISOString(); // 2026-12-06T03:52:27.123Z
  const nanos = (((ms % 1000) + 1000) % 1000) * 1e6 + extraNanos;
  return `${iso.slice(0, 19)}.${String(Math.floor(nanos)).padStart(9, '0')}Z`;
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration ("10m", "1h30m", "1.5h", "300ms"), in milliseconds; undefined if it is not one. */
export function parseDuration(v: string): number | undefined {
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(v);
  if (!m && v !== '0') return undefined;
  if (v === '0') return 0;
  let total = 0;
  for (const part of v.replace(/^[+-]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * DURATION_UNITS[part[2]];
  return v.startsWith('-') ? -total : total;
}

/**
 * --since/--until as docker takes them (its GetTimestamp): a duration before now ("10m",
 * "1h30m"), Unix seconds with an optional fraction ("1733456000.5"), or an RFC 3339 date and
 * time, whole or shortened ("2026-12-06T03:52:27Z", "2026-12-06T03:52", "2026-12-06"); with no
 * zone, local time. Returns a record time, or undefined if it is none of these.
 */
export function parseLogTime(v: string, now = Date.now()): string | undefined {
  const d = parseDuration(v);
  if (d !== undefined) return recordTime(now - d);
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (unix) {
    const frac = (unix[2] ?? '').padEnd(9, '0');
    return recordTime(Number(unix[1]) * 1000 + Number(frac.slice(0, 3)), Number(frac.slice(3)));
  }
  const t = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?(Z|[+-]\d\d:\d\d)?$/.exec(v);
  if (!t) return undefined;
  const [, y, mo, da, h = '0', mi = '0', se = '0', fr = '', zone] = t;
  const frac = fr.padEnd(9, '0');
  const parts = [Number(y), Number(mo) - 1, Number(da), Number(h), Number(mi), Number(se), Number(frac.slice(0, 3))] as const;
  let ms: number;
  if (!zone) ms = new Date(...parts).getTime();
  else {
    ms = Date.UTC(...parts);
    if (zone !== 'Z') ms -= (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  if (Number.isNaN(ms)) return undefined;
  return recordTime(ms, Number(frac.slice(3)));
}
