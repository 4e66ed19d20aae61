// The small everyday verbs: rename, pause, unpause, top. Each looks the container up (exit 1
// when there is none, as docker) and calls its runtime module.
import { findContainerOr1 } from '../../runtime/lookup.js';

export async function rename(oldRef: string, newName: string) {
  const { renameContainer } = await import('../../runtime/rename.js');
  await renameContainer(findContainerOr1(oldRef), newName);
}

/** pause/unpause: every container given; one failing does not stop the others (exit 1 then). */
async function each(refs: string[], fn: (s: ReturnType<typeof findContainerOr1>) => Promise<void>): Promise<number> {
  const { isMinidError } = await import('../../errors.js');
  let code = 0;
  for (const ref of refs) {
    try {
      await fn(findContainerOr1(ref));
      process.stdout.write(ref + '\n');
    } catch (e) {
      if (!isMinidError(e)) throw e;
      process.stderr.write(`minid: ${e.message}\n`);
      code = 1;
    }
  }
  return code;
}

export async function pause(refs: string[]) {
  const { pauseContainer } = await import('../../runtime/pause.js');
  return each(refs, pauseContainer);
}

export async function unpause(refs: string[]) {
  const { unpauseContainer } = await import('../../runtime/pause.js');
  return each(refs, unpauseContainer);
}

export async function top(ref: string, psArgs: string[]) {
  const { top } = await import('../../runtime/top.js');
  const { tabwrite } = await import('../tabwrite.js');
  const { titles, rows } = await top(findContainerOr1(ref), psArgs);
  process.stdout.write(tabwrite([titles, ...rows], 20));
}
