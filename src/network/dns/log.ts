// `minid dns log NET [-f]`: the queries a network's DNS servers answered, readable: who asked
// (the container, found by its address), what, and what the answer was: from the network's
// names, NXDOMAIN, or forwarded (to which server) and what came back.
//
// The servers log every query (`log-queries=extra` in their configuration) into the log file
// minid keeps next to them (MINID_RUN/dns/NET/INSTANCE.log). With `extra`, each line of one
// query carries the same serial number and the client's address:
//   Dec  6 03:33:26 dnsmasq[9145]: 3 10.1.0.2/32822 query[A] web from 10.1.0.2
//   Dec  6 03:33:26 dnsmasq[9145]: 3 10.1.0.2/32822 /run/minid/dns/net1/records web is 10.1.0.3
//   Dec  6 03:33:27 dnsmasq[9145]: 4 10.1.0.2/40111 forwarded example.org to 192.0.2.53
//   Dec  6 03:33:27 dnsmasq[9145]: 4 10.1.0.2/40111 reply example.org is 93.184.216.34
// parseLine() and Collector (pure: unit tested) turn those into one Query per serial.
import fs from 'node:fs';
import { listEndpoints } from '../endpoints.js';
import { readersOf, file as serverFile } from './server.js';

export interface Query {
  /** The log's time stamp (hh:mm:ss). */
  time: string;
  /** The server's log (its instance), and dnsmasq's serial number there. */
  source: string;
  serial: number;
  client: string;
  type: string;
  name: string;
  /** Where the answer came from: 'names' (the records), 'forwarded', 'cache', 'config' (NXDOMAIN, no data). */
  how?: 'names' | 'forwarded' | 'cache' | 'config';
  forwardedTo?: string;
  answers: string[];
}

export type LogEvent =
  | { kind: 'query'; time: string; serial: number; client: string; type: string; name: string }
  | { kind: 'forwarded'; serial: number; to: string }
  | { kind: 'answer'; serial: number; how: NonNullable<Query['how']>; answer: string };

const LINE = /^\w{3} [ \d]\d (\d\d:\d\d:\d\d) dnsmasq\[\d+\]: (\d+) ([0-9a-fA-F.:]+)\/\d+ (.*)$/;

/** One log line, or null for lines that are not about a query (start, reloads, ...). */
export function parseLine(line: string): LogEvent | null {
  const m = LINE.exec(line);
  if (!m) return null;
  const [, time, serialText, client, msg] = m;
  const serial = Number(serialText);
  let r: RegExpExecArray | null;
  if ((r = /^query\[(\w+)\] (\S+) from /.exec(msg))) return { kind: 'query', time, serial, client, type: r[1], name: r[2] };
  if ((r = /^forwarded \S+ to (\S+)/.exec(msg))) return { kind: 'forwarded', serial, to: r[1] };
  if ((r = /^(reply|cached|config|\/\S+) \S+ is (.+)$/.exec(msg))) {
    const how = r[1] === 'reply' ? 'forwarded' : r[1] === 'cached' ? 'cache' : r[1] === 'config' ? 'config' : 'names';
    return { kind: 'answer', serial, how, answer: r[2] };
  }
  return null;
}

/** Gathers the events of each query (by log and serial) into Query records. */
export class Collector {
  private open = new Map<string, Query>();

  add(source: string, ev: LogEvent): void {
    const key = `${source}#${ev.serial}`;
    if (ev.kind === 'query') {
      this.open.set(key, { time: ev.time, source, serial: ev.serial, client: ev.client, type: ev.type, name: ev.name, answers: [] });
      return;
    }
    const q = this.open.get(key);
    if (!q) return; // its query line was before what we read
    if (ev.kind === 'forwarded') {
      q.how = 'forwarded';
      q.forwardedTo = ev.to;
    } else {
      if (q.how !== 'forwarded') q.how = ev.how;
      q.answers.push(ev.answer);
    }
  }

  /** Every query gathered so far (all: at the end of the log; else those that have an answer). */
  take(all: boolean): Query[] {
    const out: Query[] = [];
    for (const [k, q] of this.open) {
      if (!all && !q.answers.length) continue;
      out.push(q);
      this.open.delete(k);
    }
    return out;
  }
}

/** One line for a query: "03:33:26  web1 (10.1.0.2)  A web2  ->  10.1.0.3   (the network's names)". */
export function formatQuery(q: Query, who: (client: string, source: string) => string | undefined): string {
  const name = who(q.client, q.source);
  const from = name ? `${name} (${q.client})` : q.client;
  const answers = q.answers.map((a) => (a === 'NODATA-IPv6' || a === 'NODATA' ? 'no data (NOERROR)' : a));
  const what = answers.length ? answers.join(', ') : 'no answer (yet)';
  const how =
    q.how === 'forwarded' ? `forwarded to ${q.forwardedTo ?? 'an upstream server'}` :
    q.how === 'names' ? "the network's names" :
    q.how === 'cache' ? 'from the cache' :
    q.how === 'config' ? (q.answers.includes('NXDOMAIN') ? 'not a name here, not forwarded' : 'no record of that type') :
    '';
  return `${q.time}  ${from}  ${q.type} ${q.name}  ->  ${what}${how ? `   (${how})` : ''}`;
}

/** Read a file from `offset`: the new complete lines, and where the next read starts. */
export function readFrom(file: string, offset: number): { lines: string[]; next: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return { lines: [], next: 0 };
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < offset) offset = 0; // truncated (minid trims a long log): start again
    if (size === offset) return { lines: [], next: offset };
    const buf = Buffer.alloc(size - offset);
    fs.readSync(fd, buf, 0, buf.length, offset);
    const text = buf.toString('utf8');
    const end = text.lastIndexOf('\n');
    if (end < 0) return { lines: [], next: offset };
    return { lines: text.slice(0, end).split('\n'), next: offset + Buffer.byteLength(text.slice(0, end + 1)) };
  } finally {
    fs.closeSync(fd);
  }
}

/** The log files of every server that answers the network's names (its own, connected containers'). */
function logsOf(network: string): { source: string; file: string }[] {
  return readersOf(network).map((r) => ({ source: r.instance, file: serverFile(r.network, r.instance, 'log') }));
}

/**
 * Print the network's queries: those logged so far, then (follow) new ones as they come, until
 * the process is interrupted. A container's own server (in its namespace) sees it as 127.0.0.1.
 */
export async function printLog(network: string, o: { follow: boolean; write: (line: string) => void }): Promise<void> {
  const offsets = new Map<string, number>();
  const col = new Collector();
  let names = new Map<string, string>();
  const who = (client: string, source: string): string | undefined =>
    client === '127.0.0.1' && source.startsWith('c-') ? names.get(`id:${source.slice(2)}`) : names.get(client);
  const poll = (all: boolean): void => {
    let got = false;
    for (const { source, file } of logsOf(network)) {
      const r = readFrom(file, offsets.get(file) ?? 0);
      offsets.set(file, r.next);
      for (const line of r.lines) {
        const ev = parseLine(line);
        if (ev) {
          col.add(source, ev);
          got = true;
        }
      }
    }
    if (got) {
      names = new Map();
      for (const e of listEndpoints()) {
        if (e.ip) names.set(e.ip, e.containerName);
        names.set(`id:${e.containerId.slice(0, 12)}`, e.containerName);
      }
    }
    const qs = col.take(all).sort((a, b) => a.time.localeCompare(b.time) || a.serial - b.serial);
    for (const q of qs) o.write(formatQuery(q, who));
  };
  poll(!o.follow);
  if (!o.follow) return;
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    poll(false);
  }
}
