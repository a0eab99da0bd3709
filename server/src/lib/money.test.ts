import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  costMicros,
  parseDecimalToMicros,
  parseExactDecimal,
  parseExactInteger,
  type BillableUsage,
  type Prices,
} from './money.ts';

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

describe('costMicros with cache writes and a per-request fee', () => {
  const prices = { input: 3_000_000, output: 15_000_000, cachedInput: 300_000, cacheWrite: 3_750_000 };

  it('prices cache writes at the cache-write rate, cache reads at the cached rate and the rest at the input rate', () => {
    // 100 plain × 3.00 + 600 read × 0.30 + 300 written × 3.75 + 10 out × 15.00 per million.
    const tokens = { prompt: 1000, completion: 10, cached: 600, cacheWrite: 300 };
    expect(costMicros(tokens, prices)).toBe(300 + 180 + 1125 + 150);
  });

  it('prices cache writes at the input rate when no cache-write price is given', () => {
    const { cacheWrite: _unused, ...withoutCacheWrite } = prices;
    expect(costMicros({ prompt: 1000, completion: 0, cached: 0, cacheWrite: 400 }, withoutCacheWrite)).toBe(3000);
  });

  it('charges cache counts as reported even when they exceed the prompt', () => {
    expect(costMicros({ prompt: 100, completion: 0, cached: 100, cacheWrite: 100 }, prices)).toBe(30 + 375);
  });

  it('adds the per-request fee once per charged request, after the one rounding', () => {
    const withFee = { ...prices, perRequest: 5_000 };
    const tokens = { prompt: 1, completion: 0, cached: 0 };
    expect(costMicros(tokens, withFee)).toBe(3);
    expect(costMicros({ ...tokens, requests: 1 }, withFee)).toBe(5_003);
    expect(costMicros({ prompt: 0, completion: 0, cached: 0, requests: 1 }, withFee)).toBe(5_000);
    // A fee given but no request charged: a failed request costs only its tokens.
    expect(costMicros({ prompt: 0, completion: 0, cached: 0, requests: 0 }, withFee)).toBe(0);
  });
});

describe('costMicros properties', () => {
  // Up to ten million tokens of each kind at up to US$200 per million: every product stays below 2^53 / 4.
  const count = fc.integer({ min: 0, max: 10_000_000 });
  const price = fc.integer({ min: 0, max: 200_000_000 });
  const usage = fc.record({
    prompt: count,
    completion: count,
    cached: count,
    cacheWrite: count,
    requests: fc.integer({ min: 0, max: 1 }),
  });
  const priceList = fc.record({
    input: price,
    output: price,
    cachedInput: price,
    cacheWrite: price,
    perRequest: fc.integer({ min: 0, max: 100_000_000 }),
  });

  /** The exact cost in millionths of a micro-unit, in BigInt so nothing can round. */
  function exactMillionths(tokens: Required<BillableUsage>, prices: Required<Prices>): bigint {
    const plain = Math.max(0, tokens.prompt - tokens.cached - tokens.cacheWrite);
    return (
      BigInt(plain) * BigInt(prices.input) +
      BigInt(tokens.cached) * BigInt(prices.cachedInput) +
      BigInt(tokens.cacheWrite) * BigInt(prices.cacheWrite) +
      BigInt(tokens.completion) * BigInt(prices.output) +
      BigInt(tokens.requests) * BigInt(prices.perRequest) * 1_000_000n
    );
  }

  it('is an integer never below the exact cost and less than one micro-unit above it', () => {
    fc.assert(
      fc.property(usage, priceList, (tokens, prices) => {
        const recorded = costMicros(tokens, prices);
        expect(Number.isSafeInteger(recorded)).toBe(true);
        const over = BigInt(recorded) * 1_000_000n - exactMillionths(tokens, prices);
        expect(over >= 0n && over < 1_000_000n).toBe(true);
      }),
    );
  });

  it('charges exactly the fee for a request, whatever its tokens', () => {
    fc.assert(
      fc.property(usage, priceList, (tokens, prices) => {
        const charged = costMicros({ ...tokens, requests: 1 }, prices);
        expect(charged - costMicros({ ...tokens, requests: 0 }, prices)).toBe(prices.perRequest);
      }),
    );
  });

  it('costs the same whether a prompt token is written to the cache or not when both prices agree', () => {
    fc.assert(
      fc.property(usage, priceList, (tokens, prices) => {
        fc.pre(tokens.cached + tokens.cacheWrite <= tokens.prompt);
        const samePrice = { ...prices, cacheWrite: prices.input };
        expect(costMicros(tokens, samePrice)).toBe(costMicros({ ...tokens, cacheWrite: 0 }, samePrice));
      }),
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
