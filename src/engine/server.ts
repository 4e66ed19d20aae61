// `minid system service`: the Docker Engine API (v1.41 shapes) on a unix socket, for the
// tools that speak it (docker's CLI, dockerode and testcontainers). As `podman system
// service`, it is no daemon that must always run: started when a job needs it, it exits once
// no request has come for --timeout seconds (0: never). Each request calls the runtime
// (src/runtime, src/image, src/network) as a minid command does: the containers it starts
// are supervised as `minid run -d`'s are, and outlive the service.
//
// One file per group of endpoints (system, images, containers, verbs: the containers'
// everyday ones, exec, networks, volumes); this one routes, strips the /vX.Y prefix clients
// send, answers what it does not know with docker's error JSON (404), and keeps the socket
// root's only (0600).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { runRoot } from '../sys/paths.js';
import { type Ctx, sendError, statusOf } from './http.js';

export type Handler = (ctx: Ctx) => Promise<void> | void;
type Route = { method: string; re: RegExp; handler: Handler; fallback?: number; hijacks?: boolean };

/** The API version minid speaks (docker 20.10's), in the Api-Version header of every answer. */
export const API_VERSION = '1.41';

/** The default socket: in the store's run folder (MINID_RUN), root's only as that folder is. */
export const defaultSocket = (): string => path.join(runRoot(), 'engine.sock');

async function routes(): Promise<Route[]> {
  const [sys, img, ctr, exe, net, vol, verb] = await Promise.all([
    import('./system.js'), import('./images.js'), import('./containers.js'), import('./exec.js'), import('./networks.js'), import('./volumes.js'), import('./verbs.js'),
  ]);
  const r = (method: string, p: string, handler: Handler, fallback?: number, hijacks?: boolean): Route => ({
    method,
    // {x} is one path segment; {path*} the rest (an image name has slashes).
    re: new RegExp(`^${p.replace(/\{\w+\*\}/g, '(.+)').replace(/\{\w+\}/g, '([^/]+)')}$`),
    handler,
    fallback,
    hijacks,
  });
  return [
    r('GET', '/_ping', sys.ping),
    r('HEAD', '/_ping', sys.ping),
    r('GET', '/version', sys.version),
    r('GET', '/info', sys.info),
    r('GET', '/events', sys.events),
    r('GET', '/system/df', sys.df),
    r('POST', '/build/prune', sys.buildPrune),
    r('POST', '/images/create', img.pull),
    r('GET', '/images/json', img.list),
    r('GET', '/images/{name*}/json', img.inspect),
    r('POST', '/images/{name*}/tag', img.tag, 400),
    r('GET', '/images/{name*}/history', img.history),
    r('GET', '/images/get', img.save, 400),
    r('GET', '/images/{name*}/get', img.save),
    r('POST', '/images/load', img.load, 400),
    r('POST', '/images/prune', img.prune, 400),
    r('DELETE', '/images/{name*}', img.remove),
    r('POST', '/containers/create', ctr.create, 400),
    r('GET', '/containers/json', ctr.list, 400),
    r('GET', '/containers/{id}/json', ctr.inspect),
    r('POST', '/containers/{id}/start', ctr.start),
    r('POST', '/containers/{id}/stop', ctr.stop),
    r('POST', '/containers/{id}/restart', ctr.restart),
    r('POST', '/containers/{id}/kill', ctr.kill),
    r('POST', '/containers/{id}/wait', ctr.wait),
    r('POST', '/containers/{id}/attach', ctr.attach, 500, true),
    r('POST', '/containers/{id}/resize', ctr.resize, 400),
    r('GET', '/containers/{id}/logs', ctr.logs, 400),
    r('POST', '/containers/prune', verb.prune, 400),
    r('DELETE', '/containers/{id}', ctr.remove),
    r('GET', '/containers/{id}/archive', ctr.getArchive, 400),
    r('HEAD', '/containers/{id}/archive', ctr.statArchive, 400),
    r('PUT', '/containers/{id}/archive', ctr.putArchive, 400),
    r('GET', '/containers/{id}/stats', verb.stats, 400),
    r('GET', '/containers/{id}/top', verb.top),
    r('POST', '/containers/{id}/pause', verb.pause),
    r('POST', '/containers/{id}/unpause', verb.unpause),
    r('POST', '/containers/{id}/rename', verb.rename, 400),
    r('GET', '/containers/{id}/changes', verb.changes),
    r('GET', '/containers/{id}/export', verb.exportFs),
    r('POST', '/containers/{id}/update', verb.update),
    r('POST', '/containers/{id}/exec', exe.create, 400),
    r('POST', '/exec/{id}/start', exe.start, 500, true),
    r('POST', '/exec/{id}/resize', exe.resize, 400),
    r('GET', '/exec/{id}/json', exe.inspect),
    r('GET', '/networks', net.list),
    r('POST', '/networks/create', net.create, 400),
    r('GET', '/networks/{id}', net.inspect),
    r('POST', '/networks/{id}/connect', net.connect, 400),
    r('POST', '/networks/{id}/disconnect', net.disconnect, 400),
    r('POST', '/networks/prune', net.prune, 400),
    r('DELETE', '/networks/{id}', net.remove),
    r('GET', '/volumes', vol.list, 400),
    r('POST', '/volumes/create', vol.create, 400),
    r('POST', '/volumes/prune', vol.prune, 400),
    r('GET', '/volumes/{name}', vol.inspect),
    r('DELETE', '/volumes/{name}', vol.remove),
  ];
}

