// `minid attach`, the detach keys and a hang-up, as a docker user expects them: a -dit
// container keeps its terminal (held by its supervisor's minid-console) for a later attach;
// Ctrl-P Ctrl-Q (or --detach-keys, for attach, run -it and start -ai) leaves it running; attach to a container without a terminal streams its output
// until it exits, with its exit code; a terminal that closes under `run -it --rm` leaves the
// container running, and it is removed (network namespace and all) once it exits.
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { eventually, suiteStore } from '../../helpers/minid.js';
import { terminal } from '../../helpers/terminal.js';

const suite = suiteStore('attach');
const run = suite.run;
const running = async (name: string) => (await run(['inspect', '-f', '{{.State.Running}}', name])).stdout.trim();
const netnsList = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

it('-dit, then attach: type a command, see its output; Ctrl-P Ctrl-Q detaches and the container keeps running', async () => {
  const id = (await run(['run', '-dit', '--name', 'att-box', '--network', 'none', 'busybox', 'sh'])).stdout.trim();
  suite.ids.push(id);
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  const a = terminal(suite.store, ['attach', 'att-box']);
  a.t.write('echo $((6*7))-typed; tty\r');
  await a.wait(/42-typed\r*\n\/dev\/pts\/0/);
  a.t.write('\x10\x11'); // Ctrl-P Ctrl-Q
  await a.wait(/read escape sequence/);
  expect(await a.exited).toBe(1); // docker's attach says so and exits 1
  await new Promise((r) => setTimeout(r, 300));
  expect(await running('att-box')).toBe('true');

  // Another attach gets the same terminal (the shell's variables are still there), with
  // docker's --detach-keys syntax; the shell's exit is attach's exit code.
  const b = terminal(suite.store, ['attach', '--detach-keys', 'ctrl-x,x', 'att-box']);
  b.t.write('V=kept; echo $V-$V\r');
  await b.wait(/kept-kept/);
  b.t.write('exit 6\r');
  expect(await b.exited).toBe(6);
  await eventually(async () => expect(await running('att-box')).toBe('false'));
  // What the terminal showed is in the log.
  expect((await run(['logs', 'att-box'])).stdout).toContain('42-typed');
});

