// volume create|ls|inspect|rm|prune: parse and print as docker does (runtime/volumes.ts does the work).
import crypto from 'node:crypto';
import { MinidError } from '../../errors.js';
import * as vols from '../../runtime/volumes.js';
import { table } from '../format.js';

export async function volumeCreate(name: string | undefined, o: { label?: string[]; driver?: string }): Promise<void> {
  if (o.driver && o.driver !== 'local') throw new MinidError(`volume driver "${o.driver}" is not supported: minid has the local driver only`, 1);
  const { parseLabels } = await import('../labels.js');
  // No name: docker's anonymous volume, named by 32 random bytes in hex.
  const n = name ?? crypto.randomBytes(32).toString('hex');
  const labels = parseLabels(o.label ?? [], []);
  await vols.withVolumesLock(async () => void vols.createVolume(n, labels));
  process.stdout.write(`${n}\n`);
}

export async function volumeLs(o: { quiet?: boolean; format?: string; filter?: string[] }): Promise<void> {
  const filters = vols.parseVolumeFilters(o.filter ?? [], 'ls');
  const used = filters.has('dangling') ? await vols.usedVolumes() : new Set<string>();
  const list = vols.listVolumes().filter((v) => vols.volumeMatches(v, filters, used));
  if (o.quiet) {
    process.stdout.write(list.map((v) => `${v.Name}\n`).join(''));
    return;
  }
  if (o.format) {
    const { formatRows } = await import('../template.js');
    const rows = list.map((v) => ({
      Name: () => v.Name, Driver: () => v.Driver, Scope: () => v.Scope, Mountpoint: () => v.Mountpoint,
      Labels: () => Object.entries(v.Labels ?? {}).map(([k, x]) => `${k}=${x}`).join(','), CreatedAt: () => v.CreatedAt,
    }));
    process.stdout.write(formatRows(o.format, rows, { headers: { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', CreatedAt: 'CREATED AT' } }));
    return;
  }
  process.stdout.write(table(['DRIVER', 'VOLUME NAME'], list.map((v) => [v.Driver, v.Name])));
}

/** Each name's outcome: the errors of all but the last on stderr, the last one thrown (exit 1). */
function throwErrors(errors: string[]): void {
  for (const m of errors.slice(0, -1)) process.stderr.write(`Error: ${m}\n`);
  if (errors.length) throw new MinidError(errors[errors.length - 1], 1);
}

export async function volumeInspect(names: string[], o: { format?: string }): Promise<void> {
  const found: vols.VolumeInfo[] = [];
  const errors: string[] = [];
  for (const n of names) {
    try {
      found.push(vols.getVolume(n));
    } catch (e) {
      if (!(e instanceof MinidError)) throw e;
      errors.push(e.message);
    }
  }
  const { printInspected } = await import('./inspect.js');
  const { goMap, nilMap, omitEmpty } = await import('../template.js');
  // docker's Volume: Labels and Options maps (null when a run made it); Status and UsageData
  // left out of the JSON when empty (omitempty), printed map[] and <nil> by a template.
  const shaped = found.map((v) =>
    omitEmpty({ ...v, Labels: v.Labels ? goMap({ ...v.Labels }) : nilMap(), Options: v.Options ? goMap({ ...v.Options }) : nilMap(), Status: nilMap(), UsageData: null }, 'Status', 'UsageData'),
  );
  await printInspected(shaped, o.format, (s: string) => process.stdout.write(s));
  throwErrors(errors);
}

export async function volumeRm(names: string[], o: { force?: boolean }): Promise<void> {
  const errors: string[] = [];
  for (const n of names) {
    try {
      await vols.removeVolume(n, !!o.force);
      process.stdout.write(`${n}\n`);
    } catch (e) {
      if (!(e instanceof MinidError)) throw e;
      errors.push(e.message);
    }
  }
  throwErrors(errors);
}

export async function volumePrune(o: { force?: boolean; filter?: string[] }): Promise<void> {
  const filters = vols.parseVolumeFilters(o.filter ?? [], 'prune');
  const { confirm } = await import('./housekeeping.js');
  if (!o.force && !(await confirm('This will remove all local volumes not used by at least one container.'))) return;
  const { names, reclaimed } = await vols.pruneVolumes(filters);
  const { humanSize } = await import('../tabwrite.js');
  if (names.length) process.stdout.write(`Deleted Volumes:\n${names.join('\n')}\n\n`);
  process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
}
