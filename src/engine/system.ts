// GET/HEAD /_ping, GET /version, GET /info, GET /events.
import { ApiError, type Ctx, sendJson } from './http.js';

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

/** minid keeps no event log yet (`minid events` is another issue's): said, not hung. */
export function events(): void {
  throw new ApiError(501, 'events are not supported by minid yet: poll GET /containers/json or /containers/{id}/json instead');
}
