// Foreground containers: minid stays attached, streams the output to the terminal and the log,
// forwards signals, and releases the network when the container ends. With -t the container
// gets a real terminal through node-pty: raw keys in, window size followed.
import fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { MinidError } from '../errors.js';
import { debugMark, startProcess, type Started } from '../sys/exec.js';
import { onOutputGone } from '../sys/output.js';
import { paths } from '../sys/paths.js';
import { logFile, processAlive, readExitRecord, readPid, type ContainerConfig } from './state.js';
import { REPORT_FD, SUPERVISOR_FDS, releaseContainer, waitStarted } from './container.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

function signalContainer(id: string, sig: NodeJS.Signals): void {
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

function forwardSignals(id: string): () => void {
  const handler = (sig: NodeJS.Signals) => signalContainer(id, sig);
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
  log?: fs.WriteStream;
  closed?: Promise<unknown>;
  unwatch = (): void => {};
  constructor(private readonly c: ContainerConfig) {}

  spawn = async (argv: string[]): Promise<Started> => {
    this.unwatch = onOutputGone(this.outputGone);
    const log = (this.log = fs.createWriteStream(logFile(this.c.id), { flags: 'a' }));
    // Its own process group: Ctrl-C reaches minid only, which forwards it to the container once.
    const child = (this.child = await startProcess(argv, {
      stdio: [this.c.interactive ? 'inherit' : 'null', 'write', 'write', ...SUPERVISOR_FDS],
      detached: true,
    }));
    for (const name of ['stdout', 'stderr'] as const) {
      child[name]!.on('data', (d) => {
        if (!process[name].destroyed) process[name].write(d);
        log.write(d);
      });
    }
    // minid-init's start report (--report-fd): a foreground run needs none (an error is on
    // stderr, the exit code is the container's), but unread it would hold 'close' back.
    (child.stdio[REPORT_FD] as import('node:net').Socket).resume();
    this.closed = new Promise((res) => child.on('close', res));
    return child;
  };

  /**
   * Our stdout (or stderr) lost its reader (`minid run busybox yes | head`): close the
   * container's too, as a shell pipe would. Its next write there fails (EPIPE), and it ends
   * as `yes | head` does; minid then releases it as usual.
   */
  outputGone = (name: 'stdout' | 'stderr'): void => {
    this.child?.[name]?.destroy();
  };
}

export async function runForeground(c: ContainerConfig, sup: ForegroundSupervisor = new ForegroundSupervisor(c), held?: HeldSignals): Promise<number> {
  const shim = path.join(paths.containerRun(c.id), 'shim.sh');
  let done: Promise<unknown>;
  let unforward = () => {};
  let log: fs.WriteStream;
  let unwatch: () => void;
  if (c.tty) {
    // A terminal has no end to close: a container whose output has no reader any more is
    // killed (what SIGPIPE does to a program; the container's PID 1 would ignore it).
    unwatch = onOutputGone(() => signalContainer(c.id, 'SIGKILL'));
    log = fs.createWriteStream(logFile(c.id), { flags: 'a' });
    done = ptySession(['/bin/sh', shim], { env: process.env as Record<string, string>, interactive: c.interactive, tee: (d) => log.write(d) });
    await waitStarted(c.id).catch(() => {});
  } else {
    if (!sup.child) await sup.spawn(['/bin/sh', shim]);
    unwatch = sup.unwatch;
    log = sup.log!;
    done = sup.closed!;
    await waitStarted(c.id).catch(() => {});
    unforward = forwardSignals(c.id);
  }
  // The container runs: a signal held since the last check is its (from now on, a terminal
  // sends Ctrl-C as a key; without one they are forwarded as they come).
  held?.release((sig) => signalContainer(c.id, sig));
  await done;
  debugMark('run: the supervisor has exited');
  unwatch();
  // Until the container is released, a Ctrl-C still goes to the container (which has ended:
  // nothing happens) rather than killing minid half-way through the release.
  if (c.tty) unforward = forwardSignals(c.id);
  await new Promise((res) => log.end(res));
  const exit = readExitRecord(c.id);
  await releaseContainer(c.id);
  unforward();
  debugMark('run: released');
  return exit?.exitCode ?? 125;
}

/**
 * Run argv on a new terminal (node-pty) wired to ours: raw keys in (Ctrl-C reaches the
 * process through the terminal's line discipline), output out (and to `tee`), window size
 * followed. Returns the exit code.
 */
export async function ptySession(argv: string[], o: { env: Record<string, string>; interactive: boolean; tee?: (d: string) => void }): Promise<number> {
  const pty = await import('node-pty');
  const out = process.stdout;
  const term = pty.spawn(argv[0], argv.slice(1), { name: 'xterm', cols: out.columns || 80, rows: out.rows || 24, cwd: '/', env: o.env });
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
  const code = await new Promise<number>((res) => term.onExit((e) => res(e.exitCode)));
  out.off('resize', onResize);
  if (o.interactive) stdin.off('data', onInput).pause();
  if (raw) stdin.setRawMode(false);
  return code;
}
