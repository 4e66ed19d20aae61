// Foreground containers: minid stays attached, streams the output to the terminal and the log,
// forwards signals, and releases the network when the container ends. With -t the container
// gets a real terminal through node-pty: raw keys in, window size followed.
import fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { MinidError } from '../errors.js';
import { debugMark, startProcess, startTerminal, type Started } from '../sys/exec.js';
import { onOutputGone } from '../sys/output.js';
import { paths } from '../sys/paths.js';
import { exitFile, leftFile, processAlive, readExitRecord, readPid, supervisorAlive, type ContainerConfig } from './state.js';
import { REPORT_FD, SUPERVISOR_FDS, releaseContainer, waitStarted } from './container.js';
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

export async function runForeground(c: ContainerConfig, sup: ForegroundSupervisor = new ForegroundSupervisor(c), held?: HeldSignals): Promise<number> {
  const shim = path.join(paths.containerRun(c.id), 'shim.sh');
  let done: Promise<unknown>;
  let unforward = () => {};
  let log: LogSink;
  let unwatch: () => void;
  if (c.tty) {
    // A terminal has no end to close: a container whose output has no reader any more is
    // killed (what SIGPIPE does to a program; the container's PID 1 would ignore it).
    unwatch = onOutputGone(() => signalContainer(c.id, 'SIGKILL'));
    // A terminal has one stream: everything is recorded as stdout, as docker does with -t.
    log = await startLogger(c.id, c.logOpts);
    done = ptySession(['/bin/sh', shim], { env: process.env as Record<string, string>, interactive: c.interactive, tee: (d) => log.stdout.write(d) });
    await waitStarted(c.id).catch(() => {});
  } else {
    if (!sup.child) await sup.spawn(['/bin/sh', shim]);
    unwatch = sup.unwatch;
    log = sup.log!;
    done = sup.closed!;
    await waitStarted(c.id).catch(() => {});
    unforward = forwardSignals(c.id, () => sup.leaveNow('signals'));
  }
  // The container runs: a signal held since the last check is its (from now on, a terminal
  // sends Ctrl-C as a key; without one they are forwarded as they come).
  held?.release((sig) => signalContainer(c.id, sig));
  const why = await Promise.race([done.then(() => undefined), sup.leave]);
  if (why && !c.tty) return leaveToSupervisor(c, why, log, unforward);
  await done;
  debugMark('run: the supervisor has exited');
  unwatch();
  // Until the container is released, a Ctrl-C still goes to the container (which has ended:
  // nothing happens) rather than killing minid half-way through the release.
  if (c.tty) unforward = forwardSignals(c.id);
  await log.end();
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
  fs.writeFileSync(leftFile(c.id), '');
  await log.end();
  // The supervisor looks for the mark after it recorded the exit: if the record is there
  // already, it may have looked too early, and the release is ours.
  if (fs.statSync(exitFile(c.id), { throwIfNoEntry: false })?.size || supervisorAlive(c.id) === false) {
    await releaseContainer(c.id).catch(() => {});
  }
  unforward();
  const what = why === 'reader' ? 'the reader of its output has gone' : 'got 3 SIGTERM/SIGINTs';
  const then = c.autoRemove ? 'it is removed when it exits' : `stop it with \`minid stop ${c.name}\``;
  if (!process.stderr.destroyed) process.stderr.write(`minid: ${what}: container ${c.name} is left running to its supervisor; ${then}\n`);
  process.exit(1);
}

/**
 * Run argv on a new terminal (sys's startTerminal: node-pty) wired to ours: raw keys in (Ctrl-C reaches the
 * process through the terminal's line discipline), output out (and to `tee`), window size
 * followed. Returns the exit code.
 */
export async function ptySession(argv: string[], o: { env: Record<string, string>; interactive: boolean; tee?: (d: string) => void }): Promise<number> {
  const out = process.stdout;
  const term = await startTerminal(argv, { cols: out.columns || 80, rows: out.rows || 24, cwd: '/', env: o.env });
  term.onData((d) => {
    if (!out.destroyed) out.write(d);
    o.tee?.(d);
  });
  const stdin = process.stdin;
  const raw = stdin.isTTY && o.interactive;
  if (raw) stdin.setRawMode(true);
  const onInput = (d: Buffer) => term.write(d.toString());
  if (o.interactive) stdin.on('data', onInput).resume();
  const onResize = () => term.resize(out.columns || 80, out.rows || 24);
  out.on('resize', onResize);
  const code = await term.exited;
  out.off('resize', onResize);
  if (o.interactive) stdin.off('data', onInput).pause();
  if (raw) stdin.setRawMode(false);
  return code;
}
