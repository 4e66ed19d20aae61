// POST /images/create (pull, with docker's progress as JSON lines), GET /images/json,
// GET /images/{name}/json.
import { type Ctx, badRequest, notFound, sendJson } from './http.js';

/**
 * A pull, streamed as docker streams it: one JSON object a line ({"status", "id",
 * "progressDetail"}), an error after the 200 as {"errorDetail", "error"}. An error before the
 * first line is a plain error answer (404 for an unknown image).
 */
export async function pull(ctx: Ctx): Promise<void> {
  const q = ctx.query;
  const from = q.get('fromImage');
  if (q.get('fromSrc')) throw badRequest('importing a root filesystem (fromSrc) is not supported by minid: use `minid load`');
  if (!from) throw badRequest('fromImage is required: give the image to pull, e.g. fromImage=busybox&tag=latest');
  const tag = q.get('tag');
  const ref = !tag ? from : tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`;
  const { tryParseReference } = await import('../image/ref.js');
  const parsed = tryParseReference(ref);
  if (!parsed) throw badRequest(`invalid reference format: ${JSON.stringify(ref)}`);
  const { pullImage } = await import('../image/pull.js');
  const res = ctx.res;
  let started = false;
  const early: unknown[] = [];
  const line = (o: unknown) => {
    if (!started) {
      // The first line says the pull is under way: from here on an error is a line too.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      started = true;
      res.write(JSON.stringify({ status: `Pulling from ${parsed.name}`, id: parsed.tag ?? parsed.digest ?? 'latest' }) + '\r\n');
    }
    if (!res.destroyed) res.write(JSON.stringify(o) + '\r\n');
  };
  try {
    const img = await pullImage(ref, {
      platform: q.get('platform') || undefined,
      onEvent: (e) => {
        if (e.kind === 'layer') line({ status: e.status, progressDetail: e.current !== undefined ? { current: e.current, total: e.total } : {}, id: e.id });
        // Said once the pull is under way (the manifest found): an unknown image is still a 404.
        else if (e.kind === 'info') (started ? line({ status: e.line }) : early.push({ status: e.line }));
        else if (e.kind === 'layers') early.splice(0).forEach(line);
      },
    });
    early.splice(0).forEach(line);
    line({ status: `Digest: ${img.manifestDigest}` });
    line({ status: `Status: Downloaded newer image for ${parsed.familiar}` });
  } catch (e) {
    // Before any progress: docker's plain error answer (404 for an image no registry has).
    if (!started) throw e;
    const message = (e as Error).message;
    line({ errorDetail: { message }, error: message });
  }
  res.end();
}

/** GET /images/json: docker's image summaries. */
export async function list(ctx: Ctx): Promise<void> {
  const { listImages } = await import('../image/store.js');
  const { listStates } = await import('../runtime/state.js');
  const used = new Map<string, number>();
  for (const s of listStates()) used.set(s.config.imageId, (used.get(s.config.imageId) ?? 0) + 1);
  const filters = parseFilters(ctx.query.get('filters'));
  const refs = filters.reference ?? [];
  const labels = filters.label ?? [];
  const out = (await listImages())
    .filter((i) => !refs.length || refs.some((r) => i.names.some((n) => n === r || n.replace(/:[^:/]*$/, '') === r)))
    .filter((i) => labels.every((l) => {
      const [k, v] = l.split(/=(.*)/s);
      const have = (i.config?.config as any)?.Labels ?? {};
      return k in have && (v === undefined || have[k] === v);
    }))
    .map((i) => ({
      Id: i.id,
      ParentId: '',
      RepoTags: i.names.length ? i.names : ['<none>:<none>'],
      RepoDigests: i.names.length && i.manifestDigest ? [...new Set(i.names.map((n) => `${n.replace(/:[^:/]*$/, '')}@${i.manifestDigest}`))] : [],
      Created: Math.floor(Date.parse(i.config?.created ?? i.created ?? '') / 1000) || 0,
      Size: i.size,
      SharedSize: -1,
      VirtualSize: i.size,
      Labels: (i.config?.config as any)?.Labels ?? {},
      Containers: used.get(i.id) ?? 0,
    }));
  sendJson(ctx.res, 200, out);
}

/** GET /images/{name}/json: `minid image inspect`'s object. */
export async function inspect(ctx: Ctx): Promise<void> {
  const { findLocalImage, layerPaths } = await import('../image/store.js');
  const { inspectImage } = await import('../runtime/inspect.js');
  const name = ctx.params[0];
  const img = await findLocalImage(name);
  if (!img) throw notFound(`No such image: ${name}`);
  sendJson(ctx.res, 200, inspectImage(img, layerPaths(img)));
}

/** docker's filters query: JSON {"key": ["v", ...]} (or the old {"key": {"v": true}}). */
export function parseFilters(raw: string | null): Record<string, string[]> {
  if (!raw) return {};
  let o: unknown;
  try {
    o = JSON.parse(raw);
  } catch {
    throw badRequest(`invalid filters: ${raw}: give JSON like {"label":["a=b"]}`);
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw badRequest(`invalid filters: ${raw}: give JSON like {"label":["a=b"]}`);
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (v && typeof v === 'object') out[k] = Object.keys(v).filter((x) => (v as Record<string, unknown>)[x]);
    else throw badRequest(`invalid filters: the value of "${k}" must be a list`);
  }
  return out;
}
