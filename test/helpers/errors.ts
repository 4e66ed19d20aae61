// The unit tests' check of a user mistake: a MinidError with docker's exit code and one line.
import { expect } from 'vitest';
import { MinidError } from '../../src/errors.js';

/** Run `fn`, which must throw a one-line MinidError with `exitCode`; returns its message. */
export function userError(fn: () => unknown, exitCode = 125): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MinidError);
    expect((e as MinidError).exitCode).toBe(exitCode);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a MinidError');
}
