import { parseRetryAfter } from './backoff.ts';

export type UpstreamHeaders = Record<string, string | string[] | undefined>;

/** Why a credential waits: its request or token allowance ran out, or the upstream answered 429. */
export type UpstreamLimitReason = 'requests_exhausted' | 'tokens_exhausted' | 'rate_limited';

export interface UpstreamLimitStatus {
  readonly key: string;
  readonly blockedUntil: number;
  readonly reason: UpstreamLimitReason;
}

export interface UpstreamLimitsOptions {
  now?: () => number;
  /** How long a credential waits when its allowance is gone or it got a 429 but no reset time was given. */
  defaultBlockMs?: number;
  /** The longest wait any header can impose (a malformed or far-off reset must not retire a credential for good). */
  maxBlockMs?: number;
}

type ResetFormat = 'duration' | 'timestamp';

interface AllowanceHeaders {
  readonly remaining: string;
  readonly reset: string;
  readonly format: ResetFormat;
  readonly reason: UpstreamLimitReason;
}

/** The allowances providers report, header names in lower case as undici delivers them. */
const allowances: readonly AllowanceHeaders[] = [
  // OpenAI (and the OpenAI-compatible services that copy it): resets as durations, `1s`, `6m0s`, `20ms`.
  {
    remaining: 'x-ratelimit-remaining-requests',
    reset: 'x-ratelimit-reset-requests',
    format: 'duration',
    reason: 'requests_exhausted',
  },
  {
    remaining: 'x-ratelimit-remaining-tokens',
    reset: 'x-ratelimit-reset-tokens',
    format: 'duration',
    reason: 'tokens_exhausted',
  },
  // Anthropic: resets as RFC 3339 times.
  {
    remaining: 'anthropic-ratelimit-requests-remaining',
    reset: 'anthropic-ratelimit-requests-reset',
    format: 'timestamp',
    reason: 'requests_exhausted',
  },
  {
    remaining: 'anthropic-ratelimit-tokens-remaining',
    reset: 'anthropic-ratelimit-tokens-reset',
    format: 'timestamp',
    reason: 'tokens_exhausted',
  },
  {
    remaining: 'anthropic-ratelimit-input-tokens-remaining',
    reset: 'anthropic-ratelimit-input-tokens-reset',
    format: 'timestamp',
    reason: 'tokens_exhausted',
  },
  {
    remaining: 'anthropic-ratelimit-output-tokens-remaining',
    reset: 'anthropic-ratelimit-output-tokens-reset',
    format: 'timestamp',
    reason: 'tokens_exhausted',
  },
];

interface Block {
  blockedUntil: number;
  reason: UpstreamLimitReason;
}

/**
 * What upstreams say about each credential's rate limits, read from the headers of every answer, so the router skips
 * a credential that has no requests or tokens left until its reset instead of collecting 429s. A credential is free
 * again when its reset passes or an answer reports allowance left. Answers without these headers cost a few property
 * reads and leave the state as it was.
 */
export class UpstreamLimits {
  readonly #now: () => number;
  readonly #defaultBlockMs: number;
  readonly #maxBlockMs: number;
  readonly #blocks = new Map<string, Block>();

  constructor(options: UpstreamLimitsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#defaultBlockMs = options.defaultBlockMs ?? 1000;
    this.#maxBlockMs = options.maxBlockMs ?? 3_600_000;
  }

  /** Reads one upstream answer for credential `key` (header names in lower case). */
  observe(key: string, headers: UpstreamHeaders, status: number): void {
    let reported = false;
    let now = 0;
    let blockedUntil = 0;
    let reason: UpstreamLimitReason = 'rate_limited';
    for (const allowance of allowances) {
      const remaining = firstValue(headers[allowance.remaining]);
      if (remaining === undefined) continue;
      reported = true;
      const count = Number(remaining);
      if (remaining.trim() === '' || !Number.isFinite(count) || count > 0) continue;
      if (now === 0) now = this.#now();
      const resetMs = readResetMs(firstValue(headers[allowance.reset]), allowance.format, now);
      const until = now + (resetMs ?? this.#defaultBlockMs);
      if (until > blockedUntil) {
        blockedUntil = until;
        reason = allowance.reason;
      }
    }
    if (status === 429) {
      if (now === 0) now = this.#now();
      const retryAfterMs = readRetryAfterMs(headers, now);
      const until = now + (retryAfterMs ?? (blockedUntil > now ? 0 : this.#defaultBlockMs));
      if (until > blockedUntil) {
        blockedUntil = until;
        reason = 'rate_limited';
      }
    } else if (!reported) {
      return;
    }
    if (blockedUntil <= now) {
      this.#blocks.delete(key);
      return;
    }
    this.#blocks.set(key, { blockedUntil: Math.min(blockedUntil, now + this.#maxBlockMs), reason });
  }

  /** Epoch ms until which `key` should not be used, or 0 when it is free. */
  blockedUntil(key: string): number {
    const block = this.#blocks.get(key);
    if (block === undefined) return 0;
    if (block.blockedUntil > this.#now()) return block.blockedUntil;
    this.#blocks.delete(key);
    return 0;
  }

  /** The credentials waiting now, for an admin view. */
  snapshot(): UpstreamLimitStatus[] {
    const now = this.#now();
    const statuses: UpstreamLimitStatus[] = [];
    for (const [key, block] of this.#blocks) {
      if (block.blockedUntil > now) statuses.push({ key, blockedUntil: block.blockedUntil, reason: block.reason });
    }
    return statuses;
  }

  /** Drops what is known of keys that are gone (after a registry change). */
  forget(keysNotIn: ReadonlySet<string>): void {
    for (const key of this.#blocks.keys()) if (!keysNotIn.has(key)) this.#blocks.delete(key);
  }
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function readResetMs(value: string | undefined, format: ResetFormat, now: number): number | undefined {
  if (value === undefined) return undefined;
  if (format === 'duration') return parseDurationMs(value);
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : Math.max(0, time - now);
}

/** `retry-after-ms` (sent by OpenAI, more precise) first, then `retry-after` in either of its forms. */
function readRetryAfterMs(headers: UpstreamHeaders, now: number): number | undefined {
  const milliseconds = firstValue(headers['retry-after-ms']);
  if (milliseconds !== undefined && /^\s*\d+(?:\.\d+)?\s*$/.test(milliseconds)) return Number(milliseconds);
  const seconds = parseRetryAfter(firstValue(headers['retry-after']), now);
  return seconds === undefined ? undefined : seconds * 1000;
}

const durationUnitsMs: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * OpenAI's reset durations: a sequence of number+unit parts (`1s`, `6m0s`, `20ms`, `1h2m3.5s`), or a bare number of
 * seconds. Undefined when unreadable.
 */
export function parseDurationMs(value: string): number | undefined {
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(amount) * durationUnitsMs[unit!]!;
  }
  return total;
}
