// Container commands: parse what the user typed into plain requests, call the runtime, print.
import { fail, isMinidError } from '../../errors.js';
import { debugMark } from '../../sys/exec.js';
import * as rt from '../../runtime/container.js';
import { findContainer, NoSuchContainerError, type NetworkSettings } from '../../runtime/state.js';
import { execInContainer } from '../../runtime/exec.js';
import { parseLogTime, readLogs } from '../../runtime/logs.js';
import { parseLabels } from '../labels.js';

import { explainer, type Explainer } from '../explain.js';

type ExplainOpts = { explain?: boolean; explainTo?: string };
/** A line minid prints on stdout (an id, a name): a comment when the explained script shares stdout. */
const said = (ex: Explainer | undefined, line: string, described = line): string => (ex?.onStdout ? ex.comment(described) : line) + '\n';

function netSettings(o: any): NetworkSettings {
  let mode: string = o.network ?? 'bridge';
  if (o.cni) mode = `cni:${o.cni}`;
  // docker runs on, without the ports: the host's own ports are the container's.
  if (mode === 'host' && (o.publish.length || o.publishAll)) {
    process.stderr.write('WARNING: Published ports are discarded when using host network mode\n');
    o = { ...o, publish: [], publishAll: false };
  }
  if ((mode === 'none' || mode.startsWith('container:')) && (o.publish.length || o.publishAll))
    fail(`ports cannot be published with --network ${mode}: use the bridge network or a user-defined one`);
  return {
    mode,
    network: mode === 'none' || mode === 'host' || mode.includes(':') ? undefined : mode,
    ports: o.publish,
    publishAll: !!o.publishAll,
    dns: o.dns,
    dnsSearch: o.dnsSearch,
    dnsOptions: o.dnsOption ?? [],
    addHosts: o.addHost,
    aliases: o.networkAlias ?? [],
    cni: o.cni ? { confDir: o.cniConfDir, path: o.cniPath } : undefined,
  };
}

/** --health-* and --no-healthcheck (commander's `healthcheck: false`); undefined when none was given. */
function healthFlags(o: any): rt.RunRequest['health'] {
  const f = {
    cmd: o.healthCmd, interval: o.healthInterval, timeout: o.healthTimeout, retries: o.healthRetries,
    startPeriod: o.healthStartPeriod, startInterval: o.healthStartInterval, none: o.healthcheck === false || undefined,
  };
  return Object.values(f).some((v) => v !== undefined) ? f : undefined;
}

/** What `run` and `create` were asked for, from their flags. */
export function runRequest(image: string, command: string[], o: any): rt.RunRequest {
  return {
    image,
    args: command,
    detach: !!o.detach,
    rm: !!o.rm,
    name: o.name,
    env: o.env,
    envFiles: o.envFile,
    workdir: o.workdir,
    user: o.user,
    hostname: o.hostname,
    volumes: o.volume,
    mounts: o.mount ?? [],
    tty: !!o.tty,
    interactive: !!o.interactive,
    entrypoint: o.entrypoint,
    net: netSettings(o),
    limits: { memory: o.memory, memorySwap: o.memorySwap, cpus: o.cpus, cpuShares: o.cpuShares, cpusetCpus: o.cpusetCpus, pidsLimit: o.pidsLimit },
    capAdd: o.capAdd ?? [],
    capDrop: o.capDrop ?? [],
    privileged: !!o.privileged,
    securityOpt: o.securityOpt ?? [],
    logOpts: o.logOpt ?? [],
    labels: parseLabels(o.label ?? [], o.labelFile ?? []),
    expose: o.expose ?? [],
    stopSignal: o.stopSignal,
    stopTimeout: o.stopTimeout,
    cidfile: o.cidfile,
    readOnly: !!o.readOnly,
    tmpfs: o.tmpfs ?? [],
    init: !!o.init,
    restart: o.restart,
    health: healthFlags(o),
  };
}

