// `minid exec`: run one more command in a running container. minid-init --exec joins the
// container's namespaces (the mount namespace brings its root), enters the working directory,
// becomes its user with the container's capabilities, and runs the command inside its PID
// namespace (nsenter -t PID -i -u -n -p -m, plus the capability drop nsenter does not do).
// The command is looked up in the container's PATH.
import { constants } from 'node:os';
import { fail, MinidError } from '../errors.js';
import { spawnProcess } from '../sys/exec.js';
import { findContainer } from './state.js';
import { parseUserFlag, parseEnvFlag, mergeEnv } from './spec.js';
import { resolveUser } from './users.js';

/** What the user asked for, parsed by the CLI. */
export interface ExecRequest {
  /** The container: name, id or unique id prefix. */
  ref: string;
  command: string[];
  /** -u: user[:group], names looked up in the container's /etc/passwd and /etc/group. */
  user?: string;
  /** -w: absolute, inside the container (default: the container's own). */
  workdir?: string;
  /** -e KEY=VALUE (or KEY, taken from our environment). */
  env: string[];
  tty: boolean;
  interactive: boolean;
  /** --privileged: all capabilities for this command (the seccomp filter and no-new-privileges stay). */
  privileged: boolean;
  /** -t: the detach keys (console.ts's parseDetachKeys). */
  detachKeys?: Buffer;
}

/**
 * The command of an exec -t on a new terminal: minid-console (holding the master, waiting for a
 * first client before it reads the output) runs minid-init --exec --console-socket. Its stdout
 * would be the log of a container's terminal: an exec's output is not logged. `attach` is the
 * socket to connect to (console.ts), `dir` the exec's folder, to remove once it has ended.
 */
export async function spawnOnTerminal(id: string, argv: string[], env: Record<string, string>, stderr: 'pipe' | 'inherit' | 'ignore') {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const { paths } = await import('../sys/paths.js');
  const { consoleBinary } = await import('./container.js');
  const dir = fs.mkdtempSync(path.join(paths.containerRun(id), 'exec-'));
  const attach = path.join(dir, 'attach.sock');
  const pty = path.join(dir, 'pty.sock');
  const at = argv.indexOf('--exec') + 1;
  const full = [consoleBinary(), '--wait-client', attach, pty, '--', ...argv.slice(0, at), '--console-socket', pty, ...argv.slice(at)];
  const child = await spawnProcess(full, { env, cleanEnv: true, stdio: ['ignore', 'ignore', stderr] });
  return { child, attach, dir };
}

/**
 * exec -t: the command gets a new terminal of the container's devpts (minid-init --exec
 * --console-socket), whose master a minid-console of this exec holds; minid attaches to it as
 * `run -t` does. The detach keys leave the command running ("read escape sequence", exit 1).
 */
async function execOnTerminal(id: string, argv: string[], env: Record<string, string>, r: ExecRequest): Promise<number> {
  const fs = await import('node:fs');
  const { attachConsole, parseDetachKeys, DEFAULT_DETACH_KEYS } = await import('./console.js');
  // (Its stderr, where a failed setup is said, is relayed if it is our terminal: src/sys/terminal.ts.)
  const { isTerminal } = await import('../sys/terminal.js');
  const { child, attach, dir } = await spawnOnTerminal(id, argv, env, isTerminal(2) ? 'pipe' : 'inherit');
  child.stderr?.on('data', (d: Buffer) => void (process.stderr.destroyed || process.stderr.write(d)));
  const exited = new Promise<number>((res) => child.on('close', (code, sig) => res(code ?? 128 + (sig ? (constants.signals as Record<string, number>)[sig] ?? 0 : 0))));
  let running = true;
  void exited.then(() => (running = false));
  const why = await attachConsole(attach, { interactive: r.interactive, detachKeys: r.detachKeys ?? parseDetachKeys(DEFAULT_DETACH_KEYS, 1), waiting: () => running });
  if (why === 'detached') {
    process.stderr.write('read escape sequence\n');
    child.unref();
    process.exit(1);
  }
  const code = await exited;
  fs.rmSync(dir, { recursive: true, force: true });
  return code;
}

