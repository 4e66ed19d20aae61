// The DNS servers' host changes as Steps (src/network/step.ts), the way the cluster's are
// (src/cluster/dns.ts): the names file written, a server's configuration written, the server
// started (its undo: stop it by its recorded PID, start time checked first), reloaded (SIGHUP),
// stopped, the network's DNS folder removed. index.ts plans them with the functions below and
// runs them through applyPlan: numbered in --explain with the course's chapter, a why and a
// check (narration.ts), undone on failure (a `run` whose DNS setup fails after the network's
// server started stops it again).
//
// Pure: a step's `apply` is what a person would type for the same effect (--explain=script
// replays it); its `act` is what minid does itself (a file written whole, dnsmasq started through
// the exec seam and recorded, a signal to a PID checked first: server.ts).
import fs from 'node:fs';
import { writeAtomic } from '../../sys/jsonfile.js';
import { catTo, cmd, type Step } from '../step.js';
import { renderRecords, type DnsEntry, type ServerSpec } from './records.js';
import * as srv from './server.js';

/** Which server, in a step's name: the network's own, or a container's (in its namespace). */
export const serverName = (network: string, instance: string): string =>
  instance === 'network' ? `the DNS server of network "${network}"` : `the DNS server of container ${instance.slice(2)}`;

/** The records file, rewritten whole from the endpoint records (right whatever happened before). */
export function recordsStep(network: string, list: DnsEntry[]): Step {
  const dir = srv.networkDir(network);
  const f = srv.recordsFile(network);
  const text = renderRecords(network, list);
  return {
    name: `write the names of network "${network}"`,
    why: `every container of the network, one line per address (${list.length} now); dnsmasq reads it`,
    apply: [cmd('mkdir', '-p', '-m', '700', dir), catTo(f, text)],
    undo: [],
    owner: 'network',
    act: {
      apply: async () => {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        writeAtomic(f, text);
      },
    },
  };
}

/** A server's configuration file (commented, for a workshop's `cat`). */
export function confStep(s: ServerSpec): Step {
  const { conf, text } = srv.startCommand(s);
  const where = s.netns ? `in the container's namespace at ${s.address}:${s.port}` : `on ${s.address}:${s.port}, answering by ${s.bridge} only`;
  return {
    name: `write the configuration of ${serverName(s.network, s.instance)}`,
    why: `dnsmasq ${where}; other names forwarded to ${s.forwarders.join(', ') || 'nobody'}`,
    apply: [catTo(conf, text)],
    undo: [],
    owner: s.instance === 'network' ? 'network' : 'container',
    act: {
      apply: async () => {
        fs.mkdirSync(srv.networkDir(s.network), { recursive: true, mode: 0o700 });
        writeAtomic(conf, text);
      },
    },
  };
}

/**
 * Start a server (its configuration written): dnsmasq forks into the background once its
 * sockets are bound and its pid file written; minid records that PID and the process's start
 * time. `undoable` (a first start): its undo stops it by that PID. A server started again (it
 * died) keeps its record's port, where the containers' rules lead: nothing to undo to.
 */
export function startStep(s: ServerSpec, o: { why: string; again?: boolean; undoable: boolean }): Step {
  const { argv } = srv.startCommand(s);
  const step: Step = {
    name: `start ${serverName(s.network, s.instance)}${o.again ? ' again' : ''}`,
    why: o.why,
    apply: [{ argv }],
    undo: [],
    owner: s.instance === 'network' ? 'network' : 'container',
    facts: { address: s.address, port: String(s.port) },
  };
  step.act = {
    apply: async () => {
      const rec = await srv.startServer(s);
      // The undo now knows the PID (a rollback prints `kill PID`, and checks the start time first).
      if (o.undoable) step.undo = [cmd('kill', String(rec.pid))];
    },
    ...(o.undoable ? { undo: async () => void (await srv.stopServer(s.network, s.instance)) } : {}),
  };
  return step;
}

/** SIGHUP: dnsmasq clears its cache and rereads the records (the PID checked first: still that dnsmasq). */
export function reloadStep(network: string, instance: string, rec: srv.ServerRecord): Step {
  return {
    name: `reload ${serverName(network, instance)}`,
    why: 'SIGHUP: dnsmasq clears its cache and rereads the names',
    apply: [cmd('kill', '-HUP', String(rec.pid))],
    undo: [],
    owner: instance === 'network' ? 'network' : 'container',
    facts: { log: srv.file(network, instance, 'log') },
    act: { apply: async () => srv.reload(rec) },
  };
}

/** A running server stopped by its recorded PID (SIGTERM, SIGKILL after a second); its files go. */
export function stopStep(network: string, instance: string, rec: srv.ServerRecord, why: string): Step {
  return {
    name: `stop ${serverName(network, instance)}`,
    why,
    apply: [cmd('kill', String(rec.pid))],
    undo: [],
    owner: instance === 'network' ? 'network' : 'container',
    act: { apply: async () => void (await srv.stopServer(network, instance)) },
  };
}

/** `network rm`, prune: the network's DNS folder (names, configurations, records, logs). */
export function removeFilesStep(network: string): Step {
  const dir = srv.networkDir(network);
  return {
    name: `remove the DNS files of network "${network}"`,
    why: 'its names, its servers\' configurations, records and logs',
    apply: [cmd('rm', '-rf', dir)],
    undo: [],
    owner: 'network',
    act: { apply: async () => fs.rmSync(dir, { recursive: true, force: true }) },
  };
}

/** What a sync finds of one server that reads the network's names. */
export interface ReaderView {
  network: string;
  instance: string;
  rec: srv.ServerRecord | null;
  running: boolean;
  /** Not running: start it (again) with this spec; undefined: leave it. */
  start?: { spec: ServerSpec; why: string; again: boolean };
}

/**
 * After every change to a network's containers: the records rewritten, every running server
 * that reads them reloaded, one that must run and does not started (its configuration first).
 * Then `extra` (the host's rules that let queries in, when the network's server starts).
 */
export function syncSteps(network: string, list: DnsEntry[], readers: ReaderView[], extra: Step[] = []): Step[] {
  const steps = [recordsStep(network, list)];
  for (const r of readers) {
    if (r.running && r.rec) steps.push(reloadStep(r.network, r.instance, r.rec));
    else if (r.start) steps.push(confStep(r.start.spec), startStep(r.start.spec, { why: r.start.why, again: r.start.again, undoable: !r.start.again }));
  }
  return [...steps, ...extra];
}

/** A server of its own for a container (run --dns, several networks): its configuration, then it. */
export function ownServerSteps(s: ServerSpec, why: string): Step[] {
  return [confStep(s), startStep(s, { why, undoable: true })];
}

/** `network rm`, `system reset`: every running server of the network stopped, then its folder. */
export function stopNetworkSteps(network: string, running: { instance: string; rec: srv.ServerRecord }[]): Step[] {
  const why = (inst: string) =>
    inst === 'network' ? 'by its recorded PID (start time checked first): removing the network would not stop it' : "the container's own server, recorded with this network";
  return [...running.map((r) => stopStep(network, r.instance, r.rec, why(r.instance))), removeFilesStep(network)];
}
