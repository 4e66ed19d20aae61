// The log reader's pieces: records (and lines that are not records), docker's --since/--until
// forms, --log-opt.
import { describe, expect, it } from 'vitest';
import { parseDuration, parseLogTime, parseRecord, recordTime } from '../../../src/runtime/logs.js';
import { DEFAULT_LOG_OPTS, parseLogOpts } from '../../../src/runtime/logwriter.js';
import { MinidError } from '../../../src/errors.js';

describe('parseRecord', () => {
  it('reads the time, the stream, whole or partial, and the text byte for byte', () => {
    const r = parseRecord(Buffer.from('2026-12-06T03:52:27.123456789Z stderr F  two  spaces\r'), false);
    expect(r).toMatchObject({ time: '2026-12-06T03:52:27.123456789Z', stream: 'stderr', partial: false });
    expect(r.text.toString()).toBe(' two  spaces\r');
    expect(parseRecord(Buffer.from('2026-12-06T03:52:27.123456789Z stdout P abc'), false).partial).toBe(true);
    expect(parseRecord(Buffer.from('2026-12-06T03:52:27.123456789Z stdout F '), false).text.length).toBe(0);
  });
  it('a line of an older, plain log is stdout text with no time', () => {
    for (const l of ['hello', '2026-12-06 stdout F x', '']) {
      const r = parseRecord(Buffer.from(l), false);
      expect(r.time).toBeUndefined();
      expect(r).toMatchObject({ stream: 'stdout', partial: false });
      expect(r.text.toString()).toBe(l);
    }
  });
});

describe('--since/--until', () => {
  const now = Date.UTC(2026, 11, 6, 12, 0, 0, 500);
  it("Go durations before now", () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('300ms')).toBe(300);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('10')).toBeUndefined();
    expect(parseDuration('m')).toBeUndefined();
    expect(parseLogTime('10m', now)).toBe('2026-12-06T11:50:00.500000000Z');
  });
  it('Unix seconds, with a fraction to the nanosecond', () => {
    expect(parseLogTime('1765022400', now)).toBe('2025-12-06T12:00:00.000000000Z');
    expect(parseLogTime('1765022400.123456789', now)).toBe('2025-12-06T12:00:00.123456789Z');
  });
  it('RFC 3339, whole or shortened; with no zone, local time', () => {
    expect(parseLogTime('2026-12-06T03:52:27.123456789Z')).toBe('2026-12-06T03:52:27.123456789Z');
    expect(parseLogTime('2026-12-06T05:52:27+02:00')).toBe('2026-12-06T03:52:27.000000000Z');
    expect(parseLogTime('2026-12-06T03:52:27-01:30')).toBe('2026-12-06T05:22:27.000000000Z');
    expect(parseLogTime('2026-12-06')).toBe(recordTime(new Date(2026, 11, 6).getTime()));
    expect(parseLogTime('2026-12-06T03:52')).toBe(recordTime(new Date(2026, 11, 6, 3, 52).getTime()));
  });
  it('anything else is not a time', () => {
    for (const v of ['yesterday', '2026-12-06T', '12:00', '-', '1e9']) expect(parseLogTime(v), v).toBeUndefined();
  });
  it('record times compare as strings', () => {
    expect(recordTime(Date.UTC(2026, 0, 1, 0, 0, 0, 5), 7)).toBe('2026-01-01T00:00:00.005000007Z');
    expect('2026-01-01T00:00:00.005000007Z' < '2026-01-01T00:00:00.010000000Z').toBe(true);
  });
});

describe('--log-opt', () => {
  it('max-size and max-file as docker writes them; the default is 10m x 3', () => {
    expect(parseLogOpts([])).toEqual(DEFAULT_LOG_OPTS);
    expect(DEFAULT_LOG_OPTS).toEqual({ maxSize: 10 * 1024 * 1024, maxFile: 3 });
    expect(parseLogOpts(['max-size=100k', 'max-file=5'])).toEqual({ maxSize: 102400, maxFile: 5 });
    expect(parseLogOpts(['max-size=1g']).maxSize).toBe(1024 ** 3);
    expect(parseLogOpts(['max-size=512']).maxSize).toBe(512);
    expect(parseLogOpts(['max-size=-1']).maxSize).toBe(0); // no cap
  });
  it('bad input: one line, exit 125', () => {
    for (const o of ['max-size=ten', 'max-size=0', 'max-file=0', 'max-file=x', 'mode=non-blocking', 'max-size']) {
      let err: unknown;
      try {
        parseLogOpts([o]);
      } catch (e) {
        err = e;
      }
      expect(err, o).toBeInstanceOf(MinidError);
      expect((err as MinidError).exitCode).toBe(125);
      expect((err as MinidError).message).not.toContain('\n');
    }
  });
});
