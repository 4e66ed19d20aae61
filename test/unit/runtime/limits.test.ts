import { describe, expect, it } from 'vitest';
import { MinidError } from '../../../src/errors.js';
import { NO_LIMITS, parseCpuList, parseLimits, parseSize, type LimitFlags } from '../../../src/runtime/limits.js';

const host = { cpus: { count: 2, available: '0-1' }, memswAccounted: true };
const parse = (f: LimitFlags, h = host) => parseLimits(f, h);
const message = (f: LimitFlags, h = host) => {
  try {
    parse(f, h);
  } catch (e) {
    expect(e).toBeInstanceOf(MinidError);
    expect((e as MinidError).exitCode).toBe(125);
    return (e as Error).message;
  }
  throw new Error('accepted');
};

describe('sizes, as docker reads them (powers of 1024)', () => {
  it.each([
    ['32m', 32 * 1024 ** 2], ['32M', 32 * 1024 ** 2], ['32MiB', 32 * 1024 ** 2], ['32mb', 32 * 1024 ** 2],
    ['1g', 1024 ** 3], ['1.5g', 1.5 * 1024 ** 3], ['512k', 512 * 1024], ['7000000', 7000000], ['100b', 100],
  ])('%s', (s, n) => expect(parseSize(s)).toBe(n));
  it.each(['', 'm', '32x', '-1', '1,5g', '32 mm'])('refuses %j', (s) => expect(parseSize(s)).toBeNaN());
});

describe('--memory and --memory-swap', () => {
  it('defaults the swap to as much as the memory (memory+swap twice the memory)', () =>
    expect(parse({ memory: '32m' })).toEqual({ ...NO_LIMITS, Memory: 32 * 1024 ** 2, MemorySwap: 64 * 1024 ** 2 }));
  it('takes -1 for unlimited swap', () => expect(parse({ memory: '32m', memorySwap: '-1' }).MemorySwap).toBe(-1));
  it("gives docker's messages", () => {
    expect(message({ memory: '32x' })).toBe(`invalid argument "32x" for "-m, --memory" flag: invalid size: '32x'`);
    expect(message({ memory: '4m' })).toBe('Minimum memory limit allowed is 6MB');
    expect(message({ memorySwap: '64m' })).toBe('You should always set the Memory limit when using Memoryswap limit, see usage');
    expect(message({ memory: '64m', memorySwap: '32m' })).toBe('Minimum memoryswap limit should be larger than memory limit, see usage');
  });
  it('says so when the kernel does not account swap, and limits memory alone', () => {
    const warned: string[] = [];
    const l = parseLimits({ memory: '32m', memorySwap: '64m' }, { ...host, memswAccounted: false }, (w) => warned.push(w));
    expect(l.MemorySwap).toBe(-1);
    expect(warned[0]).toMatch(/does not support swap limit/);
  });
});

describe('CPU', () => {
  it('--cpus in nanocpus, exactly', () => {
    expect(parse({ cpus: '0.5' }).NanoCpus).toBe(5e8);
    expect(parse({ cpus: '0.1' }).NanoCpus).toBe(1e8);
    expect(parse({ cpus: '2' }).NanoCpus).toBe(2e9);
    expect(parse({ cpus: '1.000000001' }).NanoCpus).toBe(1000000001);
  });
  it("--cpus: docker's messages", () => {
    expect(message({ cpus: '3' })).toBe('Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available');
    expect(message({ cpus: '-1' })).toBe('Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available');
    expect(message({ cpus: 'half' })).toBe('invalid argument "half" for "--cpus" flag: failed to parse half as a rational number');
    expect(message({ cpus: '0.0000000001' })).toBe('invalid argument "0.0000000001" for "--cpus" flag: value is too precise');
  });
  it('--cpu-shares: clamped to the kernel range, as docker does', () => {
    expect(parse({ cpuShares: '512' }).CpuShares).toBe(512);
    expect(parse({ cpuShares: '1' }).CpuShares).toBe(2);
    expect(parse({ cpuShares: '1000000' }).CpuShares).toBe(262144);
    expect(message({ cpuShares: 'x' })).toBe('invalid argument "x" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "x": invalid syntax');
  });
  it('--cpuset-cpus: list syntax, checked against the host', () => {
    expect([...parseCpuList('0-2,5')!]).toEqual([0, 1, 2, 5]);
    expect(parseCpuList('2-1')).toBeNull();
    expect(parseCpuList('a')).toBeNull();
    expect(parse({ cpusetCpus: '1' }).CpusetCpus).toBe('1');
    expect(message({ cpusetCpus: '0-3' })).toBe('Requested CPUs are not available - requested 0-3, available: 0-1');
    expect(message({ cpusetCpus: '0,,1' })).toBe('Invalid value 0,,1 for cpuset cpus');
  });
});

describe('--pids-limit', () => {
  it('-1 and 0 are unlimited', () => {
    expect(parse({ pidsLimit: '64' }).PidsLimit).toBe(64);
    expect(parse({ pidsLimit: '-1' }).PidsLimit).toBe(0);
    expect(parse({ pidsLimit: '0' }).PidsLimit).toBe(0);
    expect(message({ pidsLimit: 'many' })).toMatch(/^invalid argument "many" for "--pids-limit" flag/);
  });
});
