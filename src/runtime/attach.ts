// Foreground containers: minid stays attached, streams the output to the terminal and the log,
// forwards signals, and releases the network when the container ends. With -t the container
// gets a terminal of its own (its devpts, held on the host by minid-console) and minid attaches
// to it as `minid attach` does (console.ts): raw keys in, window size followed; the detach keys
// or a hang-up leave it running to its supervisor, as docker's CLI does. `attachContainer` is
// `minid attach`.
import fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { MinidError } from '../errors.js';
import { debugMark, startProcess, type Started } from '../sys/exec.js';
import { onOutputGone } from '../sys/output.js';
import { paths } from '../sys/paths.js';
import { attachSocket, exitFile, findContainer, leftFile, processAlive, readExitRecord, readPid, supervisorAlive, type ContainerConfig } from './state.js';
import { GO_FD, REPORT_FD, SUPERVISOR_FDS, releaseContainer, spawnDetachedSupervisor, waitExit, waitStarted } from './container.js';
import { decodeReport, readReportLine } from './protocol.js';
import { startLogger, type LogSink } from './logwriter.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export function signalContainer(id: string, sig: NodeJS.Signals): void {
  const p = readPid(id);
  if (p && processAlive(p)) {
    // (the container's own process: not whatever reuses its pid once it has ended)
    try {
      process.kill(p.pid, sig);
    } catch {
      /* gone */
    }
  }
}

/**
 * docker's sig-proxy (docker CLI 28, cli/command/container/signals.go and cmd/docker): every
 * signal `docker run` gets is passed on to the container (but SIGCHLD and SIGPIPE), and the
 * CLI keeps waiting: a container that ignores it keeps running (a PID 1 ignores every signal it
 * has no handler for). At the third SIGTERM/SIGINT the CLI gives up ("got 3 SIGTERM/SIGINTs,
 * forcefully exiting", exit 1) and the daemon keeps the container. minid does the same, with
 * `onThird` leaving the container to its supervisor.
 */
function forwardSignals(id: string, onThird?: () => void): () => void {
  let terminations = 0;
  const handler = (sig: NodeJS.Signals) => {
    signalContainer(id, sig);
    if ((sig === 'SIGTERM' || sig === 'SIGINT') && ++terminations === 3) onThird?.();
  };
  for (const s of FORWARDED) process.on(s, handler);
  return () => FORWARDED.forEach((s) => process.off(s, handler));
}

/** Signals held while a container is set up (holdSignals). */
export interface HeldSignals {
  /** Throws (exit 128+N) if one has arrived: the caller undoes what it set up. */
  check(): void;
  /** Stop holding; hand one that arrived (after the last check) to `then`. */
  release(then?: (sig: NodeJS.Signals) => void): void;
}

/**
 * Ctrl-C (SIGINT, or SIGTERM, SIGHUP...) while a container is being set up would kill minid
 * half-way and leave the namespace, veth, rules and address to `minid system prune`. Held
 * instead: minid finishes the step under way, and at the next check undoes everything and
 * exits 128+N; once the container runs, it is handed on to it.
 */
export function holdSignals(): HeldSignals {
  let got: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals) => void (got ??= sig);
  for (const s of FORWARDED) process.on(s, handler);
  return {
    check() {
      if (got) throw new MinidError(`interrupted (${got}) before the container started; what was set up for it is undone`, 128 + (osConstants.signals[got] ?? 0));
    },
    release(then) {
      FORWARDED.forEach((s) => process.off(s, handler));
      if (got && then) then(got);
    },
  };
}

/**
 * A foreground container's supervisor (no terminal), its output wired to ours and to the log
 * from the moment it starts. startContainer starts it (spawn) before the network is set up.
 */
export class ForegroundSupervisor {
  child?: Started;
  log?: LogSink;
  closed?: Promise<unknown>;
  unwatch = (): void => {};
  /** Resolves when minid must leave the container to its supervisor (see runForeground). */
  readonly leave: Promise<'reader' | 'signals'>;
  leaveNow!: (why: 'reader' | 'signals') => void;
  constructor(private readonly c: ContainerConfig) {
    this.leave = new Promise((res) => (this.leaveNow = res));
  }

