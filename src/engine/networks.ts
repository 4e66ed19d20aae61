// /networks: list, create, inspect, connect, disconnect, remove (src/network as `minid
// network ...` uses it; docker's shapes from src/cli/commands/network-shape.ts).
import { MinidError } from '../errors.js';
import { type Ctx, badRequest, notFound, readJson, sendEmpty, sendJson } from './http.js';
import { container } from './containers.js';

/** docker's network object, or 404 ("network X not found"). */
async function networkObject(ref: string): Promise<Record<string, unknown>> {
  const { networkObject: get } = await import('../cli/commands/inspect.js');
  try {
    const o = (await get(ref)) as Record<string, unknown>;
    // minid's own keys (minid.bridge.name: which bridge, for `minid network inspect`) are not
    // options the client gave: docker-compose takes any option it did not set for a change.
    const opts = (o.Options ?? {}) as Record<string, string>;
    return { ...o, Options: Object.fromEntries(Object.entries(opts).filter(([k]) => !k.startsWith('minid.'))) };
  } catch (e) {
    if (e instanceof MinidError) throw notFound(`network ${ref} not found`);
    throw e;
  }
}

/** GET /networks: every network, as inspect shows it. */
export async function list(ctx: Ctx): Promise<void> {
  const { listNetworks } = await import('../network/index.js');
  const out = [];
  for (const n of await listNetworks()) {
    try {
      out.push(await networkObject(n.name));
    } catch {
      /* gone meanwhile */
    }
  }
  sendJson(ctx.res, 200, out);
}

export async function inspect(ctx: Ctx): Promise<void> {
  sendJson(ctx.res, 200, await networkObject(ctx.params[0]));
}

/** POST /networks/create {"Name", "Driver", "IPAM": {"Config": [{"Subnet", "Gateway"}]}, "Labels"}: 201 {"Id"}. */
export async function create(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx);
  if (typeof body.Name !== 'string' || !body.Name) throw badRequest('Name is required: give the network a name');
  const { createNetwork, listNetworks } = await import('../network/index.js');
  if ((await listNetworks()).some((n) => n.name === body.Name)) throw Object.assign(new Error(`network with name ${body.Name} already exists`), { status: 409 });
  const ipam = body.IPAM?.Config?.[0] ?? {};
  const r = await createNetwork({ name: body.Name, driver: body.Driver || 'bridge', subnet: ipam.Subnet || undefined, gateway: ipam.Gateway || undefined, labels: body.Labels ?? {} });
  sendJson(ctx.res, 201, { Id: r.id, Warning: '' });
}

/** POST /networks/{id}/connect {"Container", "EndpointConfig": {"Aliases", "IPAMConfig": {"IPv4Address"}}}. */
export async function connect(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx);
  if (typeof body.Container !== 'string') throw badRequest('Container is required');
  await networkObject(ctx.params[0]);
  const s = container(body.Container);
  const { connectContainer } = await import('../runtime/connect.js');
  const ep = body.EndpointConfig ?? {};
  await connectContainer(ctx.params[0], s.config.id, { ip: ep.IPAMConfig?.IPv4Address || undefined, aliases: ep.Aliases ?? [] });
  sendEmpty(ctx.res, 200);
}

export async function disconnect(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx);
  if (typeof body.Container !== 'string') throw badRequest('Container is required');
  await networkObject(ctx.params[0]);
  const s = container(body.Container);
  const { disconnectContainer } = await import('../runtime/connect.js');
  await disconnectContainer(ctx.params[0], s.config.id, { force: !!body.Force });
  sendEmpty(ctx.res, 200);
}

/** DELETE /networks/{id}: 204; 409 while containers are attached (docker's "has active endpoints"). */
export async function remove(ctx: Ctx): Promise<void> {
  await networkObject(ctx.params[0]);
  const { removeNetwork } = await import('../network/index.js');
  await removeNetwork(ctx.params[0]);
  sendEmpty(ctx.res, 204);
}

/** POST /networks/prune?filters=: `minid network prune` (every user network no container uses): {"NetworksDeleted": [names]}. */
export async function prune(ctx: Ctx): Promise<void> {
  const { parseFilters } = await import('./images.js');
  const keys = Object.keys(parseFilters(ctx.query.get('filters')));
  if (keys.length) throw badRequest(`invalid filter '${keys[0]}': minid's network prune takes no filters`);
  const { pruneNetworks } = await import('../network/index.js');
  const removed = await pruneNetworks();
  sendJson(ctx.res, 200, { NetworksDeleted: removed.length ? removed : null });
}
