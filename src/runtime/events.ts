// The store's event log (`minid events`): what happened to containers, networks and images, one
// JSON line per event in docker's message shape (its Engine API's events.Message), appended by
// whichever minid process (or container supervisor) did it. There is no daemon to broadcast
// them: `minid events` reads the file and follows it.
//
//   ROOT/events     the current file; ROOT/events.1 the one before it. When the current one
//                   passes MAX_BYTES it is renamed to events.1 (the older one dropped): the log
//                   stays under 2 x MAX_BYTES.
//
// Each event is one write(2) on a file opened with O_APPEND: the kernel appends it whole, so
// events of concurrent minid processes never interleave within a line. (The supervisor,
// shim.sh, appends its die events with one printf the same way: see eventShellFunction.)
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { root } from '../sys/paths.js';

export const eventsFile = () => path.join(root(), 'events');
export const MAX_BYTES = 1 << 20;

export interface EventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

/** Now in nanoseconds since the epoch (ms from the clock, the rest from the monotonic one). */
function nowNano(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

/** A container's attributes in its events: its labels, image and name (docker's). */
export function containerAttributes(c: { image: string; name: string; labels?: Record<string, string> }): Record<string, string> {
  return { ...(c.labels ?? {}), image: c.image, name: c.name };
}

/**
 * Record one event. Never fails the command that did the thing: a store that cannot take it
 * (read-only, gone) loses the event, not the container.
 */
export function recordEvent(type: string, action: string, id: string, attributes: Record<string, string>, from?: string): void {
  const ns = nowNano();
  const msg: EventMessage = {
    ...(type === 'container' ? { status: action, id, from: from ?? attributes.image } : {}),
    Type: type,
    Action: action,
    // Sorted, as Go writes a map.
    Actor: { ID: id, Attributes: Object.fromEntries(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) },
    scope: 'local',
    time: Number(ns / 1_000_000_000n),
    timeNano: 0,
  };
  appendLine(eventJson(msg, ns) + '\n');
}

/** One line, in one write with O_APPEND; the file rotated once it is big enough. */
export function appendLine(line: string, file = eventsFile()): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
  } catch {
    return;
  }
  try {
    fs.writeSync(fd, line);
    const st = fs.fstatSync(fd);
    // Rotate only the file we wrote to (another process may have rotated it already).
    if (st.size > MAX_BYTES && fs.statSync(file, { throwIfNoEntry: false })?.ino === st.ino) fs.renameSync(file, `${file}.1`);
  } catch {
    /* the event is lost, the command goes on */
  } finally {
    fs.closeSync(fd);
  }
}

/** Every event recorded (the older file first), parsed; lines that are not events skipped. */
export function readAllEvents(file = eventsFile(), upTo?: { ino: number; pos: number }): EventMessage[] {
  const out: EventMessage[] = [];
  for (const f of [`${file}.1`, file]) {
    let text = '';
    try {
      const buf = fs.readFileSync(f);
      // The current file up to where a tail (EventTail) starts reading: no event twice.
      const cut = upTo && f === file && fs.statSync(f).ino === upTo.ino ? upTo.pos : buf.length;
      text = buf.subarray(0, cut).toString('utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n')) {
      const e = parseEventLine(l);
      if (e) out.push(e);
    }
  }
  return out;
}

/**
 * An event as JSON, its timeNano exact: nanoseconds since 1970 have 19 digits, more than a
 * JavaScript number holds (2^53), so they are written from the BigInt.
 */
export function eventJson(e: EventMessage, ns: bigint = nanosOf(e)): string {
  return JSON.stringify({ ...e, timeNano: 0 }).replace(/"timeNano":0\}$/, `"timeNano":${ns}}`);
}

const NANOS = new WeakMap<EventMessage, bigint>();
/** An event's exact time in nanoseconds (kept aside when it was read: see parseEventLine). */
export const nanosOf = (e: EventMessage): bigint => NANOS.get(e) ?? BigInt(Math.round(e.timeNano));

