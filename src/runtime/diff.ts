// `minid diff CONTAINER`: what the container changed in its image, read from its overlay
// upper dir as docker reads it: a whiteout (a 0:0 character device) is "D" (deleted); a name
// the image has too is "C" (changed: a file copied up, a folder something changed in); a name
// only the upper dir has is "A" (added), and so is everything under an added folder.
import fs from 'node:fs';
import path from 'node:path';
import { paths } from '../sys/paths.js';
import type { ContainerState } from './state.js';

const isWhiteout = (st: fs.Stats) => st.isCharacterDevice() && st.rdev === 0;

/**
 * Does the image (its layers, lowest first) have `rel`? Walked one name at a time with lstat
 * from the top layer down, never through a symlink of the image's (it could lead to a host
 * path): a whiteout or a non-folder on the way hides what the layers below have.
 */
export function imageHas(layers: string[], rel: string): boolean {
  const names = rel.split('/').filter(Boolean);
  for (const layer of [...layers].reverse()) {
    let dir = layer;
    for (let i = 0; i < names.length; i++) {
      const st = fs.lstatSync(path.join(dir, names[i]), { throwIfNoEntry: false });
      if (!st) break; // not in this layer: the next one down may have it
      if (isWhiteout(st)) return false;
      if (i === names.length - 1) return true;
      if (!st.isDirectory()) return false;
      dir = path.join(dir, names[i]);
    }
  }
  return false;
}

/**
 * The files minid bind-mounts over the root (its /etc files, volume targets): where the image
 * lacks them, an empty stub is made in the upper dir to mount on. docker makes its own in a
 * layer of its own ("init"), which diff does not show: neither are these.
 */
export const MOUNT_STUBS = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'];

/** docker diff's lines, sorted by path: "C /etc", "A /etc/new", "D /bin/ls". */
export function diffLines(upper: string, layers: string[], stubs: string[] = MOUNT_STUBS): string[] {
  const hidden = new Set(stubs);
  const isStub = (r: string, st: fs.Stats, p: string) =>
    hidden.has(r) && ((st.isFile() && st.size === 0) || (st.isDirectory() && fs.readdirSync(p).length === 0));
  /** The lines of one folder; a folder the image has, copied up only for stubs, says nothing. */
  const walk = (dir: string, rel: string, added: boolean): string[] => {
    const out: string[] = [];
    let entries: string[];
    try {
      entries = fs.readdirSync(dir).sort();
    } catch {
      return out;
    }
    for (const name of entries) {
      const p = path.join(dir, name);
      const r = `${rel}/${name}`;
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (!st || isStub(r, st, p)) continue;
      if (isWhiteout(st)) {
        out.push(`D ${r}`);
        continue;
      }
      const isNew = added || !imageHas(layers, r);
      const below = st.isDirectory() ? walk(p, r, isNew) : [];
      const onlyStubs = st.isDirectory() && !isNew && !below.length && fs.readdirSync(p).some((n) => hidden.has(`${r}/${n}`));
      if (!onlyStubs) out.push(`${isNew ? 'A' : 'C'} ${r}`);
      out.push(...below);
    }
    return out;
  };
  return walk(upper, '', false);
}

export function containerDiff(s: ContainerState): string[] {
  const stubs = [...MOUNT_STUBS, ...[...s.config.volumes, ...(s.config.tmpfs ?? [])].map((v) => v.container.replace(/\/+$/, ''))];
  return diffLines(path.join(paths.container(s.config.id), 'upper'), s.config.layers, stubs);
}
