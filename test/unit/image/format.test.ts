import { describe, expect, it } from 'vitest';
import { humanSize, humanAge, table } from '../../../src/cli/commands/image.js';

describe('formatting', () => {
  it('prints sizes and ages like docker', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(1234)).toBe('1.23kB');
    expect(humanSize(4_261_234)).toBe('4.26MB');
    expect(humanSize(187_000_000)).toBe('187MB');
    expect(humanSize(1_500_000_000)).toBe('1.5GB');
    const now = Date.parse('2024-03-01T00:00:00Z');
    expect(humanAge('2024-02-29T23:59:30Z', now)).toBe('30 seconds ago');
    expect(humanAge('2024-02-29T23:00:00Z', now)).toBe('About an hour ago');
    expect(humanAge('2024-02-27T00:00:00Z', now)).toBe('3 days ago');
    expect(humanAge('2024-01-10T00:00:00Z', now)).toBe('7 weeks ago');
    expect(humanAge('2023-10-01T00:00:00Z', now)).toBe('5 months ago');
    expect(humanAge('2021-01-01T00:00:00Z', now)).toBe('3 years ago');
    expect(humanAge(undefined, now)).toBe('N/A');
    expect(table([['A', 'BB'], ['ccc', 'd']])).toBe('A     BB\nccc   d\n');
  });
});
