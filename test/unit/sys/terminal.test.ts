// sys's one terminal start (startTerminal, node-pty behind it): traced like every command, seen
// by a recorder like every command, and a signal-killed process ends with 128+N. No root needed.
import { afterEach, describe, expect, it } from 'vitest';
import { setRunner, setTracer, startTerminal, type RunOptions } from '../../../src/sys/exec.js';

const size = { cols: 80, rows: 24, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } };

afterEach(() => {
  setRunner(null);
  setTracer(undefined);
});

describe('startTerminal', () => {
  it('starts the process on a terminal of its own and reports its exit code', async () => {
    const t = await startTerminal(['sh', '-c', 'test -t 0 && test -t 1 && stty size; exit 7'], size);
    let out = '';
    t.onData((d) => (out += d));
    expect(await t.exited).toBe(7);
    expect(out).toContain('24 80');
  });

  it('gives a process killed by signal N the exit code 128+N', async () => {
    const t = await startTerminal(['sh', '-c', 'kill -TERM $$'], size);
    expect(await t.exited).toBe(143);
  });

  it('is traced (MINID_DEBUG=1 prints each command through the tracer)', async () => {
    const lines: string[] = [];
    setTracer((l) => lines.push(l));
    const t = await startTerminal(['sh', '-c', 'exit 0'], size);
    await t.exited;
    expect(lines[0]).toBe("sh -c 'exit 0'");
  });

  it('is seen by a recorder, which answers in place of a real terminal', async () => {
    const calls: { argv: string[]; opts: RunOptions }[] = [];
    setRunner(async (argv, opts) => {
      calls.push({ argv, opts });
      return { exitCode: 3, stdout: 'hello\r\n', stderr: '' };
    });
    const t = await startTerminal(['/bin/sh', '/run/x/shim.sh'], { ...size, env: { TERM: 'xterm' } });
    let out = '';
    t.onData((d) => (out += d));
    expect(await t.exited).toBe(3);
    expect(out).toBe('hello\r\n');
    expect(calls).toEqual([{ argv: ['/bin/sh', '/run/x/shim.sh'], opts: { env: { TERM: 'xterm' }, cleanEnv: true, cwd: undefined, terminal: true } }]);
  });
});
