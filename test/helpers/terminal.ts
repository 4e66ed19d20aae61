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
