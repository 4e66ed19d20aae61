// /containers/{id}/exec, /exec/{id}/start, /exec/{id}/json: one more command in a running
// container, as `minid exec` runs it (src/runtime/exec.ts: minid-init joins the container),
// with its stdout and stderr on the multiplexed stream, or detached; with AttachStdin, what the
// client sends on the hijacked connection goes to its stdin (its half-close: the end of it).
// With Tty (`docker exec -it`), on a terminal of its own, the connection relayed to it (terminal.ts).
// An exec is the service's own record (in memory): its id, what to run, then its pid and exit code.
import crypto from 'node:crypto';
import { constants } from 'node:os';
import { type Ctx, badRequest, conflict, framed, notFound, readJson, sendEmpty, sendJson, upgraded } from './http.js';
import { container } from './containers.js';

interface ExecRecord {
  id: string;
  containerId: string;
  cmd: string[];
  env: string[];
  user?: string;
  workdir?: string;
  privileged: boolean;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  running: boolean;
  started: boolean;
  pid: number;
  exitCode: number | null;
  /** With a terminal: its console's socket, and once a client is connected to it (resize waits). */
  console?: { attach: string; connected: Promise<void> };
}

const execs = new Map<string, ExecRecord>();

/** POST /containers/{id}/exec: 201 {"Id"}; 409 when the container does not run. */
export async function create(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const body = await readJson(ctx);
  const cmd = typeof body.Cmd === 'string' ? [body.Cmd] : body.Cmd;
  if (!Array.isArray(cmd) || !cmd.length || !cmd.every((c: unknown) => typeof c === 'string')) throw badRequest('No exec command specified: give Cmd, a list of strings');
  if (s.status !== 'running') throw conflict(`Container ${s.config.id} is not running`);
  if (s.paused) throw conflict(`Container ${s.config.id} is paused, unpause the container before exec`);
  const id = crypto.randomBytes(32).toString('hex');
  execs.set(id, {
    id,
    containerId: s.config.id,
    cmd,
    env: (Array.isArray(body.Env) ? body.Env : []).filter((e: unknown) => typeof e === 'string' && e.includes('=')),
    user: body.User || undefined,
    workdir: body.WorkingDir || undefined,
    privileged: !!body.Privileged,
    tty: !!body.Tty,
    stdin: !!body.AttachStdin,
    stdout: !!body.AttachStdout,
    stderr: !!body.AttachStderr,
    running: false,
    started: false,
    pid: 0,
    exitCode: null,
  });
  sendJson(ctx.res, 201, { Id: id });
}

function record(id: string): ExecRecord {
  const e = execs.get(id);
  if (!e) throw notFound(`No such exec instance: ${id}`);
  return e;
}

