// `minid logs` as docker's: stdout records to stdout and stderr records to stderr, --tail,
// -t, --since/--until, -f, and log files that rotate (--log-opt max-size/max-file).
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, loadImages, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';

let store: Store;
const run = (args: string[], opts = {}) => minid(store, args, opts);
const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /;

/** Run a container detached, with no network, and wait for it to exit. */
async function ran(name: string, script: string, flags: string[] = []): Promise<string> {
  const r = await run(['run', '-d', '--name', name, '--network', 'none', ...flags, 'busybox', 'sh', '-c', script]);
  expect(r.exitCode, r.stderr).toBe(0);
  expect((await run(['wait', name])).stdout.trim()).toBe('0');
  return r.stdout.trim();
}
const logDir = (id: string) => path.join(store.root, 'containers', id);
const seq = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => String(a + i));

beforeAll(async () => {
  requireRoot();
  store = makeStore('logs');
  await loadImages(store, ['busybox']);
});

afterAll(async () => {
  await store?.cleanup();
});

describe('streams', () => {
  it.each([['-d'], []])('run %j: stdout goes to stdout, stderr to stderr, each in its order', async (...flags) => {
    const name = `lg-streams${flags.join('')}`;
    const r = await run(['run', ...flags, '--name', name, '--network', 'none', 'busybox', 'sh', '-c', 'echo out; echo err >&2; echo out2; echo err2 >&2']);
    expect(r.exitCode, r.stderr).toBe(0);
    await run(['wait', name]);
    const logs = await run(['logs', name]);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout).toBe('out\nout2');
    expect(logs.stderr).toBe('err\nerr2');
  });

  it('the file holds one record a line, readable with cat: time, stream, F/P, text', async () => {
    const id = await ran('lg-file', 'echo hello; echo oops >&2; printf no-newline');
    const lines = fs.readFileSync(path.join(logDir(id), 'container.log'), 'utf8').split('\n');
    expect(lines.map((l) => l.replace(STAMP, ''))).toEqual(['stdout F hello', 'stderr F oops', 'stdout P no-newline', '']);
    expect((await run(['logs', 'lg-file'])).stdout).toBe('hello\nno-newline');
  });

  it('a log written by an older minid (plain text) is still read, as stdout', async () => {
    const id = await ran('lg-old', 'true');
    fs.writeFileSync(path.join(logDir(id), 'container.log'), 'old line\nboth streams merged\nno newline');
    const logs = await run(['logs', 'lg-old']);
    expect(logs.stdout).toBe('old line\nboth streams merged\nno newline');
    expect(logs.stderr).toBe('');
  });
});

describe('--tail, -t, --since, --until', () => {
  beforeAll(async () => {
    await ran('lg-seq', 'seq 1 10; echo e1 >&2');
    await ran('lg-time', 'echo first; sleep 1.2; echo second');
  });

  it('--tail N: the last N lines of both streams; 0, all', async () => {
    const t = await run(['logs', '--tail', '3', 'lg-seq']);
    expect(t.stdout).toBe('9\n10');
    expect(t.stderr).toBe('e1');
    expect((await run(['logs', '-n', '1', 'lg-seq'])).stdout).toBe('');
    expect((await run(['logs', '--tail', '0', 'lg-seq'])).stdout + (await run(['logs', '--tail', '0', 'lg-seq'])).stderr).toBe('');
    expect((await run(['logs', '--tail', 'all', 'lg-seq'])).stdout).toBe(seq(1, 10).join('\n'));
    const bad = await run(['logs', '--tail', 'x', 'lg-seq']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toBe('minid: --tail x: not a number of lines; use a number or "all"');
  });

  it('-t: docker\'s RFC 3339 with nanoseconds, UTC, before each line', async () => {
    const lines = (await run(['logs', '-t', 'lg-time'])).stdout.split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (first|second)$/);
    const [t1, t2] = lines.map((l) => Date.parse(l.slice(0, 23) + 'Z'));
    expect(t2 - t1).toBeGreaterThanOrEqual(1000);
  });

  it('--since/--until: a record time, Unix seconds, a duration', async () => {
    const [l1, l2] = (await run(['logs', '-t', 'lg-time'])).stdout.split('\n');
    const t2 = l2.split(' ')[0];
    expect((await run(['logs', '--since', t2, 'lg-time'])).stdout).toBe('second'); // from (inclusive)
    expect((await run(['logs', '--until', t2, 'lg-time'])).stdout).toBe('first'); // before (exclusive)
    // Unix seconds with a fraction: between the two lines.
    const mid = (Date.parse(l1.slice(0, 23) + 'Z') + 600) / 1000;
    expect((await run(['logs', '--since', mid.toFixed(3), 'lg-time'])).stdout).toBe('second');
    expect((await run(['logs', '--since', '1h', 'lg-time'])).stdout).toBe('first\nsecond');
    expect((await run(['logs', '--until', '1h', 'lg-time'])).stdout).toBe('');
    expect((await run(['logs', '--since', t2, '-t', '--tail', '5', 'lg-time'])).stdout).toBe(l2);
    const bad = await run(['logs', '--since', 'yesterday', 'lg-time']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/^minid: --since yesterday: not a time; .*$/);
  });
});

