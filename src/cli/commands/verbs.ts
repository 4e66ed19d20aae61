// The small everyday verbs: rename, pause, unpause, top. Each looks the container up (exit 1
// when there is none, as docker) and calls its runtime module.
import { findContainerOr1 } from '../../runtime/lookup.js';
import { each } from '../each.js';

export async function rename(oldRef: string, newName: string) {
  const { renameContainer } = await import('../../runtime/rename.js');
  await renameContainer(findContainerOr1(oldRef), newName);
}

export async function pause(refs: string[]) {
  const { pauseContainer } = await import('../../runtime/pause.js');
  return each(refs, (ref) => pauseContainer(findContainerOr1(ref)));
}

export async function unpause(refs: string[]) {
  const { unpauseContainer } = await import('../../runtime/pause.js');
  return each(refs, (ref) => unpauseContainer(findContainerOr1(ref)));
}

export async function top(ref: string, psArgs: string[]) {
  const { top } = await import('../../runtime/top.js');
  const { tabwrite } = await import('../tabwrite.js');
  const { titles, rows } = await top(findContainerOr1(ref), psArgs);
  process.stdout.write(tabwrite([titles, ...rows], 20));
}