export async function run(image: string, command: string[], o: any): Promise<number> {
  const req = runRequest(image, command, o);
  const ex = explainer({ explain: o.explain || o.dryRun, explainTo: o.explainTo }, `minid run${o.dryRun ? ' --dry-run' : ''}: what it does, step by step`);
  const explain = ex?.say;
  if (o.dryRun) {
    const { dryRun } = await import('../../runtime/netglue.js');
    try {
      await rt.checkRunRequest(req);
      rt.dryRunCgroup(req.limits ?? {}, explain!);
      await dryRun(req, explain!);
    } finally {
      ex?.end();
    }
    return 0;
  }
  // The image: pulled first when --pull says so (its code is loaded only then).
  if (o.pull !== 'missing' || o.platform || !(await (await import('../../image/store.js')).findLocalImage(image))) await (await import('./image.js')).pullForRun(image, o.pull, o.platform);
  // --detach-keys: checked before anything is made (125, as docker's run).
  const detachKeys = o.detachKeys !== undefined ? (await import('../../runtime/console.js')).parseDetachKeys(o.detachKeys, 125) : undefined;
  if (!o.detach) checkTty(!!o.interactive, !!o.tty);
  debugMark('run: parsed');
  const { ForegroundSupervisor, holdSignals, runForeground } = await import('../../runtime/attach.js');
  // Ctrl-C from here until the container runs: undo, not die half-way.
  const held = holdSignals();
  const c = await rt.createContainer(req);
  debugMark(`run: created ${c.id.slice(0, 12)}`);
  (await import('../../sys/testhooks.js')).crashPoint('created');
  // Who starts the supervisor (early, while the network is set up).
  const fg = c.detach ? undefined : new ForegroundSupervisor(c);
  const spawn = fg ? fg.spawn : rt.spawnDetachedSupervisor(c);
  let started;
  try {
    held.check();
    started = await rt.startContainer(c, { explain, spawn, interrupted: held.check });
    debugMark('run: network attached, scripts written, go');
  } catch (e) {
    await rt.releaseContainer(c.id, { remove: true, volumes: true }).catch(() => {});
    // The container is gone: so is the id file that named it.
    if (c.cidfile) (await import('node:fs')).rmSync(c.cidfile, { force: true });
    held.release();
    ex?.end();
    throw e;
  }
  ex?.end();
  if (c.detach) {
    try {
      await rt.spawnDetached(c, started);
    } finally {
      // The container runs (or could not start). A signal that came while minid waited for
      // its report is the container's, as it would be had it come a moment later.
      const { signalContainer } = await import('../../runtime/attach.js');
      held.release((sig) => signalContainer(c.id, sig));
    }
    process.stdout.write(said(ex, c.id, `container id: ${c.id}`));
    return 0;
  }
  return runForeground(c, fg, held, { detachKeys });
}

/** docker's CLI check: keys typed into a container's terminal must come from a terminal (exit 1). */
function checkTty(stdin: boolean, tty: boolean): void {
  if (stdin && tty && !process.stdin.isTTY) fail('the input device is not a TTY: run it from a terminal, or without -t (or -i)', 1);
}

/** `minid attach`: a container's terminal, or its output (and stdin), until it exits or the detach keys. */
export async function attach(ref: string, o: { stdin?: boolean; detachKeys?: string; sigProxy?: string | boolean }): Promise<number> {
  const { parseDetachKeys, DEFAULT_DETACH_KEYS } = await import('../../runtime/console.js');
  const detachKeys = parseDetachKeys(o.detachKeys ?? DEFAULT_DETACH_KEYS, 1);
  const proxy = o.sigProxy === undefined || o.sigProxy === true ? 'true' : String(o.sigProxy);
  if (proxy !== 'true' && proxy !== 'false') fail(`invalid --sig-proxy "${proxy}": give true or false`, 1);
  const { attachContainer } = await import('../../runtime/attach.js');
  const c = findContainer(ref).config;
  checkTty(c.interactive && o.stdin !== false, c.tty);
  return attachContainer(ref, { stdin: o.stdin !== false, detachKeys, sigProxy: proxy === 'true' });
}

export async function stop(refs: string[], o: { time?: string } & ExplainOpts) {
  const t = o.time === undefined ? undefined : Number(o.time);
  if (t !== undefined && (!Number.isInteger(t) || t < -1)) fail(`invalid --time "${o.time}": give whole seconds (-1: wait for ever)`);
  const ex = explainer(o, 'minid stop: what it undoes, step by step');
  let code = 0;
  // With --explain, one at a time: each container's steps read top to bottom.
  const each = async (ref: string) => {
    try {
      await rt.stopContainer(ref, t, ex?.say);
      process.stdout.write(said(ex, ref, `stopped: ${ref}`));
    } catch (e: any) {
      process.stderr.write(`minid: ${e.message}\n`);
      code = 1;
    }
  };
  try {
    if (ex) for (const ref of refs) await each(ref);
    else await Promise.all(refs.map(each));
  } finally {
    ex?.end();
  }
  return code;
}

export async function kill(refs: string[], o: { signal: string }) {
  rt.signalNumber(o.signal);
  for (const ref of refs) {
    await rt.killContainer(ref, o.signal);
    process.stdout.write(ref + '\n');
  }
}

export async function rm(refs: string[], o: { force?: boolean; volumes?: boolean } & ExplainOpts) {
  const ex = explainer(o, 'minid rm: what it undoes, step by step');
  try {
    return await rmEach(refs, o, ex);
  } finally {
    ex?.end();
  }
}

async function rmEach(refs: string[], o: { force?: boolean; volumes?: boolean }, ex: Explainer | undefined): Promise<number> {
  let code = 0;
  for (const ref of refs) {
    try {
      await rt.removeContainer(ref, !!o.force, ex?.say, !!o.volumes);
      process.stdout.write(said(ex, ref, `removed: ${ref}`));
    } catch (e: any) {
      // Anything but a MinidError is a bug: said as main() says it, and the next one is removed.
      process.stderr.write(isMinidError(e) ? `minid: ${e.message}\n` : `minid: internal error: ${e?.message ?? e} (please report it; MINID_DEBUG=1 shows the stack)\n`);
      if (!isMinidError(e) && process.env.MINID_DEBUG) process.stderr.write(`${e?.stack}\n`);
      // `rm -f` wants the container gone: one that is not there is said, not failed (docker's rule).
      if (!(o.force && e instanceof NoSuchContainerError)) code = 1;
    }
  }
  return code;
}

