// --restart's parser and the supervisor's loop, --init in minid-init's arguments, and the
// event log: its writer, reader, filters and docker's line shape.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRestartPolicy, restartLoop } from '../../../src/runtime/restart.js';
import { initArgs, shimScript } from '../../../src/runtime/launch.js';
import {
  appendLine, EventTail, eventJson, matchEvent, MAX_BYTES, parseEventFilters, parseEventLine, readAllEvents, recordTimeNanos, type EventMessage,
} from '../../../src/runtime/events.js';
import { eventLine, eventTime } from '../../../src/cli/commands/events.js';
import { statusText } from '../../../src/cli/format.js';
import { userError } from '../../helpers/errors.js';

describe('--restart', () => {
  it("parses docker's policies", () => {
    expect(parseRestartPolicy(undefined)).toEqual({ Name: 'no', MaximumRetryCount: 0 });
    expect(parseRestartPolicy('no')).toEqual({ Name: 'no', MaximumRetryCount: 0 });
    expect(parseRestartPolicy('always')).toEqual({ Name: 'always', MaximumRetryCount: 0 });
    expect(parseRestartPolicy('unless-stopped')).toEqual({ Name: 'unless-stopped', MaximumRetryCount: 0 });
    expect(parseRestartPolicy('on-failure')).toEqual({ Name: 'on-failure', MaximumRetryCount: 0 });
    expect(parseRestartPolicy('on-failure:3')).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
    // --rm with "no" is fine (docker's rule: only a real policy conflicts).
    expect(parseRestartPolicy('no', true).Name).toBe('no');
  });

  it('refuses bad input in one line, exit 125', () => {
    expect(userError(() => parseRestartPolicy('sometimes'))).toContain('invalid restart policy "sometimes"');
    expect(userError(() => parseRestartPolicy('on-failure:x'))).toContain('whole number');
    expect(userError(() => parseRestartPolicy('on-failure:-1'))).toContain('whole number');
    expect(userError(() => parseRestartPolicy('always:3'))).toContain('only for on-failure');
    expect(userError(() => parseRestartPolicy('on-failure:1:2'))).toContain('invalid restart policy');
    expect(userError(() => parseRestartPolicy('always', true))).toContain('--rm');
  });

  it("the supervisor's loop: the policy's test, the user's stop, docker's back-off", () => {
    const files = { count: '/r/count', wait: '/r/wait', stopped: '/s/stopped' };
    const onFailure = restartLoop({ Name: 'on-failure', MaximumRetryCount: 3 }, files, 'FIRST', 'AGAIN', 'START', 'DIE').join('\n');
    expect(onFailure).toContain('[ $code != 0 ] && [ $restarts -lt 3 ] || break');
    expect(onFailure).toContain("[ -e '/s/stopped' ] && break");
    expect(onFailure).toContain('delay=100');
    expect(onFailure).toContain('-ge 10 ] && delay=100'); // reset after 10 s up
    expect(onFailure).toContain('delay=$((delay * 2))');
    const always = restartLoop({ Name: 'always', MaximumRetryCount: 0 }, files, 'FIRST', 'AGAIN', 'START', 'DIE').join('\n');
    expect(always).toContain('true || break');
  });

  it('the shim runs the loop only with a policy, and records each exit', () => {
    const base = { id: 'a'.repeat(64), name: 'web', runDir: '/run/x', exitFile: '/lib/x/exit.json', launch: ['unshare'], init: ['minid-init', '--', 'cmd'], events: { file: '/lib/events', image: 'busybox' } };
    const plain = shimScript(base);
    expect(plain).not.toContain('while :');
    expect(plain).toContain(`ev die ',"exitCode":"'$code'"'`);
    const looping = shimScript({ ...base, restart: { Name: 'always', MaximumRetryCount: 0 }, initAgain: ['minid-init', '--', 'cmd'], stoppedFile: '/lib/x/stopped-by-user' });
    expect(looping).toContain('while :');
    expect(looping).toContain("'/lib/events'");
    // Both are shell that parses.
    for (const script of [plain, looping]) expect(execFileSync('sh', ['-n', '-c', script]).toString()).toBe('');
  });
});

describe('ps STATUS', () => {
  it('says Restarting (CODE) while the supervisor waits', () => {
    const s = { config: { startedAt: '2026-12-06T05:00:00Z' }, status: 'restarting', exit: { exitCode: 1, finishedAt: '2026-12-06T05:00:00Z' } };
    expect(statusText(s as never, Date.parse('2026-12-06T05:00:03Z'))).toBe('Restarting (1) 3 seconds ago');
  });
});

describe('--init', () => {
  it("is minid-init's last setup option", () => {
    const i = {
      id: 'x', name: 'n', runDir: '/r', rootfs: '/R', lowerdirs: [], upperdir: '/u', workdir: '/w', hostname: 'h', volumes: [], etcFiles: [], initBin: 'minid-init',
      envFile: '/r/env', uid: 0, gid: 0, cwd: '/', argv: ['sleep', '1'], loopbackUp: false, hostProc: [], hostSysFirmware: false,
      security: { caps: '', noNewPrivs: false, privileged: false },
    };
    expect(initArgs(i)).not.toContain('--init');
    const a = initArgs({ ...i, init: true });
    expect(a[a.indexOf('--') - 1]).toBe('--init');
  });
});

