// `minid inspect [-f FORMAT] [--type container|image|network] NAME...`, `image inspect` and
// `network inspect`: docker's shapes (src/runtime/inspect.ts), printed as an indented JSON
// array or, with --format, one template result per object (docker's rules: "json" is the
// array; an error names the object and exits 1).
import { MinidError } from '../../errors.js';

export interface InspectOptions {
  format?: string;
  type?: string;
}

/** Print objects as docker's inspect does. Template errors: one line, exit 1 (parse errors 64, as docker). */
export async function printInspected(objects: unknown[], format: string | undefined, write: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  if (!format || format === 'json') return write(JSON.stringify(objects, null, 4) + '\n');
  const { parseTemplate, TemplateError } = await import('../template.js');
  let t;
  try {
    t = parseTemplate(format);
  } catch (e) {
    if (e instanceof TemplateError) throw new MinidError(e.message, 64);
    throw e;
  }
  let out = '';
  for (const o of objects) {
    try {
      out += t.execute(o) + '\n';
    } catch (e) {
      if (e instanceof TemplateError) {
        write(out);
        throw new MinidError(`template parsing error: ${e.message}`, 1);
      }
      throw e;
    }
  }
  write(out);
}

/** Network ids by name, for containers' NetworkSettings.Networks (records on disk; host and none by their fixed ids). */
export async function networkIds(): Promise<(name: string) => string> {
  const { records } = await import('../../network/networks.js');
  const crypto = await import('node:crypto');
  const byName = new Map(records().map((r) => [r.name, r.id]));
  return (name) => byName.get(name) ?? crypto.createHash('sha256').update(`minid-network-${name}`).digest('hex');
}

async function containerObjects(refs: string[]): Promise<Map<string, unknown>> {
  const rt = await import('../../runtime/container.js');
  const { listStates, findContainer } = await import('../../runtime/state.js');
  const { inspectContainer } = await import('../../runtime/inspect.js');
  const states = await rt.releaseOrphans(listStates());
  const ids = await networkIds();
  const out = new Map<string, unknown>();
  for (const ref of refs) {
    try {
      out.set(ref, inspectContainer(findContainer(ref, states), ids));
    } catch (e) {
      if (!(e instanceof MinidError)) throw e;
    }
  }
  return out;
}

export async function imageObject(ref: string): Promise<unknown> {
  const { resolveImage, layerPaths } = await import('../../image/store.js');
  const { inspectImage } = await import('../../runtime/inspect.js');
  const img = await resolveImage(ref);
  return inspectImage(img, layerPaths(img));
}

export async function networkObject(ref: string): Promise<unknown> {
  const { inspectNetwork } = await import('../../network/networks.js');
  const { dockerNetwork } = await import('./network-shape.js');
  // none and host: docker's built-in networks, of which minid keeps no record.
  const builtin = await (await import('./network.js')).builtinNetworkObject(ref);
  return builtin ?? dockerNetwork((await inspectNetwork(ref)).json);
}

/**
 * `minid inspect`: containers first, then images, then networks (docker's order without
 * --type). Every name is tried; the ones not found are said on stderr ("Error: No such
 * object: X"), the others printed, and the exit code is 1 if any was missing.
 */
export async function inspect(refs: string[], o: InspectOptions = {}): Promise<number> {
  const type = o.type;
  if (type && !['container', 'image', 'network'].includes(type)) throw new MinidError(`"${type}" is not a valid value for --type: use container, image or network`, 1);
  const ctrs = !type || type === 'container' ? await containerObjects(refs) : new Map();
  const found: unknown[] = [];
  const missing: string[] = [];
  for (const ref of refs) {
    if (ctrs.has(ref)) {
      found.push(ctrs.get(ref));
      continue;
    }
    let obj: unknown;
    for (const get of [!type || type === 'image' ? imageObject : undefined, !type || type === 'network' ? networkObject : undefined]) {
      if (!get || obj) continue;
      try {
        obj = await get(ref);
      } catch (e) {
        if (!(e instanceof MinidError)) throw e;
      }
    }
    if (obj) found.push(obj);
    else missing.push(ref);
  }
  await printInspected(found, o.format);
  for (const m of missing) process.stderr.write(`minid: no such ${type ?? 'object'}: ${m}\n`);
  return missing.length ? 1 : 0;
}

/** `minid image inspect`: images only; a missing one exits 1. */
export async function inspectImages(refs: string[], o: InspectOptions = {}): Promise<number> {
  return inspect(refs, { ...o, type: 'image' });
}

/** `minid network inspect`: networks only. */
export async function inspectNetworks(refs: string[], o: InspectOptions = {}): Promise<number> {
  return inspect(refs, { ...o, type: 'network' });
}
