// `minid create`, `start`, `restart` (src/runtime/start.ts).
import { fail } from '../../errors.js';
import { each } from '../each.js';
import { findContainerOr1 } from '../../runtime/lookup.js';

/** `create`: run's flags, the image pulled as run would, the record made; prints the id. */
export async function create(image: string, command: string[], o: any): Promise<number> {
  if (o.dryRun) fail('--dry-run is for `minid run`: `create` changes nothing on the host anyway');
  const { runRequest } = await import('./container.js');
  const req = runRequest(image, command, o);
  if (o.pull !== 'missing' || o.platform || !(await (await import('../../image/store.js')).findLocalImage(image))) await (await import('./image.js')).pullForRun(image, o.pull, o.platform);
  const { createContainer } = await import('../../runtime/container.js');
  const c = await createContainer(req);
  process.stdout.write(c.id + '\n');
  return 0;
}


export async function start(refs: string[], o: { attach?: boolean; interactive?: boolean; detachKeys?: string }): Promise<number> {
  // --detach-keys: checked before anything starts (exit 1: docker's start, whose attach is refused before the start).
  const detachKeys = o.detachKeys !== undefined ? (await import('../../runtime/console.js')).parseDetachKeys(o.detachKeys, 1) : undefined;
  const { startExisting } = await import('../../runtime/start.js');
  if (o.attach || o.interactive) {
    if (refs.length > 1) fail('you cannot start and attach multiple containers at once: give one with -a', 1);
    return startExisting(findContainerOr1(refs[0]), { attach: true, interactive: o.interactive, detachKeys });
  }
  return each(refs, async (ref) => void (await startExisting(findContainerOr1(ref), {})));
}

export async function restart(refs: string[], o: { time?: string }): Promise<number> {
  const t = o.time === undefined ? undefined : Number(o.time);
  if (t !== undefined && (!Number.isInteger(t) || t < -1)) fail(`invalid --time "${o.time}": give whole seconds (-1: wait for ever)`, 1);
  const { restartContainer } = await import('../../runtime/start.js');
  return each(refs, async (ref) => restartContainer(findContainerOr1(ref), t));
}

/** `minid system boot`: main.ts has brought the --restart containers back already (as for any first command); what it started. */
export async function systemBoot(): Promise<void> {
  const { lastBoot } = await import('../../runtime/restart.js');
  for (const n of lastBoot.started) process.stdout.write(`${n}\n`);
}
