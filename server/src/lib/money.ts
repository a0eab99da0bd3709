/** Money is integer micro-units: 1 USD = 1,000,000. Never floats. */
export const microsPerUnit = 1_000_000;

/**
 * Parses a decimal amount ("2.50", 2.5, "0.000075") into integer micro-units exactly, without float arithmetic.
 * Returns undefined for anything that is not a plain non-negative decimal with at most 6 fractional digits.
 */
export function parseDecimalToMicros(value: string | number): number | undefined {
  const text = typeof value === 'number' ? numberToPlainString(value) : value.trim();
  const match = /^(\d+)(?:\.(\d{1,6}))?$/.exec(text);
  if (!match) return undefined;
  const whole = Number(match[1]);
  const fraction = Number((match[2] ?? '').padEnd(6, '0'));
  const micros = whole * microsPerUnit + fraction;
  return Number.isSafeInteger(micros) ? micros : undefined;
}

function numberToPlainString(value: number): string {
  // String() prints exponent notation for very small or large numbers, which the pattern then rejects.
  return Number.isFinite(value) ? String(value) : 'invalid';
}

/** What one request used, as the price list counts it. */
export interface BillableUsage {
  /** All prompt tokens, cache reads and writes included. */
  readonly prompt: number;
  readonly completion: number;
  /** Prompt tokens read from the provider's cache. */
  readonly cached: number;
  /** Prompt tokens written to the provider's cache. Default 0. */
  readonly cacheWrite?: number;
  /** Requests the per-request fee applies to: 1 for a request the upstream answered, else 0. Default 0. */
  readonly requests?: number;
}

/** Prices in micro-units: per one million tokens, and per request. */
export interface Prices {
  readonly input: number;
  readonly output: number;
  readonly cachedInput: number;
  /** Per million prompt tokens written to the cache. Default: the input price. */
  readonly cacheWrite?: number;
  /** A fixed fee per request. Default 0. */
  readonly perRequest?: number;
}

/**
 * Cost of a request in micro-units. The prompt is split three ways: cache reads at the cached price, cache writes at
 * the cache-write price, the rest at the input price (never below zero when a provider reports more cached tokens
 * than prompt tokens; the cache counts are charged as reported). The per-request fee is added for each of `requests`.
 * tokens × price stays far below 2^53 for any realistic request, so integer arithmetic is exact.
 *
 * Rounding rule: the exact token total (in millionths of a micro-unit) is rounded UP, once, at the end. A request that
 * cost anything is therefore never recorded as free (a few tokens of a cheap model cost 1 micro-unit, not 0), the
 * recorded cost is never below the true cost, and it is above it by less than one micro-unit (US$0.000001) per
 * request. The per-request fee is a whole number of micro-units already and is added after the rounding.
 */
export function costMicros(tokens: BillableUsage, pricesPerMillion: Prices): number {
  const cacheWrite = tokens.cacheWrite ?? 0;
  const uncachedPrompt = Math.max(0, tokens.prompt - tokens.cached - cacheWrite);
  const numerator =
    uncachedPrompt * pricesPerMillion.input +
    tokens.cached * pricesPerMillion.cachedInput +
    cacheWrite * (pricesPerMillion.cacheWrite ?? pricesPerMillion.input) +
    tokens.completion * pricesPerMillion.output;
  return divideRoundingUp(numerator, 1_000_000) + (tokens.requests ?? 0) * (pricesPerMillion.perRequest ?? 0);
}

/** ⌈dividend / divisor⌉ for non-negative safe integers, corrected so float division cannot shave off a remainder. */
function divideRoundingUp(dividend: number, divisor: number): number {
  let quotient = Math.floor(dividend / divisor);
  let remainder = dividend - quotient * divisor;
  if (remainder < 0) {
    quotient -= 1;
    remainder += divisor;
  } else if (remainder >= divisor) {
    quotient += 1;
    remainder -= divisor;
  }
  return remainder > 0 ? quotient + 1 : quotient;
}

/**
 * Reads a PostgreSQL BIGINT (times in ms, money in micro-units, counts) exactly. A value a JavaScript number cannot
 * hold exactly is refused rather than rounded: money must never change silently on its way out of the database.
 */
export function parseExactInteger(text: string): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new RangeError(`the database value ${text} is beyond the exact range of a number`);
  }
  return value;
}

/**
 * Reads a PostgreSQL NUMERIC (what sum() over BIGINT returns) without a float: a whole value that fits exactly is a
 * number; anything else (a fraction, or a whole value past 2^53) stays the exact decimal text.
 */
export function parseExactDecimal(text: string): number | string {
  if (/^-?\d+$/.test(text)) {
    const value = Number(text);
    if (Number.isSafeInteger(value)) return value;
  }
  return text;
}
