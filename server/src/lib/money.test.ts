import { describe, expect, it } from 'vitest';
import { costMicros, parseDecimalToMicros, parseExactDecimal, parseExactInteger } from './money.ts';

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

  it('rounds up, once, on the total: a request that cost anything is never free', () => {
    const onePerMillion = { input: 1, output: 1, cachedInput: 1 };
    // One token of a model priced at $0.10 per million tokens costs a tenth of a micro-unit: recorded as 1, not 0.
    expect(costMicros({ prompt: 1, completion: 0, cached: 0 }, { ...onePerMillion, input: 100_000 })).toBe(1);
    expect(costMicros({ prompt: 1, completion: 0, cached: 0 }, onePerMillion)).toBe(1);
    expect(costMicros({ prompt: 999_999, completion: 0, cached: 0 }, onePerMillion)).toBe(1);
    expect(costMicros({ prompt: 1_000_000, completion: 0, cached: 0 }, onePerMillion)).toBe(1);
    expect(costMicros({ prompt: 1_000_001, completion: 0, cached: 0 }, onePerMillion)).toBe(2);
    // Parts are summed before the one rounding: 0.3 + 0.3 micro-units is 1, not 2 as rounding each part up would give.
    expect(costMicros({ prompt: 300_000, completion: 300_000, cached: 0 }, onePerMillion)).toBe(1);
    // Nothing used, nothing charged.
    expect(costMicros({ prompt: 0, completion: 0, cached: 0 }, onePerMillion)).toBe(0);
  });

  it('never records less than the exact cost, nor a whole micro-unit more', () => {
    const prices = { input: 2_500_000, output: 10_000_000, cachedInput: 1_250_000 };
    for (let prompt = 0; prompt < 400; prompt += 7) {
      for (let completion = 0; completion < 400; completion += 11) {
        const exactNumerator = prompt * prices.input + completion * prices.output;
        const recorded = costMicros({ prompt, completion, cached: 0 }, prices);
        expect(recorded * 1_000_000).toBeGreaterThanOrEqual(exactNumerator);
        expect(recorded * 1_000_000 - exactNumerator).toBeLessThan(1_000_000);
      }
    }
  });

  it('stays exact near the top of the safe integer range, where float division alone would lose the remainder', () => {
    // 9,007,199,254,000,001 millionths of a micro-unit: the quotient is 9,007,199,254 and a tiny remainder.
    const tokens = { prompt: 9_007_199_254_000_001, completion: 0, cached: 0 };
    expect(costMicros(tokens, { input: 1, output: 0, cachedInput: 0 })).toBe(9_007_199_255);
  });

  it('stays exact for large requests at high prices', () => {
    const expensive = { input: 150_000_000, output: 600_000_000, cachedInput: 75_000_000 };
    expect(costMicros({ prompt: 2_000_000, completion: 100_000, cached: 1_000_000 }, expensive)).toBe(
      150_000_000 + 75_000_000 + 60_000_000,
    );
  });
});

describe('reading database integers and decimals without floats', () => {
  it('reads a BIGINT exactly, and refuses one a number cannot hold rather than rounding it', () => {
    expect(parseExactInteger('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseExactInteger('-42')).toBe(-42);
    expect(() => parseExactInteger('9007199254740993')).toThrow(RangeError);
    expect(() => parseExactInteger('1.5')).toThrow(RangeError);
  });

  it('reads a whole NUMERIC as a number and keeps any other NUMERIC as its exact decimal text', () => {
    expect(parseExactDecimal('1234567')).toBe(1_234_567);
    expect(parseExactDecimal('0.000000100000')).toBe('0.000000100000');
    expect(parseExactDecimal('12345678901234567890')).toBe('12345678901234567890');
  });
});
