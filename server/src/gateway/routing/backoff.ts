import type { RetryPolicy } from '../../config/config.ts';

/**
 * The longest an upstream's `Retry-After` makes a request wait, unless the policy's own `backoffMaxMs` is longer.
 * A longer hint means the credential is rate-limited for a while: `UpstreamLimits` keeps it out of rotation until
 * then, and the request is better served by another credential or deployment (or a prompt 429) than by holding the
 * client's connection. The request's deadline still bounds any wait.
 */
export const retryAfterCapMs = 30_000;

/** Past 2^30 the exponential term is beyond any cap; stopping there keeps the arithmetic finite. */
const maxExponent = 30;

/**
 * How long to wait before retry number `attempt` (1 before the second try): the upstream's `Retry-After` when given
 * (capped at `max(backoffMaxMs, retryAfterCapMs)`), else "full jitter" exponential backoff, a uniform draw in
 * [0, min(backoffMaxMs, backoffBaseMs × 2^(attempt-1))). `random` returns [0, 1) like Math.random. Whole milliseconds.
 */
export function backoffDelayMs(
  attempt: number,
  policy: RetryPolicy,
  retryAfterSeconds: number | undefined,
  random: () => number,
): number {
  if (retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0) {
    return Math.ceil(Math.min(retryAfterSeconds * 1000, Math.max(policy.backoffMaxMs, retryAfterCapMs)));
  }
  const exponent = Math.min(Math.max(Math.floor(attempt), 1) - 1, maxExponent);
  const ceiling = Math.max(0, Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** exponent));
  const draw = Math.min(Math.max(random(), 0), 1);
  return Math.min(Math.floor(draw * ceiling), Math.max(0, Math.ceil(ceiling) - 1));
}

/**
 * Seconds to wait from a `Retry-After` header: delta-seconds (`120`, and the `1.5` some providers send) or an
 * HTTP-date, counted from `now` (epoch ms; a date in the past gives 0). Undefined when absent or unreadable.
 */
export function parseRetryAfter(header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (text === '') return undefined;
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text);
  // An HTTP-date names a weekday or month; requiring a letter keeps bare numbers like `-1` from parsing as years.
  if (!/[a-z]/i.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - now) / 1000);
}
