import { describe, expect, it } from 'vitest';
import { parseDurationMs, UpstreamLimits } from './upstream-limits.ts';

const key = 'deployment_1#credential_1';

function setup(options: { defaultBlockMs?: number; maxBlockMs?: number } = {}) {
  let time = Date.parse('2026-01-01T00:00:00Z');
  const limits = new UpstreamLimits({ now: () => time, ...options });
  return { limits, now: () => time, advance: (ms: number) => (time += ms) };
}

describe('UpstreamLimits', () => {
  it('leaves a credential free when the answer carries no rate-limit headers', () => {
    const { limits } = setup();
    limits.observe(key, { 'content-type': 'application/json' }, 200);
    expect(limits.blockedUntil(key)).toBe(0);
    expect(limits.snapshot()).toEqual([]);
  });

  it('blocks a credential with no OpenAI requests left until the reset, then frees it', () => {
    const { limits, now, advance } = setup();
    limits.observe(
      key,
      {
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '6m0s',
        'x-ratelimit-remaining-tokens': '149000',
        'x-ratelimit-reset-tokens': '20ms',
      },
      200,
    );
    const until = now() + 360_000;
    expect(limits.blockedUntil(key)).toBe(until);
    expect(limits.blockedUntil('deployment_1#credential_2')).toBe(0);
    expect(limits.snapshot()).toEqual([{ key, blockedUntil: until, reason: 'requests_exhausted' }]);
    advance(359_999);
    expect(limits.blockedUntil(key)).toBe(until);
    advance(1);
    expect(limits.blockedUntil(key)).toBe(0);
    expect(limits.snapshot()).toEqual([]);
  });

  it('blocks on exhausted tokens until the later of the resets', () => {
    const { limits, now } = setup();
    limits.observe(
      key,
      {
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '1s',
        'x-ratelimit-remaining-tokens': '0',
        'x-ratelimit-reset-tokens': '1m30s',
      },
      200,
    );
    expect(limits.snapshot()).toEqual([{ key, blockedUntil: now() + 90_000, reason: 'tokens_exhausted' }]);
  });

  it('reads Anthropic headers with RFC 3339 reset times, arrays of values included', () => {
    const { limits, now } = setup();
    limits.observe(
      key,
      {
        'anthropic-ratelimit-requests-remaining': ['0'],
        'anthropic-ratelimit-requests-reset': ['2026-01-01T00:00:42Z'],
        'anthropic-ratelimit-tokens-remaining': '5000',
        'anthropic-ratelimit-tokens-reset': '2026-01-01T00:00:10Z',
      },
      200,
    );
    expect(limits.blockedUntil(key)).toBe(now() + 42_000);

    limits.observe(
      key,
      {
        'anthropic-ratelimit-output-tokens-remaining': '0',
        'anthropic-ratelimit-output-tokens-reset': '2026-01-01T00:01:00Z',
      },
      200,
    );
    expect(limits.snapshot()).toEqual([{ key, blockedUntil: now() + 60_000, reason: 'tokens_exhausted' }]);
  });

  it('frees a credential as soon as an answer reports allowance left', () => {
    const { limits } = setup();
    limits.observe(key, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '10s' }, 200);
    expect(limits.blockedUntil(key)).toBeGreaterThan(0);
    limits.observe(key, { 'x-ratelimit-remaining-requests': '99' }, 200);
    expect(limits.blockedUntil(key)).toBe(0);
  });

  it('keeps an earlier block when a later answer says nothing about limits', () => {
    const { limits } = setup();
    limits.observe(key, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '10s' }, 200);
    limits.observe(key, {}, 500);
    expect(limits.blockedUntil(key)).toBeGreaterThan(0);
  });

  it('blocks on a 429 for its Retry-After, in seconds, as a date, or in milliseconds', () => {
    const { limits, now } = setup();
    limits.observe(key, { 'retry-after': '7' }, 429);
    expect(limits.blockedUntil(key)).toBe(now() + 7000);
    limits.observe(key, { 'retry-after': 'Thu, 01 Jan 2026 00:00:20 GMT' }, 429);
    expect(limits.blockedUntil(key)).toBe(now() + 20_000);
    limits.observe(key, { 'retry-after-ms': '1500', 'retry-after': '7' }, 429);
    expect(limits.snapshot()).toEqual([{ key, blockedUntil: now() + 1500, reason: 'rate_limited' }]);
  });

  it('blocks on a 429 without a hint for the default time, or until the reset the headers give', () => {
    const { limits, now } = setup({ defaultBlockMs: 2500 });
    limits.observe(key, {}, 429);
    expect(limits.blockedUntil(key)).toBe(now() + 2500);
    limits.observe(
      key,
      { 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '12s', 'retry-after-ms': 'soon' },
      429,
    );
    expect(limits.snapshot()).toEqual([{ key, blockedUntil: now() + 12_000, reason: 'tokens_exhausted' }]);
  });

  it('blocks for the default time when the allowance is gone but the reset is missing or unreadable', () => {
    const { limits, now } = setup({ defaultBlockMs: 3000 });
    limits.observe(key, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': 'later' }, 200);
    expect(limits.blockedUntil(key)).toBe(now() + 3000);
    limits.observe(
      key,
      { 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-requests-reset': 'x' },
      200,
    );
    expect(limits.blockedUntil(key)).toBe(now() + 3000);
  });

  it('ignores remaining counts it cannot read, and a reset already past', () => {
    const { limits } = setup();
    limits.observe(key, { 'x-ratelimit-remaining-requests': 'many', 'x-ratelimit-remaining-tokens': '' }, 200);
    expect(limits.blockedUntil(key)).toBe(0);
    limits.observe(
      key,
      { 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-requests-reset': '2025-12-31T23:00:00Z' },
      200,
    );
    expect(limits.blockedUntil(key)).toBe(0);
  });

  it('never blocks longer than maxBlockMs', () => {
    const { limits, now } = setup({ maxBlockMs: 60_000 });
    limits.observe(key, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '48h' }, 200);
    expect(limits.blockedUntil(key)).toBe(now() + 60_000);
  });

  it('holds a credential back an hour at most by default, whatever reset the upstream names', () => {
    const { limits, now } = setup();
    limits.observe(key, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '48h' }, 200);
    expect(limits.blockedUntil(key)).toBe(now() + 3_600_000);
  });

  it('forgets credentials that left the registry', () => {
    const { limits } = setup();
    limits.observe('a#1', { 'retry-after': '5' }, 429);
    limits.observe('b#1', { 'retry-after': '5' }, 429);
    limits.forget(new Set(['b#1']));
    expect(limits.blockedUntil('a#1')).toBe(0);
    expect(limits.blockedUntil('b#1')).toBeGreaterThan(0);
  });

  it('works on the wall clock by default', () => {
    const limits = new UpstreamLimits();
    limits.observe(key, { 'retry-after': '60' }, 429);
    expect(limits.blockedUntil(key)).toBeGreaterThan(0);
  });
});

describe('parseDurationMs', () => {
  it('reads the duration forms OpenAI sends', () => {
    expect(parseDurationMs('1s')).toBe(1000);
    expect(parseDurationMs('6m0s')).toBe(360_000);
    expect(parseDurationMs('20ms')).toBe(20);
    expect(parseDurationMs('1h2m3.5s')).toBe(3_723_500);
    expect(parseDurationMs('1d')).toBe(86_400_000);
    expect(parseDurationMs('2.5')).toBe(2500);
  });

  it('gives undefined for anything else', () => {
    expect(parseDurationMs('')).toBeUndefined();
    expect(parseDurationMs('1 s')).toBeUndefined();
    expect(parseDurationMs('5x')).toBeUndefined();
    expect(parseDurationMs('m')).toBeUndefined();
  });
});
