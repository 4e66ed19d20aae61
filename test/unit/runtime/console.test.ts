// The client side of a container's terminal: docker's --detach-keys syntax and the matcher
// that watches the keys typed for the sequence (src/runtime/console.ts).
import { describe, expect, it } from 'vitest';
import { DetachMatcher, parseDetachKeys } from '../../../src/runtime/console.js';
import { userError } from '../../helpers/errors.js';

describe('parseDetachKeys', () => {
  it("reads docker's syntax: ctrl-X and single characters, comma-separated", () => {
    expect([...parseDetachKeys('ctrl-p,ctrl-q', 125)]).toEqual([16, 17]);
    expect([...parseDetachKeys('ctrl-x,x', 1)]).toEqual([24, 120]);
    expect([...parseDetachKeys('CTRL-A,ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_', 1)]).toEqual([1, 0, 27, 28, 29, 30, 31]);
  });
  it('refuses what is not a key: one line, the exit code asked for', () => {
    expect(userError(() => parseDetachKeys('shift-a,b', 125), 125)).toMatch(/invalid --detach-keys "shift-a,b": unknown key 'shift-a'.*ctrl-p,ctrl-q/);
    userError(() => parseDetachKeys('ctrl-1', 1), 1);
    userError(() => parseDetachKeys('ctrl-pq', 1), 1);
    userError(() => parseDetachKeys('a,,b', 1), 1);
  });
  it('"" is the default, as in docker', () => {
    expect([...parseDetachKeys('', 1)]).toEqual([16, 17]);
  });
});

describe('DetachMatcher', () => {
  const keys = Buffer.from([16, 17]);
  it('detaches on the sequence, split over reads or not; what came before it passes', () => {
    expect(new DetachMatcher(keys).feed(Buffer.from('ab\x10\x11cd'))).toEqual({ pass: Buffer.from('ab'), detach: true });
    const m = new DetachMatcher(keys);
    expect(m.feed(Buffer.from('a\x10'))).toEqual({ pass: Buffer.from('a'), detach: false });
    expect(m.feed(Buffer.from('\x11'))).toEqual({ pass: Buffer.alloc(0), detach: true });
  });
  it('gives back a held key that the next one does not continue', () => {
    const m = new DetachMatcher(keys);
    expect(m.feed(Buffer.from('\x10'))).toEqual({ pass: Buffer.alloc(0), detach: false });
    expect(m.feed(Buffer.from('x'))).toEqual({ pass: Buffer.from('\x10x'), detach: false });
    expect(new DetachMatcher(keys).feed(Buffer.from('\x10\x10\x11'))).toEqual({ pass: Buffer.from('\x10'), detach: true });
  });
});