/** POST /exec/{id}/start {"Detach", "Tty"}: the output streamed (and stdin taken) until the command ends; detached, 200 at once. */
export async function start(ctx: Ctx): Promise<void> {
  const e = record(ctx.params[0]);
  const body = await readJson(ctx);
  if (e.started) throw conflict(`exec ${e.id} has already been started`);
  const { prepareExec } = await import('../runtime/exec.js');
  const { spawnProcess } = await import('../sys/exec.js');
  const tty = !!(body.Tty ?? e.tty);
  const { argv, env } = await prepareExec({ ref: e.containerId, command: e.cmd, user: e.user, workdir: e.workdir, env: e.env, tty, privileged: e.privileged });
  e.started = true;
  e.running = true;
  if (tty) return startOnTerminal(ctx, e, !!body.Detach, argv, env);
  // stdin only where a client can send it: attached (not detached), on a hijacked connection
  const input = e.stdin && !body.Detach && !!ctx.upgrade;
  const child = await spawnProcess(argv, { env, cleanEnv: true, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  e.pid = child.pid ?? 0;
  const closed = new Promise<void>((res) =>
    child.on('close', (code, sig) => {
      e.exitCode = code ?? 128 + (sig ? (constants.signals as Record<string, number>)[sig] ?? 0 : 0);
      e.running = false;
      res();
    }),
  );
  child.on('error', () => {
    e.exitCode = 126;
    e.running = false;
  });
  if (body.Detach) {
    child.stdout!.resume();
    child.stderr!.resume();
    if (ctx.upgrade) upgraded(ctx).end();
    else {
      ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
      ctx.res.end();
    }
    return;
  }
  const contentType = 'application/vnd.docker.multiplexed-stream';
  let out: NodeJS.WritableStream;
  if (ctx.upgrade) {
    const sock = upgraded(ctx, contentType);
    if (input) {
      // The client's bytes, raw (docker's stdin is never framed), until it half-closes.
      const to = child.stdin!;
      to.on('error', () => {}); // the command ended before reading it all: dropped, as docker does
      if (ctx.upgrade.head.length) to.write(ctx.upgrade.head);
      sock.pipe(to);
    } else sock.resume(); // stdin: not attached
    out = sock;
  } else {
    ctx.res.writeHead(200, { 'Content-Type': contentType });
    out = ctx.res;
  }
  const pipes: Promise<void>[] = [];
  for (const [name, n] of [['stdout', 1], ['stderr', 2]] as const) {
    const src = child[name]!;
    if (!e[name]) {
      src.resume();
      continue;
    }
    const w = framed(out, n, true);
    src.pipe(w);
    pipes.push(new Promise((res) => w.on('finish', () => res())));
  }
  await closed;
  await Promise.all(pipes);
  out.end();
}

/**
 * An exec with a terminal (`docker exec -it`): the command on a new terminal of the container
 * (runtime/exec.ts spawnOnTerminal, as `minid exec -t`), the client relayed to it (raw, keys in
 * with AttachStdin, detach keys). Detached: it runs, its terminal waiting for a client.
 */
async function startOnTerminal(ctx: Ctx, e: ExecRecord, detach: boolean, argv: string[], env: Record<string, string>): Promise<void> {
  const fs = await import('node:fs');
  const { spawnOnTerminal } = await import('../runtime/exec.js');
  const { relayConsole } = await import('./terminal.js');
  const { detachKeysOf } = await import('./containers.js');
  const keys = await detachKeysOf(ctx.query);
  const { child, attach, dir } = await spawnOnTerminal(e.containerId, argv, env, 'ignore');
  e.pid = child.pid ?? 0;
  let connected!: () => void;
  e.console = { attach, connected: new Promise<void>((r) => (connected = r)) };
  const closed = new Promise<void>((res) =>
    child.on('close', (code, sig) => {
      e.exitCode = code ?? 128 + (sig ? (constants.signals as Record<string, number>)[sig] ?? 0 : 0);
      e.running = false;
      fs.rmSync(dir, { recursive: true, force: true });
      res();
    }),
  );
  if (detach || !ctx.upgrade) {
    connected();
    if (ctx.upgrade) upgraded(ctx).end();
    else {
      ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
      ctx.res.end();
    }
    return;
  }
  const head = ctx.upgrade.head;
  const sock = upgraded(ctx, 'application/vnd.docker.raw-stream');
  await relayConsole(sock, head, attach, { input: e.stdin, keys, waiting: () => e.running, connected, before: () => closed });
}

/** POST /exec/{id}/resize?h=ROWS&w=COLS: the exec's terminal's size (one without: nothing to do). */
export async function resize(ctx: Ctx): Promise<void> {
  const e = record(ctx.params[0]);
  const { resizeConsole, sizeOf } = await import('./terminal.js');
  const size = sizeOf(ctx.query);
  if (!size) throw badRequest(`invalid terminal size h=${JSON.stringify(ctx.query.get('h'))} w=${JSON.stringify(ctx.query.get('w'))}: give rows and columns as whole numbers`);
  if (!e.running) throw conflict(`exec ${e.id} is not running`);
  if (e.console) {
    await Promise.race([e.console.connected, new Promise((r) => setTimeout(r, 2000))]);
    await resizeConsole(e.console.attach, size.rows, size.cols);
  }
  sendEmpty(ctx.res, 200);
}

/** GET /exec/{id}/json: docker's exec inspect (ExitCode null while it runs). */
export function inspect(ctx: Ctx): void {
  const e = record(ctx.params[0]);
  sendJson(ctx.res, 200, {
    ID: e.id,
    Running: e.running,
    ExitCode: e.exitCode,
    ProcessConfig: { tty: e.tty, entrypoint: e.cmd[0], arguments: e.cmd.slice(1), privileged: e.privileged, user: e.user ?? '' },
    OpenStdin: e.stdin,
    OpenStderr: e.stderr,
    OpenStdout: e.stdout,
    CanRemove: false,
    ContainerID: e.containerId,
    DetachKeys: '',
    Pid: e.pid,
  });
}
