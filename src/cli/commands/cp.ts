// `minid cp SRC DEST`: one end a container's (NAME:PATH), the other the host's or "-" (src/runtime/cp.ts).
import { fail } from '../../errors.js';
import { copyFromContainer, copyToContainer, parseCpArg } from '../../runtime/cp.js';
import { findContainerOr1 } from '../../runtime/lookup.js';

export async function cp(srcArg: string, destArg: string, o: { archive?: boolean; followLink?: boolean }) {
  const src = parseCpArg(srcArg);
  const dest = parseCpArg(destArg);
  if (src.kind === 'container' && dest.kind === 'container') fail('copying between containers is not supported: copy to the host first', 1);
  if (src.kind === 'container') {
    const s = findContainerOr1(src.ref);
    await copyFromContainer(s, src.path, dest.kind === 'stream' ? { stream: process.stdout } : { host: (dest as { path: string }).path }, o);
  } else if (dest.kind === 'container') {
    const s = findContainerOr1(dest.ref);
    await copyToContainer(s, src.kind === 'stream' ? { stream: process.stdin } : { host: src.path }, dest.path, o);
  } else fail('one of SRC and DEST must be a container path (NAME:PATH), e.g. `minid cp web:/etc/hosts .`', 1);
}
