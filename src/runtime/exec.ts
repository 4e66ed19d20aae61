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
}

/** Run the command; resolves with its exit code (128+N for a signal, as a shell says it). */
export async function execInContainer(r: ExecRequest): Promise<number> {
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
  if (r.tty) {
    const { ptySession } = await import('./attach.js');
    return ptySession(argv, { env: envObj, interactive: r.interactive });
  }
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
