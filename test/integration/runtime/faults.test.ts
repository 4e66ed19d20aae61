// Runtime faults of issue #13: a foreground run whose reader has gone or that is told to stop
// leaves the container to its supervisor (as docker's CLI leaves it to the daemon); a detached
// container's PID 1 holds a pipe, not its log; a killed supervisor is reported honestly and its
// container released; a Ctrl-C at any point of the start undoes everything.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, eventually, loadImages, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { freeSubnet, hostState, rand } from '../network/helpers.js';

const R = rand();
let store: Store;
let nextPort = 19400 + Math.floor(Math.random() * 50);
const port = () => nextPort++;
const run = (args: string[], opts = {}) => minid(store, args, opts);
const mine = (t: string) => t.includes(`flt${R}`) || /minid-[0-9a-f]{12}/.test(t) || /minid:([0-9a-f]{8}:)?bridge/.test(t);

/** What a container published on `p` left in the host's rules. */
const rulesFor = (p: number) => hostState(mine).iptables.filter((l) => l.includes(`--dport ${p}`));
const idOf = async (name: string) => JSON.parse((await run(['inspect', name])).stdout)[0].Id as string;
const shimPid = (id: string) => Number(fs.readFileSync(path.join(store.run, 'containers', id, 'shim.pid'), 'utf8'));

beforeAll(async () => {
  requireRoot();
  store = makeStore('flt');
  store.env.MINID_BRIDGE_NAME = `flt${R}0`;
  store.env.MINID_BRIDGE_SUBNET = freeSubnet((a, b) => `10.${150 + a}.${b}.0/24`);
  await loadImages(store, ['busybox']);
});

afterAll(async () => {
  const reset = await run(['system', 'reset']);
  expect(reset.exitCode, reset.stderr).toBe(0);
  await store?.cleanup();
  fs.rmSync(path.dirname(store.root), { recursive: true, force: true });
});

describe('a foreground run that loses its reader or is told to stop', () => {
  it('`| head -1` of a PID 1 that ignores SIGPIPE: minid leaves at once; --rm is honoured when the container is stopped', async () => {
    const p = port();
    const loop = `timeout 20 ${cli} run --rm --name flt-head -p ${p}:80 busybox sh -c 'while true; do echo x; sleep 0.1; done' | head -1`;
    const t0 = Date.now();
    const r = await execa('sh', ['-c', loop], { env: { ...process.env, ...store.env }, reject: false, timeout: 30_000 });
    expect(r.stdout.split('\n')[0]).toBe('x');
    expect(Date.now() - t0).toBeLessThan(15_000); // not the 20 s of `timeout`: minid left by itself
    expect(r.stderr).toMatch(/^minid: the reader of its output has gone: container flt-head is left running to its supervisor; it is removed when it exits$/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // The supervisor keeps it running, port and all.
    expect((await run(['ps'])).stdout).toContain('flt-head');
    expect(rulesFor(p)).not.toEqual([]);
    // Stopped: gone, with its rules (--rm, by the supervisor's hook).
    expect((await run(['stop', '-t', '1', 'flt-head'])).exitCode).toBe(0);
    await eventually(async () => expect((await run(['inspect', 'flt-head'])).exitCode).toBe(1));
    expect(rulesFor(p)).toEqual([]);
  });

  it('SIGTERM is forwarded; at the third SIGTERM/SIGINT minid leaves (exit 1), as docker does; --rm is honoured later', async () => {
    const p = port();
    const child = execa(cli, ['run', '--rm', '--name', 'flt-term', '-p', `${p}:80`, 'busybox', 'sleep', '60'], { env: store.env, reject: false });
    await eventually(async () => expect((await run(['ps'])).stdout).toContain('flt-term'));
    child.kill('SIGTERM'); // forwarded: PID 1 `sleep` ignores it
    await new Promise((r) => setTimeout(r, 500));
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^minid: got 3 SIGTERM\/SIGINTs: container flt-term is left running to its supervisor; it is removed when it exits$/m);
    expect((await run(['ps'])).stdout).toContain('flt-term');
    expect((await run(['kill', 'flt-term'])).exitCode).toBe(0);
    await eventually(async () => expect((await run(['inspect', 'flt-term'])).exitCode).toBe(1));
    expect(rulesFor(p)).toEqual([]);
  });
});