/**
 * What runs an exec: minid-init's argv and the environment it gets, after every check (the
 * container runs, the user and working directory are valid). `execInContainer` runs it on our
 * terminal or stdio; the TypeScript API (src/api) runs it with its output captured.
 */
export async function prepareExec(r: Omit<ExecRequest, 'tty' | 'interactive' | 'detachKeys'> & { tty?: boolean }): Promise<{ id: string; argv: string[]; env: Record<string, string> }> {
  const s = findContainer(r.ref);
  // docker: "Container ID is not running", exit 1.
  if (s.status !== 'running' || !s.pid) fail(`container ${s.config.name} is not running: start it first (\`minid start ${s.config.name}\`)`, 1);
  // Its processes are frozen (`minid pause`): a command joining them would hang, as docker refuses.
  if (s.paused) fail(`container ${s.config.name} is paused: unpause it first (\`minid unpause ${s.config.name}\`)`, 1);
  let uid = s.config.uid;
  let gid = s.config.gid;
  if (r.user) {
    parseUserFlag(r.user);
    // Inside the container's root: a symlink there must not lead to a host file.
    const { readContainerFile } = await import('./rootfs.js');
    const read = (f: string) => readContainerFile(s.pid!, `/etc/${f}`);
    // docker's exec: a user it cannot find is a start failure, exit 126.
    try {
      ({ uid, gid } = resolveUser(r.user, read('passwd'), read('group')));
    } catch (e) {
      if (e instanceof MinidError) throw new MinidError(e.message, 126);
      throw e;
    }
  }
  if (r.workdir !== undefined && !r.workdir.startsWith('/')) fail(`invalid working directory "${r.workdir}": it must be absolute`);
  const env = mergeEnv(s.config.env, r.tty ? ['TERM=xterm'] : [], r.env.map((e) => parseEnvFlag(e)).filter((e): e is string => !!e));
  // The container's cgroups (--cgroup-procs: its limits count the exec'd process too), then
  // its own capabilities, seccomp filter and no-new-privileges (--privileged: all capabilities).
  const { initBinary, execSecurityArgs } = await import('./container.js');
  const cgroups = (s.config.cgroup?.procs ?? []).flatMap((f) => ['--cgroup-procs', f]);
  const argv = [initBinary(), ...cgroups, '--exec', ...execSecurityArgs(s.config, r.privileged), String(s.pid), String(uid), String(gid), r.workdir || s.config.cwd, ...r.command];
  const envObj = Object.fromEntries(env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return { id: s.config.id, argv, env: envObj };
}

/** Run the command; resolves with its exit code (128+N for a signal, as a shell says it). */
export async function execInContainer(r: ExecRequest): Promise<number> {
  const { id, argv, env: envObj } = await prepareExec(r);
  if (r.tty) return execOnTerminal(id, argv, envObj, r);
  // Our terminal is relayed, never handed to the container (src/sys/terminal.ts).
  const { isTerminal, relayTerminal } = await import('../sys/terminal.js');
  const pass = (fd: 0 | 1 | 2) => (isTerminal(fd) ? 'pipe' : 'inherit');
  const child = await spawnProcess(argv, { env: envObj, cleanEnv: true, stdio: [r.interactive ? pass(0) : 'ignore', pass(1), pass(2)] });
  const stop = relayTerminal({ to: child.stdin, out: child.stdout, err: child.stderr });
  return new Promise<number>((res) =>
    child.on('close', (code, sig) => {
      stop();
      res(code ?? 128 + (sig ? (constants.signals as Record<string, number>)[sig] ?? 0 : 0));
    }),
  );
}
