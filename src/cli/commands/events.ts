// `minid events`: the store's event log (src/runtime/events.ts), printed as docker prints it.
import { fail } from '../../errors.js';
import { parseLogTime } from '../../runtime/logs.js';
import { eventJson, nanosOf, parseEventFilters, recordTimeNanos, watchEvents, type EventMessage } from '../../runtime/events.js';

/** --since/--until: docker's forms (a duration before now, Unix seconds, an RFC 3339 time). */
function time(flag: string, v: string | undefined): bigint | undefined {
  if (v === undefined || v === '') return undefined;
  const t = parseLogTime(v);
  if (t === undefined) fail(`--${flag} ${v}: not a time; use a duration before now (10m, 1h30m), Unix seconds, or an RFC 3339 time (2026-12-06T03:52:27Z)`, 1);
  return recordTimeNanos(t);
}

const sorted = (a: Record<string, string>) => Object.fromEntries(Object.entries(a ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));

/**
 * A time as docker's CLI prints an event's (Go's "2006-01-02T15:04:05.000000000Z07:00" in
 * local time): "2026-12-06T05:00:00.123456789Z" where local time is UTC.
 */
export function eventTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const offMin = -new Date(ms).getTimezoneOffset();
  const local = new Date(ms + offMin * 60_000).toISOString().slice(0, 19);
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  const zone = offMin === 0 ? 'Z' : `${offMin < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offMin) / 60)).padStart(2, '0')}:${String(Math.abs(offMin) % 60).padStart(2, '0')}`;
  return `${local}.${frac}${zone}`;
}

/** docker's default line: TIME TYPE ACTION ID (KEY=VALUE, ...), attributes sorted. */
export function eventLine(e: EventMessage): string {
  const attrs = Object.entries(sorted(e.Actor.Attributes)).map(([k, v]) => `${k}=${v}`);
  return `${eventTime(nanosOf(e))} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs.length ? ` (${attrs.join(', ')})` : ''}`;
}

/** The dot of --format: docker's events.Message by its Go field names; `json` gives its JSON. */
function templateData(e: EventMessage, goMap: <T extends object>(o: T) => T) {
  const json = { ...e, Actor: { ...e.Actor, Attributes: sorted(e.Actor.Attributes) } };
  return {
    Status: e.status ?? '',
    ID: e.id ?? '',
    From: e.from ?? '',
    Type: e.Type,
    Action: e.Action,
    Actor: { ID: e.Actor.ID, Attributes: goMap(sorted(e.Actor.Attributes)) },
    Scope: e.scope,
    Time: e.time,
    TimeNano: e.timeNano,
    toJSON: () => json,
  };
}

export async function events(o: { since?: string; until?: string; filter?: string[]; format?: string }): Promise<void> {
  const since = time('since', o.since);
  const until = time('until', o.until);
  const filters = parseEventFilters(o.filter ?? []);
  let print: (e: EventMessage) => string = eventLine;
  const f = o.format?.trim();
  if (f === 'json' || f === '{{json .}}') {
    // Written from the record itself: its nanoseconds exact.
    print = (e) => eventJson({ ...e, Actor: { ...e.Actor, Attributes: sorted(e.Actor.Attributes) } }, nanosOf(e));
  } else if (f) {
    // The template engine only for a command given --format (docs/format.md).
    const { goMap, parseTemplate } = await import('../template.js');
    let t: ReturnType<typeof parseTemplate>;
    try {
      t = parseTemplate(f.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
    } catch (err) {
      fail((err as Error).message, 64); // docker's code for a template that does not parse
    }
    print = (e) => {
      try {
        return t.execute(templateData(e, goMap));
      } catch (err) {
        return fail((err as Error).message, 1);
      }
    };
  }
  // Followed until Ctrl-C (or --until): each event written as it comes.
  await watchEvents({ since, until, filters }, (e) => void process.stdout.write(print(e) + '\n'));
}