describe('events', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-events-unit-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ev = (action: string, attrs: Record<string, string>, type = 'container', id = 'c'.repeat(64)): EventMessage => ({
    Type: type, Action: action, Actor: { ID: id, Attributes: attrs }, scope: 'local', time: 1796533200, timeNano: 1796533200123456789,
  });

  it("prints docker's line: local time with nine digits, attributes sorted", () => {
    const e = parseEventLine(eventJson(ev('die', { name: 'web', image: 'busybox', exitCode: '1' }), 1796533200123456789n))!;
    const tz = process.env.TZ;
    process.env.TZ = 'UTC';
    try {
      expect(eventTime(1796533200123456789n)).toBe('2026-12-06T05:00:00.123456789Z');
      expect(eventLine(e)).toBe(`2026-12-06T05:00:00.123456789Z container die ${'c'.repeat(64)} (exitCode=1, image=busybox, name=web)`);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('keeps the nanoseconds exact (more digits than a JavaScript number holds)', () => {
    const line = eventJson(ev('start', {}), 1796533200123456789n);
    expect(line.endsWith('"timeNano":1796533200123456789}')).toBe(true);
    expect(eventJson(parseEventLine(line)!)).toBe(line);
  });

  it("filters as docker's daemon does", () => {
    const die = ev('die', { name: 'web', image: 'busybox:latest', exitCode: '1', tier: 'front' });
    const net = ev('connect', { name: 'mynet', container: 'c'.repeat(64), type: 'bridge' }, 'network', 'n'.repeat(64));
    const m = (e: EventMessage, ...f: string[]) => matchEvent(e, parseEventFilters(f));
    expect(m(die)).toBe(true);
    expect(m(die, 'event=die')).toBe(true);
    expect(m(die, 'event=start', 'event=die')).toBe(true); // one key: OR
    expect(m(die, 'event=die', 'type=network')).toBe(false); // two keys: AND
    expect(m(die, 'container=web')).toBe(true);
    expect(m(die, 'container=cccc')).toBe(true); // an id prefix
    expect(m(die, 'container=db')).toBe(false);
    expect(m(die, 'image=busybox')).toBe(true);
    expect(m(die, 'image=busybox:latest')).toBe(true);
    expect(m(die, 'image=nginx')).toBe(false);
    expect(m(die, 'label=tier')).toBe(true);
    expect(m(die, 'label=tier=front')).toBe(true);
    expect(m(die, 'label=tier=back')).toBe(false);
    expect(m(net, 'type=network')).toBe(true);
    expect(m(net, 'network=mynet')).toBe(true);
    expect(m(net, 'container=web')).toBe(false);
  });

  it('refuses a filter it does not know, in one line (exit 1)', () => {
    expect(userError(() => parseEventFilters(['colour=red']), 1)).toContain('invalid filter "colour"');
    expect(userError(() => parseEventFilters(['event']), 1)).toContain('KEY=VALUE');
  });

  it('reads record times in nanoseconds', () => {
    expect(recordTimeNanos('2026-12-06T05:00:00.123456789Z')).toBe(1796533200123456789n);
  });

  it('appends whole lines, rotates past the cap, and a tail reads across the rotation', () => {
    const f = path.join(dir, 'events');
    appendLine(eventJson(ev('create', {}), 1n) + '\n', f);
    const tail = new EventTail(f);
    expect(tail.poll()).toEqual([]);
    const big = 'x'.repeat(4096);
    let n = 0;
    while (!fs.existsSync(`${f}.1`)) {
      appendLine(eventJson(ev('start', { big }), BigInt(++n)) + '\n', f);
    }
    appendLine(eventJson(ev('die', {}), BigInt(++n)) + '\n', f);
    expect(fs.statSync(`${f}.1`).size).toBeGreaterThan(MAX_BYTES);
    expect(fs.statSync(f).size).toBeLessThan(MAX_BYTES);
    const seen = tail.poll();
    expect(seen.length).toBe(n);
    expect(seen[n - 1].Action).toBe('die');
    tail.close();
    expect(readAllEvents(f).length).toBe(n + 1);
  });

  it('concurrent writers never interleave within a line', async () => {
    const f = path.join(dir, 'concurrent');
    const { spawn } = await import('node:child_process');
    // Four shells appending 200 lines of 1000 bytes each, with >> (O_APPEND), as the supervisor does.
    const line = `{"Type":"container","Action":"x","Actor":{"ID":"${'y'.repeat(900)}","Attributes":{}},"scope":"local","time":1,"timeNano":1}`;
    const procs = [1, 2, 3, 4].map(
      () => new Promise((resolve) => spawn('/bin/sh', ['-c', `i=0; while [ $i -lt 200 ]; do printf '%s\\n' '${line}' >> ${f}; i=$((i+1)); done`]).on('exit', resolve)),
    );
    for (let i = 0; i < 200; i++) appendLine(line + '\n', f);
    await Promise.all(procs);
    const lines = fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBe(1000);
    expect(lines.every((l) => l === line)).toBe(true);
  });
});
