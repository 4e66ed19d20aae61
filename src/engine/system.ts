// GET/HEAD /_ping, GET /version, GET /info, GET /events.
import { badRequest, type Ctx, sendJson } from './http.js';

/** "OK", with the headers a client negotiates the API version from (Api-Version, set by the server). */
export function ping(ctx: Ctx): void {
  ctx.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
}

export async function version(ctx: Ctx): Promise<void> {
  const { versionObject } = await import('../cli/commands/sysinfo.js');
  sendJson(ctx.res, 200, versionObject().Server);
}

export async function info(ctx: Ctx): Promise<void> {
  const { infoObject } = await import('../cli/commands/sysinfo.js');
  const i = await infoObject();
  // What clients read beyond `minid info`'s fields: an empty index server (testcontainers
  // then assumes docker.io's name for it, for its auth lookups only), no swarm, no runtimes.
  sendJson(ctx.res, 200, { ...i, IndexServerAddress: '', Labels: [], Runtimes: { minid: { path: 'minid' } }, Swarm: { LocalNodeState: 'inactive' }, ExperimentalBuild: false });
}

/**
 * GET /events?since=&until=&filters=: the store's events (runtime/events.ts) as JSON lines, the
 * recorded ones from `since`, then new ones as they come, until `until` or the client leaves.
 * since/until are unix times in seconds (fractions allowed), as the docker CLI sends them.
 */
export async function events(ctx: Ctx): Promise<void> {
  const ev = await import('../runtime/events.js');
  const { parseFilters } = await import('./images.js');
  const time = (name: string): bigint | undefined => {
    const v = ctx.query.get(name);
    if (!v) return undefined;
    const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
    if (!m) throw badRequest(`invalid ${name} "${v}": give a unix time in seconds (1700000000 or 1700000000.5)`);
    return BigInt(m[1]) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
  };
  const since = time('since');
  const until = time('until');
  let filters;
  try {
    filters = ev.parseEventFilters(Object.entries(parseFilters(ctx.query.get('filters'))).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`)));
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  const ac = new AbortController();
  ctx.res.on('close', () => ac.abort());
  ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
  ctx.res.flushHeaders();
  await ev.watchEvents({ since, until, filters, signal: ac.signal }, (e) => void ctx.res.write(ev.eventJson(e) + '\n'));
  ctx.res.end();
}
