// `minid run -it` and `minid exec -it` give a real terminal: the prompt works, the window size
// follows, Ctrl-C reaches the container's process. Driven through node-pty like a person at a
// terminal would.
import pty from 'node-pty';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli, loadImages, makeStore, minid, repo, requireRoot, type Store } from '../../helpers/minid.js';

let store: Store;
beforeAll(async () => {
  requireRoot();
  store = makeStore('tty');
  await loadImages(store, ['busybox']);
});
afterAll(async () => store?.cleanup());

function terminal(args: string[], env: Record<string, string> = {}) {
  const t = pty.spawn(cli, args, { cols: 100, rows: 30, cwd: repo, env: { ...process.env, ...store.env, ...env } as Record<string, string> });
  let out = '';
  t.onData((d) => (out += d));
  const exited = new Promise<number>((res) => t.onExit((e) => res(e.exitCode)));
  const wait = (re: RegExp, ms = 10_000) =>
    new Promise<void>((res, rej) => {
      const t0 = Date.now();
      const timer = setInterval(() => {
        if (re.test(out)) {
          clearInterval(timer);
          out = '';
          res();
        } else if (Date.now() - t0 > ms) {
          clearInterval(timer);
          rej(new Error(`timed out waiting for ${re}; screen: ${JSON.stringify(out)}`));
        }
      }, 20);
    });
  return { t, wait, exited };
}

it('run -it: prompt, window size, Ctrl-C, exit code', async () => {
  const { t, wait, exited } = terminal(['run', '-it', '--rm', '--network', 'none', 'busybox', 'sh']);
  await wait(/# /);
  t.write('stty size\r');
  await wait(/30 100/);
  t.resize(120, 40);
  t.write('stty size\r');
  await wait(/40 120/);
  t.write('sleep 100\r');
  await new Promise((r) => setTimeout(r, 300));
  t.write('\x03');
  await wait(/\^C[\s\S]*# /, 3000);
  t.write('exit 3\r');
  expect(await exited).toBe(3);
});

it('run -t: the process on the terminal is started through sys like every other (MINID_DEBUG traces it)', async () => {
  const { wait, exited } = terminal(['run', '-t', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo on-a-tty; exit 5'], { MINID_DEBUG: '1' });
  // The supervisor's start on the terminal, then its end, as for every command minid runs.
  await wait(/\[minid +[\d.]+\] \/bin\/sh \S+\/shim\.sh\r?\n[\s\S]*on-a-tty[\s\S]*\/bin\/sh: exit 5 after [\d.]+ ms/);
  expect(await exited).toBe(5);
});

it('exec -it into a running container', async () => {
  const id = (await minid(store, ['run', '-d', '--network', 'none', '-h', 'ttybox', 'busybox', 'sleep', '60'])).stdout.trim();
  const { t, wait, exited } = terminal(['exec', '-it', id, 'sh']);
  await wait(/# /);
  t.write('hostname; stty size\r');
  await wait(/ttybox\s+30 100/);
  t.write('exit 4\r');
  expect(await exited).toBe(4);
  expect((await minid(store, ['rm', '-f', id])).exitCode).toBe(0);
});