  spawn = async (argv: string[]): Promise<Started> => {
    if (this.c.tty) {
      // -t: the supervisor stands on its own, as for -d (it logs the terminal's output, and
      // minid-console holds the terminal): minid attaches to it, and may leave it running.
      const child = (this.child = await spawnDetachedSupervisor(this.c)(argv));
      child.ref();
      this.closed = new Promise((res) => child.on('exit', res));
      return child;
    }
    this.unwatch = onOutputGone(this.outputGone);
    // The log: a writer of its own (minid-logger), fed what the terminal is shown, stream by stream.
    const log = (this.log = await startLogger(this.c.id, this.c.logOpts));
    // -i: our stdin, but our terminal only through a pipe (src/sys/terminal.ts).
    const { isTerminal, relayTerminal } = await import('../sys/terminal.js');
    const relay = this.c.interactive && isTerminal(0);
    // Its own process group: Ctrl-C reaches minid only, which forwards it to the container once.
    const child = (this.child = await startProcess(argv, {
      stdio: [this.c.interactive ? (relay ? 'read' : 'inherit') : 'null', 'write', 'write', ...SUPERVISOR_FDS],
      detached: true,
    }));
    const stopRelay = relay ? relayTerminal({ to: child.stdio[0] as import('node:stream').Writable }) : () => {};
    for (const name of ['stdout', 'stderr'] as const) {
      child[name]!.on('data', (d) => {
        if (!process[name].destroyed) process[name].write(d);
        log[name].write(d);
      });
    }
    // minid-init's start report (--report-fd): a foreground run needs none (an error is on
    // stderr, the exit code is the container's), but unread it would hold 'close' back.
    (child.stdio[REPORT_FD] as import('node:net').Socket).resume();
    this.closed = new Promise((res) => child.on('close', res)).finally(stopRelay);
    return child;
  };

  /**
   * Our stdout (or stderr) lost its reader (`minid run busybox yes | head`). docker's CLI
   * catches SIGPIPE (its sig-proxy asks for every signal), so the write fails with EPIPE, it
   * says so and exits 1, and the daemon keeps the container. minid leaves it to its supervisor
   * likewise: the container's own next write fails (EPIPE), and `yes` ends as in `yes | head`;
   * a PID 1 that ignores the error runs on until stopped, and is released then.
   */
  outputGone = (): void => this.leaveNow('reader');
}

export async function runForeground(
  c: ContainerConfig,
  sup: ForegroundSupervisor = new ForegroundSupervisor(c),
  held?: HeldSignals,
  o: { detachKeys?: Buffer } = {},
): Promise<number> {
  const shim = path.join(paths.containerRun(c.id), 'shim.sh');
  if (c.tty) return runOnTerminal(c, sup, shim, held, o.detachKeys);
  if (!sup.child) await sup.spawn(['/bin/sh', shim]);
  const { unwatch } = sup;
  const log = sup.log!;
  const done = sup.closed!;
  await waitStarted(c.id).catch(() => {});
  const unforward = forwardSignals(c.id, () => sup.leaveNow('signals'));
  // The container runs: a signal held since the last check is its (from now on, they are
  // forwarded as they come).
  held?.release((sig) => signalContainer(c.id, sig));
  const why = await Promise.race([done.then(() => undefined), sup.leave]);
  if (why) return leaveToSupervisor(c, why, log, unforward);
  await done;
  debugMark('run: the supervisor has exited');
  unwatch();
  await log.end();
  return released(c, unforward);
}

/** The container has ended and its supervisor with it: release it; its exit code. */
async function released(c: ContainerConfig, unforward: () => void): Promise<number> {
  const exit = readExitRecord(c.id);
  await releaseContainer(c.id);
  unforward();
  debugMark('run: released');
  if (!exit) {
    // Its supervisor was killed: no one recorded how the container ended (255, as loadState).
    process.stderr.write(`minid: the supervisor of container ${c.name} was killed before the container ended: its exit code is unknown\n`);
    return 255;
  }
  return exit.exitCode;
}

