/** Every way the mock can misbehave; `x-mock-fail` and `failMode` take these values. */
export const failureModes = [
  '500',
  '502',
  '503',
  '429',
  'timeout',
  'reset',
  'abort-mid-stream',
  'abort-before-first-chunk',
  'garbage',
  'truncated',
  'no-usage',
] as const;

export type FailureMode = (typeof failureModes)[number];

/**
 * Relative weights of failure modes, e.g. `{ '500': 1, '429': 1, reset: 1 }`, or the same as text:
 * `500:1,429:1,reset:1` (the `x-mock-fail-mix` header and `--fail-mix` take the text).
 */
export type FailMix = string | Readonly<Partial<Record<FailureMode, number>>>;

/** A parsed mix: the modes with a weight above 0, each with its weight. */
export interface ResolvedFailMix {
  readonly entries: readonly { readonly mode: FailureMode; readonly weight: number }[];
  readonly totalWeight: number;
}

/** Behaviour that can change while the server runs (`setOptions`) and, partly, per request (`x-mock-*` headers). */
export interface MockBehaviourOptions {
  /** Delay before the response starts (before the first stream chunk). Default 0. */
  latencyMs?: number;
  /** Delay between stream chunks. Default 0, which writes the whole stream in one go. */
  chunkDelayMs?: number;
  /** Content chunks per chat completion; also its completion_tokens. Default 10. */
  chunks?: number;
  /** Failure injected into responses. Default: none. */
  failMode?: FailureMode;
  /** Share of requests (0..1) that get `failMode` (or a mode drawn from `failMix`); the rest behave normally. Default 1. */
  failRate?: number;
  /**
   * Failure modes to draw from, by weight, for the `failRate` share of requests. Takes precedence over `failMode`.
   * Unknown modes and weights that are negative or all 0 are refused with a RangeError. Default: none.
   */
  failMix?: FailMix;
  /** `Retry-After` seconds sent with the 429 failure. Default 1. */
  retryAfterSeconds?: number;
  /**
   * The 429 failure also carries the provider's rate-limit headers: OpenAI's `x-ratelimit-remaining-requests: 0` and
   * `x-ratelimit-reset-requests`, Anthropic's `anthropic-ratelimit-requests-remaining: 0` and
   * `anthropic-ratelimit-requests-reset`. Default false.
   */
  rateLimitHeaders?: boolean;
  /**
   * Prompt tokens the Anthropic route reports as read from and written to the prompt cache
   * (`cache_read_input_tokens`, `cache_creation_input_tokens`), on top of the counted input. Default 0.
   */
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  /** Length of embedding vectors when the request does not ask for `dimensions`. Default 8. */
  embeddingDimensions?: number;
  /** Ids served by `/v1/models`. Default ['mock-gpt', 'mock-embed']. */
  models?: readonly string[];
  /** Keep the last N requests for assertions; `true` keeps 100. Default off, so benchmarks pay nothing. */
  recordRequests?: boolean | number;
  /**
   * When set, requests must carry `Authorization: Bearer <apiKey>` (or, on Anthropic routes, `x-api-key`; on Gemini
   * routes, `x-goog-api-key`) or get a 401 in the route's error shape.
   */
  apiKey?: string;
}

export interface MockUpstreamOptions extends MockBehaviourOptions {
  /** Default 0: an ephemeral port, read it back from the handle. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The dice for `failRate` and `failMix`, in [0, 1); a seeded generator makes a run of failures repeatable. */
  random?: () => number;
}

export interface ResolvedBehaviour {
  readonly latencyMs: number;
  readonly chunkDelayMs: number;
  readonly chunks: number;
  readonly failMode: FailureMode | undefined;
  readonly failRate: number;
  readonly failMix: ResolvedFailMix | undefined;
  readonly retryAfterSeconds: number;
  readonly rateLimitHeaders: boolean;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
  readonly embeddingDimensions: number;
  readonly models: readonly string[];
  readonly recordCapacity: number;
  readonly apiKey: string | undefined;
}

const defaultRecordCapacity = 100;

export function isFailureMode(value: string): value is FailureMode {
  return (failureModes as readonly string[]).includes(value);
}

