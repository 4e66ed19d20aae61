import { describe, expect, it } from 'vitest';
import { decodeReport, encodeReport, StartProtocolError } from '../../../src/runtime/protocol.js';

describe("minid-init's start report", () => {
  it('decodes what init.c writes', () => {
    expect(decodeReport('0')).toEqual({ started: true });
    expect(decodeReport('127 exec: "nope": executable file not found in $PATH')).toEqual({
      started: false,
      code: 127,
      message: 'exec: "nope": executable file not found in $PATH',
    });
  });
  it('encodes as init.c does, newline included, and decodes back', () => {
    expect(encodeReport({ started: true })).toBe('0\n');
    const failed = { started: false as const, code: 126, message: 'exec: "/x": permission denied' };
    expect(encodeReport(failed)).toBe('126 exec: "/x": permission denied\n');
    expect(decodeReport(encodeReport(failed).slice(0, -1))).toEqual(failed);
  });
  it('says which message was expected and which came', () => {
    expect(() => decodeReport('ready')).toThrow(StartProtocolError);
    expect(() => decodeReport('ready')).toThrow(`expected "0" or "CODE MESSAGE", got "ready"`);
  });
});