/**
 * Stop waiting and leave the container to its supervisor, which keeps running it and, once it
 * ends, releases it and honours --rm (the hook in shim.sh runs when leftFile exists). Exit 1,
 * as docker's CLI does when its output is gone or after three SIGTERM/SIGINTs.
 */
async function leaveToSupervisor(c: ContainerConfig, why: 'reader' | 'signals', log: LogSink, unforward: () => void): Promise<never> {
  await leave(c);
  await log.end();
  unforward();
  const what = why === 'reader' ? 'the reader of its output has gone' : 'got 3 SIGTERM/SIGINTs';
  const then = c.autoRemove ? 'it is removed when it exits' : `stop it with \`minid stop ${c.name}\``;
  if (!process.stderr.destroyed) process.stderr.write(`minid: ${what}: container ${c.name} is left running to its supervisor; ${then}\n`);
  process.exit(1);
}

/** Leave the container to its supervisor: it releases the container (and honours --rm) once it ends. */
async function leave(c: ContainerConfig): Promise<void> {
  fs.writeFileSync(leftFile(c.id), '');
  // The supervisor looks for the mark after it recorded the exit: if the record is there
  // already, it may have looked too early, and the release is ours.
  if (fs.statSync(exitFile(c.id), { throwIfNoEntry: false })?.size || supervisorAlive(c.id) === false) {
    await releaseContainer(c.id).catch(() => {});
  }
}

/** Signals that make `run -t` leave the container running (docker's CLI dies of them, its container runs on). */
const LEAVING: NodeJS.Signals[] = ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT'];

/**
 * `run -t`: attach to the container's terminal until it ends (its exit code), or until the
 * detach keys (exit 0) or a hang-up (the user's terminal closed: SIGHUP, exit 129) leave it
 * to its supervisor, which releases it and honours --rm when it exits.
 */
async function runOnTerminal(c: ContainerConfig, sup: ForegroundSupervisor, shim: string, held?: HeldSignals, detachKeys?: Buffer): Promise<number> {
  const child = sup.child ?? (await sup.spawn(['/bin/sh', shim]));
  (child.stdio[GO_FD] as import('node:net').Socket | null)?.destroy(); // the go was said (or there is none)
  const pipe = child.stdio[REPORT_FD] as import('node:net').Socket;
  pipe.ref();
  const report = readReportLine(pipe).finally(() => pipe.destroy());
  // A terminal has no end to close: a container whose output has no reader any more is
  // killed (what SIGPIPE does to a program; the container's PID 1 would ignore it).
  const unwatch = onOutputGone(() => signalContainer(c.id, 'SIGKILL'));
  let onSignal!: (sig: NodeJS.Signals) => void;
  const signalled = new Promise<NodeJS.Signals>((res) => (onSignal = res));
  LEAVING.forEach((sig) => process.on(sig, onSignal));
  const stopListening = () => LEAVING.forEach((sig) => process.off(sig, onSignal));
  // A signal held while the container was set up: the same as one that comes now.
  held?.release(onSignal);
  let output = false;
  const { attachConsole, parseDetachKeys, DEFAULT_DETACH_KEYS } = await import('./console.js');
  const alive = () => child.exitCode === null && child.signalCode === null;
  const session = attachConsole(attachSocket(c.id), {
    interactive: c.interactive,
    detachKeys: detachKeys ?? parseDetachKeys(DEFAULT_DETACH_KEYS, 125),
    waiting: alive,
    onOutput: () => (output = true),
  });
  const why = await Promise.race([session, signalled]);
  if (why === 'detached' || (why !== 'ended' && why !== 'unreachable')) {
    // The terminal is restored by the session once it has closed.
    if (why !== 'detached' && process.stdin.isTTY) process.stdin.setRawMode(false);
    await leave(c);
    stopListening();
    unwatch();
    debugMark(`run: left the container to its supervisor (${why})`);
    if (why === 'detached') process.exit(0);
    // Die of the signal, as docker's CLI does. (process.exit would have Node restore the
    // terminal's settings, and abort when a hung-up terminal refuses them: EIO.)
    process.kill(process.pid, why);
    return new Promise<never>(() => {});
  }
  await sup.closed;
  debugMark('run: the supervisor has exited');
  unwatch();
  // A start that failed before the container had its terminal: the reason is in the report.
  const line = await report;
  const r = line === null ? undefined : decodeReport(line);
  if (r && !r.started && !output) process.stderr.write(`minid: ${r.message}\n`);
  // Until the container is released, a signal waits rather than kill minid half-way through.
  const code = await released(c, () => {});
  stopListening();
  return code;
}