it('run -it: Ctrl-P Ctrl-Q detaches (exit 0) and the container keeps running', async () => {
  const r = terminal(suite.store, ['run', '-it', '--name', 'att-run', '--network', 'none', 'busybox', 'sh']);
  await r.wait(/# /);
  r.t.write('\x10\x11');
  expect(await r.exited).toBe(0);
  expect(await running('att-run')).toBe('true');
  expect((await run(['exec', 'att-run', 'echo', 'still-here'])).stdout).toBe('still-here');
  expect((await run(['rm', '-f', 'att-run'])).exitCode).toBe(0);
});

it('create -it, then start -ai --detach-keys: the keys detach (exit 0) and the container keeps running', async () => {
  const id = (await run(['create', '-it', '--name', 'att-start', '--network', 'none', 'busybox', 'sh'])).stdout.trim();
  suite.ids.push(id);
  const s = terminal(suite.store, ['start', '-ai', '--detach-keys', 'ctrl-x,x', 'att-start']);
  await s.wait(/# /);
  s.t.write('echo $((6*7))-started\r');
  await s.wait(/42-started/);
  s.t.write('\x18x'); // Ctrl-X x
  expect(await s.exited).toBe(0);
  expect(await running('att-start')).toBe('true');
  expect((await run(['exec', 'att-start', 'echo', 'still-here'])).stdout).toBe('still-here');
  expect((await run(['rm', '-f', 'att-start'])).exitCode).toBe(0);
});

it("attach to a container without a terminal: its output as it comes, stdout and stderr apart, and its exit code", async () => {
  // It waits for a file that exec makes once attach is there.
  const id = (await run(['run', '-d', '--name', 'att-plain', '--network', 'none', 'busybox', 'sh', '-c', 'while [ ! -e /go ]; do sleep 0.1; done; echo out; echo err >&2; exit 7'])).stdout.trim();
  suite.ids.push(id);
  const attached = run(['attach', 'att-plain']);
  await new Promise((r) => setTimeout(r, 1500));
  expect((await run(['exec', 'att-plain', 'touch', '/go'])).exitCode).toBe(0);
  const r = await attached;
  expect([r.exitCode, r.stdout, r.stderr]).toEqual([7, 'out', 'err']);

  // -i: attach's stdin goes to the container's (--no-stdin: it does not).
  const id2 = (await run(['run', '-di', '--name', 'att-stdin', '--network', 'none', 'busybox', 'sh', '-c', 'read x; echo got-$x; exit 3'])).stdout.trim();
  suite.ids.push(id2);
  const r2 = await run(['attach', 'att-stdin'], { input: 'hello\n' });
  expect([r2.exitCode, r2.stdout]).toEqual([3, 'got-hello']);

  // A container that is not running: one line, exit 1.
  const r3 = await run(['attach', 'att-plain']);
  expect(r3.exitCode).toBe(1);
  expect(r3.stderr.trim().split('\n')).toHaveLength(1);
});

it('a hang-up on run -it --rm: the container survives the CLI, and is removed (its netns too) once it exits', async () => {
  const h = terminal(suite.store, ['run', '-it', '--rm', '--name', 'att-hup', 'busybox', 'sh']);
  await h.wait(/# /);
  const id = (await run(['inspect', '-f', '{{.Id}}', 'att-hup'])).stdout.trim();
  suite.ids.push(id);
  const netns = `minid-${id.slice(0, 12)}`;
  expect(netnsList()).toContain(netns);
  // The user's terminal closes: node-pty closes its side, the kernel hangs up minid's session.
  const cliPid = h.t.pid;
  h.t.destroy();
  await eventually(() => expect(() => process.kill(cliPid, 0)).toThrow());
  expect(await running('att-hup')).toBe('true');
  expect((await run(['exec', 'att-hup', 'echo', 'alive'])).stdout).toBe('alive');
  expect((await run(['ps', '--format', '{{.Names}} {{.Status}}'])).stdout).toMatch(/^att-hup Up/m);
  // It exits: its supervisor releases it and honours --rm.
  expect((await run(['kill', 'att-hup'])).exitCode).toBe(0);
  await eventually(async () => expect((await run(['inspect', 'att-hup'])).exitCode).toBe(1));
  await eventually(() => expect(netnsList()).not.toContain(netns));
});

it('--detach-keys that are not keys, -it without a terminal: one line, docker\'s exit code (run 125 / 1, attach, exec and start 1), nothing made', async () => {
  const id = (await run(['run', '-d', '--name', 'att-keys', '--network', 'none', 'busybox', 'sleep', '60'])).stdout.trim();
  suite.ids.push(id);
  const created = (await run(['create', '-it', '--name', 'att-unstarted', '--network', 'none', 'busybox', 'sh'])).stdout.trim();
  suite.ids.push(created);
  for (const [args, code] of [
    [['run', '-it', '--rm', '--name', 'att-never', '--detach-keys', 'ctrl-pq', 'busybox', 'sh'], 125],
    [['attach', '--detach-keys', 'shift-a', 'att-keys'], 1],
    [['exec', '-it', '--detach-keys', 'ctrl-1', 'att-keys', 'sh'], 1],
    [['start', '-ai', '--detach-keys', 'ctrl-', 'att-unstarted'], 1],
  ] as const) {
    const r = await run([...args]);
    expect(r.exitCode, args.join(' ')).toBe(code);
    expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    expect(r.stderr, args.join(' ')).toMatch(/invalid --detach-keys .*ctrl-p,ctrl-q/);
  }
  expect((await run(['inspect', 'att-never'])).exitCode).toBe(1);
  expect((await run(['inspect', '-f', '{{.State.Status}}', 'att-unstarted'])).stdout.trim()).toBe('created');
  // -it with a stdin that is not a terminal (a pipe here): docker's refusal, exit 1, nothing made.
  for (const args of [['run', '-it', '--rm', '--name', 'att-never', 'busybox', 'sh'], ['exec', '-it', 'att-keys', 'sh']]) {
    const r = await run(args, { input: 'echo hi\n' });
    expect(r.exitCode, args.join(' ')).toBe(1);
    expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    expect(r.stderr, args.join(' ')).toMatch(/the input device is not a TTY/);
  }
  expect((await run(['inspect', 'att-never'])).exitCode).toBe(1);
});
