// minid on a real terminal of its own (node-pty), driven as a person at a terminal would:
// type, wait for something on the screen, resize, hang up.
import pty from 'node-pty';
import { cli, repo, type Store } from './minid.js';

export function terminal(store: Store, args: string[], env: Record<string, string> = {}) {
  return programTerminal(cli, args, { ...store.env, ...env });
}

/** Any program (the docker CLI) on a terminal of its own, 100 columns by 30 rows. */
export function programTerminal(program: string, args: string[], env: Record<string, string> = {}) {
  const t = pty.spawn(program, args, { cols: 100, rows: 30, cwd: repo, env: { ...process.env, ...env } as Record<string, string> });
  let out = '';
  t.onData((d) => (out += d));
  const exited = new Promise<number>((res) => t.onExit((e) => res(e.exitCode)));
  /** Wait until the screen (since the last wait) matches `re`; what it showed is returned. */
  const wait = (re: RegExp, ms = 10_000) =>
    new Promise<string>((res, rej) => {
      const t0 = Date.now();
      const timer = setInterval(() => {
        if (re.test(out)) {
          clearInterval(timer);
          const seen = out;
          out = '';
          res(seen);
        } else if (Date.now() - t0 > ms) {
          clearInterval(timer);
          rej(new Error(`timed out waiting for ${re}; screen: ${JSON.stringify(out)}`));
        }
      }, 20);
    });
  return { t, wait, exited };
}

/**
 * Type `keys` until the screen matches `re` (every half second, 20 times at most): a client may
 * flush what was typed before it set its terminal up (dockerpty's raw mode: TCSAFLUSH), and a
 * resize arrives by a request of its own, a moment later.
 */
export async function typeUntil(t: ReturnType<typeof programTerminal>, keys: string, re: RegExp): Promise<string> {
  for (let i = 0; ; i++) {
    t.t.write(keys);
    try {
      return await t.wait(re, 500);
    } catch (e) {
      if (i === 20) throw e;
    }
  }
}
