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

/**
 * Cost of a request in micro-units given per-million-token prices in micro-units.
 * tokens × price stays far below 2^53 for any realistic request, so integer arithmetic is exact;
 * the division rounds half up once, at the end.
 */
export function costMicros(
  tokens: { prompt: number; completion: number; cached: number },
  pricesPerMillion: { input: number; output: number; cachedInput: number },
): number {
  const uncachedPrompt = Math.max(0, tokens.prompt - tokens.cached);
  const numerator =
    uncachedPrompt * pricesPerMillion.input +
    tokens.cached * pricesPerMillion.cachedInput +
    tokens.completion * pricesPerMillion.output;
  return Math.floor((numerator + 500_000) / 1_000_000);
}