describe('-f', () => {
  it('prints what is there (--tail), then what comes, and ends when the container exits', async () => {
    const r = await run(['run', '-d', '--name', 'lg-follow', '--network', 'none', 'busybox', 'sh', '-c', 'echo a; echo b; sleep 1; echo late; echo late-err >&2; sleep 1; echo done']);
    expect(r.exitCode, r.stderr).toBe(0);
    const t0 = Date.now();
    const f = await run(['logs', '-f', '--tail', '1', 'lg-follow']);
    expect(f.exitCode).toBe(0);
    expect(Date.now() - t0).toBeGreaterThan(1000); // it waited for the later lines
    expect(f.stdout).toBe('b\nlate\ndone');
    expect(f.stderr).toBe('late-err');
  });
});

describe('rotation (--log-opt max-size, max-file)', () => {
  it('keeps max-file files of about max-size; logs reads them oldest first, a contiguous end of the output', async () => {
    const id = await ran('lg-rot', 'seq 1 2000', ['--log-opt', 'max-size=1k', '--log-opt', 'max-file=3']);
    const files = fs.readdirSync(logDir(id)).filter((f) => f.startsWith('container.log')).sort();
    expect(files).toEqual(['container.log', 'container.log.1', 'container.log.2']);
    for (const f of files) expect(fs.statSync(path.join(logDir(id), f)).size).toBeLessThanOrEqual(1024);
    const lines = (await run(['logs', 'lg-rot'])).stdout.split('\n');
    const first = Number(lines[0]);
    expect(first).toBeGreaterThan(1);
    expect(lines).toEqual(seq(first, 2000));
    expect((await run(['logs', '--tail', '30', 'lg-rot'])).stdout).toBe(seq(1971, 2000).join('\n'));
  });

  it('-f follows across rotations', async () => {
    const r = await run(['run', '-d', '--name', 'lg-rotf', '--network', 'none', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=50', 'busybox', 'sh', '-c', 'sleep 0.5; i=1; while [ $i -le 300 ]; do echo $i; i=$((i+1)); usleep 5000; done']);
    expect(r.exitCode, r.stderr).toBe(0);
    const f = await run(['logs', '-f', 'lg-rotf']);
    expect(f.stdout.split('\n')).toEqual(seq(1, 300));
    const files = fs.readdirSync(logDir(r.stdout.trim())).filter((n) => n.startsWith('container.log.'));
    expect(files.length).toBeGreaterThan(5); // it did rotate, several times
  });

  it('a huge line without a newline: 16 KiB records, memory bounded, given back byte for byte', async () => {
    const id = await ran('lg-huge', "head -c 5000000 /dev/zero | tr '\\0' x");
    const file = path.join(logDir(id), 'container.log');
    const longest = fs.readFileSync(file, 'latin1').split('\n').reduce((m, l) => Math.max(m, l.length), 0);
    expect(longest).toBeLessThanOrEqual(16384 + 64);
    const t = await execa('/usr/bin/time', ['-f', '%M', cli, 'logs', 'lg-huge'], { env: store.env, reject: false, stripFinalNewline: false, maxBuffer: 64e6 });
    expect(t.stdout.length).toBe(5_000_000);
    expect(/^x+$/.test(t.stdout)).toBe(true);
    const maxRssKb = Number(t.stderr.trim().split('\n').pop());
    expect(maxRssKb).toBeLessThan(150_000); // Node itself is ~50-80 MB: the 5 MB line is never held whole... nor 30 of them
  });
});
