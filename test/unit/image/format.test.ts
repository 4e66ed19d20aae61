import { describe, expect, it } from 'vitest';
import { humanSize } from '../../../src/cli/commands/image.js';

describe('formatting', () => {
  it('prints sizes like docker', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(1234)).toBe('1.23kB');
    expect(humanSize(4_261_234)).toBe('4.26MB');
    expect(humanSize(187_000_000)).toBe('187MB');
    expect(humanSize(1_500_000_000)).toBe('1.5GB');
  });
});