export interface ServiceOptions {
  socket?: string;
  /** Seconds without a request before the service exits; 0: never. */
  timeout?: number;
  /** Told once the socket listens (the CLI prints where). */
  listening?: (socket: string) => void;
}

/** Serve until idle for `timeout` seconds (or SIGTERM/SIGINT); resolves when closed. */
export async function serve(o: ServiceOptions = {}): Promise<void> {
  const socket = path.resolve(o.socket ?? defaultSocket());
  const table = await routes();
  let active = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let closing = false;
  const timeoutMs = (o.timeout ?? 5) * 1000;
  const server = http.createServer();
  const done = new Promise<void>((resolve) => server.on('close', resolve));

  // Hijacked connections (attach, exec start) are no longer the HTTP server's: ended here.
  const hijacked = new Set<Duplex>();
  const shutdown = () => {
    if (closing) return;
    closing = true;
    server.close();
    server.closeAllConnections();
    for (const s of hijacked) s.destroy();
    fs.rmSync(socket, { force: true });
  };
  // Idle: no request under way (an open follow of logs, a wait, an attach count as one).
  const idle = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
    if (active === 0 && timeoutMs > 0) idleTimer = setTimeout(shutdown, timeoutMs);
  };
  const begin = () => {
    active++;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
  };
  const end = () => {
    active--;
    idle();
  };

  const dispatch = async (req: http.IncomingMessage, res: http.ServerResponse, upgrade?: { socket: Duplex; head: Buffer }) => {
    const url = new URL(req.url ?? '/', 'http://engine');
    // Clients put the API version first (/v1.41/containers/json): any version is served alike.
    const p = url.pathname.replace(/^\/v\d+(\.\d+)?(?=\/)/, '').replace(/\/+$/, '') || '/';
    const ctx: Ctx = { req, res, path: p, params: [], query: url.searchParams, upgrade };
    let route: Route | undefined;
    let pathKnown = false;
    for (const r of table) {
      const m = r.re.exec(p);
      if (!m) continue;
      pathKnown = true;
      if (r.method !== req.method) continue;
      route = r;
      ctx.params = m.slice(1).map(decodeURIComponent);
      break;
    }
    // Connection: Upgrade on an endpoint that does not hijack: a plain answer on that connection.
    if (upgrade && !route?.hijacks) {
      const sock = upgrade.socket;
      res.assignSocket(sock as import('node:net').Socket);
      res.on('finish', () => sock.end());
      ctx.upgrade = upgrade = undefined;
    }
    try {
      if (!route) {
        // docker's router: a path it has with another method is 405; no such path, 404.
        if (pathKnown) throw Object.assign(new Error(`method ${req.method} is not supported on ${p}`), { status: 405 });
        throw Object.assign(new Error(`page not found: minid's Engine API has no ${req.method} ${p} (see docs/engine-api.md)`), { status: 404 });
      }
      await route.handler(ctx);
    } catch (e) {
      const status = (e as { status?: number }).status ?? statusOf(e, route?.fallback ?? 500);
      const message = (e as Error)?.message ?? String(e);
      if (process.env.MINID_DEBUG && status >= 500) process.stderr.write(`minid service: ${req.method} ${p}: ${(e as Error)?.stack ?? e}\n`);
      if (upgrade) {
        // Not upgraded yet: a plain HTTP answer on the raw socket.
        const body = JSON.stringify({ message });
        if (!upgrade.socket.destroyed)
          upgrade.socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nApi-Version: ${API_VERSION}\r\n\r\n${body}`);
      } else sendError(res, status, message);
    }
  };

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    begin();
    res.on('close', end);
    res.setHeader('Api-Version', API_VERSION);
    res.setHeader('Server', `minid/0.1.0 (linux)`);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');
    void dispatch(req, res);
  });
  // docker's CLI hijacks attach and exec start (Connection: Upgrade, Upgrade: tcp).
  server.on('upgrade', (req: http.IncomingMessage, sock: Duplex, head: Buffer) => {
    begin();
    hijacked.add(sock);
    let ended = false;
    const once = () => void (ended || ((ended = true), hijacked.delete(sock), end()));
    sock.on('close', once);
    sock.on('error', () => sock.destroy());
    const res = new http.ServerResponse(req); // for an endpoint that does not hijack (dispatch)
    res.setHeader('Api-Version', API_VERSION);
    void dispatch(req, res, { socket: sock, head });
  });

  // A socket left by a service that was killed: gone if nothing answers on it.
  if (fs.existsSync(socket)) await removeStale(socket);
  fs.mkdirSync(path.dirname(socket), { recursive: true, mode: 0o700 });
  // Root's only: the socket is made with the mode a umask of 077 leaves (0600), then checked.
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(old);
  }
  fs.chmodSync(socket, 0o600);
  // `on`, not `once`: signal-exit (proper-lockfile's) re-raises a signal that finds no other
  // listener left, which would kill the service half-way through its shutdown.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, shutdown);
  o.listening?.(socket);
  idle();
  await done;
  fs.rmSync(socket, { force: true });
}

/** An old socket file: refused if a service still answers there, removed otherwise. */
async function removeStale(socket: string): Promise<void> {
  const net = await import('node:net');
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(socket);
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
  const { MinidError } = await import('../errors.js');
  if (alive) throw new MinidError(`another minid system service listens on ${socket}: use it (DOCKER_HOST=unix://${socket}), or give --socket another path`, 1);
  if (!fs.statSync(socket).isSocket()) throw new MinidError(`${socket} is a file, not a socket: give --socket another path`, 1);
  fs.rmSync(socket, { force: true });
}
