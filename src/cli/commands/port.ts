// `minid port`: the runtime's answer printed (src/runtime/port.ts).
import { portLines } from '../../runtime/port.js';
import { findContainerOr1 } from '../../runtime/lookup.js';

export async function port(ref: string, spec?: string) {
  const s = findContainerOr1(ref);
  for (const line of portLines(s.config.name, s.config.attachment?.ports ?? [], spec)) process.stdout.write(line + '\n');
}