it.each([['-d'], []])("a container (run %j) cannot truncate its own log through /proc/1/fd/1 (PID 1's stdout is a pipe)", async (...flags) => {
  const script = 'echo before; echo to-stderr >&2; : > /proc/1/fd/1; : > /proc/1/fd/2; echo after; test -p /proc/1/fd/1 && echo stdout-is-a-pipe';
  const r = await run(['run', ...flags, '--name', 'flt-log', '--network', 'none', 'busybox', 'sh', '-c', script]);
  expect(r.exitCode, r.stderr).toBe(0);
  expect((await run(['wait', 'flt-log'])).stdout.trim()).toBe('0');
  const logs = await run(['logs', 'flt-log']);
  // Each stream to its own: stdout's lines in order, stderr's line on stderr.
  expect(logs.stdout).toBe('before\nafter\nstdout-is-a-pipe');
  expect(logs.stderr).toBe('to-stderr');
  expect((await run(['rm', 'flt-log'])).exitCode).toBe(0);
});

describe('a supervisor killed with kill -9', () => {
  it('detached: the container runs on; when it ends, its exit is reported as unknown (255) and its port released at the next look', async () => {
    const p = port();
    const id = (await run(['run', '-d', '--name', 'flt-orphan', '-p', `${p}:80`, 'busybox', 'sleep', '60'])).stdout.trim();
    process.kill(shimPid(id), 'SIGKILL');
    expect((await run(['ps'])).stdout).toContain('flt-orphan'); // still running, unsupervised
    expect((await run(['kill', 'flt-orphan'])).exitCode).toBe(0);
    await eventually(async () => expect((await run(['ps', '-a'])).stdout).toMatch(/Exited \(255\).*flt-orphan/));
    // That look released it: no rules, no namespace, no address left.
    expect(rulesFor(p)).toEqual([]);
    expect(hostState(mine).netns).not.toContain(`minid-${id.slice(0, 12)}`);
    const s = JSON.parse((await run(['inspect', 'flt-orphan'])).stdout)[0];
    expect(s.State.ExitCode).toBe(255);
    expect(s.NetworkSettings.SandboxKey).toBe(''); // released: no namespace
    expect((await run(['rm', 'flt-orphan'])).exitCode).toBe(0);
  });

  it('foreground: minid says the exit code is unknown (255, not 125) and releases the container (--rm)', async () => {
    const p = port();
    const child = execa(cli, ['run', '--rm', '--name', 'flt-fg', '-p', `${p}:80`, 'busybox', 'sh', '-c', 'echo running; sleep 2; exit 0'], { env: store.env, reject: false });
    // Killed once the command runs (a supervisor killed before the go ends the start: minid-init
    // cannot join the network through it).
    await new Promise<void>((res) => child.stdout!.on('data', (d) => String(d).includes('running') && res()));
    const id = await idOf('flt-fg');
    process.kill(shimPid(id), 'SIGKILL');
    const r = await child;
    expect(r.exitCode).toBe(255);
    expect(r.stderr.trim()).toBe('minid: the supervisor of container flt-fg was killed before the container ended: its exit code is unknown');
    expect((await run(['inspect', 'flt-fg'])).exitCode).toBe(1);
    expect(rulesFor(p)).toEqual([]);
  });
});

describe('a Ctrl-C at each point of the start', () => {
  for (const point of ['created', 'network-batch', 'after-network'])
    for (const flags of [[], ['-d']])
      it(`at ${point} (run ${flags.join(' ') || 'attached'}): exit 130, nothing left`, async () => {
        const p = port();
        const env = { ...store.env, MINID_CRASH_AT: point, MINID_CRASH_SIGNAL: 'SIGINT' };
        const r = await run(['run', '--rm', ...flags, '-p', `${p}:80`, 'busybox', 'true'], { env });
        expect(r.exitCode, r.stderr).toBe(130);
        expect(r.stderr.trim()).toBe('minid: interrupted (SIGINT) before the container started; what was set up for it is undone');
        expect(r.stdout).toBe('');
        expect((await run(['ps', '-aq'])).stdout.trim()).toBe('');
        expect(rulesFor(p)).toEqual([]);
        const ipam = `${store.root}/ipam/bridge`;
        expect(fs.existsSync(ipam) ? fs.readdirSync(ipam).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : []).toEqual([]);
        expect((await run(['system', 'prune'])).stdout).not.toMatch(/Deleted/);
      });
});