/**
 * `minid attach CONTAINER`: a -t container's terminal (console.ts), or a container's output
 * as it comes (and our stdin into its stdin with -i), until it exits: its exit code. The
 * detach keys leave it running ("read escape sequence", exit 1, as docker's CLI).
 */
export async function attachContainer(ref: string, o: { stdin: boolean; detachKeys: Buffer; sigProxy: boolean }): Promise<number> {
  const s = findContainer(ref);
  const c = s.config;
  if (s.status !== 'running') throw new MinidError(`cannot attach to container ${c.name}: it is not running; start it attached (\`minid start -a ${c.name}\`)`, 1);
  if (s.paused) throw new MinidError(`cannot attach to container ${c.name}: it is paused; unpause it first (\`minid unpause ${c.name}\`)`, 1);
  const interactive = c.interactive && o.stdin;
  let why: 'ended' | 'detached' | 'unreachable';
  if (c.tty) {
    const { attachConsole } = await import('./console.js');
    why = await attachConsole(attachSocket(c.id), { interactive, detachKeys: o.detachKeys });
    if (why === 'unreachable') throw new MinidError(`cannot attach to container ${c.name}: its terminal is not reachable (started by an older minid?): use \`minid exec -it ${c.name} sh\``, 1);
  } else {
    why = await attachStreams(c, interactive, o);
  }
  if (why === 'detached') {
    process.stderr.write('read escape sequence\n');
    process.exit(1);
  }
  return (await waitExit(c.id))?.exitCode ?? 255;
}

/**
 * attach without a terminal: the output from now on, from the log as the supervisor writes it
 * (stdout to stdout, stderr to stderr), and with -i our stdin into the container's (the FIFO
 * its supervisor keeps open: launch.ts's keepStdin), relayed, never our terminal itself.
 * Signals are passed on to the container (docker's --sig-proxy, on by default).
 */
async function attachStreams(c: ContainerConfig, interactive: boolean, o: { detachKeys: Buffer; sigProxy: boolean }): Promise<'ended' | 'detached'> {
  const { readLogs, recordTime } = await import('./logs.js');
  const unforward = o.sigProxy ? forwardSignals(c.id) : () => {};
  let detach!: () => void;
  const detached = new Promise<'detached'>((res) => (detach = () => res('detached')));
  let stopInput = () => {};
  const fifo = path.join(paths.containerRun(c.id), 'stdin');
  if (interactive && fs.existsSync(fifo)) {
    const { DetachMatcher } = await import('./console.js');
    const to = fs.createWriteStream(fifo, { flags: 'a' });
    to.on('error', () => {});
    const matcher = new DetachMatcher(o.detachKeys);
    const onInput = (d: Buffer) => {
      const { pass, detach: done } = matcher.feed(d);
      if (pass.length) to.write(pass);
      if (done) detach();
    };
    process.stdin.on('data', onInput).resume();
    stopInput = () => {
      process.stdin.off('data', onInput).pause();
      to.end();
    };
  }
  const streamed = readLogs(c.id, { follow: true, since: recordTime(Date.now()) }, { stdout: process.stdout, stderr: process.stderr }).then(() => 'ended' as const);
  const why = await Promise.race([streamed, detached]);
  stopInput();
  unforward();
  return why;
}