/** Fills defaults and rejects nonsense early, so a typo in a test fails at start-up rather than as odd behaviour. */
export function resolveBehaviour(options: MockBehaviourOptions): ResolvedBehaviour {
  const resolved: ResolvedBehaviour = {
    latencyMs: requireNonNegativeInteger('latencyMs', options.latencyMs ?? 0),
    chunkDelayMs: requireNonNegativeInteger('chunkDelayMs', options.chunkDelayMs ?? 0),
    chunks: requireNonNegativeInteger('chunks', options.chunks ?? 10),
    failMode: options.failMode,
    failRate: requireRate('failRate', options.failRate ?? 1),
    failMix: options.failMix === undefined ? undefined : resolveFailMix('failMix', options.failMix),
    retryAfterSeconds: requireNonNegativeInteger('retryAfterSeconds', options.retryAfterSeconds ?? 1),
    rateLimitHeaders: options.rateLimitHeaders ?? false,
    cacheReadTokens: requireNonNegativeInteger('cacheReadTokens', options.cacheReadTokens ?? 0),
    cacheWriteTokens: requireNonNegativeInteger('cacheWriteTokens', options.cacheWriteTokens ?? 0),
    embeddingDimensions: requirePositiveInteger('embeddingDimensions', options.embeddingDimensions ?? 8),
    models: Object.freeze([...(options.models ?? ['mock-gpt', 'mock-embed'])]),
    recordCapacity: resolveRecordCapacity(options.recordRequests),
    apiKey: options.apiKey,
  };
  if (resolved.failMode !== undefined && !isFailureMode(resolved.failMode)) {
    throw new RangeError(`failMode must be one of ${failureModes.join(', ')}; got ${String(resolved.failMode)}`);
  }
  return Object.freeze(resolved);
}

/**
 * Parses and checks a mix (text `mode:weight,…` or an object). Throws a RangeError naming what is wrong: an unknown
 * mode, a weight that is not a non-negative number, a mode given twice, or no weight above 0.
 */
export function resolveFailMix(name: string, mix: FailMix): ResolvedFailMix {
  const pairs: Array<readonly [string, unknown]> =
    typeof mix === 'string' ? parseFailMixText(name, mix) : Object.entries(mix);
  const seen = new Set<string>();
  const entries: Array<{ mode: FailureMode; weight: number }> = [];
  for (const [mode, weight] of pairs) {
    if (!isFailureMode(mode)) {
      throw new RangeError(`${name}: unknown failure mode "${mode}"; known: ${failureModes.join(', ')}`);
    }
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      throw new RangeError(`${name}: the weight of ${mode} must be a non-negative number; got ${String(weight)}`);
    }
    if (seen.has(mode)) throw new RangeError(`${name}: ${mode} is given twice`);
    seen.add(mode);
    if (weight > 0) entries.push({ mode, weight });
  }
  const totalWeight = entries.reduce((sum, entry) => sum + entry.weight, 0);
  if (totalWeight <= 0) throw new RangeError(`${name} must give at least one failure mode a weight above 0`);
  return Object.freeze({ entries: Object.freeze(entries), totalWeight });
}

function parseFailMixText(name: string, text: string): Array<readonly [string, unknown]> {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const separator = part.lastIndexOf(':');
      // A mode without a weight counts once, so `500,reset` is an even mix.
      if (separator === -1) return [part.toLowerCase(), 1] as const;
      const weightText = part.slice(separator + 1).trim();
      const weight = weightText === '' ? Number.NaN : Number(weightText);
      if (Number.isNaN(weight)) throw new RangeError(`${name}: "${part}" is not mode:weight`);
      return [part.slice(0, separator).trim().toLowerCase(), weight] as const;
    });
}

/** A mode by weight, for a roll in [0, 1). */
export function drawFailure(mix: ResolvedFailMix, roll: number): FailureMode {
  let remaining = roll * mix.totalWeight;
  for (const entry of mix.entries) {
    remaining -= entry.weight;
    if (remaining < 0) return entry.mode;
  }
  return (mix.entries.at(-1) as { mode: FailureMode }).mode;
}

function resolveRecordCapacity(recordRequests: boolean | number | undefined): number {
  if (recordRequests === undefined || recordRequests === false) return 0;
  if (recordRequests === true) return defaultRecordCapacity;
  return requireNonNegativeInteger('recordRequests', recordRequests);
}

export function requireNonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer; got ${value}`);
  }
  return value;
}

function requirePositiveInteger(name: string, value: number): number {
  if (requireNonNegativeInteger(name, value) === 0) throw new RangeError(`${name} must be at least 1`);
  return value;
}

export function requireRate(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new RangeError(`${name} must be between 0 and 1; got ${value}`);
  }
  return value;
}
