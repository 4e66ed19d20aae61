// `minid run -it` and `minid exec -it` give a real terminal: the prompt works, the window size
// follows, Ctrl-C reaches the container's process. The terminal is the container's own (its
// devpts: /dev/pts/0, and /dev/console, as docker's), relayed by minid. Driven through node-pty
// like a person at a terminal would.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadImages, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { terminal as term } from '../../helpers/terminal.js';

let store: Store;
beforeAll(async () => {
  requireRoot();
  store = makeStore('tty');
  await loadImages(store, ['busybox']);
});
afterAll(async () => store?.cleanup());

const terminal = (args: string[], env: Record<string, string> = {}) => term(store, args, env);

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

it('run -t: the supervisor is started through sys like every other (MINID_DEBUG traces it)', async () => {
  const { wait, exited } = terminal(['run', '-t', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo on-a-tty; exit 5'], { MINID_DEBUG: '1' });
  // The supervisor's start, the container's output on the terminal, then the supervisor's end.
  await wait(/\[minid +[\d.]+\] \/bin\/sh \S+\/shim\.sh\r?\n[\s\S]*on-a-tty[\s\S]*run: the supervisor has exited/);
  expect(await exited).toBe(5);
});

it("run -it: the container's own terminal, as docker's: tty is /dev/pts/0, /dev/console is that terminal", async () => {
  const { t, wait, exited } = terminal(['run', '-it', '--rm', '--network', 'none', 'busybox', 'sh']);
  await wait(/# /);
  t.write('tty; ls /dev/pts; stat -L -c "%t:%T" /dev/console /dev/pts/0 /proc/self/fd/0\r');
  // Its devpts holds its one terminal (and ptmx); /dev/console and fd 0 are that terminal (136:0).
  const screen = await wait(/88:0\s+88:0\s+88:0/);
  expect(screen).toMatch(/^\/dev\/pts\/0\r?$/m);
  expect(screen).toMatch(/^0\s+ptmx\r?$/m);
  t.write('exit 0\r');
  expect(await exited).toBe(0);
});

it('run -t without -i: tty and /dev/console too, and the output comes whole', async () => {
  const { wait, exited } = terminal(['run', '-t', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'tty; test -c /dev/console && echo console-ok']);
  await wait(/\/dev\/pts\/0\r*\n[\s\S]*console-ok/);
  expect(await exited).toBe(0);
});

it('exec -it into a running container', async () => {
  const id = (await minid(store, ['run', '-d', '--network', 'none', '-h', 'ttybox', 'busybox', 'sleep', '60'])).stdout.trim();
  const { t, wait, exited } = terminal(['exec', '-it', id, 'sh']);
  await wait(/# /);
  t.write('hostname; stty size; tty\r');
  // A container without -t: the exec's terminal is the first of its devpts, as with docker.
  await wait(/ttybox\s+30 100\s+\/dev\/pts\/0/);
  t.write('exit 4\r');
  expect(await exited).toBe(4);
  expect((await minid(store, ['rm', '-f', id])).exitCode).toBe(0);
});