export async function logs(ref: string, o: { follow?: boolean; tail?: string; timestamps?: boolean; since?: string; until?: string }) {
  // docker's forms: "all" or a number (a negative one: all too).
  if (o.tail !== undefined && o.tail !== 'all' && !/^-?\d+$/.test(o.tail)) fail(`--tail ${o.tail}: not a number of lines; use a number or "all"`, 1);
  const tail = o.tail === undefined || o.tail === 'all' || Number(o.tail) < 0 ? undefined : Number(o.tail);
  const time = (flag: string, v?: string) => {
    if (v === undefined || v === '') return undefined;
    const t = parseLogTime(v);
    if (t === undefined) fail(`--${flag} ${v}: not a time; use a duration before now (10m, 1h30m), Unix seconds, or an RFC 3339 time (2026-12-06T03:52:27Z)`, 1);
    return t;
  };
  const opts = { follow: o.follow, tail, timestamps: o.timestamps, since: time('since', o.since), until: time('until', o.until) };
  await readLogs(ref, opts, { stdout: process.stdout, stderr: process.stderr });
}

export async function exec(ref: string, command: string[], o: any): Promise<number> {
  const detachKeys = o.detachKeys !== undefined ? (await import('../../runtime/console.js')).parseDetachKeys(o.detachKeys, 1) : undefined;
  checkTty(!!o.interactive, !!o.tty);
  return execInContainer({
    detachKeys,
    ref,
    command,
    user: o.user,
    workdir: o.workdir,
    env: o.env ?? [],
    tty: !!o.tty,
    interactive: !!o.interactive,
    privileged: !!o.privileged,
  });
}

export async function wait(refs: string[]) {
  let last = 0;
  for (const ref of refs) {
    const s = findContainer(ref);
    const exit = await rt.waitExit(s.config.id);
    last = exit?.exitCode ?? 255;
    process.stdout.write(`${last}\n`);
  }
}

/** The supervisor's health monitor (`minid _health ID`, hidden): runs until its supervisor ends it. */
export async function health(id: string, supervisor: string) {
  await (await import('../../runtime/healthmonitor.js')).healthMonitor(id, Number(supervisor));
}

export async function exited(id: string) {
  await rt.containerExited(id);
}

export async function systemPrune(o: ExplainOpts) {
  const { pruneSystem } = await import('../../runtime/prune.js');
  const ex = explainer(o, 'minid system prune: what it removes, step by step');
  let removed: string[];
  try {
    removed = await pruneSystem({ explain: ex?.say });
  } finally {
    ex?.end();
  }
  for (const r of removed) process.stdout.write(said(ex, `Deleted ${r}`));
  if (!removed.length) process.stdout.write(said(ex, 'Nothing to remove'));
}

/** `minid network check CONTAINER`: one line per attachment (runtime/netglue.ts checkNetwork); exit 1 when one is not in place. */
export async function networkCheck(ref: string) {
  const s = findContainer(ref);
  const results = await (await import('../../runtime/netglue.js')).checkNetwork(s.config);
  if (!results) fail(`container ${s.config.name} is not attached to any network (it is not running): start it first`, 1);
  const bad = results.filter((r) => r.problems.length).map((r) => `${s.config.name}: ${r.what}: ${r.problems.join('; ')}`);
  for (const r of results) if (!r.problems.length) process.stdout.write(`${s.config.name}: ${r.what} passed\n`);
  if (bad.length) fail(bad.join('\n'), 1);
}

/** `minid system reset`: this store's containers, bridges and rules gone (src/runtime/prune.ts). */
export async function systemReset(o: ExplainOpts) {
  const { resetSystem } = await import('../../runtime/prune.js');
  const ex = explainer(o, 'minid system reset: what it removes, step by step');
  try {
    await reset(resetSystem, ex);
  } finally {
    ex?.end();
  }
}

async function reset(resetSystem: typeof import('../../runtime/prune.js').resetSystem, ex: Explainer | undefined): Promise<void> {
  const out = (l: string) => process.stdout.write(said(ex, l.replace(/\n$/, '')));
  await resetSystem({ explain: ex?.say }, (e) => {
    if (e.kind === 'store') {
      const legacy = e.store.legacy ? ', and the rules older minids left on its bridges without a store id' : '';
      out(`Resetting store ${e.store.root} (store id ${e.store.id}): its containers, bridges and rules${legacy}; other stores' stay\n`);
    } else if (e.kind === 'container') out(`Deleted container ${e.name}\n`);
    else if (e.kind === 'network') out(`Removed the kernel objects of network ${e.name} (bridge ${e.bridge})\n`);
    else if (e.kind === 'warning') process.stderr.write(`minid: warning: ${e.text}\n`);
    else if (e.kind === 'cluster') out(`Removed the ${e.what}\n`);
    else out(`Removed the parent cgroup minid\n`);
  });
}
