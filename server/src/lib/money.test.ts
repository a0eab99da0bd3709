import { describe, expect, it } from 'vitest';
import { costMicros, parseDecimalToMicros } from './money.ts';

describe('parseDecimalToMicros', () => {
  it.each([
    ['2.50', 2_500_000],
    ['0.000075', 75],
    ['10', 10_000_000],
    ['0', 0],
    [' 1.5 ', 1_500_000],
    ['0.1', 100_000],
    [2.5, 2_500_000],
    [0.000075, 75],
    [0.1, 100_000],
    [15, 15_000_000],
  ])('reads %j exactly as %i micro-units', (input, expected) => {
    expect(parseDecimalToMicros(input)).toBe(expected);
  });

  it.each([
    ['more than six decimals', '1.2345678'],
    ['more than six decimals as a number', 0.0000001],
    ['a negative string', '-1'],
    ['a negative number', -2.5],
    ['exponent notation', '1e3'],
    ['a number printed in exponent notation', 1e21],
    ['a float sum that is not a clean decimal', 0.1 + 0.2],
    ['not a number', 'abc'],
    ['an empty string', ''],
    ['a trailing dot', '1.'],
    ['a leading dot', '.5'],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('rejects %s', (_description, input) => {
    expect(parseDecimalToMicros(input)).toBeUndefined();
  });

  it('rejects amounts beyond exact integer range rather than rounding them', () => {
    expect(parseDecimalToMicros('9007199254')).toBe(9_007_199_254_000_000);
    expect(parseDecimalToMicros('9007199255')).toBeUndefined();
  });
});

describe('costMicros', () => {
  const prices = { input: 2_500_000, output: 10_000_000, cachedInput: 1_250_000 };

  it('prices prompt and completion tokens per million', () => {
    expect(costMicros({ prompt: 1000, completion: 500, cached: 0 }, prices)).toBe(2500 + 5000);
    expect(costMicros({ prompt: 0, completion: 0, cached: 0 }, prices)).toBe(0);
  });

  it('prices cached prompt tokens at the cached rate and the rest at the input rate', () => {
    // 600 uncached × 2.50 + 400 cached × 1.25 per million = 1500 + 500 micro-units.
    expect(costMicros({ prompt: 1000, completion: 0, cached: 400 }, prices)).toBe(2000);
    expect(costMicros({ prompt: 1000, completion: 0, cached: 400 }, { ...prices, cachedInput: 0 })).toBe(1500);
  });

  it('never counts more cached tokens than the prompt as a negative uncached share', () => {
    expect(costMicros({ prompt: 10, completion: 0, cached: 20 }, { ...prices, cachedInput: 1_000_000 })).toBe(20);
  });

  it('rounds half up, once, on the total', () => {
    const onePerMillion = { input: 1, output: 1, cachedInput: 1 };
    expect(costMicros({ prompt: 499_999, completion: 0, cached: 0 }, onePerMillion)).toBe(0);
    expect(costMicros({ prompt: 500_000, completion: 0, cached: 0 }, onePerMillion)).toBe(1);
    expect(costMicros({ prompt: 1_499_999, completion: 0, cached: 0 }, onePerMillion)).toBe(1);
    expect(costMicros({ prompt: 1_500_000, completion: 0, cached: 0 }, onePerMillion)).toBe(2);
    // Parts are summed before the one rounding: 0.3 + 0.3 micro-units is 1, where rounding each part would give 0.
    expect(costMicros({ prompt: 300_000, completion: 300_000, cached: 0 }, onePerMillion)).toBe(1);
  });

  it('stays exact for large requests at high prices', () => {
    const expensive = { input: 150_000_000, output: 600_000_000, cachedInput: 75_000_000 };
    expect(costMicros({ prompt: 2_000_000, completion: 100_000, cached: 1_000_000 }, expensive)).toBe(
      150_000_000 + 75_000_000 + 60_000_000,
    );
  });
});
