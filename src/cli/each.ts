// One verb over several containers, as docker's CLI does it.
import { isMinidError } from '../errors.js';

/**
 * Each container in turn, its name printed when done; one failing is said and does not stop
 * the others (exit 1 then, as docker's start, restart, pause and unpause).
 */
export async function each(refs: string[], fn: (ref: string) => Promise<void>): Promise<number> {
  let code = 0;
  for (const ref of refs) {
    try {
      await fn(ref);
      process.stdout.write(ref + '\n');
    } catch (e) {
      if (!isMinidError(e)) throw e;
      process.stderr.write(`minid: ${e.message}\n`);
      code = 1;
    }
  }
  return code;
}
