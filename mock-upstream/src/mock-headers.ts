import type { IncomingHttpHeaders } from 'node:http';
import { createInvalidRequestError } from './openai-error.ts';
import {
  drawFailure,
  failureModes,
  isFailureMode,
  resolveFailMix,
  type FailureMode,
  type ResolvedBehaviour,
  type ResolvedFailMix,
} from './options.ts';

/** Request headers that override the server's behaviour for one request, so tests switch modes without restarts. */
export const mockHeaderNames = {
  latencyMs: 'x-mock-latency-ms',
  chunkDelayMs: 'x-mock-chunk-delay-ms',
  chunks: 'x-mock-chunks',
  fail: 'x-mock-fail',
  failMix: 'x-mock-fail-mix',
  failRate: 'x-mock-fail-rate',
  retryAfter: 'x-mock-retry-after',
  cacheReadTokens: 'x-mock-cache-read-tokens',
  cacheWriteTokens: 'x-mock-cache-write-tokens',
} as const;

/** What one request will experience, after header overrides and the fail-rate roll. */
export interface RequestBehaviour {
  readonly latencyMs: number;
  readonly chunkDelayMs: number;
  readonly chunks: number;
  readonly failure: FailureMode | undefined;
  readonly retryAfterSeconds: number;
  readonly rateLimitHeaders: boolean;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
}

/**
 * `x-mock-fail` replaces the server's failure mode for this request (`none` disables it), and `x-mock-fail-mix` the
 * server's mix (`x-mock-fail` wins when both are sent); their rate then comes from `x-mock-fail-rate`, defaulting to 1,
 * because a test that names a failure wants to see it. A mix, from the header or the server, wins over a single mode.
 */
export function resolveRequestBehaviour(
  headers: IncomingHttpHeaders,
  base: ResolvedBehaviour,
  random: () => number,
): RequestBehaviour {
  const failHeader = readHeader(headers, mockHeaderNames.fail);
  const failMixHeader = readHeader(headers, mockHeaderNames.failMix);
  let failMode = base.failMode;
  let failMix = base.failMix;
  let failRate = base.failRate;
  if (failHeader !== undefined) {
    failMode = parseFailMode(failHeader);
    failMix = undefined;
    failRate = 1;
  } else if (failMixHeader !== undefined) {
    failMix = parseFailMix(failMixHeader);
    failRate = 1;
  }
  const failRateHeader = readHeader(headers, mockHeaderNames.failRate);
  if (failRateHeader !== undefined) failRate = parseRate(mockHeaderNames.failRate, failRateHeader);

  return {
    latencyMs: readIntegerHeader(headers, mockHeaderNames.latencyMs) ?? base.latencyMs,
    chunkDelayMs: readIntegerHeader(headers, mockHeaderNames.chunkDelayMs) ?? base.chunkDelayMs,
    chunks: readIntegerHeader(headers, mockHeaderNames.chunks) ?? base.chunks,
    failure: drawRequestFailure(failMix, failMode, failRate, random),
    retryAfterSeconds: readIntegerHeader(headers, mockHeaderNames.retryAfter) ?? base.retryAfterSeconds,
    rateLimitHeaders: base.rateLimitHeaders,
    cacheReadTokens: readIntegerHeader(headers, mockHeaderNames.cacheReadTokens) ?? base.cacheReadTokens,
    cacheWriteTokens: readIntegerHeader(headers, mockHeaderNames.cacheWriteTokens) ?? base.cacheWriteTokens,
  };
}

/** One roll decides whether the request fails (at `failRate`), a second which mode of the mix it gets. */
function drawRequestFailure(
  failMix: ResolvedFailMix | undefined,
  failMode: FailureMode | undefined,
  failRate: number,
  random: () => number,
): FailureMode | undefined {
  if (failMix === undefined && failMode === undefined) return undefined;
  if (failRate <= 0 || (failRate < 1 && random() >= failRate)) return undefined;
  return failMix === undefined ? failMode : drawFailure(failMix, random());
}

function readHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readIntegerHeader(headers: IncomingHttpHeaders, name: string): number | undefined {
  const text = readHeader(headers, name);
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < 0) {
    throw createInvalidRequestError(`${name} must be a non-negative integer; got "${text}"`);
  }
  return value;
}

function parseFailMode(text: string): FailureMode | undefined {
  const mode = text.trim().toLowerCase();
  if (mode === 'none') return undefined;
  if (isFailureMode(mode)) return mode;
  throw createInvalidRequestError(
    `${mockHeaderNames.fail} must be none or one of ${failureModes.join(', ')}; got "${text}"`,
  );
}

function parseFailMix(text: string): ResolvedFailMix {
  try {
    return resolveFailMix(mockHeaderNames.failMix, text);
  } catch (error) {
    throw createInvalidRequestError(error instanceof Error ? error.message : String(error));
  }
}

function parseRate(name: string, text: string): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw createInvalidRequestError(`${name} must be a number between 0 and 1; got "${text}"`);
  }
  return value;
}