export function parseEventLine(l: string): EventMessage | undefined {
  if (!l.startsWith('{')) return undefined;
  try {
    const e = JSON.parse(l) as EventMessage;
    if (typeof e.timeNano !== 'number' || !e.Type || !e.Action || !e.Actor) return undefined;
    const exact = /"timeNano":(\d+)\}$/.exec(l);
    if (exact) NANOS.set(e, BigInt(exact[1]));
    return e;
  } catch {
    return undefined;
  }
}

/**
 * A reader of the events file from where it ends now (or its start): `poll()` returns the
 * events appended since, whole lines only, across a rotation (the rest of the old file, then
 * the new one).
 */
export class EventTail {
  private fd = -1;
  ino = -1;
  pos = 0;
  private partial = '';
  constructor(private file = eventsFile(), fromStart = false) {
    this.open(fromStart);
  }
  private open(fromStart: boolean): void {
    try {
      this.fd = fs.openSync(this.file, 'r');
      const st = fs.fstatSync(this.fd);
      this.ino = st.ino;
      this.pos = fromStart ? 0 : st.size;
    } catch {
      this.fd = -1;
    }
  }
  private drain(out: EventMessage[]): void {
    if (this.fd < 0) return;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = fs.readSync(this.fd, buf, 0, buf.length, this.pos);
      if (n <= 0) break;
      this.pos += n;
      const text = this.partial + buf.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const l of lines) {
        const e = parseEventLine(l);
        if (e) out.push(e);
      }
    }
  }
  poll(): EventMessage[] {
    const out: EventMessage[] = [];
    this.drain(out);
    const now = fs.statSync(this.file, { throwIfNoEntry: false });
    if (now && now.ino !== this.ino) {
      // Rotated (or made): the old file's last lines, then the new file from its start.
      this.drain(out);
      this.close();
      this.partial = '';
      this.open(true);
      this.drain(out);
    }
    return out;
  }
  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** JSON as the supervisor's printf needs it inside a string: the attributes, without braces. */
export function attributesFragment(attrs: Record<string, string>): string {
  let s = JSON.stringify(attrs).slice(1, -1);
  // One printf must stay one write (sh buffers 8 KiB): many long labels are left out.
  if (s.length > 3000) s = JSON.stringify({ image: attrs.image, name: attrs.name }).slice(1, -1);
  return s;
}

/** The supervisor's attributes file for its events: kept current by start and rename. */
export function writeAttributesFile(runDir: string, c: { image: string; name: string; labels?: Record<string, string> }): void {
  try {
    fs.writeFileSync(path.join(runDir, 'event-attrs'), attributesFragment(containerAttributes(c)) + '\n');
  } catch {
    /* not running: nothing reads it */
  }
}

/**
 * `ev ACTION EXTRA`: the shell function by which the supervisor records an event of its
 * container (EXTRA: more attributes, as JSON, starting with a comma). The time from `date`;
 * the line in one printf, appended (>>: O_APPEND).
 */
export function eventShellFunction(id: string, image: string, runDir: string, file = eventsFile()): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const from = JSON.stringify(image);
  const fmt = `{"status":"%s","id":"${id}","from":${from},"Type":"container","Action":"%s","Actor":{"ID":"${id}","Attributes":{%s%s}},"scope":"local","time":%s,"timeNano":%s}\\n`;
  return `ev() { { t=$(date +%s%N); read -r attrs < ${q(path.join(runDir, 'event-attrs'))} && printf ${q(fmt)} "$1" "$1" "$attrs" "$2" "\${t%?????????}" "$t" >> ${q(file)}; } 2>/dev/null; }`;
}

// ----------------------------------------------------------------------------- reading

/** --filter KEY=VALUE, by key (docker's filters.Args): values of one key OR'd, keys AND'ed. */
export type EventFilters = Map<string, string[]>;

const FILTER_KEYS = ['container', 'event', 'type', 'label', 'image', 'network', 'volume'];

