// The store's housekeeping verbs, as docker has them: `container prune` (stopped and created
// containers), `image prune` (dangling images; -a: every image no container uses), `system df`
// (what images and containers take, and what a prune would give back), and a container's
// writable layer measured (its upper dir: what it wrote).
import fs from 'node:fs';
import path from 'node:path';
import { paths } from '../sys/paths.js';
import { listStates, type ContainerState } from './state.js';

/** Bytes of the regular files under a folder (symlinks and folders not followed, not counted). */
export function dirSize(dir: string): number {
  let total = 0;
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const d of names) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) total += dirSize(p);
    else if (d.isFile()) total += fs.lstatSync(p, { throwIfNoEntry: false })?.size ?? 0;
  }
  return total;
}

/** What a container wrote: its upper dir (docker's SizeRw). */
export const writableSize = (s: ContainerState): number => dirSize(path.join(paths.container(s.config.id), 'upper'));

/**
 * Remove every container that is not running (and that `pick` keeps: the Engine API's prune
 * filters); returns their ids and the bytes they held.
 */
export async function pruneContainers(pick: (s: ContainerState) => boolean = () => true): Promise<{ ids: string[]; reclaimed: number }> {
  const { removeContainer } = await import('./container.js');
  const ids: string[] = [];
  let reclaimed = 0;
  for (const s of listStates()) {
    if (s.status === 'running' || s.status === 'restarting' || !pick(s)) continue;
    const size = writableSize(s);
    try {
      await removeContainer(s.config.id, false);
    } catch {
      continue; // started meanwhile, or removed by someone else
    }
    ids.push(s.config.id);
    reclaimed += size;
  }
  return { ids, reclaimed };
}

/**
 * Remove dangling images (no name), or with `all` every image no container uses. Returns
 * docker's lines ("untagged: NAME", "deleted: sha256:...") and the bytes of the images deleted.
 */
export async function pruneImages(all: boolean): Promise<{ lines: string[]; reclaimed: number }> {
  const store = await import('../image/store.js');
  const { imageInUse } = await import('./container.js');
  const used = new Set(listStates().map((s) => s.config.imageId));
  const lines: string[] = [];
  let reclaimed = 0;
  for (const img of await store.listImages()) {
    if (used.has(img.id) || (!all && img.names.length)) continue;
    let out: string[];
    try {
      out = await store.removeImage(img.id, { force: true, usedBy: imageInUse });
    } catch {
      continue; // used or removed meanwhile
    }
    for (const l of out) {
      const m = /^(Untagged|Deleted): (\S+)/.exec(l);
      if (!m) continue;
      lines.push(`${m[1].toLowerCase()}: ${m[1] === 'Deleted' && !m[2].startsWith('sha256:') ? `sha256:${m[2]}` : m[2]}`);
    }
    if (out.some((l) => l === `Deleted: ${img.id}`)) reclaimed += img.size;
  }
  return { lines, reclaimed };
}

export interface DfRow {
  type: string;
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

/** `system df`: images (a layer shared by several counted once), containers, volumes, build cache. */
export async function diskUsage(): Promise<DfRow[]> {
  const store = await import('../image/store.js');
  const states = listStates();
  const images = await store.listImages();
  const sizes = store.layerSizes();
  const used = new Set(states.map((s) => s.config.imageId));
  const layersOf = (imgs: typeof images) => new Set(imgs.flatMap((i) => i.layers.map((l) => l.diffId.replace(/^sha256:/, ''))));
  const sum = (layers: Set<string>) => [...layers].reduce((n, l) => n + (sizes[l] ?? 0), 0);
  const active = images.filter((i) => used.has(i.id));
  const imageSize = sum(layersOf(images));
  const containers = states.map((s) => ({ running: s.status === 'running', size: writableSize(s) }));
  const cSize = containers.reduce((n, c) => n + c.size, 0);
  return [
    { type: 'Images', total: images.length, active: active.length, size: imageSize, reclaimable: imageSize - sum(layersOf(active)) },
    { type: 'Containers', total: containers.length, active: containers.filter((c) => c.running).length, size: cSize, reclaimable: containers.filter((c) => !c.running).reduce((n, c) => n + c.size, 0) },
    { type: 'Local Volumes', ...(await import('./volumes.js')).volumeUsage(states) },
    // minid builds nothing: docker's row, empty.
    { type: 'Build Cache', total: 0, active: 0, size: 0, reclaimable: 0 },
  ];
}
