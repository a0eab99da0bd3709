import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../../config/config.ts';
import { backoffDelayMs, parseRetryAfter, retryAfterCapMs } from './backoff.ts';

const policy: RetryPolicy = {
  maxAttempts: 5,
  backoffBaseMs: 100,
  backoffMaxMs: 2000,
  deadlineMs: 60_000,
  budgetRatio: 0.2,
  budgetMinPerSecond: 10,
};

describe('backoffDelayMs', () => {
  it('doubles the ceiling with each retry, from the base, up to the cap', () => {
    const almostOne = () => 0.999_999;
    expect(backoffDelayMs(1, policy, undefined, almostOne)).toBe(99);
    expect(backoffDelayMs(2, policy, undefined, almostOne)).toBe(199);
    expect(backoffDelayMs(3, policy, undefined, almostOne)).toBe(399);
    expect(backoffDelayMs(5, policy, undefined, almostOne)).toBe(1599);
    expect(backoffDelayMs(6, policy, undefined, almostOne)).toBe(1999);
    expect(backoffDelayMs(1000, policy, undefined, almostOne)).toBe(1999);
  });

  it('draws the whole range from zero (full jitter)', () => {
    expect(backoffDelayMs(3, policy, undefined, () => 0)).toBe(0);
    expect(backoffDelayMs(3, policy, undefined, () => 0.5)).toBe(200);
  });

  it('treats an attempt below 1 as the first retry and survives a random source out of range', () => {
    expect(backoffDelayMs(0, policy, undefined, () => 0.5)).toBe(50);
    expect(backoffDelayMs(-3, policy, undefined, () => 0.5)).toBe(50);
    expect(backoffDelayMs(2, policy, undefined, () => 1)).toBe(199);
    expect(backoffDelayMs(2, policy, undefined, () => -1)).toBe(0);
    expect(backoffDelayMs(2, { ...policy, backoffBaseMs: 0 }, undefined, () => 0.5)).toBe(0);
  });

  it('takes the upstream Retry-After over its own backoff, capped', () => {
    expect(backoffDelayMs(1, policy, 3, () => 0)).toBe(3000);
    expect(backoffDelayMs(1, policy, 0, () => 0.9)).toBe(0);
    expect(backoffDelayMs(1, policy, 0.25, () => 0.9)).toBe(250);
    expect(backoffDelayMs(1, policy, 3600, () => 0)).toBe(retryAfterCapMs);
    // A policy whose own cap is longer lets Retry-After run to it.
    expect(backoffDelayMs(1, { ...policy, backoffMaxMs: 90_000 }, 3600, () => 0)).toBe(90_000);
  });

  it('ignores a Retry-After that is not a usable number', () => {
    expect(backoffDelayMs(1, policy, Number.NaN, () => 0.5)).toBe(50);
    expect(backoffDelayMs(1, policy, -5, () => 0.5)).toBe(50);
    expect(backoffDelayMs(1, policy, Number.POSITIVE_INFINITY, () => 0.5)).toBe(50);
  });

  it('stays within [0, min(max, base × 2^(n-1))) for any attempt, policy and draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, backoffBaseMs, backoffMaxMs, draw) => {
          const delay = backoffDelayMs(attempt, { ...policy, backoffBaseMs, backoffMaxMs }, undefined, () => draw);
          const ceiling = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(attempt - 1, 30));
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          if (ceiling === 0) expect(delay).toBe(0);
          else expect(delay).toBeLessThan(ceiling);
        },
      ),
    );
  });

  it('never waits longer than the cap for any Retry-After', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        fc.integer({ min: 0, max: 120_000 }),
        (seconds, max) => {
          const delay = backoffDelayMs(1, { ...policy, backoffMaxMs: max }, seconds, Math.random);
          expect(delay).toBeLessThanOrEqual(Math.max(max, retryAfterCapMs));
          expect(delay).toBeGreaterThanOrEqual(Math.min(Math.floor(seconds * 1000), Math.max(max, retryAfterCapMs)));
        },
      ),
    );
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1.5);
  });

  it('reads an HTTP-date relative to now, a past date as 0', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });

  it('gives undefined for an absent or unreadable header', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('1e3', now)).toBeUndefined();
  });
});