/** --filter as typed; a user mistake is one line (exit 1, as docker's daemon answers). */
export function parseEventFilters(flags: string[]): EventFilters {
  const f: EventFilters = new Map();
  for (const flag of flags) {
    const i = flag.indexOf('=');
    if (i <= 0) fail(`invalid filter "${flag}": give KEY=VALUE (${FILTER_KEYS.join(', ')})`, 1);
    const k = flag.slice(0, i).toLowerCase();
    if (!FILTER_KEYS.includes(k)) fail(`invalid filter "${k}": use ${FILTER_KEYS.join(', ')}`, 1);
    f.set(k, [...(f.get(k) ?? []), flag.slice(i + 1)]);
  }
  return f;
}

/** docker's events filter (daemon/events/filter.go): exact matches, names and ids also by prefix. */
export function matchEvent(e: EventMessage, f: EventFilters): boolean {
  const exact = (k: string, ...vs: (string | undefined)[]) => !f.has(k) || f.get(k)!.some((x) => vs.includes(x));
  const fuzzy = (k: string, ...vs: (string | undefined)[]) => !f.has(k) || f.get(k)!.some((x) => vs.some((v) => v !== undefined && v.startsWith(x)));
  const a = e.Actor.Attributes ?? {};
  const byName = (type: string) => !f.has(type) || (e.Type === type && fuzzy(type, e.Actor.ID, a.name));
  // An action "exec_start: sh" matches event=exec_start.
  const action = e.Action.split(':')[0];
  const image = a.image ?? (e.Type === 'image' ? a.name : undefined);
  return (
    exact('event', e.Action, action) &&
    exact('type', e.Type) &&
    byName('container') &&
    byName('network') &&
    byName('volume') &&
    (!f.has('image') || exact('image', image, image?.replace(/:[^:/]+$/, ''), e.Type === 'image' ? e.Actor.ID : undefined)) &&
    // Every label given (docker's MatchKVList), unlike the other keys' values.
    (!f.has('label') ||
      f.get('label')!.every((l) => {
        const i = l.indexOf('=');
        return i < 0 ? l in a : a[l.slice(0, i)] === l.slice(i + 1);
      }))
  );
}

/** A record time (runtime/logs.ts parseLogTime: RFC 3339, 9 digits) in nanoseconds. */
export function recordTimeNanos(t: string): bigint {
  const ms = Date.parse(t.slice(0, 23) + 'Z');
  return BigInt(ms) * 1_000_000n + BigInt(t.slice(23, 29).padEnd(6, '0'));
}

export interface WatchOptions {
  since?: bigint;
  until?: bigint;
  filters: EventFilters;
  /** How often the file is read for new events while following (ms). */
  pollMs?: number;
  /** Stop following when aborted (the Engine API's client went away). */
  signal?: AbortSignal;
}

/**
 * `minid events`: the recorded events from `since` (none without it: docker keeps no past
 * for a plain `events`), then the new ones as they come, until `until` passes (none: until
 * the caller stops). Resolves when done.
 */
export async function watchEvents(o: WatchOptions, emit: (e: EventMessage) => void): Promise<void> {
  const inRange = (e: EventMessage) => (o.since === undefined || nanosOf(e) >= o.since) && (o.until === undefined || nanosOf(e) <= o.until);
  const now = () => BigInt(Date.now()) * 1_000_000n;
  // Follow from the file's end as it is now; the past first, if asked for.
  const tail = new EventTail();
  if (o.since !== undefined) for (const e of readAllEvents(eventsFile(), { ino: tail.ino, pos: tail.pos })) if (inRange(e) && matchEvent(e, o.filters)) emit(e);
  try {
    while ((o.until === undefined || now() <= o.until) && !o.signal?.aborted) {
      for (const e of tail.poll()) if (inRange(e) && matchEvent(e, o.filters)) emit(e);
      await new Promise((r) => setTimeout(r, o.pollMs ?? 100));
    }
    for (const e of tail.poll()) if (inRange(e) && matchEvent(e, o.filters)) emit(e);
  } finally {
    tail.close();
  }
}
